package flex_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/flex"
	"github.com/rostersync/rostersync/reconcile/flex/flexsim"
)

func agents() flexsim.Seed {
	return flexsim.Seed{Users: []flexsim.SeedUser{
		{Username: "ada@example.com", Email: "ada@example.com", FullName: "Ada Lovelace", Roles: []string{"agent"},
			Attributes: map[string]any{"channel.voice.capacity": 1, "routing": map[string]any{"skills": []string{"english"}}, "image_url": "https://idp/ada.png", "team_name": "Old"}},
		{Username: "bob@example.com", Email: "bob@example.com", FullName: "Bob Brown", Roles: []string{"agent"}},
	}}
}

func directory(team, manager string) *reconcile.Snapshot {
	teams := []reconcile.Team{
		{Key: "london", Name: "London", Level: "Site", Active: true},
		{Key: "sales-1", Name: "Sales 1", Parent: "london", Level: "Team", Active: true},
		{Key: "sales-2", Name: "Sales 2", Parent: "london", Level: "Team", Active: true},
	}
	p := func(key, user string) reconcile.User {
		return reconcile.User{Key: key, Username: user, Email: user, Forename: "F", Surname: "S", Active: true, Roles: reconcile.NamesOf("agent"),
			Team: team, Attributes: map[string]string{"manager": manager, "location": "London", "image_url": "https://elsewhere/x.png"}}
	}
	return &reconcile.Snapshot{Teams: teams, Users: []reconcile.User{p("E1", "ada@example.com"), p("E2", "bob@example.com")}}
}

// TestWriteMergesAndKeepsForeignKeys: the owned keys are written, every
// other key (routing, capacity, the IdP's avatar) is left exactly as it
// was, and the IdP-owned key the mapping names is never written.
func TestWriteMergesAndKeepsForeignKeys(t *testing.T) {
	e := open(t, agents(), nil)
	e.apply(t, e.plan(t, directory("sales-1", "Tess Lead")))
	got, _ := e.sim.Attributes("ada@example.com")
	want := map[string]any{
		"channel.voice.capacity": float64(1), "routing": map[string]any{"skills": []any{"english"}}, "image_url": "https://idp/ada.png",
		"team_id": "sales-1", "team_name": "Sales 1", "team_name_in_hierarchy": "London ▸ Sales 1", "manager": "Tess Lead", "location": "London",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Ada's worker attributes after the sync (-want +got):\n%s", d)
	}
	if again := e.plan(t, directory("sales-1", "Tess Lead")); len(again.ReadyOps()) != 0 {
		t.Errorf("second plan not empty: %v", again.ReadyOps())
	}
	if n := e.sim.InsightsCalls(); n != 0 {
		t.Errorf("%d Insights QM calls", n)
	}
}

// TestConcurrentEditIsRereadNotOverwritten: the worker changes between
// the read and the write (an SSO login adds a claimed key and changes the
// team name). The If-Match write is refused (412), the worker is read and
// merged again, and the login's new key survives.
func TestConcurrentEditIsRereadNotOverwritten(t *testing.T) {
	e := open(t, agents(), nil)
	e.apply(t, e.plan(t, directory("sales-1", "Tess Lead")))
	p := e.plan(t, directory("sales-2", "Ivy Manager"))
	if n := len(p.ReadyOps()); n != 2 {
		t.Fatalf("the reorganisation plans %d ops, want 2", n)
	}
	ada := e.sim.WorkerSID("ada@example.com")
	edited := false
	c := openThrough(t, e, func(r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, ada) && !edited {
			edited = true // a login writes its claims into Ada's worker just before our write
			if err := e.sim.Login("ada@example.com", map[string]any{"phone": "+44 20 7946 0000", "team_name": "Changed by hand"}); err != nil {
				t.Error(err)
			}
		}
	})
	res := reconcile.Apply(context.Background(), p, c, reconcile.ApplyOptions{Ledger: e.led})
	if err := res.Err(); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if writes := c.Requests()["POST /v1/Workspaces/{workspace}/Workers/{id}"]; writes != 3 {
		t.Errorf("%d worker writes, want 3 (Ada refused once by If-Match and written after a re-read, Bob once)", writes)
	}
	got, _ := e.sim.Attributes("ada@example.com")
	if got["phone"] != "+44 20 7946 0000" {
		t.Errorf("the key another writer added between read and write was lost: %v", got)
	}
	if got["team_name"] != "Sales 2" || got["manager"] != "Ivy Manager" {
		t.Errorf("the owned keys were not written after the re-read: %v", got)
	}
	if got["channel.voice.capacity"] != float64(1) {
		t.Errorf("a routing key was lost: %v", got)
	}
	if again := e.plan(t, directory("sales-2", "Ivy Manager")); len(again.ReadyOps()) != 0 {
		t.Errorf("second plan not empty: %v", again.ReadyOps())
	}
}

// TestConflictThatPersistsIsReported: a worker that changes before every
// write is refused three times and reported as a conflict; nothing of the
// other writer's is overwritten.
func TestConflictThatPersistsIsReported(t *testing.T) {
	e := open(t, agents(), nil)
	cur, err := e.client.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ada reconcile.User
	for _, u := range cur.Users {
		if u.Username == "ada@example.com" {
			ada = u
		}
	}
	// A proxy in front of the simulator lets another writer in before each write.
	n := 0
	e2 := openThrough(t, e, func(r *http.Request) {
		if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/Workers/") {
			n++
			_ = e.sim.Login("ada@example.com", map[string]any{"phone": "edit " + string(rune('0'+n))})
		}
	})
	ada.Attributes = map[string]string{"manager": "Ivy Manager"}
	err = e2.UpdateUser(context.Background(), ada.ID, ada, []reconcile.Field{reconcile.AttributeField("manager")})
	if !errors.Is(err, flex.ErrConflict) {
		t.Fatalf("UpdateUser = %v, want ErrConflict", err)
	}
	got, _ := e.sim.Attributes("ada@example.com")
	if got["manager"] != nil || got["phone"] != "edit 3" {
		t.Errorf("after a refused write the worker is %v; want the other writer's last edit and no manager", got)
	}
}

// openThrough returns a client of e's simulator whose requests pass before
// through hook.
func openThrough(t *testing.T, e *env, hook func(*http.Request)) *flex.Client {
	t.Helper()
	c, err := flex.New(flex.Config{
		FlexURL: e.url, TaskRouterURL: e.url, AccountSID: flexsim.DemoAccountSID, Username: flexsim.DemoKeySID, Secret: flexsim.DemoSecret,
		HTTP: &http.Client{Transport: hookTransport(hook)}, RatePerSecond: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.List(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

type hookTransport func(*http.Request)

func (h hookTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	h(r)
	return http.DefaultTransport.RoundTrip(r)
}

// TestRateLimitIsHonoured: 429 (code 20429) and 503 with Retry-After are
// waited out and retried; a wait beyond max_wait stops with a typed error.
func TestRateLimitIsHonoured(t *testing.T) {
	e := open(t, agents(), nil)
	e.sim.ForceStatus("list_users", 429, 503)
	if _, err := e.client.List(context.Background()); err != nil {
		t.Fatalf("List after two refusals: %v", err)
	}
	if d := cmp.Diff([]time.Duration{time.Second, time.Second}, e.waits); d != "" {
		t.Errorf("waits (-want +got):\n%s", d)
	}

	// 45780 (too many concurrent requests) is retried whatever its status.
	busy := open(t, agents(), nil)
	busy.sim.ForceStatus("configuration", 409)
	if _, err := busy.client.List(context.Background()); err != nil {
		t.Errorf("List after a 45780: %v", err)
	}

	short := open(t, agents(), func(c *flex.Config) { c.MaxWait = 1500 * time.Millisecond })
	short.sim.ForceStatus("list_users", 429, 429, 429)
	_, err := short.client.List(context.Background())
	var rl *flex.RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("List = %v, want a RateLimitError", err)
	}
	var fatal reconcile.Fatal
	if !errors.As(err, &fatal) || !fatal.Fatal() {
		t.Errorf("a rate limit past max_wait does not stop the apply: %v", err)
	}
}

// TestUsersRouteRateLimit: the simulator's Users routes allow a rate per
// second and answer 429 20429 with Retry-After beyond it.
func TestUsersRouteRateLimit(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := open(t, agents(), nil, func(c *flexsim.Config) {
		c.UsersPerSecond = 2
		c.Now = func() time.Time { return clock }
	})
	get := func() *http.Response {
		req, _ := http.NewRequest(http.MethodGet, e.url+"/v1/Instances/"+flexsim.DemoInstanceSID+"/Users", nil)
		req.SetBasicAuth(flexsim.DemoKeySID, flexsim.DemoSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i := range 2 {
		if r := get(); r.StatusCode != 200 {
			t.Fatalf("request %d: %d", i, r.StatusCode)
		}
	}
	if r := get(); r.StatusCode != 429 || r.Header.Get("Retry-After") != "1" {
		t.Errorf("third request in one second: %d, Retry-After %q; want 429 with Retry-After 1", r.StatusCode, r.Header.Get("Retry-After"))
	}
}

// TestAuthAndAccount: a wrong secret is a fatal AuthError; credentials that
// reach another account than the configured one are refused before any
// read.
func TestAuthAndAccount(t *testing.T) {
	bad := open(t, agents(), func(c *flex.Config) { c.Secret = "wrong" })
	_, err := bad.client.List(context.Background())
	var ae *flex.AuthError
	if !errors.As(err, &ae) || ae.Status != 401 {
		t.Fatalf("List with a wrong secret = %v, want a 401 AuthError", err)
	}
	other := open(t, agents(), func(c *flex.Config) { c.AccountSID = "AC" + strings.Repeat("9", 32) })
	_, err = other.client.List(context.Background())
	var me *flex.AccountMismatchError
	if !errors.As(err, &me) {
		t.Fatalf("List against another account = %v, want an AccountMismatchError", err)
	}
}

// TestSimulatorValidates: 4,096 bytes, a JSON object, a stale If-Match
// answered 412 without a code, and wfo.* roles refused on Provision.
func TestSimulatorValidates(t *testing.T) {
	e := open(t, agents(), nil)
	cur, err := e.client.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_ = cur
	do := func(method, path, ctype, body string, hdr map[string]string) (int, string) {
		req, _ := http.NewRequest(method, e.url+path, strings.NewReader(body))
		req.SetBasicAuth(flexsim.DemoKeySID, flexsim.DemoSecret)
		req.Header.Set("Content-Type", ctype)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, b.String()
	}
	worker := "/v1/Workspaces/" + flexsim.DemoWorkspaceSID + "/Workers/" + e.sim.WorkerSID("ada@example.com")
	form := func(a string) string { return url.Values{"Attributes": {a}}.Encode() }
	const fc = "application/x-www-form-urlencoded"
	if st, _ := do("POST", worker, fc, form(`{"x":"`+strings.Repeat("y", 4090)+`"}`), nil); st != 400 {
		t.Errorf("4,097-byte attributes: %d, want 400", st)
	}
	if st, _ := do("POST", worker, fc, form(`["not","an","object"]`), nil); st != 400 {
		t.Errorf("attributes not an object: %d, want 400", st)
	}
	st, body := do("POST", worker, fc, form(`{}`), map[string]string{"If-Match": "999"})
	if st != 412 || strings.Contains(body, `"code"`) {
		t.Errorf("stale If-Match: %d %s; want 412 without a code", st, body)
	}
	prov := "/v4/Instances/" + flexsim.DemoInstanceSID + "/Users/Provision"
	if st, _ := do("POST", prov, "application/json", `{"username":"q@example.com","email":"q@example.com","full_name":"Q","roles":["wfo.full_access"],"worker":{}}`, nil); st != 400 {
		t.Errorf("Provision with a wfo.* role: %d, want 400", st)
	}
}

// TestDeprovisionIsIdempotent: U5 on a user already gone is done, and the
// user stays listed, deactivated, with no worker.
func TestDeprovisionIsIdempotent(t *testing.T) {
	e := open(t, agents(), func(c *flex.Config) { c.Deprovision = flex.DeprovisionEnforce })
	cur, err := e.client.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	id := cur.Users[1].ID
	off := reconcile.User{Active: false}
	for range 2 {
		if err := e.client.UpdateUser(context.Background(), id, off, []reconcile.Field{reconcile.FieldActive}); err != nil {
			t.Fatalf("deprovision: %v", err)
		}
	}
	if !e.sim.Deactivated(cur.Users[1].Username) {
		t.Errorf("%s is not deactivated", cur.Users[1].Username)
	}
	after, _ := e.client.List(context.Background())
	if len(after.Users) != 2 || after.Users[1].Active || after.Users[1].Attributes != nil {
		t.Errorf("after deprovisioning, the user lists as %+v", after.Users[1])
	}
	// Under report, nothing is sent.
	rep := open(t, agents(), nil)
	cur, _ = rep.client.List(context.Background())
	if err := rep.client.UpdateUser(context.Background(), cur.Users[0].ID, off, []reconcile.Field{reconcile.FieldActive}); !errors.Is(err, flex.ErrUnsupported) {
		t.Errorf("deprovision under report = %v, want ErrUnsupported", err)
	}
	if n := rep.sim.Writes()["deprovision"]; n != 0 {
		t.Errorf("%d deprovisions sent under report", n)
	}
}

// TestRequestsArePaced: at most RatePerSecond requests start per second on
// one host; on a clock that stands still each waits one interval more.
func TestRequestsArePaced(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := open(t, agents(), func(c *flex.Config) {
		c.RatePerSecond = 2
		c.Now = func() time.Time { return t0 }
	})
	if _, err := e.client.List(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Configuration, users, two workers, the workers list: five requests.
	// Worker fetches run side by side: their turns are handed out in order, their sleeps start in any.
	want := []time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 2 * time.Second}
	slices.Sort(e.waits)
	if d := cmp.Diff(want, e.waits); d != "" {
		t.Errorf("pacing waits (-want +got):\n%s", d)
	}
}
