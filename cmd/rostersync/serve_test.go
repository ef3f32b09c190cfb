package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
	"github.com/rostersync/rostersync/state"
	"github.com/rostersync/rostersync/state/pgtest"
)

// TestMain lets a test start this binary as "rostersync": with
// ROSTERSYNC_TEST_MAIN=1 it runs main instead of the tests, so the
// end-to-end tests drive a real process with real signals.
func TestMain(m *testing.M) {
	if os.Getenv("ROSTERSYNC_TEST_MAIN") == "1" {
		main()
		return
	}
	pgtest.Main(m)
}

// daemonProc is "rostersync serve" running as a child process.
type daemonProc struct {
	t     *testing.T
	cmd   *exec.Cmd
	base  string // http://127.0.0.1:port
	done  chan error
	mu    sync.Mutex
	log   strings.Builder
	notes []string    // sd_notify datagrams, in order
	seen  []time.Time // when each log line arrived, in order
}

// startServe starts the daemon with r's environment plus extra, a real
// unixgram NOTIFY_SOCKET, and the admin listener on a free port.
func startServe(t *testing.T, r *rig, extra map[string]string) *daemonProc {
	t.Helper()
	sockDir, err := os.MkdirTemp("", "rs-notify-") // short: socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })

	d := &daemonProc{t: t, done: make(chan error, 1)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			d.mu.Lock()
			d.notes = append(d.notes, string(buf[:n]))
			d.mu.Unlock()
		}
	}()

	env := []string{"ROSTERSYNC_TEST_MAIN=1", "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"NOTIFY_SOCKET=" + sock, "WATCHDOG_USEC=400000", "JOURNAL_STREAM=8:12345",
		"ROSTERSYNC_LISTEN=127.0.0.1:0"}
	for k, v := range r.env {
		if _, over := extra[k]; !over {
			env = append(env, k+"="+v)
		}
	}
	for k, v := range extra {
		env = append(env, k+"="+v)
	}
	d.cmd = exec.Command(os.Args[0], "serve")
	d.cmd.Env = env
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	d.cmd.Stdout = io.Discard
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			d.mu.Lock()
			d.log.WriteString(sc.Text() + "\n")
			d.seen = append(d.seen, time.Now())
			d.mu.Unlock()
		}
		d.done <- d.cmd.Wait()
	}()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			d.cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.logText())
		}
	})
	line := d.waitLog("listening", 30*time.Second)
	m := regexp.MustCompile(`addr\W+([0-9.]+|\[::\]):([0-9]+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no address in %q", line)
	}
	if m[1] == "[::]" || m[1] == "0.0.0.0" { // every address: reach it on loopback
		m[1] = "127.0.0.1"
	}
	d.base = "http://" + m[1] + ":" + m[2]
	return d
}

func (d *daemonProc) logText() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

func (d *daemonProc) notifications() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.notes...)
}

// waitLog waits for a log line containing s that was not there before the
// call counted from the start of the log, and returns it.
func (d *daemonProc) waitLog(s string, timeout time.Duration) string {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(d.logText(), "\n") {
			if strings.Contains(line, s) {
				return line
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	d.t.Fatalf("no log line with %q within %s", s, timeout)
	return ""
}

// countLog counts log lines containing s.
func (d *daemonProc) countLog(s string) int {
	return strings.Count(d.logText(), s)
}

func (d *daemonProc) get(path string) (int, string) {
	d.t.Helper()
	resp, err := http.Get(d.base + path)
	if err != nil {
		d.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (d *daemonProc) post(path string) int {
	d.t.Helper()
	resp, err := http.Post(d.base+path, "text/plain", nil)
	if err != nil {
		d.t.Fatalf("POST %s: %v", path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// metric returns the value of the series (name with its labels, as
// exposed), or -1 when absent.
func (d *daemonProc) metric(series string) float64 {
	d.t.Helper()
	_, body := d.get("/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				d.t.Fatalf("metric %s: %v", line, err)
			}
			return f
		}
	}
	return -1
}

func (d *daemonProc) waitMetric(series string, want float64, timeout time.Duration) {
	d.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if d.metric(series) == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.t.Fatalf("%s = %v after %s, want %v", series, d.metric(series), timeout, want)
}

func (d *daemonProc) signal(sig os.Signal) {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatal(err)
	}
}

func (d *daemonProc) wait(timeout time.Duration) error {
	d.t.Helper()
	select {
	case err := <-d.done:
		return err
	case <-time.After(timeout):
		d.t.Fatalf("the daemon did not exit within %s", timeout)
		return nil
	}
}

// addPerson appends an active agent to the rig's CSV.
func (r *rig) addPerson(id, first, last string) string {
	r.t.Helper()
	email := strings.ToLower(first+"."+last) + "@example.com"
	f, err := os.OpenFile(filepath.Join(r.dir, "people.csv"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	fmt.Fprintf(f, "%s,%s,%s,%s,2024-01-08,active,Agent,Leeds,Support,North\n", id, first, last, email)
	if err := f.Close(); err != nil {
		r.t.Fatal(err)
	}
	return email
}

// waitUser waits until the simulator holds a user named username and
// returns how long that took.
func (r *rig) waitUser(username string, timeout time.Duration) time.Duration {
	r.t.Helper()
	start := time.Now()
	for time.Since(start) < timeout {
		for _, u := range r.sim.Users() {
			if u.Username == username {
				return time.Since(start)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	r.t.Fatalf("user %s did not reach the simulator within %s", username, timeout)
	return 0
}

func TestServeEndToEnd(t *testing.T) {
	r := newRig(t)
	d := startServe(t, r, map[string]string{
		"ROSTERSYNC_SERVE_MODE":     "apply",
		"ROSTERSYNC_DELTA_INTERVAL": "1s",
		"ROSTERSYNC_DEBOUNCE":       "200ms",
		"ROSTERSYNC_INTERVAL":       "1h",
		"ROSTERSYNC_LOG_FORMAT":     "auto",
	})

	// The first pass applies the demo and the daemon becomes ready.
	d.waitLog(`msg="pass finished" kind=full result=ok`, 60*time.Second)
	if code, body := d.get("/readyz"); code != 200 {
		t.Fatalf("/readyz after the first pass = %d %s", code, body)
	}
	if code, _ := d.get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	// The URL the log advertises answers, and lists the endpoints.
	m := regexp.MustCompile(`url=(\S+)`).FindStringSubmatch(d.waitLog("listening", time.Second))
	if m == nil {
		t.Fatal("the listening line advertises no url")
	}
	if resp, err := http.Get(m[1]); err != nil {
		t.Errorf("GET the advertised %s: %v", m[1], err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), "/readyz") {
			t.Errorf("GET the advertised %s = %d:\n%s", m[1], resp.StatusCode, b)
		}
	}
	if got := d.metric(`rostersync_operations_total{action="create",kind="user",outcome="applied"}`); got != 11 {
		t.Errorf("users created = %v, want 11", got)
	}
	if got := d.metric(`rostersync_source_records{source="hr"}`); got != 12 {
		t.Errorf("source_records = %v, want 12", got)
	}

	// A CSV edit is picked up by the next delta pass, with no restart.
	email := r.addPerson("E2001", "Nadia", "Osei")
	lat := r.waitUser(email, 60*time.Second)
	t.Logf("CSV change to platform write: %s (delta interval 1s)", lat.Round(time.Millisecond))
	d.waitMetric(`rostersync_source_records{source="hr"}`, 13, 30*time.Second)
	d.waitMetric(`rostersync_operations_total{action="create",kind="user",outcome="applied"}`, 12, 30*time.Second)

	// A push (POST /trigger) runs a pass a debounce later.
	email = r.addPerson("E2002", "Omar", "Price")
	if code := d.post("/trigger"); code != 202 {
		t.Fatalf("POST /trigger = %d", code)
	}
	lat = r.waitUser(email, 60*time.Second)
	t.Logf("push (POST /trigger) to platform write: %s (debounce 200ms)", lat.Round(time.Millisecond))

	// SIGHUP with a broken mapping: logged, the old configuration kept,
	// still serving and still syncing.
	mapping := filepath.Join(r.dir, "mapping.yaml")
	good, err := os.ReadFile(mapping)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mapping, append(good, []byte("\nmapping_typo: [\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	d.signal(syscall.SIGHUP)
	d.waitLog("reload failed", 30*time.Second)
	d.waitMetric(`rostersync_reloads_total{result="failed"}`, 1, 10*time.Second)
	if code, _ := d.get("/readyz"); code != 200 {
		t.Errorf("/readyz after a failed reload = %d", code)
	}
	email = r.addPerson("E2003", "Priya", "Quinn")
	d.post("/trigger")
	r.waitUser(email, 60*time.Second)
	d.waitMetric(`rostersync_passes_total{kind="trigger",result="ok"}`, 2, 30*time.Second)

	// /status shows the passes.
	code, body := d.get("/status")
	if code != 200 || !strings.Contains(body, `"kind": "trigger"`) || !strings.Contains(body, `"mode": "apply"`) || !strings.Contains(body, `"reload": {`) || !strings.Contains(body, "mapping.yaml:") {
		t.Errorf("/status = %d:\n%s", code, body)
	}

	// SIGTERM: a clean exit.
	d.signal(syscall.SIGTERM)
	if err := d.wait(30 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	log := d.logText()
	if !strings.Contains(log, "msg=stopped") {
		t.Error("no 'stopped' line in the log")
	}
	if strings.Contains(log, evaluagentsim.DemoKeySecret) {
		t.Error("the key secret appears in the log")
	}
	if strings.Contains(log, "time=") {
		t.Error("under journald (JOURNAL_STREAM set) log lines carry timestamps")
	}
	if n := d.countLog("level=CHANGE msg=\"create user "); n != 14 {
		t.Errorf("%d CHANGE lines for created users, want 14", n)
	}

	// systemd heard READY, then STATUS and WATCHDOG, then STOPPING last.
	notes := d.notifications()
	first := func(s string) int {
		for i, n := range notes {
			if strings.Contains(n, s) {
				return i
			}
		}
		return -1
	}
	ready, status, wd, stop := first("READY=1"), first("STATUS=last pass"), first("WATCHDOG=1"), first("STOPPING=1")
	if ready < 0 || status < ready || wd < ready || stop < wd || stop != len(notes)-1 {
		t.Errorf("notifications out of order (READY %d, STATUS %d, WATCHDOG %d, STOPPING %d of %d):\n%s",
			ready, status, wd, stop, len(notes), strings.Join(notes, "\n--\n"))
	}
	if !strings.Contains(notes[ready], "STATUS=last pass") || !strings.Contains(notes[ready], "changes applied") {
		t.Errorf("READY came without the first pass's status: %q", notes[ready])
	}
}

// TestServeStopFinishesTheWriteInFlight stops the daemon mid-apply against
// a slow platform: the write in flight completes, the rest are not
// attempted, the run is recorded as interrupted, and the exit is clean.
func TestServeStopFinishesTheWriteInFlight(t *testing.T) {
	r := newRig(t)
	slow := &slowWrites{h: r.sim, delay: 300 * time.Millisecond}
	srv := &http.Server{Handler: slow}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	d := startServe(t, r, map[string]string{
		"ROSTERSYNC_SERVE_MODE":          "apply",
		"ROSTERSYNC_EVALUAGENT_BASE_URL": "http://" + ln.Addr().String() + "/v1",
	})
	d.waitLog("level=CHANGE", 60*time.Second) // the first write is done
	d.signal(syscall.SIGTERM)
	if err := d.wait(30 * time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	started, finished := slow.counts()
	if started != finished {
		t.Errorf("%d writes started but %d finished: one was cut off", started, finished)
	}
	changes := d.countLog("level=CHANGE")
	if finished != changes || finished >= 21 {
		t.Errorf("%d writes reached the platform, %d CHANGE lines; want equal and fewer than the plan's 21", finished, changes)
	}
	if !strings.Contains(d.logText(), "stopped mid-apply") {
		t.Error("the log does not say where the apply stopped")
	}
	// A stop is what the operator asked for: nothing is logged as an error.
	if strings.Contains(d.logText(), "level=ERROR") {
		t.Errorf("a normal SIGTERM logged an ERROR:\n%s", d.logText())
	}

	db, err := state.Open(r.env["ROSTERSYNC_STATE_DIR"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	runs, err := db.Runs(t.Context(), 1)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs: %v %v", runs, err)
	}
	if runs[0].Result != "interrupted" || !strings.Contains(runs[0].Err, "next was") || runs[0].Running() {
		t.Errorf("recorded run %+v, want interrupted, naming the next operation", runs[0])
	}
	if _, _, ok, err := db.LastPlan(t.Context(), "evaluagent"); !ok || err != nil {
		t.Errorf("the plan was not stored: %v", err)
	}
}

// slowWrites delays every write to the platform and counts writes started
// and finished.
type slowWrites struct {
	h       http.Handler
	delay   time.Duration
	mu      sync.Mutex
	started int
	done    int
}

func (s *slowWrites) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		s.h.ServeHTTP(w, r)
		return
	}
	s.mu.Lock()
	s.started++
	s.mu.Unlock()
	time.Sleep(s.delay)
	s.h.ServeHTTP(w, r)
	s.mu.Lock()
	s.done++
	s.mu.Unlock()
}

func (s *slowWrites) counts() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started, s.done
}

func TestServePlanModeWritesNothing(t *testing.T) {
	r := newRig(t)
	d := startServe(t, r, map[string]string{"ROSTERSYNC_LOG_FORMAT": "json"})
	d.waitLog(`"msg":"pass finished"`, 60*time.Second)
	if w := r.sim.Writes(); w != 0 {
		t.Errorf("plan mode wrote %d times to the platform", w)
	}
	if n := d.countLog(`"level":"CHANGE","msg":"would create user `); n != 11 {
		t.Errorf("%d CHANGE lines for would-be users, want 11:\n%s", n, d.logText())
	}
	code, body := d.get("/status")
	if code != 200 || !strings.Contains(body, `"pending_plan": {`) || !strings.Contains(body, `"create": 20`) {
		t.Errorf("/status does not show the pending plan:\n%s", body)
	}
	if got := d.metric("rostersync_pending_operations"); got != 21 {
		t.Errorf("pending_operations = %v, want 21", got)
	}
	d.signal(syscall.SIGTERM)
	if err := d.wait(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(r.env["ROSTERSYNC_STATE_DIR"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, _, ok, err := db.LastPlan(t.Context(), "evaluagent")
	if !ok || err != nil || !strings.Contains(string(p), "amira.khan@example.com") {
		t.Errorf("stored plan: %v %.200s", err, p)
	}
}

func TestServeRefusesBadServeSettings(t *testing.T) {
	r := newRig(t)
	r.env["ROSTERSYNC_SERVE_MODE"] = "yolo"
	r.env["ROSTERSYNC_INTERVAL"] = "soon"
	// Both problems at once, each named by its variable.
	if code := r.run("serve"); code != 1 || !strings.Contains(r.stderr.String(), `ROSTERSYNC_INTERVAL: "soon" is not a duration`) ||
		!strings.Contains(r.stderr.String(), "ROSTERSYNC_SERVE_MODE") {
		t.Errorf("exit %d, stderr:\n%s", code, r.stderr.String())
	}
	delete(r.env, "ROSTERSYNC_INTERVAL")
	if code := r.run("serve"); code != 1 || !strings.Contains(r.stderr.String(), "ROSTERSYNC_SERVE_MODE") {
		t.Errorf("exit %d, stderr:\n%s", code, r.stderr.String())
	}
}

// TestServeSCIMPushReachesThePlatform: an identity provider pushes a user to
// the daemon's SCIM endpoint; the push triggers a pass and the user reaches
// the platform without a restart. Prints the push-to-write latency.
func TestServeSCIMPushReachesThePlatform(t *testing.T) {
	r := newRig(t)
	if err := os.WriteFile(filepath.Join(r.dir, "mapping.yaml"), []byte(scimConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, "scim-tokens"), []byte("entra:entra-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startServe(t, r, map[string]string{
		"ROSTERSYNC_SERVE_MODE": "apply",
		"ROSTERSYNC_DEBOUNCE":   "200ms",
		"ROSTERSYNC_INTERVAL":   "1h",
	})
	d.waitLog(`msg="pass finished" kind=full result=ok`, 60*time.Second)
	base := d.base + "/scim/v2"
	ada := scimPush(t, base, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
 "userName":"ada@contoso.com","externalId":"e-ada","active":true,
 "emails":[{"primary":true,"type":"work","value":"ada@contoso.com"}],
 "name":{"familyName":"Lovelace","givenName":"Ada"}}`)["id"].(string)
	start := time.Now()
	scimPush(t, base, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
 "displayName":"Team North","members":[{"value":"`+ada+`"}]}`)
	r.waitUser("ada@contoso.com", 60*time.Second)
	t.Logf("SCIM push to platform write: %s (debounce 200ms)", time.Since(start).Round(time.Millisecond))
	if code := d.post("/trigger"); code != 202 {
		t.Fatalf("POST /trigger = %d", code)
	}
	d.signal(syscall.SIGTERM)
	if err := d.wait(30 * time.Second); err != nil {
		t.Fatalf("serve did not exit cleanly: %v", err)
	}
}
