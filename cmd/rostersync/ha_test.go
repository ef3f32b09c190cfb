package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
	"github.com/rostersync/rostersync/state/pgtest"
)

// The high-availability tests run two "rostersync serve" processes, each
// with a state directory of its own, on one real PostgreSQL server, against
// the Evaluagent simulator over HTTP. The simulator answers every request
// 100ms after it took effect, so an apply of the people below takes
// seconds and a kill or a cut lands in the middle of it.

const haPeople = 60

// haRig is a simulator with haPeople to create and a PostgreSQL database
// for the nodes' state.
type haRig struct {
	*rig
	pg      *pgtest.Server
	dbURL   string // with the password, for the test's own queries
	nodeURL string // without: the nodes read it from a file
	pwFile  string
}

func newHARig(t *testing.T) *haRig {
	t.Helper()
	if testing.Short() {
		t.Skip("runs two daemons on a PostgreSQL server")
	}
	r := newRig(t, func(c *evaluagentsim.Config) {
		c.Faults = evaluagentsim.Faults{Latency: 100 * time.Millisecond}
	})
	peopleCSV(t, r.dir, haPeople)
	pg := pgtest.Start(t)
	h := &haRig{rig: r, pg: pg, dbURL: pg.Database(t)}
	u, err := url.Parse(h.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(pgtest.Superuser)
	h.nodeURL = u.String()
	h.pwFile = filepath.Join(r.dir, "pg-password")
	if err := os.WriteFile(h.pwFile, []byte(pgtest.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return h
}

// node starts "rostersync serve" in apply mode as node name, with its own
// state directory and the shared database at stateURL (the rig's unless
// given), reaching the platform at baseURL (the rig's unless given).
func (h *haRig) node(name, stateURL, baseURL string) *daemonProc {
	h.t.Helper()
	if stateURL == "" {
		stateURL = h.nodeURL
	}
	if baseURL == "" {
		baseURL = h.url
	}
	return startServe(h.t, h.rig, map[string]string{
		"ROSTERSYNC_STATE_DIR":           filepath.Join(h.dir, "state-"+name),
		"ROSTERSYNC_STATE_URL":           stateURL,
		"ROSTERSYNC_STATE_PASSWORD_FILE": h.pwFile,
		"ROSTERSYNC_EVALUAGENT_BASE_URL": baseURL,
		"ROSTERSYNC_SERVE_MODE":          "apply",
		"ROSTERSYNC_INTERVAL":            "1h",
		"ROSTERSYNC_DELTA_INTERVAL":      "0",
		"ROSTERSYNC_DEBOUNCE":            "100ms",
	})
}

// created counts the simulator's users made from the rig's people, by
// third-party id.
func (h *haRig) created() map[string]int { return h.createdWith("P") }

// createdWith counts the simulator's users whose third-party id starts with
// prefix, by third-party id: more than 1 is a duplicate create.
func (h *haRig) createdWith(prefix string) map[string]int {
	out := map[string]int{}
	for _, u := range h.sim.Users() {
		var id string
		if json.Unmarshal(u.ThirdPartyID, &id) == nil && strings.HasPrefix(id, prefix) {
			out[id]++
		}
	}
	return out
}

// createCalls is how many user creates the simulator carried out.
func (h *haRig) createCalls() int {
	n := 0
	for endpoint, byStatus := range h.sim.StatusCounts() {
		if endpoint != "POST /org/users" {
			continue
		}
		for status, c := range byStatus {
			if status >= 200 && status < 300 {
				n += c
			}
		}
	}
	return n
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// haStatus is what the tests read of /status.json.
type haStatus struct {
	Running *struct{} `json:"running"`
	Passes  []struct {
		Started time.Time `json:"started"`
		Result  string    `json:"result"`
		Summary string    `json:"summary"`
		Changes int       `json:"changes"`
	} `json:"passes"`
	Ready  bool `json:"ready"`
	Daemon struct {
		Lease leaseView `json:"lease"`
	} `json:"daemon"`
}

func (d *daemonProc) status() (haStatus, error) {
	var st haStatus
	resp, err := http.Get(d.base + "/status.json")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func (d *daemonProc) role() string {
	st, err := d.status()
	if err != nil {
		return ""
	}
	return st.Daemon.Lease.Role
}

// converged asks node d for a pass and waits for one that started after
// the request and found nothing to do: the next plan is empty.
func converged(t *testing.T, d *daemonProc, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		asked := time.Now()
		if code := d.post("/trigger"); code != http.StatusAccepted {
			t.Fatalf("POST /trigger: %d", code)
		}
		for time.Now().Before(deadline) {
			st, err := d.status()
			if err != nil {
				t.Fatal(err)
			}
			var last *struct {
				Started time.Time `json:"started"`
				Result  string    `json:"result"`
				Summary string    `json:"summary"`
				Changes int       `json:"changes"`
			}
			for i := range st.Passes {
				if st.Passes[i].Started.After(asked.Add(-50 * time.Millisecond)) {
					last = &st.Passes[i]
				}
			}
			if last != nil && st.Running == nil {
				if last.Changes == 0 && last.Result == "ok" {
					return
				}
				break // not yet: ask again
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Fatalf("no pass with an empty plan within %s", timeout)
}

// TestHAFailover: two daemons on one PostgreSQL; the leader is killed with
// SIGKILL in the middle of an apply; the standby takes the lease, resumes
// from the journal and converges, with every person created once.
func TestHAFailover(t *testing.T) {
	h := newHARig(t)
	a, b := h.leaderAndStandby()
	if got := a.role(); got != roleLeader {
		t.Fatalf("a is %q, want leader", got)
	}
	st, err := b.status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Daemon.Lease.Role != roleStandby || !st.Ready || !strings.Contains(st.Daemon.Lease.Holder, fmt.Sprintf("pid %d", a.cmd.Process.Pid)) {
		t.Fatalf("b's status: %+v, want a ready standby naming a", st)
	}
	if code, body := b.get("/readyz"); code != http.StatusOK || !strings.Contains(body, "standby; leader is") {
		t.Fatalf("b's /readyz: %d %q", code, body)
	}
	if got := b.metric("rostersync_lease_leader"); got != 0 {
		t.Fatalf("b's rostersync_lease_leader = %v", got)
	}
	if got := a.metric("rostersync_lease_leader"); got != 1 {
		t.Fatalf("a's rostersync_lease_leader = %v", got)
	}
	// "rostersync apply" on the same database fails at once, naming the leader.
	h.env["ROSTERSYNC_STATE_DIR"] = filepath.Join(h.dir, "state-cli")
	h.env["ROSTERSYNC_STATE_URL"] = h.nodeURL
	h.env["ROSTERSYNC_STATE_PASSWORD_FILE"] = h.pwFile
	holder := fmt.Sprintf("the lease is held by rostersync serve on %s (pid %d)", mustHostname(t), a.cmd.Process.Pid)
	if code := h.run("apply", "-yes"); code == 0 || !strings.Contains(h.stderr.String(), holder) {
		t.Fatalf("apply beside the leader: exit %d, stderr:\n%s\nwant it to name %q", code, h.stderr.String(), holder)
	}

	waitFor(t, 2*time.Minute, "a quarter of the people created", func() bool { return len(h.created()) >= haPeople/4 })
	if len(h.created()) == haPeople {
		t.Fatal("the apply finished before the kill; the test proves nothing")
	}
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	atKill := len(h.created())
	a.wait(30 * time.Second)
	// What the kill left in the journal: writes begun and never finished,
	// for the new leader to look up rather than send again. (The standby
	// cannot lead for some seconds yet: the lease has not expired.)
	inFlight := h.pendingEntries()
	t.Logf("the kill left %d journal entries pending", inFlight)

	waitFor(t, time.Minute, "b takes the lease", func() bool { return b.role() == roleLeader })
	took := time.Since(killed)
	t.Logf("takeover: %s from kill -9 of the leader (%d of %d people created then) to the standby leading", took.Round(time.Millisecond), atKill, haPeople)
	fmt.Printf("HA takeover time: %s (kill -9 of the leader mid-apply to the standby holding the lease; ROSTERSYNC_LEASE_TTL=10s)\n", took.Round(time.Millisecond))
	if took >= 15*time.Second {
		t.Errorf("takeover took %s, want under 15s with the default lease ttl", took)
	}
	if got := b.metric("rostersync_lease_epoch"); got != 2 {
		t.Errorf("b's rostersync_lease_epoch = %v, want 2", got)
	}

	waitFor(t, 3*time.Minute, "every person created", func() bool { return len(h.created()) == haPeople })
	converged(t, b, 3*time.Minute)
	for id, n := range h.created() {
		if n != 1 {
			t.Errorf("%s exists %d times on the platform", id, n)
		}
	}
	if n := h.createCalls(); n != haPeople {
		t.Errorf("the simulator carried out %d user creates for %d people: %d duplicates", n, haPeople, n-haPeople)
	}
	if inFlight > 0 && b.countLog("interrupted create") == 0 {
		t.Errorf("the kill left %d entries pending and the new leader resolved none", inFlight)
	}
	if n := h.pendingEntries(); n != 0 {
		t.Errorf("%d journal entries still pending after the new leader converged", n)
	}
	h.noOpRecordedTwice()
}

// leaderAndStandby starts node a, waits until it holds the lease, then
// starts node b and waits until it stands by.
func (h *haRig) leaderAndStandby() (a, b *daemonProc) {
	h.t.Helper()
	a = h.node("a", "", "")
	a.waitLog("took the lease", 30*time.Second)
	b = h.node("b", "", "")
	b.waitLog("standing by", 30*time.Second)
	return a, b
}

// conn connects to the shared database, closed when the test ends.
func (h *haRig) conn() *pgx.Conn {
	h.t.Helper()
	c, err := pgx.Connect(h.t.Context(), h.dbURL)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// pendingEntries counts the shared journal's entries begun and never
// finished.
func (h *haRig) pendingEntries() int {
	h.t.Helper()
	ctx := h.t.Context()
	c := h.conn()
	var n int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM journal WHERE finished_at IS NULL`).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// noOpRecordedTwice checks the shared journal: no operation finished ok
// twice.
func (h *haRig) noOpRecordedTwice() {
	t := h.t
	t.Helper()
	ctx := t.Context()
	c := h.conn()
	rows, err := c.Query(ctx, `SELECT op_id, count(*) FROM journal WHERE outcome = 'ok' GROUP BY target, op_id HAVING count(*) > 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var op string
		var n int
		if err := rows.Scan(&op, &n); err != nil {
			t.Fatal(err)
		}
		t.Errorf("operation %s recorded as done %d times in the journal", op, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var total int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM journal WHERE outcome = 'ok' AND action = 'create' AND kind = 'user'`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != haPeople {
		t.Errorf("%d user creates recorded done in the journal, want %d", total, haPeople)
	}
}

// writeLog is a front to the simulator that records when each write
// reached it.
type writeLog struct {
	mu sync.Mutex
	at []time.Time
}

func (w *writeLog) front(t *testing.T, sim http.Handler) string {
	ts := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet {
			w.mu.Lock()
			w.at = append(w.at, time.Now())
			w.mu.Unlock()
		}
		sim.ServeHTTP(rw, req)
	}))
	t.Cleanup(ts.Close)
	return ts.URL + "/v1"
}

func (w *writeLog) times() []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Time(nil), w.at...)
}

// seenAt is when the first log line containing s reached the test (a
// little after it was written).
func (d *daemonProc) seenAt(s string) time.Time {
	d.t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, line := range strings.Split(d.log.String(), "\n") {
		if strings.Contains(line, s) && i < len(d.seen) {
			return d.seen[i]
		}
	}
	d.t.Fatalf("no log line with %q", s)
	return time.Time{}
}

// acquiredAt is when the lease of epoch was taken, by the database's clock
// (this machine's).
func (h *haRig) acquiredAt(epoch int) time.Time {
	h.t.Helper()
	ctx := h.t.Context()
	c := h.conn()
	var at time.Time
	var got int
	if err := c.QueryRow(ctx, `SELECT epoch, acquired_at FROM lease`).Scan(&got, &at); err != nil {
		h.t.Fatal(err)
	}
	if got != epoch {
		h.t.Fatalf("the lease is at epoch %d, want %d", got, epoch)
	}
	return at
}

// TestHAPartition: the leader's connection to PostgreSQL goes through a
// proxy that the test cuts in the middle of an apply. The old leader stops
// applying when its lease's local deadline passes, before the standby can
// take the lease; the new leader finishes the work; nothing is recorded
// twice and nobody is created twice.
func TestHAPartition(t *testing.T) {
	h := newHARig(t)
	proxy := pgtest.NewProxy(t, fmt.Sprintf("127.0.0.1:%d", h.pg.Port))
	var aWrites, bWrites writeLog
	a := h.node("a", proxy.Via(t, h.nodeURL), aWrites.front(t, h.sim))
	a.waitLog("took the lease", 30*time.Second)
	b := h.node("b", "", bWrites.front(t, h.sim))
	b.waitLog("standing by", 30*time.Second)

	waitFor(t, 2*time.Minute, "a quarter of the people created", func() bool { return len(h.created()) >= haPeople/4 })
	if len(h.created()) == haPeople {
		t.Fatal("the apply finished before the cut; the test proves nothing")
	}
	proxy.Cut()
	cut := time.Now()

	a.waitLog("lost the lease", time.Minute)
	waitFor(t, time.Minute, "b takes the lease", func() bool { return b.role() == roleLeader })
	lostAt, tookAt := a.seenAt("lost the lease"), h.acquiredAt(2)
	t.Logf("cut at %s; a stopped trusting its lease %s later, b took it %s after the cut",
		cut.Format(time.StampMilli), lostAt.Sub(cut).Round(time.Millisecond), tookAt.Sub(cut).Round(time.Millisecond))
	if !lostAt.Before(tookAt) {
		t.Errorf("a lost its lease at %s, after b took it at %s", lostAt, tookAt)
	}
	aw := aWrites.times()
	if len(aw) == 0 {
		t.Fatal("a wrote nothing before the cut")
	}
	last := aw[len(aw)-1]
	if !last.Before(lostAt) {
		t.Errorf("a's last platform write reached the platform at %s, after a stopped trusting its lease (%s)", last, lostAt)
	}
	if !last.Before(tookAt) {
		t.Errorf("a's last platform write reached the platform at %s, after b took the lease at %s", last, tookAt)
	}

	waitFor(t, 3*time.Minute, "every person created", func() bool { return len(h.created()) == haPeople })
	converged(t, b, 3*time.Minute)
	bw := bWrites.times()
	if len(bw) == 0 || !bw[0].After(last) {
		t.Errorf("b wrote %d times, the first not after a's last write (%s)", len(bw), last)
	}
	for _, at := range aWrites.times() {
		if at.After(tookAt) {
			t.Errorf("a wrote to the platform at %s, after b took the lease", at)
		}
	}
	for id, n := range h.created() {
		if n != 1 {
			t.Errorf("%s exists %d times on the platform", id, n)
		}
	}
	if n := h.createCalls(); n != haPeople {
		t.Errorf("the simulator carried out %d user creates for %d people", n, haPeople)
	}
	h.noOpRecordedTwice()
}

// TestHAFailoverKeepsSCIMPushes is the failover as an identity provider
// behind a load balancer sees it: users pushed to the leader, then, while
// the leader is dead mid-apply, to the standby, all reach the platform
// once, by the new leader. Both hosts must serve SCIM from one store.
func TestHAFailoverKeepsSCIMPushes(t *testing.T) {
	h := newHARig(t)
	if err := os.WriteFile(filepath.Join(h.dir, "mapping.yaml"), []byte(scimConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h.dir, "scim-tokens"), []byte("entra:entra-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, b := h.leaderAndStandby()

	push := func(d *daemonProc, i int) string {
		return scimPush(t, d.base+"/scim/v2", "POST", "/Users", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
 "userName":"user%[1]d@contoso.com","externalId":"S%05[1]d","active":true,
 "emails":[{"primary":true,"type":"work","value":"user%[1]d@contoso.com"}],
 "name":{"familyName":"Number%[1]d","givenName":"User"}}`, i))["id"].(string)
	}
	first := push(a, 0)
	resp, err := http.Get(b.base + "/scim/v2/Users/" + first)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusNotFound {
		// Without the token a 401 says nothing; ask properly.
		req, _ := http.NewRequest(http.MethodGet, b.base+"/scim/v2/Users/"+first, nil)
		req.Header.Set("Authorization", "Bearer entra-token")
		if resp, err = http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if resp.StatusCode == http.StatusNotFound {
		t.Skip("the SCIM store is per host here (a file in each state directory): a push to one host is unknown to the other")
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET of a pushed user from the standby: %d", resp.StatusCode)
	}

	const before, during = 40, 10
	ids := []string{first}
	for i := 1; i < before; i++ {
		ids = append(ids, push(a, i))
	}
	// Agents sit in a team: a group with them all.
	members := func(ids []string) string {
		var m []string
		for _, id := range ids {
			m = append(m, fmt.Sprintf(`{"value":%q}`, id))
		}
		return "[" + strings.Join(m, ",") + "]"
	}
	group := scimPush(t, a.base+"/scim/v2", "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
 "displayName":"Team North","members":`+members(ids)+`}`)["id"].(string)
	scimCreated := func() map[string]int { return h.createdWith("S") }
	waitFor(t, 2*time.Minute, "a fifth of the pushed users created", func() bool { return len(scimCreated()) >= before/5 })
	if len(scimCreated()) == before {
		t.Fatal("the apply finished before the kill; the test proves nothing")
	}
	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	a.wait(30 * time.Second)
	// The identity provider, sent to the standby by the load balancer, keeps
	// pushing while no node leads.
	ids = ids[:0]
	for i := before; i < before+during; i++ {
		ids = append(ids, push(b, i))
	}
	scimPush(t, b.base+"/scim/v2", "PATCH", "/Groups/"+group, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
 "Operations":[{"op":"add","path":"members","value":`+members(ids)+`}]}`)
	waitFor(t, time.Minute, "b takes the lease", func() bool { return b.role() == roleLeader })
	waitFor(t, 3*time.Minute, "every pushed user created", func() bool { return len(scimCreated()) == before+during })
	converged(t, b, 3*time.Minute)
	for id, n := range scimCreated() {
		if n != 1 {
			t.Errorf("%s exists %d times on the platform", id, n)
		}
	}
	if n := h.createCalls(); n != before+during {
		t.Errorf("the simulator carried out %d user creates for %d pushed users", n, before+during)
	}
}

func mustHostname(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestHAHandoverOnStop: a leader stopped with SIGTERM (systemctl stop, a
// patch) releases its lease as it exits, so the standby takes over at its
// next try instead of waiting for the lease to expire, and finds nothing
// left to do.
func TestHAHandoverOnStop(t *testing.T) {
	h := newHARig(t)
	a, b := h.leaderAndStandby()
	waitFor(t, 3*time.Minute, "every person created", func() bool { return len(h.created()) == haPeople })
	converged(t, a, 3*time.Minute)

	a.signal(syscall.SIGTERM)
	stopped := time.Now()
	if err := a.wait(time.Minute); err != nil {
		t.Fatalf("the leader did not stop cleanly: %v", err)
	}
	waitFor(t, time.Minute, "b takes the lease", func() bool { return b.role() == roleLeader })
	t.Logf("handover: %s from SIGTERM of the leader to the standby leading", time.Since(stopped).Round(time.Millisecond))
	if got := b.metric("rostersync_lease_epoch"); got != 2 {
		t.Errorf("b's rostersync_lease_epoch = %v, want 2", got)
	}
	converged(t, b, 3*time.Minute)
	if n := h.createCalls(); n != haPeople {
		t.Errorf("the simulator carried out %d user creates for %d people", n, haPeople)
	}
	h.noOpRecordedTwice()
}
