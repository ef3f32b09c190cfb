package voki_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/voki"
	"github.com/rostersync/rostersync/reconcile/voki/vokisim"
)

// recorder keeps the bodies of the requests to one method and path.
type recorder struct {
	mu           sync.Mutex
	method, path string
	bodies       []map[string]any
	next         http.Handler
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method == r.method && req.URL.Path == r.path || strings.HasSuffix(r.path, "*") && strings.HasPrefix(req.URL.Path, strings.TrimSuffix(r.path, "*")) && req.Method == r.method {
		b, _ := io.ReadAll(req.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		r.mu.Lock()
		r.bodies = append(r.bodies, m)
		r.mu.Unlock()
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	r.next.ServeHTTP(w, req)
}

func recorded(t *testing.T, method, path string, simCfg func(*vokisim.Config), cfg func(*voki.Config)) (*voki.Client, *recorder) {
	t.Helper()
	sc := vokisim.DefaultConfig()
	if simCfg != nil {
		simCfg(&sc)
	}
	rec := &recorder{method: method, path: path, next: vokisim.New(sc)}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	c := voki.Config{BaseURL: srv.URL, Tenant: vokisim.DemoTenant, Email: vokisim.DemoEmail, Password: vokisim.DemoPassword, CreateUsers: true, Memberships: voki.Exact}
	if cfg != nil {
		cfg(&c)
	}
	client, err := voki.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return client, rec
}

var newPerson = reconcile.User{Email: "new.person@acme.example", Forename: "New", Surname: "Person", Roles: reconcile.NamesOf("attendant"), Active: true}

func TestCreateUserSendsTheInferredBodyWithAPasswordNeverReused(t *testing.T) {
	c, rec := recorded(t, http.MethodPost, "/api/v1/users", func(s *vokisim.Config) { s.RequirePassword = true }, nil)
	id, err := c.CreateUser(context.Background(), newPerson)
	if err != nil || id == "" {
		t.Fatalf("CreateUser = %q, %v", id, err)
	}
	if len(rec.bodies) != 1 {
		t.Fatalf("%d create requests, want 1", len(rec.bodies))
	}
	inner, _ := rec.bodies[0]["user"].(map[string]any)
	pw, _ := inner["password"].(string)
	if len(pw) != 32 {
		t.Errorf("password of %d characters, want 32", len(pw))
	}
	delete(inner, "password")
	want := map[string]any{"name": "New Person", "email": "new.person@acme.example", "role": "attendant"}
	if d := cmp.Diff(want, inner); d != "" {
		t.Errorf("create body (-want +got):\n%s", d)
	}
	// A duplicate email is refused by the platform and reported.
	if _, err := c.CreateUser(context.Background(), newPerson); err == nil || !strings.Contains(err.Error(), "has already been taken") {
		t.Errorf("a duplicate create: %v, want the platform's 422", err)
	}
}

func TestCreateUserTemplateOverridesTheBody(t *testing.T) {
	tmpl := &voki.Template{Wrapper: "", Omit: []string{"password"}, Rename: map[string]string{"name": "name"}, Constants: map[string]any{"locale": "pt-BR"}}
	c, rec := recorded(t, http.MethodPost, "/api/v1/users", nil, func(c *voki.Config) { c.CreateUserTemplate = tmpl })
	if _, err := c.CreateUser(context.Background(), newPerson); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"name": "New Person", "email": "new.person@acme.example", "role": "attendant", "locale": "pt-BR"}
	if d := cmp.Diff(want, rec.bodies[0]); d != "" {
		t.Errorf("bare body without password (-want +got):\n%s", d)
	}
	// The simulator set to require a password refuses it: the template is
	// what was sent, not what the client would have sent.
	c2, _ := recorded(t, http.MethodPost, "/api/v1/users", func(s *vokisim.Config) { s.RequirePassword = true }, func(c *voki.Config) { c.CreateUserTemplate = tmpl })
	if _, err := c2.CreateUser(context.Background(), newPerson); err == nil || !strings.Contains(err.Error(), "password") {
		t.Errorf("err = %v, want the platform's password error", err)
	}
}

func TestCreateIsRefusedWhenOff(t *testing.T) {
	c, rec := recorded(t, http.MethodPost, "/api/v1/users", nil, func(c *voki.Config) { c.CreateUsers = false })
	if _, err := c.CreateUser(context.Background(), newPerson); !errors.Is(err, voki.ErrCreateOff) {
		t.Fatalf("err = %v, want ErrCreateOff", err)
	}
	if len(rec.bodies) != 0 {
		t.Error("a create was sent while creating users is off")
	}
	if !c.Capabilities().NoCreate {
		t.Error("Capabilities do not say creates are off")
	}
}

func TestMembershipAddAndRemoveAreIdempotent(t *testing.T) {
	c, rec := recorded(t, http.MethodPost, "/api/v1/departments/*", nil, func(c *voki.Config) {
		c.AddMemberTemplate = &voki.Template{}
	})
	ctx := context.Background()
	snap, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sales, support reconcile.Queue
	for _, q := range snap.Queues {
		switch q.Name {
		case "Sales":
			sales = q
		case "Support":
			support = q
		}
	}
	ghost := sales.Agents[0]
	// Re-adding a member and removing a non-member both count as done.
	if err := c.AddQueueAgents(ctx, sales.ID, []string{ghost}); err != nil {
		t.Errorf("re-adding a member: %v", err)
	}
	if err := c.RemoveQueueAgents(ctx, support.ID, []string{ghost}); err != nil {
		t.Errorf("removing a non-member: %v", err)
	}
	if d := cmp.Diff([]map[string]any{{"user_id": ghost}}, rec.bodies); d != "" {
		t.Errorf("add-member body (-want +got):\n%s", d)
	}
	if err := c.AddQueueAgents(ctx, support.ID, []string{"no-such-user"}); err == nil {
		t.Error("adding an unknown user succeeded")
	}
	after, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(snap.Queues, after.Queues); d != "" {
		t.Errorf("idempotent membership calls changed the departments (-before +after):\n%s", d)
	}
}

func TestListWalksPagesOfAtMostAHundred(t *testing.T) {
	total := 0
	cfg := func(s *vokisim.Config) {
		for i := range 230 {
			s.Tenants[0].Users = append(s.Tenants[0].Users, &vokisim.User{ID: fmt.Sprintf("u-%03d", i),
				Name: "Bulk User", Email: fmt.Sprintf("bulk%d@acme.example", i), Role: "attendant", Active: true,
				Inserted: vokisim.SeedEpoch.Add(time.Duration(i+10) * time.Hour)})
		}
		total = len(s.Tenants[0].Users)
	}
	var mu sync.Mutex
	var sizes []string
	sc := vokisim.DefaultConfig()
	cfg(&sc)
	sim := vokisim.New(sc)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/users" {
			mu.Lock()
			sizes = append(sizes, r.URL.Query().Get("page_size"))
			mu.Unlock()
		}
		sim.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, err := voki.New(voki.Config{BaseURL: srv.URL, Tenant: vokisim.DemoTenant, Email: vokisim.DemoEmail, Password: vokisim.DemoPassword})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Users) != total {
		t.Errorf("List returned %d users, the tenant has %d", len(snap.Users), total)
	}
	if d := cmp.Diff([]string{"100", "100", "100"}, sizes); d != "" {
		t.Errorf("page sizes requested (-want +got):\n%s", d)
	}
}

func TestTheFirstCreateIsReadBack(t *testing.T) {
	// A template whose constant overrides the role: the platform makes a
	// supervisor, and reading it back catches that.
	c, _ := recorded(t, http.MethodPost, "/api/v1/users", nil, func(c *voki.Config) {
		c.CreateUserTemplate = &voki.Template{Wrapper: "user", Constants: map[string]any{"role": "supervisor"}}
	})
	if _, err := c.CreateUser(context.Background(), newPerson); err == nil || !strings.Contains(err.Error(), "create_user_template") {
		t.Fatalf("a create the platform made differently: %v, want the template named", err)
	}
	// The default template: the create is read back and found by search.
	var gets []string
	var mu sync.Mutex
	sim := vokisim.New(vokisim.DefaultConfig())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/v1/users") {
			mu.Lock()
			gets = append(gets, r.URL.Path+"?"+r.URL.Query().Get("search"))
			mu.Unlock()
		}
		sim.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c2, err := voki.New(voki.Config{BaseURL: srv.URL, Tenant: vokisim.DemoTenant, Email: vokisim.DemoEmail, Password: vokisim.DemoPassword, CreateUsers: true})
	if err != nil {
		t.Fatal(err)
	}
	id, err := c2.CreateUser(context.Background(), newPerson)
	if err != nil {
		t.Fatal(err)
	}
	second := newPerson
	second.Email = "second@acme.example"
	if _, err := c2.CreateUser(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	want := []string{"/api/v1/users/" + id + "?", "/api/v1/users?new.person@acme.example"}
	if d := cmp.Diff(want, gets); d != "" {
		t.Errorf("reads after two creates (-want +got): only the first is confirmed\n%s", d)
	}
}

// TestAListThatChangesWhileReadIsReadAgainOnce adds a user between the
// pages of a walk: the walk restarts once; a list that keeps changing
// fails the read rather than return a torn one.
func TestAListThatChangesWhileReadIsReadAgainOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		changes int
		wantErr bool
	}{{"once", 1, false}, {"every time", 2, true}} {
		t.Run(tc.name, func(t *testing.T) {
			sim := vokisim.New(vokisim.DefaultConfig())
			var writer *voki.Client
			var mu sync.Mutex
			changed, firstPages := 0, 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodGet && r.URL.Path == "/api/v1/users" && r.URL.Query().Get("search") == "" {
					mu.Lock()
					page := r.URL.Query().Get("page")
					if page == "1" {
						firstPages++
					}
					add := page == "2" && changed < tc.changes
					if add {
						changed++
					}
					n := changed
					mu.Unlock()
					if add {
						u := newPerson
						u.Email = fmt.Sprintf("joiner%d@acme.example", n)
						if _, err := writer.CreateUser(r.Context(), u); err != nil {
							t.Errorf("adding a user mid-walk: %v", err)
						}
					}
				}
				sim.ServeHTTP(w, r)
			}))
			defer srv.Close()
			var err error
			writer, err = voki.New(voki.Config{BaseURL: srv.URL, Tenant: vokisim.DemoTenant, Email: vokisim.DemoEmail, Password: vokisim.DemoPassword, CreateUsers: true})
			if err != nil {
				t.Fatal(err)
			}
			reader, err := voki.New(voki.Config{BaseURL: srv.URL, Tenant: vokisim.DemoTenant, Email: vokisim.DemoEmail, Password: vokisim.DemoPassword, PageSize: 2})
			if err != nil {
				t.Fatal(err)
			}
			snap, err := reader.List(context.Background())
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "changed twice") {
					t.Errorf("a list changing on every walk: %v, want an error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if firstPages != 2 || len(snap.Users) != 7 {
				t.Errorf("%d walks, %d users; want 2 walks and all 7 users", firstPages, len(snap.Users))
			}
		})
	}
}

func TestResultsSkipUsersInactiveBeforeThePeriod(t *testing.T) {
	c, rec := recorded(t, http.MethodGet, "/api/v1/evaluations/stats", nil, nil)
	ctx := context.Background()
	if _, err := c.List(ctx); err != nil {
		t.Fatal(err)
	}
	const ghost, ivy = "a0000000-0000-4000-8000-000000000006", "a0000000-0000-4000-8000-000000000005" // ivy: inactive since the seed
	now := time.Now()
	got, err := c.ResultsOf(ctx, []string{ghost, ivy}, now.AddDate(0, 0, -30), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.bodies) != 1 {
		t.Errorf("%d statistics requests, want 1 (the inactive user is skipped)", len(rec.bodies))
	}
	if got[ghost].Count != 3 || got[ghost].What != "customer ratings" {
		t.Errorf("ghost's results: %+v, want 3 customer ratings", got[ghost])
	}
}

func TestCreateDepartmentSendsItsNameAndIsListed(t *testing.T) {
	c, rec := recorded(t, http.MethodPost, "/api/v1/departments", nil, func(c *voki.Config) { c.Structure = voki.Mirror })
	ctx := context.Background()
	id, err := c.CreateQueue(ctx, reconcile.Queue{Name: "Onboarding", Active: true})
	if err != nil || id == "" {
		t.Fatalf("CreateQueue = %q, %v", id, err)
	}
	want := []map[string]any{{"department": map[string]any{"name": "Onboarding"}}}
	if d := cmp.Diff(want, rec.bodies); d != "" {
		t.Errorf("create-department bodies (-want +got):\n%s", d)
	}
	snap, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(snap.Queues, func(q reconcile.Queue) bool { return q.ID == id })
	if i < 0 || snap.Queues[i].Name != "Onboarding" || !snap.Queues[i].Active {
		t.Fatalf("the created department is not listed as active Onboarding: %+v", snap.Queues)
	}
	// A second department of the same name is refused by the platform.
	if _, err := c.CreateQueue(ctx, reconcile.Queue{Name: "Onboarding"}); err == nil || !strings.Contains(err.Error(), "has already been taken") {
		t.Errorf("a duplicate create: %v, want the platform's 422", err)
	}
}

func TestCreateDepartmentTemplateOverridesTheBody(t *testing.T) {
	tmpl := &voki.Template{Constants: map[string]any{"max_queue_size": 10}}
	c, rec := recorded(t, http.MethodPost, "/api/v1/departments", nil, func(c *voki.Config) {
		c.Structure = voki.Mirror
		c.CreateDepartmentTemplate = tmpl
	})
	if _, err := c.CreateQueue(context.Background(), reconcile.Queue{Name: "Retention"}); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{{"name": "Retention", "max_queue_size": float64(10)}}
	if d := cmp.Diff(want, rec.bodies); d != "" {
		t.Errorf("bare body with a constant (-want +got):\n%s", d)
	}
}

func TestCreateDepartmentIsRefusedWhenStructureIsOff(t *testing.T) {
	c, rec := recorded(t, http.MethodPost, "/api/v1/departments", nil, nil)
	if _, err := c.CreateQueue(context.Background(), reconcile.Queue{Name: "Onboarding"}); err == nil {
		t.Fatal("a department was created with structure off")
	}
	if len(rec.bodies) != 0 || c.Capabilities().CreateQueues {
		t.Error("structure off still creates departments")
	}
	if _, err := voki.New(voki.Config{BaseURL: "http://x", Tenant: "t", Email: "e", Password: "p", Structure: voki.Mirror}); err == nil || !strings.Contains(err.Error(), "memberships exact") {
		t.Errorf("mirror without memberships: %v, want a refusal naming memberships exact", err)
	}
}
