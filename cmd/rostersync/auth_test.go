package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
	"github.com/rostersync/rostersync/state"
)

// testClock is the one clock of a bearer test: the simulator's token
// expiry, the client's token ages and the daemon's refresh timer all read
// it, and only the test moves it.
type testClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []clockWaiter
	armed   chan struct{} // signalled whenever a waiter is added
}

type clockWaiter struct {
	at time.Time
	ch chan time.Time
}

func newTestClock(t time.Time) *testClock {
	return &testClock{now: t, armed: make(chan struct{}, 1)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// After fires once the clock has been moved to d from now or beyond.
func (c *testClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, clockWaiter{at: c.now.Add(d), ch: ch})
	select {
	case c.armed <- struct{}{}:
	default:
	}
	return ch
}

// Advance moves the clock and fires the waiters it passes.
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
			continue
		}
		kept = append(kept, w)
	}
	c.waiters = kept
}

// pending is the number of waiters not yet fired.
func (c *testClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

// bearerRig is a rig whose key is in bearer mode, on a testClock shared
// with the simulator.
func bearerRig(t *testing.T, edits ...func(*evaluagentsim.Config)) (*rig, *testClock) {
	t.Helper()
	clk := newTestClock(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	r := newRig(t, append([]func(*evaluagentsim.Config){func(c *evaluagentsim.Config) { c.Now = clk.Now }}, edits...)...)
	r.env["ROSTERSYNC_EVALUAGENT_AUTH"] = "bearer"
	return r, clk
}

// runClock runs the CLI on clk, with stdin and a terminal or not.
func (r *rig) runClock(clk *testClock, stdin string, interactive bool, args ...string) int {
	r.t.Helper()
	r.stdout.Reset()
	r.stderr.Reset()
	return run(context.Background(), args, &cli{
		stdin: strings.NewReader(stdin), stdout: &r.stdout, stderr: &r.stderr,
		lookupEnv:   func(k string) (string, bool) { v, ok := r.env[k]; return v, ok },
		now:         clk.Now,
		interactive: interactive,
	})
}

func (r *rig) mustRunClock(clk *testClock, args ...string) {
	r.t.Helper()
	if code := r.runClock(clk, "", false, args...); code != 0 {
		r.t.Fatalf("rostersync %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, r.stdout.String(), r.stderr.String())
	}
}

func (r *rig) tokenStore() *state.TokenFile {
	r.t.Helper()
	s, err := state.NewTokenStore(r.env["ROSTERSYNC_STATE_DIR"], r.env["ROSTERSYNC_EVALUAGENT_KEY_ID"])
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

func (r *rig) storedToken() state.BearerToken {
	r.t.Helper()
	tok, err := r.tokenStore().Load()
	if err != nil {
		r.t.Fatal(err)
	}
	return tok
}

// basicWorks says whether the simulator still accepts the demo key's Basic
// credentials.
func (r *rig) basicWorks() bool {
	r.t.Helper()
	req, _ := http.NewRequest("GET", r.url+"/ping", nil)
	req.SetBasicAuth(evaluagentsim.DemoKeyID, evaluagentsim.DemoKeySecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

func (r *rig) refreshes() int { return r.sim.Counts()["POST /auth/token/refresh"] }

// Bearer mode never creates a token by itself: plan and check say what to
// do and leave the key in basic mode.
func TestBearerModeNeedsAnExplicitToken(t *testing.T) {
	r, clk := bearerRig(t)
	for _, cmd := range []string{"plan", "check"} {
		if code := r.runClock(clk, "", false, cmd); code != 1 {
			t.Fatalf("%s without a token: exit %d", cmd, code)
		}
		if out := r.stdout.String() + r.stderr.String(); !strings.Contains(out, "rostersync auth create") {
			t.Errorf("%s does not say how to get a token:\n%s", cmd, out)
		}
	}
	if n := r.sim.Counts()["POST /auth/token"]; n != 0 || !r.basicWorks() {
		t.Fatalf("a token was created without being asked (%d)", n)
	}
	// In basic mode, nothing ever touches the token endpoints.
	delete(r.env, "ROSTERSYNC_EVALUAGENT_AUTH")
	r.mustRunClock(clk, "plan")
	for ep := range r.sim.Counts() {
		if strings.Contains(ep, "/auth/") {
			t.Errorf("basic mode called %s", ep)
		}
	}
}

func TestAuthCreateAsksForTheKeyID(t *testing.T) {
	r, clk := bearerRig(t)
	// Without a terminal and without -key-id: refused.
	if code := r.runClock(clk, "", false, "auth", "create"); code != 1 || !strings.Contains(r.stderr.String(), "-key-id "+evaluagentsim.DemoKeyID) {
		t.Fatalf("non-interactive create: exit %d\n%s", code, r.stderr.String())
	}
	if !strings.Contains(r.stdout.String(), "cannot be undone") {
		t.Errorf("create does not explain itself:\n%s", r.stdout.String())
	}
	// A wrong key id, flag or typed: refused.
	if code := r.runClock(clk, "", false, "auth", "create", "-key-id", "nope"); code != 1 {
		t.Fatalf("create with a wrong -key-id: exit %d", code)
	}
	if code := r.runClock(clk, "yes\n", true, "auth", "create"); code != 1 || !strings.Contains(r.stderr.String(), "does not match") {
		t.Fatalf("create typed wrong: exit %d\n%s", code, r.stderr.String())
	}
	if n := r.sim.Counts()["POST /auth/token"]; n != 0 || !r.basicWorks() {
		t.Fatalf("a refused create reached the platform (%d)", n)
	}
	// Typed right: created, stored 0600, Basic gone.
	if code := r.runClock(clk, evaluagentsim.DemoKeyID+"\n", true, "auth", "create"); code != 0 {
		t.Fatalf("create: exit %d\n%s%s", code, r.stdout.String(), r.stderr.String())
	}
	if !strings.Contains(r.stderr.String(), "Type the key id") || !strings.Contains(r.stdout.String(), "Basic is now disabled") {
		t.Errorf("create output:\n%s\n%s", r.stdout.String(), r.stderr.String())
	}
	tok := r.storedToken()
	if tok.Origin != "created" || tok.Token == "" || !tok.ExpiresAt.Equal(clk.Now().Add(24*time.Hour)) {
		t.Errorf("stored %+v", tok)
	}
	fi, err := os.Stat(r.tokenStore().Path())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v", fi, err)
	}
	if r.basicWorks() {
		t.Error("Basic still works after create")
	}
	// A second create is refused before anything is sent.
	if code := r.runClock(clk, "", false, "auth", "create", "-key-id", evaluagentsim.DemoKeyID); code != 1 || r.sim.Counts()["POST /auth/token"] != 1 {
		t.Errorf("second create: exit %d, %d creations", code, r.sim.Counts()["POST /auth/token"])
	}
	// The token works: plan, apply, check, auth status.
	r.mustRunClock(clk, "apply", "-yes")
	r.mustRunClock(clk, "check")
	if !strings.Contains(r.stdout.String(), "in bearer mode: bearer token (created)") {
		t.Errorf("check does not show the key state:\n%s", r.stdout.String())
	}
	r.mustRunClock(clk, "auth", "status")
	if !strings.Contains(r.stdout.String(), "ok: bearer token (created), expires 2026-11-22T12:00:00Z (in 24h0m0s)") {
		t.Errorf("auth status:\n%s", r.stdout.String())
	}
	if got := r.sim.StatusCounts()["GET /org/users"][401]; got != 0 {
		t.Errorf("%d listings refused", got)
	}
}

func createToken(t *testing.T, r *rig, clk *testClock) {
	t.Helper()
	r.mustRunClock(clk, "auth", "create", "-key-id", evaluagentsim.DemoKeyID)
}

// Refresh at 20h across separate runs (every run a new process's worth of
// state), and expiry when nothing runs for 24 hours.
func TestBearerRefreshAcrossRunsAndExpiry(t *testing.T) {
	r, clk := bearerRig(t)
	createToken(t, r, clk)
	first := r.storedToken().Token
	clk.Advance(19 * time.Hour)
	r.mustRunClock(clk, "plan")
	if r.refreshes() != 0 || r.storedToken().Token != first {
		t.Fatal("refreshed before 20h")
	}
	clk.Advance(time.Hour)
	r.mustRunClock(clk, "plan")
	if r.refreshes() != 1 || r.storedToken().Token == first || r.storedToken().Origin != "refreshed" {
		t.Fatalf("not refreshed at 20h: %d refreshes, %+v", r.refreshes(), r.storedToken())
	}
	// An explicit refresh works too.
	r.mustRunClock(clk, "auth", "refresh")
	if r.refreshes() != 2 {
		t.Fatalf("auth refresh: %d refreshes", r.refreshes())
	}
	// Down for more than 24 hours: the key is lost, and every command says
	// so and what to do; nothing is sent with the dead token.
	clk.Advance(24*time.Hour + time.Minute)
	before := r.sim.Counts()["GET /org/users"]
	if code := r.runClock(clk, "", false, "plan"); code != 1 {
		t.Fatalf("plan after expiry: exit %d", code)
	}
	if s := r.stderr.String(); !strings.Contains(s, "expired") || !strings.Contains(s, "new key") {
		t.Errorf("plan after expiry says:\n%s", s)
	}
	if r.sim.Counts()["GET /org/users"] != before {
		t.Error("requests sent with an expired token")
	}
	if code := r.runClock(clk, "", false, "auth", "status"); code != 1 || !strings.Contains(r.stdout.String(), "expired") {
		t.Errorf("auth status after expiry: exit %d\n%s", code, r.stdout.String())
	}
}

// The answer of a refresh is lost: the run fails at once with what to do,
// and the next run tells, by trying the stored token, that the key is dead.
func TestBearerLostRefreshAnswerCLI(t *testing.T) {
	r, clk := bearerRig(t)
	createToken(t, r, clk)
	clk.Advance(20 * time.Hour)
	r.sim.DropResponses("POST /auth/token/refresh", 1)
	if code := r.runClock(clk, "", false, "apply", "-yes"); code != 1 {
		t.Fatalf("apply with a lost refresh: exit %d", code)
	}
	if s := r.stderr.String(); !strings.Contains(s, "was lost") || !strings.Contains(s, "rostersync check") {
		t.Errorf("apply says:\n%s", s)
	}
	if r.sim.Writes() != 2 { // the creation and the refresh; no user was written
		t.Errorf("%d writes", r.sim.Writes())
	}
	if r.storedToken().RefreshSent.IsZero() {
		t.Error("the refresh in doubt is not recorded")
	}
	r.runClock(clk, "", false, "auth", "status")
	if !strings.Contains(r.stdout.String(), "refresh-in-doubt") {
		t.Errorf("auth status:\n%s", r.stdout.String())
	}
	if code := r.runClock(clk, "", false, "check"); code != 1 {
		t.Fatalf("check: exit %d", code)
	}
	if s := r.stdout.String(); !strings.Contains(s, "took effect but its answer was lost") || !strings.Contains(s, "new key") {
		t.Errorf("check says:\n%s", s)
	}
}

// A key put in bearer mode in Evaluagent's UI, its token supplied in a file.
func TestBearerTokenFromFile(t *testing.T) {
	const id = "00000000-0000-4000-8000-000000000002"
	var clk *testClock
	r, clk := bearerRig(t, func(c *evaluagentsim.Config) {
		c.Keys = append(c.Keys, evaluagentsim.Key{ID: id, Secret: evaluagentsim.DemoKeySecret, Mode: evaluagentsim.ModeBearer,
			Token: "issued-in-the-ui", TokenExpiresAt: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)})
	})
	_ = clk
	file := filepath.Join(r.dir, "token")
	if err := os.WriteFile(file, []byte("issued-in-the-ui\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.env["ROSTERSYNC_EVALUAGENT_KEY_ID"] = id
	delete(r.env, "ROSTERSYNC_EVALUAGENT_KEY_SECRET_FILE") // not needed in bearer mode
	r.env["ROSTERSYNC_EVALUAGENT_TOKEN_FILE"] = file
	r.mustRunClock(clk, "apply", "-yes")
	tok := r.storedToken()
	if tok.Origin != "imported" || tok.Token != "issued-in-the-ui" || !tok.ExpiresAt.Equal(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("stored %+v", tok)
	}
	// 22h left, so 2h old: refreshed at 20h of age, i.e. 18h from now.
	clk.Advance(18 * time.Hour)
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	r.mustRunClock(clk, "plan")
	if r.refreshes() != 1 || r.storedToken().Token == "issued-in-the-ui" {
		t.Fatalf("imported token not refreshed at 20h: %d", r.refreshes())
	}
	// The explicit command refuses to replace a token that works.
	if err := os.WriteFile(file, []byte("something-else\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := r.runClock(clk, "", false, "auth", "import", "-token-file", file, "-replace"); code != 1 || !strings.Contains(r.stderr.String(), "still works") {
		t.Errorf("import over a working token: exit %d\n%s", code, r.stderr.String())
	}
}

// Two rostersync instances on one state directory, both finding the token
// due at the same moment: exactly one refresh, and both runs succeed.
func TestBearerTwoInstancesRefreshOnce(t *testing.T) {
	r, clk := bearerRig(t)
	createToken(t, r, clk)
	clk.Advance(21 * time.Hour)
	var wg sync.WaitGroup
	codes := make([]int, 4)
	outs := make([]string, 4)
	for i := range codes {
		wg.Go(func() {
			var out, errb bytes.Buffer
			codes[i] = run(context.Background(), []string{"plan", "-format", "json"}, &cli{
				stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
				lookupEnv: func(k string) (string, bool) { v, ok := r.env[k]; return v, ok },
				now:       clk.Now,
			})
			outs[i] = errb.String()
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != 0 && c != 2 {
			t.Errorf("instance %d: exit %d\n%s", i, c, outs[i])
		}
	}
	if n := r.refreshes(); n != 1 {
		t.Errorf("%d refreshes, want exactly 1", n)
	}
}

// The same with two real processes: the lock is the operating system's,
// not a mutex of one process. The processes use the real clock, so the
// stored token is aged by hand.
func TestBearerTwoProcessesRefreshOnce(t *testing.T) {
	r := newRig(t)
	r.env["ROSTERSYNC_EVALUAGENT_AUTH"] = "bearer"
	r.mustRun("auth", "create", "-key-id", evaluagentsim.DemoKeyID)
	s := r.tokenStore()
	tok, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	tok.IssuedAt = time.Now().Add(-21 * time.Hour)
	if err := s.Save(tok); err != nil {
		t.Fatal(err)
	}
	env := []string{"ROSTERSYNC_TEST_MAIN=1", "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range r.env {
		env = append(env, k+"="+v)
	}
	procs := make([]*exec.Cmd, 3)
	outs := make([]*bytes.Buffer, 3)
	for i := range procs {
		outs[i] = &bytes.Buffer{}
		procs[i] = exec.Command(os.Args[0], "plan", "-format", "json")
		procs[i].Env, procs[i].Stdout, procs[i].Stderr = env, io.Discard, outs[i]
	}
	for _, p := range procs {
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range procs {
		if err := p.Wait(); err != nil && p.ProcessState.ExitCode() != 2 {
			t.Errorf("process %d: %v\n%s", i, err, outs[i])
		}
	}
	if n := r.refreshes(); n != 1 {
		t.Errorf("%d refreshes by %d processes, want exactly 1", n, len(procs))
	}
	after := r.storedToken()
	if after.Token == tok.Token || !after.RefreshSent.IsZero() {
		t.Errorf("stored after: %+v", after)
	}
}

// serveInProcess runs "rostersync serve" in this process on clk until the
// returned stop is called.
type inProcDaemon struct {
	t    *testing.T
	base string
	log  *syncBuf
	stop func()
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func serveInProcess(t *testing.T, r *rig, clk *testClock) *inProcDaemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := &inProcDaemon{t: t, log: &syncBuf{}}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, &cli{
			stdin: strings.NewReader(""), stdout: io.Discard, stderr: d.log,
			lookupEnv: func(k string) (string, bool) { v, ok := r.env[k]; return v, ok },
			now:       clk.Now, after: clk.After,
			// Rate-limit waits take no real time; the clock stays where
			// the test put it.
			sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
		})
	}()
	d.stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the daemon did not stop")
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	re := regexp.MustCompile(`listening .*addr=([0-9.]+:[0-9]+)`)
	for d.base == "" {
		if m := re.FindStringSubmatch(d.log.String()); m != nil {
			d.base = "http://" + m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no listener:\n%s", d.log.String())
		} else {
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.log.String())
		}
	})
	return d
}

type statusDoc struct {
	Passes []struct {
		Result string `json:"result"`
		Error  string `json:"error"`
	} `json:"passes"`
	Daemon struct {
		Auth map[string]struct {
			State       string  `json:"state"`
			SecondsLeft float64 `json:"seconds_left"`
		} `json:"auth"`
	} `json:"daemon"`
}

func (d *inProcDaemon) status() statusDoc {
	d.t.Helper()
	resp, err := http.Get(d.base + "/status")
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	var s statusDoc
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		d.t.Fatal(err)
	}
	return s
}

// waitPasses waits until /status shows n passes.
func (d *inProcDaemon) waitPasses(n int) statusDoc {
	d.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s := d.status()
		if len(s.Passes) >= n {
			return s
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("%d passes, waited for %d", len(s.Passes), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (d *inProcDaemon) metric(series string) string {
	d.t.Helper()
	resp, err := http.Get(d.base + "/metrics")
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

// tick moves the clock by step and waits until the daemon's token timer
// has looked at the tokens and is waiting again.
func tick(t *testing.T, clk *testClock, step time.Duration) {
	t.Helper()
	clk.Advance(step)
	deadline := time.Now().Add(30 * time.Second)
	for clk.pending() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the daemon's token timer did not wait again")
		}
		time.Sleep(time.Millisecond)
	}
}

// The daemon keeps one key in bearer mode working for days with nobody
// touching it: the timer refreshes the token whether or not passes run,
// a restart between refreshes picks the stored token up, and no request is
// ever refused.
func TestBearerDaemonRunsForDays(t *testing.T) {
	r, clk := bearerRig(t)
	r.env["ROSTERSYNC_SERVE_MODE"] = "apply"
	r.env["ROSTERSYNC_INTERVAL"] = "10000h" // passes come from /trigger below
	r.env["ROSTERSYNC_DELTA_INTERVAL"] = "0"
	r.env["ROSTERSYNC_DEBOUNCE"] = "1ms"
	r.env["ROSTERSYNC_LISTEN"] = "127.0.0.1:0"
	createToken(t, r, clk)

	d := serveInProcess(t, r, clk)
	passes := len(d.waitPasses(1).Passes)
	trigger := func() {
		t.Helper()
		resp, err := http.Post(d.base+"/trigger", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		passes++
		s := d.waitPasses(passes)
		if p := s.Passes[len(s.Passes)-1]; p.Error != "" {
			t.Fatalf("pass at %s failed: %s", clk.Now().Format(time.RFC3339), p.Error)
		}
	}
	step := 30 * time.Minute
	// Day 1 and 2: a pass every six hours.
	for i := 1; i <= 96; i++ {
		tick(t, clk, step)
		if i%12 == 0 {
			trigger()
		}
	}
	// A restart between refreshes: the daemon is down for 10 hours.
	d.stop()
	clk.Advance(10 * time.Hour)
	d = serveInProcess(t, r, clk)
	passes = 0
	passes = len(d.waitPasses(1).Passes)
	// Days 3 and 4: idle, no pass at all; only the timer keeps the token.
	for range 96 {
		tick(t, clk, step)
	}
	trigger()
	s := d.status()
	if a := s.Daemon.Auth["evaluagent"]; a.State != "ok" || a.SecondsLeft < (4*time.Hour).Seconds() {
		t.Errorf("/status auth: %+v", a)
	}
	if v := d.metric(`rostersync_evaluagent_token_expiry_seconds{target="evaluagent"}`); v == "" || v == "0" {
		t.Errorf("expiry metric: %q", v)
	}
	d.stop()

	// 5 simulated days, 10 of them down: at least one refresh every 20h.
	if n := r.refreshes(); n < 5 {
		t.Errorf("%d refreshes in five days", n)
	}
	var refused []string
	for ep, byStatus := range r.sim.StatusCounts() {
		if byStatus[401] > 0 || byStatus[403] > 0 {
			refused = append(refused, ep)
		}
	}
	sort.Strings(refused)
	if len(refused) > 0 {
		t.Errorf("requests refused: %v", refused)
	}
	if strings.Contains(d.log.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", d.log.String())
	}
}

// When refreshes keep failing, the daemon warns before the token expires,
// and /status and the metric show the time left.
func TestBearerDaemonWarnsBeforeExpiry(t *testing.T) {
	r, clk := bearerRig(t)
	r.env["ROSTERSYNC_INTERVAL"] = "10000h"
	r.env["ROSTERSYNC_DELTA_INTERVAL"] = "0"
	r.env["ROSTERSYNC_LISTEN"] = "127.0.0.1:0"
	createToken(t, r, clk)
	r.sim.ForceStatus("POST /auth/token/refresh", 429, 1000)
	d := serveInProcess(t, r, clk)
	d.waitPasses(1)
	for range 21 * 2 {
		tick(t, clk, 30*time.Minute)
	}
	if strings.Contains(d.log.String(), "expires soon") {
		t.Fatal("warned with 3h left, the threshold")
	}
	tick(t, clk, 30*time.Minute)
	if !strings.Contains(d.log.String(), "expires soon") {
		t.Fatal("no warning with 2h30m left")
	}
	if n := strings.Count(d.log.String(), "refresh postponed"); n < 2 || n > 8 {
		t.Errorf("%d postponed-refresh warnings in 2h30m of trying; want them every 15 minutes at most", n)
	}
	if v := d.metric(`rostersync_evaluagent_token_expiry_seconds{target="evaluagent"}`); v != "9000" {
		t.Errorf("expiry metric %q, want 9000 (2h30m)", v)
	}
	if a := d.status().Daemon.Auth["evaluagent"]; a.SecondsLeft != 9000 {
		t.Errorf("/status auth %+v", a)
	}
	d.stop()
}

func TestShortDur(t *testing.T) {
	for d, want := range map[time.Duration]string{20 * time.Hour: "20h", 90 * time.Minute: "1h30m", 45 * time.Second: "45s", 2*time.Hour + 5*time.Second: "2h0m5s"} {
		if got := shortDur(d); got != want {
			t.Errorf("shortDur(%s) = %q, want %q", d, got, want)
		}
	}
}
