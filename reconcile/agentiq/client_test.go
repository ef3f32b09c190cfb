package agentiq_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/agentiq"
	"github.com/rostersync/rostersync/reconcile/agentiq/agentiqsim"
)

var simNow = time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)

type env struct {
	t      *testing.T
	sim    *agentiqsim.Server
	url    string
	mu     sync.Mutex
	sleeps []time.Duration
}

func newEnv(t *testing.T, seed ...agentiqsim.Agent) *env {
	t.Helper()
	cfg := agentiqsim.DefaultConfig()
	cfg.Seed = seed
	cfg.Now = func() time.Time { return simNow }
	sim, err := agentiqsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	return &env{t: t, sim: sim, url: ts.URL}
}

// client returns a client of the simulator with a fake sleep; edit adjusts
// its configuration.
func (e *env) client(edit ...func(*agentiq.Config)) *agentiq.Client {
	e.t.Helper()
	cfg := agentiq.Config{
		BaseURL: e.url, APIKey: agentiqsim.DemoAPIKey,
		Epoch: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Window: 90 * 24 * time.Hour,
		Now: func() time.Time { return simNow },
		Sleep: func(ctx context.Context, d time.Duration) error {
			e.mu.Lock()
			e.sleeps = append(e.sleeps, d)
			e.mu.Unlock()
			return ctx.Err()
		},
	}
	for _, f := range edit {
		f(&cfg)
	}
	c, err := agentiq.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func at(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 8, 0, 0, 0, time.UTC) }

func seedAgents() []agentiqsim.Agent {
	off := at(2025, 6, 1)
	return []agentiqsim.Agent{
		{ID: 10, FirstName: "Ada", LastName: "Lovelace", Email: "ada@bank.example", ExternalID: "E1",
			Teams: []string{" Retail North "}, Roles: []string{"Agent"}, CreatedAt: at(2024, 1, 1).Add(-8 * time.Hour)},
		{ID: 11, FirstName: "Alan", LastName: "Turing", Email: "alan@bank.example", ExternalID: "E2",
			Teams: []string{"Retail South", "Retail North"}, CreatedAt: at(2024, 7, 4)},
		{ID: 12, FirstName: "Grace", LastName: "Hopper", Email: "grace@bank.example", ExternalID: "E3",
			CreatedAt: at(2025, 2, 1), DeactivatedAt: &off},
		{ID: 13, FirstName: "Edsger", LastName: "Dijkstra", Email: "edsger@bank.example",
			CreatedAt: at(2026, 1, 9), DeletedAt: &off},
		// Created before the epoch: not listed.
		{ID: 14, FirstName: "Old", LastName: "Timer", Email: "old@bank.example", CreatedAt: at(2023, 12, 1)},
	}
}

func TestListWalksTheExportInWindows(t *testing.T) {
	e := newEnv(t, seedAgents()...)
	c := e.client()
	snap, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []reconcile.User{
		{ID: "10", Key: "E1", ThirdPartyID: "E1", Username: "ada@bank.example", Email: "ada@bank.example",
			Forename: "Ada", Surname: "Lovelace", Active: true, Roles: reconcile.NamesOf("agent"), Team: "Retail North"},
		{ID: "11", Key: "E2", ThirdPartyID: "E2", Username: "alan@bank.example", Email: "alan@bank.example",
			Forename: "Alan", Surname: "Turing", Active: true, Roles: reconcile.NamesOf(), Team: "Retail North, Retail South"},
		{ID: "12", Key: "E3", ThirdPartyID: "E3", Username: "grace@bank.example", Email: "grace@bank.example",
			Forename: "Grace", Surname: "Hopper", Active: false, Roles: reconcile.NamesOf()},
		{ID: "13", Username: "edsger@bank.example", Email: "edsger@bank.example",
			Forename: "Edsger", Surname: "Dijkstra", Active: false, Roles: reconcile.NamesOf()},
	}
	if d := cmp.Diff(want, snap.Users); d != "" {
		t.Errorf("users (-want +got):\n%s", d)
	}
	wantTeams := []reconcile.Team{
		{ID: "Retail North", Name: "Retail North", Active: true},
		{ID: "Retail South", Name: "Retail South", Active: true},
	}
	if d := cmp.Diff(wantTeams, snap.Teams); d != "" {
		t.Errorf("teams (-want +got):\n%s", d)
	}
	// 2024-01-01 to a day past 2026-01-10 in 90-day windows is 9 requests; the
	// simulator and the client count the same.
	if got := e.sim.Counts()["GET /api/exports/agents"]; got != 9 {
		t.Errorf("export requests = %d, want 9", got)
	}
	if d := cmp.Diff(e.sim.Counts(), c.Requests()); d != "" {
		t.Errorf("client and simulator count differently:\n%s", d)
	}
}

func TestListDeduplicatesOverlappingWindows(t *testing.T) {
	// A server whose windows overlap returns the same agent twice; the
	// record with the latest updated_at wins, whatever the order. The
	// envelopes, timestamp formats and nulls vary as §5.2 allows.
	var calls atomic.Int32
	var badStamp atomic.Bool
	badStamp.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Header.Get("x-api-key") != "k" {
			w.WriteHeader(401)
			return
		}
		stamp := "2025-01-01 00:00:00"
		if badStamp.Load() {
			stamp = "yesterday-ish"
		}
		switch n {
		case 1:
			w.Write([]byte(`{"data":[{"id":1,"email":"a@x.example","updated_at":"2025-01-02 10:00:00","teams":["B"]}]}`))
		case 2:
			w.Write([]byte(`[{"id":1,"email":"a@x.example","updated_at":"2025-01-01T10:00:00+00:00","teams":["A"]},
			                 {"id":2,"email":"b@x.example","external_id":1234,"deactivated_at":"` + stamp + `"}]`))
		default:
			w.Write([]byte(`{"id":3,"email":"c@x.example","deleted_at":""}`))
		}
	}))
	defer srv.Close()
	c, err := agentiq.New(agentiq.Config{BaseURL: srv.URL, APIKey: "k", Epoch: simNow.Add(-50 * 24 * time.Hour), Window: 20 * 24 * time.Hour,
		Now: func() time.Time { return simNow }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.List(context.Background())
	if err == nil || !strings.Contains(err.Error(), "deactivated_at") {
		t.Fatalf("an unparseable timestamp: err = %v, want it named", err)
	}
	calls.Store(0)
	badStamp.Store(false)
	snap, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 3 || len(snap.Users) != 3 {
		t.Fatalf("%d calls, %d users; want 3 and 3", calls.Load(), len(snap.Users))
	}
	if u := snap.Users[0]; u.Team != "B" {
		t.Errorf("agent 1 team %q: the older record won", u.Team)
	}
	if u := snap.Users[1]; u.Active || u.ThirdPartyID != "1234" {
		t.Errorf("agent 2 = %+v, want inactive with external id 1234", u)
	}
	if !snap.Users[2].Active {
		t.Error(`deleted_at "" made agent 3 inactive`)
	}
}

func userOp(action reconcile.Action, id, key, first, last, email, team string, fields ...reconcile.Field) reconcile.Op {
	return reconcile.Op{Action: action, Kind: reconcile.KindUser, Key: key, ID: id, Name: email, Fields: fields,
		User: &reconcile.User{Key: key, ThirdPartyID: key, Username: email, Email: email, Forename: first, Surname: last, Active: true, Team: team}}
}

func TestApplyBatchIsOneUploadWithPerRowOutcomes(t *testing.T) {
	e := newEnv(t, seedAgents()...)
	c := e.client()
	ops := []reconcile.Op{
		userOp(reconcile.ActionCreate, "", "E7", "Kat", "Johnson", "kat@bank.example", "Retail East"),
		userOp(reconcile.ActionUpdate, "10", "E1", "Ada", "Byron", "ada@bank.example", "Retail North", reconcile.FieldSurname),
		// Fails on the server: not an email address.
		userOp(reconcile.ActionCreate, "", "E8", "Bad", "Address", "bad address@bank", ""),
		// Never sent: Agent IQ cannot deactivate.
		{Action: reconcile.ActionDeactivate, Kind: reconcile.KindUser, Key: "E2", ID: "11", Name: "alan@bank.example"},
		// Adopting without changes needs no row.
		{Action: reconcile.ActionAdopt, Kind: reconcile.KindUser, Key: "E3", ID: "12", Name: "grace@bank.example"},
	}
	res := c.ApplyBatch(context.Background(), ops)
	if got := e.sim.Counts()["POST /api/imports/users"]; got != 1 || e.sim.RowsReceived() != 3 {
		t.Fatalf("uploads %d with %d rows, want 1 with 3", got, e.sim.RowsReceived())
	}
	if res[0].Err != nil || res[0].ID != "15" {
		t.Errorf("create: %+v, want the new id 15", res[0])
	}
	if res[1].Err != nil || res[1].ID != "10" {
		t.Errorf("update: %+v", res[1])
	}
	var rowErr *agentiq.RowError
	if !errors.As(res[2].Err, &rowErr) || rowErr.Row != 3 || !strings.Contains(rowErr.Message, "not a valid email") {
		t.Errorf("failing row: %v, want a RowError for row 3", res[2].Err)
	}
	if !errors.Is(res[3].Err, agentiq.ErrUnsupported) {
		t.Errorf("deactivate: %v, want ErrUnsupported", res[3].Err)
	}
	if res[4].Err != nil || res[4].ID != "12" {
		t.Errorf("adopt: %+v", res[4])
	}
	as := e.sim.Agents()
	if as[0].LastName != "Byron" || as[1].DeactivatedAt != nil || len(as) != 6 || as[5].ExternalID != "E7" || as[5].Teams[0] != "Retail East" {
		t.Errorf("simulator state after the upload: %+v", as)
	}
}

func TestApplyBatchSplitsAtMaxRows(t *testing.T) {
	e := newEnv(t)
	c := e.client(func(cfg *agentiq.Config) { cfg.MaxRows = 2 })
	var ops []reconcile.Op
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		ops = append(ops, userOp(reconcile.ActionCreate, "", "K-"+n, n, n, n+"@bank.example", "T"))
	}
	res := c.ApplyBatch(context.Background(), ops)
	for i, r := range res {
		if r.Err != nil || r.ID == "" {
			t.Errorf("op %d: %+v", i, r)
		}
	}
	if got := e.sim.Counts()["POST /api/imports/users"]; got != 3 {
		t.Errorf("%d uploads, want 3", got)
	}
	if c.Capabilities().BatchRows != 2 {
		t.Errorf("capabilities do not carry MaxRows")
	}
}

func TestBadKeyIsFatalAndStopsUploads(t *testing.T) {
	e := newEnv(t, seedAgents()...)
	c := e.client(func(cfg *agentiq.Config) { cfg.APIKey = "wrong-key"; cfg.MaxRows = 1 })
	_, err := c.List(context.Background())
	var auth *agentiq.AuthError
	if !errors.As(err, &auth) || auth.Status != 401 {
		t.Fatalf("List with a bad key: %v, want an AuthError 401", err)
	}
	if got := e.sim.Counts()["GET /api/exports/agents"]; got != 1 {
		t.Errorf("a 401 was retried: %d requests", got)
	}
	res := c.ApplyBatch(context.Background(), []reconcile.Op{
		userOp(reconcile.ActionCreate, "", "E7", "Kat", "J", "kat@bank.example", ""),
		userOp(reconcile.ActionCreate, "", "E8", "Lee", "K", "lee@bank.example", ""),
	})
	for i, r := range res {
		var f reconcile.Fatal
		if !errors.As(r.Err, &f) || !f.Fatal() {
			t.Errorf("op %d: %v, want a fatal error", i, r.Err)
		}
	}
	if got := e.sim.Counts()["POST /api/imports/users"]; got != 1 {
		t.Errorf("%d uploads after a 401, want 1", got)
	}
	if err := c.Ping(context.Background()); !errors.As(err, &auth) {
		t.Errorf("Ping with a bad key: %v", err)
	}
}

func TestRateLimitIsHonoured(t *testing.T) {
	e := newEnv(t, seedAgents()...)
	c := e.client(func(cfg *agentiq.Config) { cfg.Epoch = simNow.Add(-time.Hour) })
	e.sim.Force("GET /api/exports/agents", agentiqsim.Forced{Status: 429, N: 2, RetryAfter: 7 * time.Second})
	if _, err := c.List(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(e.sleeps, []time.Duration{7 * time.Second, 7 * time.Second}) {
		t.Errorf("waits %v, want two of 7s", e.sleeps)
	}
	// An upload refused with 429 was not read: it is sent again, once.
	e.sim.Force("POST /api/imports/users", agentiqsim.Forced{Status: 429, N: 1, RetryAfter: 3 * time.Second})
	res := c.ApplyBatch(context.Background(), []reconcile.Op{userOp(reconcile.ActionCreate, "", "E7", "Kat", "J", "kat@bank.example", "")})
	if res[0].Err != nil || e.sim.Counts()["POST /api/imports/users"] != 2 || e.sim.RowsReceived() != 1 {
		t.Errorf("after a 429: %v, %d uploads, %d rows applied", res[0].Err, e.sim.Counts()["POST /api/imports/users"], e.sim.RowsReceived())
	}
	// A wait beyond MaxWait is fatal.
	e.sim.Force("GET /api/exports/agents", agentiqsim.Forced{Status: 429, N: 1, RetryAfter: time.Hour})
	_, err := c.List(context.Background())
	var rl *agentiq.RateLimitError
	if !errors.As(err, &rl) {
		t.Errorf("a one-hour Retry-After: %v, want a RateLimitError", err)
	}
}

func TestFailedUploadIsNeverResent(t *testing.T) {
	for _, status := range []int{500, 503, 502} {
		e := newEnv(t)
		c := e.client()
		e.sim.Force("POST /api/imports/users", agentiqsim.Forced{Status: status, N: 1, RetryAfter: time.Second})
		res := c.ApplyBatch(context.Background(), []reconcile.Op{userOp(reconcile.ActionCreate, "", "E7", "Kat", "J", "kat@bank.example", "")})
		if !errors.Is(res[0].Err, agentiq.ErrOutcomeUnknown) {
			t.Errorf("%d: %v, want ErrOutcomeUnknown", status, res[0].Err)
		}
		if got := e.sim.Counts()["POST /api/imports/users"]; got != 1 {
			t.Errorf("%d: the upload was sent %d times", status, got)
		}
	}
	// A network error (the server hangs up) is not retried either.
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close()
	}))
	defer srv.Close()
	c, _ := agentiq.New(agentiq.Config{BaseURL: srv.URL, APIKey: "k"})
	res := c.ApplyBatch(context.Background(), []reconcile.Op{userOp(reconcile.ActionCreate, "", "E7", "Kat", "J", "kat@bank.example", "")})
	if !errors.Is(res[0].Err, agentiq.ErrOutcomeUnknown) || hits.Load() != 1 {
		t.Errorf("network error: %v after %d attempts, want ErrOutcomeUnknown after 1", res[0].Err, hits.Load())
	}
}

func TestReadsAreRetriedOnServerErrors(t *testing.T) {
	e := newEnv(t, seedAgents()...)
	c := e.client(func(cfg *agentiq.Config) { cfg.Epoch = simNow.Add(-time.Hour) })
	e.sim.Force("GET /api/exports/agents", agentiqsim.Forced{Status: 502, N: 2})
	if _, err := c.List(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := e.sim.Counts()["GET /api/exports/agents"]; got != 3 || len(e.sleeps) != 2 {
		t.Errorf("%d requests, %d waits; want 3 and 2", got, len(e.sleeps))
	}
}

func TestRouteOverride(t *testing.T) {
	e := newEnv(t)
	routes, err := agentiq.ParseRoutes(map[string]string{"import_users": "POST /api/ingestion/users"})
	if err != nil {
		t.Fatal(err)
	}
	c := e.client(func(cfg *agentiq.Config) { cfg.Routes = routes })
	res := c.ApplyBatch(context.Background(), []reconcile.Op{userOp(reconcile.ActionCreate, "", "E7", "Kat", "J", "kat@bank.example", "")})
	if res[0].Err != nil || e.sim.Counts()["POST /api/ingestion/users"] != 1 {
		t.Errorf("override: %v, counts %v", res[0].Err, e.sim.Counts())
	}
	if _, err := agentiq.ParseRoutes(map[string]string{"imports": "/x"}); err == nil {
		t.Error("an unknown route name was accepted")
	}
}

func TestConfigErrorsAreReportedAtOnce(t *testing.T) {
	routes, _ := agentiq.ParseRoutes(map[string]string{"get_agent": "/api/agents", "import_users": "GET /api/imports/users"})
	_, err := agentiq.New(agentiq.Config{BaseURL: "https://api-v2.bank.agentiq.co/api", APIKey: "a b", MaxRows: -1, Routes: routes})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"ends in /api", "white space", "max rows", "{id}", "always POST"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
}

func TestEncodeCSVHeaderOrder(t *testing.T) {
	b, err := agentiq.EncodeCSV([]agentiq.Banker{{FirstName: "Jack", LastName: "O'Neill, Jr", Email: "j@x.example", MapID: "E1", Team: "Saves"}})
	if err != nil {
		t.Fatal(err)
	}
	want := "Banker First Name,Banker Last Name,Banker Email,BankerMapID,BankerTeam,Customer First Name,Customer Last Name,CustomerMapID,Customer Email,Customer Group,Date Added,Customer Phone\n" +
		"Jack,\"O'Neill, Jr\",j@x.example,E1,Saves,,,,,,,\n"
	if string(b) != want {
		t.Errorf("CSV:\n%s\nwant:\n%s", b, want)
	}
	if !cmp.Equal(agentiq.Columns, agentiqsim.Columns) {
		t.Error("client and simulator disagree on the columns")
	}
}
