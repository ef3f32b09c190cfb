package evaluagent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rostersync/rostersync/reconcile"
)

const (
	rolesJSON = `{"data":[
	 {"type":"roles","id":"r-agent","attributes":{"name":"agent","title":"Agent"}},
	 {"type":"roles","id":"r-tl","attributes":{"name":"team_leader","title":"Team Lead (renamed)"}},
	 {"type":"roles","id":"r-sys","attributes":{"name":"system_access","title":null}}]}`
	levelsJSON = `{"data":[
	 {"type":"levels","id":"l-biz","attributes":{"name":"Business"}},
	 {"type":"levels","id":"l-team","attributes":{"name":"Team"}}]}`
)

// fakeAccount serves a small account for List.
func fakeAccount(f *fakeAPI) {
	f.json("GET /v1/org/roles", 200, rolesJSON)
	f.json("GET /v1/org/levels", 200, levelsJSON)
	f.json("GET /v1/org/users", 200, `{"data":[
	 {"type":"users","id":"u-ada","attributes":{"forename":"Ada","surname":"Lovelace","fullname":"Ada Lovelace",
	   "email":"ada@example.com","username":"ada@example.com","start_date":"2024-01-15T00:00:00+01:00","active":true,
	   "third_party_id":1001,"created_at":"2024-01-01T10:00:00.123Z"},
	  "relationships":{"roles":{"data":[{"type":"roles","id":"r-sys"},{"type":"roles","id":"r-agent"}]},
	   "agent-team":{"data":{"type":"groups","id":"g-north"}}}},
	 {"type":"users","id":"u-bob","attributes":{"forename":"Bob","surname":null,"fullname":null,"email":null,
	   "username":"Bob","start_date":null,"active":false,"third_party_id":null},
	  "relationships":{"roles":{"data":[]},"agent-team":{"data":null}}},
	 {"type":"users","id":"u-cy","attributes":{"forename":"Cy","surname":"Young","email":"cy@example.com",
	   "username":"cy@example.com","start_date":"2023-05-01","active":true,"third_party_id":"WFM-7","extra":{"x":1}},
	  "relationships":{"roles":{"data":[{"type":"roles","id":"r-tl"}]},"agent-team":{"data":null}}}]}`)
	f.handle("GET /v1/org/groups", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("show_inactive") != "true" {
			f.t.Errorf("groups listed without show_inactive=true: %s", r.URL.RawQuery)
		}
		writeJSON(w, 200, `{"data":[
		 {"type":"groups","id":"g-root","attributes":{"name":"Acme","level":"Business","parent":null,"active":true,"has_children":true,"is_custom_reporting_group":false}},
		 {"type":"groups","id":"g-north","attributes":{"name":"Team North","level":"Team","parent":"g-root","active":true,"has_children":false,"is_custom_reporting_group":null}},
		 {"type":"groups","id":"g-old","attributes":{"name":"Old Team","level":"Team","parent":"g-root","active":false,"has_children":false,"is_custom_reporting_group":false}}]}`)
	})
	f.json("GET /v1/quality/work-queue-templates", 200, `{"data":[
	 {"type":"work-queue-templates","id":"q-sales","attributes":{"name":"Sales QA","active":true},"relationships":{"agents":{"data":[]}}},
	 {"type":"work-queue-templates","id":"q-care","attributes":{"name":"Care QA","active":false}}]}`)
	f.json("GET /v1/quality/work-queue-templates/q-sales/agents", 200, `{"data":[{"type":"users","id":"u-ada"}]}`)
	// W3 may answer full user objects too.
	f.json("GET /v1/quality/work-queue-templates/q-care/agents", 200, `{"data":[
	 {"type":"users","id":"u-ada","attributes":{"username":"ada@example.com","active":true}}]}`)
}

func TestListDecodesTheAccount(t *testing.T) {
	f := newFake(t)
	fakeAccount(f)
	c, _ := newTestClient(t, f)
	got, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := &reconcile.Snapshot{
		Users: []reconcile.User{
			{ID: "u-ada", ThirdPartyID: "1001", Username: "ada@example.com", Email: "ada@example.com", Forename: "Ada", Surname: "Lovelace",
				StartDate: 20240115, Active: true, Roles: reconcile.NamesOf("agent", "system_access"), Team: "g-north", Queues: reconcile.NamesOf("Care QA", "Sales QA")},
			{ID: "u-bob", Username: "Bob", Forename: "Bob", Roles: reconcile.NamesOf()},
			{ID: "u-cy", ThirdPartyID: "WFM-7", Username: "cy@example.com", Email: "cy@example.com", Forename: "Cy", Surname: "Young",
				StartDate: 20230501, Active: true, Roles: reconcile.NamesOf("team_leader")},
		},
		Teams: []reconcile.Team{
			{ID: "g-root", Name: "Acme", Level: "Business", Active: true},
			{ID: "g-old", Name: "Old Team", Parent: "g-root", Level: "Team"},
			{ID: "g-north", Name: "Team North", Parent: "g-root", Level: "Team", Active: true},
		},
		Queues: []reconcile.Queue{
			{ID: "q-care", Name: "Care QA", Agents: []string{"u-ada"}},
			{ID: "q-sales", Name: "Sales QA", Active: true, Agents: []string{"u-ada"}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}

func TestListFailsOnUnlistedRole(t *testing.T) {
	f := newFake(t)
	f.json("GET /v1/org/roles", 200, `{"data":[]}`)
	f.json("GET /v1/org/levels", 200, levelsJSON)
	f.json("GET /v1/org/users", 200, `{"data":[{"type":"users","id":"u1","attributes":{"username":"ada"},
	  "relationships":{"roles":{"data":[{"type":"roles","id":"r-x"}]}}}]}`)
	c, _ := newTestClient(t, f)
	_, err := c.List(context.Background())
	if want := `evaluagent: list users: user "ada" holds role id "r-x", which GET /org/roles did not list`; err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

func TestListFollowsLinksNext(t *testing.T) {
	f := newFake(t)
	f.handle("GET /v1/org/roles", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("page[number]") {
		case "":
			// An absolute link.
			writeJSON(w, 200, `{"data":[{"type":"roles","id":"r1","attributes":{"name":"agent"}}],
			 "links":{"next":"`+f.srv.URL+`/v1/org/roles?page%5Bnumber%5D=2"}}`)
		case "2":
			// A relative link, as a link object.
			writeJSON(w, 200, `{"data":[{"type":"roles","id":"r2","attributes":{"name":"manager"}}],
			 "links":{"next":{"href":"roles?page%5Bnumber%5D=3"}}}`)
		case "3":
			writeJSON(w, 200, `{"data":[{"type":"roles","id":"r3","attributes":{"name":"system_access"}}],"links":{"next":null}}`)
		default:
			t.Errorf("unexpected page %s", r.URL.RawQuery)
		}
	})
	c, _ := newTestClient(t, f)
	roles, err := c.Roles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range roles {
		names = append(names, r.Name)
	}
	if diff := cmp.Diff([]string{"agent", "manager", "system_access"}, names); diff != "" {
		t.Errorf("roles (-want +got):\n%s", diff)
	}
	if got := c.Requests()["GET /org/roles"]; got != 3 {
		t.Errorf("requests = %d, want 3 (pages share the endpoint)", got)
	}
}

func TestListStopsOnEmptyPage(t *testing.T) {
	f := newFake(t)
	f.handle("GET /v1/org/levels", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page[number]") == "2" {
			writeJSON(w, 200, `{"data":[],"links":{"next":"/v1/org/levels?page%5Bnumber%5D=3"}}`)
			return
		}
		writeJSON(w, 200, `{"data":[{"type":"levels","id":"l1","attributes":{"name":"Team"}}],"links":{"next":"/v1/org/levels?page%5Bnumber%5D=2"}}`)
	})
	c, _ := newTestClient(t, f)
	levels, err := c.Levels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(levels) != 1 || f.requests()[len(f.requests())-1].Query != "page%5Bnumber%5D=2" {
		t.Errorf("levels = %v, requests = %v", levels, f.requests())
	}
}

func TestListDetectsRepeatedNext(t *testing.T) {
	f := newFake(t)
	f.handle("GET /v1/org/roles", func(w http.ResponseWriter, r *http.Request) {
		next := "/v1/org/roles?page%5Bnumber%5D=2"
		if r.URL.Query().Get("page[number]") == "2" {
			next = "/v1/org/roles" // back to the first page
		}
		writeJSON(w, 200, `{"data":[{"type":"roles","id":"r1","attributes":{"name":"agent"}}],"links":{"next":"`+next+`"}}`)
	})
	c, _ := newTestClient(t, f)
	_, err := c.Roles(context.Background())
	if err == nil || !strings.Contains(err.Error(), "repeats") {
		t.Fatalf("err = %v, want a repeat error", err)
	}
	if got := len(f.requests()); got != 2 {
		t.Errorf("requests = %d, want 2", got)
	}
}

func TestListStopsAtPageCeiling(t *testing.T) {
	f := newFake(t)
	n := 0
	f.handle("GET /v1/org/roles", func(w http.ResponseWriter, r *http.Request) {
		n++
		writeJSON(w, 200, fmt.Sprintf(`{"data":[{"type":"roles","id":"r%d","attributes":{"name":"x"}}],"links":{"next":"/v1/org/roles?page%%5Bnumber%%5D=%d"}}`, n, n+1))
	})
	c, _ := newTestClient(t, f, func(cfg *Config) { cfg.MaxPages = 5 })
	_, err := c.Roles(context.Background())
	if err == nil || !strings.Contains(err.Error(), "MaxPages") {
		t.Fatalf("err = %v, want a page-ceiling error", err)
	}
	if n != 5 {
		t.Errorf("pages fetched = %d, want 5", n)
	}
}

func TestListRefusesNextOnAnotherHost(t *testing.T) {
	f := newFake(t)
	f.json("GET /v1/org/roles", 200, `{"data":[{"type":"roles","id":"r1","attributes":{"name":"agent"}}],"links":{"next":"https://elsewhere.example/v1/org/roles?page=2"}}`)
	c, _ := newTestClient(t, f)
	_, err := c.Roles(context.Background())
	if err == nil || !strings.Contains(err.Error(), "elsewhere.example") {
		t.Fatalf("err = %v, want a refusal naming the other host", err)
	}
}

// writeFake serves roles and levels and answers writes with a minimal body.
func writeFake(t *testing.T) *fakeAPI {
	f := newFake(t)
	f.json("GET /v1/org/roles", 200, rolesJSON)
	f.json("GET /v1/org/levels", 200, levelsJSON)
	f.json("POST /v1/org/users", 201, `{"data":{"type":"users","id":"u-new","attributes":{"active":true}}}`)
	f.json("PATCH /v1/org/users/{id}", 200, `{"data":{"type":"users","id":"u1"}}`)
	f.json("POST /v1/org/groups", 201, `{"data":{"type":"groups","id":"g-new"}}`)
	f.json("PATCH /v1/org/groups/{id}", 200, `{"data":{"type":"groups","id":"g1"}}`)
	f.json("POST /v1/quality/work-queue-templates/{id}/agents", 200, `{"data":{"type":"work-queue-templates","id":"q1"}}`)
	f.json("DELETE /v1/quality/work-queue-templates/{id}/agents", 200, `{"data":{"type":"work-queue-templates","id":"q1"}}`)
	return f
}

// lastBody returns the body of the only request to method and path.
func lastBody(t *testing.T, f *fakeAPI, method, path string) string {
	t.Helper()
	reqs := f.requestsTo(method, path)
	if len(reqs) != 1 {
		t.Fatalf("%d requests to %s %s, want 1", len(reqs), method, path)
	}
	if ct := reqs[0].Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	return reqs[0].Body
}

func TestCreateUserBody(t *testing.T) {
	for _, tc := range []struct {
		name string
		user reconcile.User
		want string
	}{{
		name: "agent with team",
		user: reconcile.User{Username: "ada@example.com", Email: "ada@example.com", Forename: "Ada", Surname: "Lovelace",
			StartDate: 20240115, ThirdPartyID: "WFM-1001", Active: true, Roles: reconcile.NamesOf("agent", "System_Access"), Team: "g-north"},
		want: `{"data":{"type":"users","attributes":{"forename":"Ada","surname":"Lovelace","username":"ada@example.com",
		  "email":"ada@example.com","start_date":"2024-01-15","third_party_id":"WFM-1001"},
		  "relationships":{"roles":{"data":[{"type":"roles","id":"r-agent"},{"type":"roles","id":"r-sys"}]},
		  "agent-team":{"data":{"type":"groups","id":"g-north"}}}}}`,
	}, {
		name: "non-agent sends no team and no blank attributes",
		user: reconcile.User{Username: "cy", Forename: "Cy", Surname: "Young", Active: true, Roles: reconcile.NamesOf("team_leader"), Team: "g-north"},
		want: `{"data":{"type":"users","attributes":{"forename":"Cy","surname":"Young","username":"cy"},
		  "relationships":{"roles":{"data":[{"type":"roles","id":"r-tl"}]}}}}`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			f := writeFake(t)
			c, _ := newTestClient(t, f)
			id, err := c.CreateUser(context.Background(), tc.user)
			if err != nil {
				t.Fatal(err)
			}
			if id != "u-new" {
				t.Errorf("id = %q", id)
			}
			if got, want := lastBody(t, f, "POST", "/v1/org/users"), compactJSON(t, tc.want); compactJSON(t, got) != want {
				t.Errorf("body\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestCreateUserUnknownRoleSendsNothing(t *testing.T) {
	f := writeFake(t)
	c, _ := newTestClient(t, f)
	_, err := c.CreateUser(context.Background(), reconcile.User{Username: "ada", Forename: "A", Surname: "L", Active: true, Roles: reconcile.NamesOf("supervisor")})
	if !errors.Is(err, ErrUnknownRole) {
		t.Fatalf("err = %v, want ErrUnknownRole", err)
	}
	for _, s := range []string{`create user "ada"`, `"supervisor"`, "agent, system_access, team_leader"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q lacks %q", err, s)
		}
	}
	if n := len(f.requestsTo("POST", "/v1/org/users")); n != 0 {
		t.Errorf("%d POSTs sent for an invalid user", n)
	}
}

func TestUpdateUserBodies(t *testing.T) {
	ada := reconcile.User{Username: "ada@example.com", Email: "", Forename: "Ada", Surname: "Byron", StartDate: 0,
		ThirdPartyID: "", Active: true, Roles: reconcile.NamesOf("agent"), Team: "g-south"}
	for _, tc := range []struct {
		name   string
		user   reconcile.User
		fields []reconcile.Field
		want   string
	}{{
		name:   "one attribute",
		user:   ada,
		fields: []reconcile.Field{reconcile.FieldSurname},
		want:   `{"data":{"type":"users","id":"u1","attributes":{"surname":"Byron"}}}`,
	}, {
		name:   "cleared attributes are null",
		user:   ada,
		fields: []reconcile.Field{reconcile.FieldEmail, reconcile.FieldStartDate, reconcile.FieldThirdPartyID},
		want:   `{"data":{"type":"users","id":"u1","attributes":{"email":null,"start_date":null,"third_party_id":null}}}`,
	}, {
		name:   "move team",
		user:   ada,
		fields: []reconcile.Field{reconcile.FieldTeam},
		want:   `{"data":{"type":"users","id":"u1","relationships":{"agent-team":{"data":{"type":"groups","id":"g-south"}}}}}`,
	}, {
		name:   "attributes and relationships in one body",
		user:   ada,
		fields: []reconcile.Field{reconcile.FieldForename, reconcile.FieldRoles, reconcile.FieldTeam},
		want: `{"data":{"type":"users","id":"u1","attributes":{"forename":"Ada"},
		  "relationships":{"roles":{"data":[{"type":"roles","id":"r-agent"}]},"agent-team":{"data":{"type":"groups","id":"g-south"}}}}}`,
	}, {
		name:   "clear team and roles",
		user:   reconcile.User{Roles: reconcile.Names{}},
		fields: []reconcile.Field{reconcile.FieldRoles, reconcile.FieldTeam},
		want:   `{"data":{"type":"users","id":"u1","relationships":{"roles":{"data":[]},"agent-team":{"data":null}}}}`,
	}, {
		name:   "deactivate sends active alone",
		user:   reconcile.User{Username: "ada", Active: false, Roles: reconcile.NamesOf("agent"), Team: "g-south", Surname: "X"},
		fields: []reconcile.Field{reconcile.FieldActive, reconcile.FieldSurname, reconcile.FieldRoles},
		want:   `{"data":{"type":"users","id":"u1","attributes":{"active":false}}}`,
	}, {
		name:   "reactivate carries roles and team",
		user:   ada,
		fields: []reconcile.Field{reconcile.FieldActive},
		want: `{"data":{"type":"users","id":"u1","attributes":{"active":true},
		  "relationships":{"roles":{"data":[{"type":"roles","id":"r-agent"}]},"agent-team":{"data":{"type":"groups","id":"g-south"}}}}}`,
	}, {
		name:   "reactivate a non-agent sends roles, no team",
		user:   reconcile.User{Username: "cy", Active: true, Roles: reconcile.NamesOf("team_leader"), Surname: "Young"},
		fields: []reconcile.Field{reconcile.FieldActive, reconcile.FieldSurname},
		want: `{"data":{"type":"users","id":"u1","attributes":{"active":true,"surname":"Young"},
		  "relationships":{"roles":{"data":[{"type":"roles","id":"r-tl"}]}}}}`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			f := writeFake(t)
			c, _ := newTestClient(t, f)
			if err := c.UpdateUser(context.Background(), "u1", tc.user, tc.fields); err != nil {
				t.Fatal(err)
			}
			if got, want := lastBody(t, f, "PATCH", "/v1/org/users/u1"), compactJSON(t, tc.want); compactJSON(t, got) != want {
				t.Errorf("body\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestUpdateUserNoFieldsSendsNothing(t *testing.T) {
	f := writeFake(t)
	c, _ := newTestClient(t, f)
	if err := c.UpdateUser(context.Background(), "u1", reconcile.User{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateTeam(context.Background(), "g1", reconcile.Team{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.AddQueueAgents(context.Background(), "q1", nil); err != nil {
		t.Fatal(err)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests for nothing to do", n)
	}
}

func TestUpdateUserRejectsGroupField(t *testing.T) {
	f := writeFake(t)
	c, _ := newTestClient(t, f)
	err := c.UpdateUser(context.Background(), "u1", reconcile.User{}, []reconcile.Field{reconcile.FieldParent})
	if err == nil || !strings.Contains(err.Error(), `"parent"`) {
		t.Fatalf("err = %v", err)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestCreateTeamBody(t *testing.T) {
	f := writeFake(t)
	c, _ := newTestClient(t, f)
	id, err := c.CreateTeam(context.Background(), reconcile.Team{Name: "Team North", Parent: "g-root"})
	if err != nil {
		t.Fatal(err)
	}
	if id != "g-new" {
		t.Errorf("id = %q", id)
	}
	want := `{"data":{"type":"groups","attributes":{"name":"Team North"},
	 "relationships":{"parent":{"data":{"type":"groups","id":"g-root"}},"level":{"data":{"type":"levels","id":"l-team"}}}}}`
	if got := lastBody(t, f, "POST", "/v1/org/groups"); compactJSON(t, got) != compactJSON(t, want) {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
	_, err = c.CreateTeam(context.Background(), reconcile.Team{Name: "X", Parent: "g-root", Level: "Galaxy"})
	if !errors.Is(err, ErrUnknownLevel) {
		t.Errorf("err = %v, want ErrUnknownLevel", err)
	}
}

func TestUpdateTeamBody(t *testing.T) {
	f := writeFake(t)
	c, _ := newTestClient(t, f)
	err := c.UpdateTeam(context.Background(), "g1", reconcile.Team{Name: "Team South", Parent: "g-site", Active: false},
		[]reconcile.Field{reconcile.FieldName, reconcile.FieldParent, reconcile.FieldActive})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"data":{"type":"groups","id":"g1","attributes":{"name":"Team South","active":false},
	 "relationships":{"parent":{"data":{"type":"groups","id":"g-site"}}}}}`
	if got := lastBody(t, f, "PATCH", "/v1/org/groups/g1"); compactJSON(t, got) != compactJSON(t, want) {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
	if n := len(f.requestsTo("GET", "/v1/org/levels")); n != 0 {
		t.Errorf("levels listed %d times for an update that needs none", n)
	}
}

func TestQueueAgentBodies(t *testing.T) {
	f := writeFake(t)
	c, _ := newTestClient(t, f)
	ctx := context.Background()
	if err := c.AddQueueAgents(ctx, "q1", []string{"u2", "u1", "u2"}); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveQueueAgents(ctx, "q1", []string{"u3"}); err != nil {
		t.Fatal(err)
	}
	want := `{"data":[{"type":"users","id":"u1"},{"type":"users","id":"u2"}]}`
	if got := lastBody(t, f, "POST", "/v1/quality/work-queue-templates/q1/agents"); compactJSON(t, got) != compactJSON(t, want) {
		t.Errorf("add body %s, want %s", got, want)
	}
	want = `{"data":[{"type":"users","id":"u3"}]}`
	if got := lastBody(t, f, "DELETE", "/v1/quality/work-queue-templates/q1/agents"); compactJSON(t, got) != compactJSON(t, want) {
		t.Errorf("remove body %s, want %s", got, want)
	}
}

func TestLookupsCachedPerList(t *testing.T) {
	f := newFake(t)
	fakeAccount(f)
	f.json("POST /v1/org/users", 201, `{"data":{"type":"users","id":"u-new"}}`)
	c, _ := newTestClient(t, f)
	ctx := context.Background()
	agent := reconcile.User{Username: "x", Forename: "X", Surname: "Y", Active: true, Roles: reconcile.NamesOf("agent"), Team: "g-north"}

	// A write before any List loads roles lazily, once.
	for range 2 {
		if _, err := c.CreateUser(ctx, agent); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Requests()["GET /org/roles"]; got != 1 {
		t.Errorf("roles listed %d times before List, want 1", got)
	}
	// Every List refreshes them; writes after it use the cache.
	for range 2 {
		if _, err := c.List(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateUser(ctx, agent); err != nil {
		t.Fatal(err)
	}
	if got := c.Requests()["GET /org/roles"]; got != 3 {
		t.Errorf("roles listed %d times, want 3", got)
	}
}

func TestFindUsersSendsFilters(t *testing.T) {
	f := newFake(t)
	fakeAccount(f)
	c, _ := newTestClient(t, f)
	if _, err := c.FindUsers(context.Background(), "ada@example.com", ""); err != nil {
		t.Fatal(err)
	}
	reqs := f.requestsTo("GET", "/v1/org/users")
	if len(reqs) != 1 || reqs[0].Query != "filter%5Busername%5D=ada%40example.com" {
		t.Errorf("requests = %+v", reqs)
	}
}

func TestRouteOverride(t *testing.T) {
	f := newFake(t)
	f.json("PUT /v1/quality/work-queue-templates/{id}/relationships/agents", 200, `{"data":{"type":"work-queue-templates","id":"q1"}}`)
	c, _ := newTestClient(t, f, func(cfg *Config) {
		cfg.Routes.AddQueueAgents = Route{Method: "PUT", Path: "/quality/work-queue-templates/{id}/relationships/agents"}
	})
	if err := c.AddQueueAgents(context.Background(), "q1", []string{"u1"}); err != nil {
		t.Fatal(err)
	}
	if got := c.Requests()["PUT /quality/work-queue-templates/{id}/relationships/agents"]; got != 1 {
		t.Errorf("Requests() = %v", c.Requests())
	}
}

func TestIDsAreEscapedInPaths(t *testing.T) {
	f := newFake(t)
	f.handle("PATCH /v1/org/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		if got := r.PathValue("id"); got != "a/b c" {
			t.Errorf("id = %q", got)
		}
		writeJSON(w, 200, `{"data":{"type":"users","id":"x"}}`)
	})
	c, _ := newTestClient(t, f)
	if err := c.UpdateUser(context.Background(), "a/b c", reconcile.User{}, []reconcile.Field{reconcile.FieldForename}); err != nil {
		t.Fatal(err)
	}
}

// TestErrorTexts pins the wording of the errors of listing, creating and
// looking up, which callers show to operators as they are.
func TestErrorTexts(t *testing.T) {
	ctx := context.Background()
	check := func(t *testing.T, err error, prefix string) {
		t.Helper()
		if err == nil || !strings.HasPrefix(err.Error(), prefix) {
			t.Errorf("err = %v, want it to start %q", err, prefix)
		}
	}
	for _, tc := range []struct {
		name, pattern, body, prefix string
	}{
		{"role", "GET /v1/org/roles", `{"data":[{"type":"roles","id":"r1","attributes":{"name":{}}}]}`, `evaluagent: list roles: roles "r1": attributes: `},
		{"level", "GET /v1/org/levels", `{"data":[{"type":"levels","id":"l1","attributes":{"name":{}}}]}`, `evaluagent: list levels: levels "l1": attributes: `},
		{"user", "GET /v1/org/users", `{"data":[{"type":"users","id":"u1","attributes":{"username":{}}}]}`, `evaluagent: list users: `},
		{"group", "GET /v1/org/groups", `{"data":[{"type":"groups","id":"g1","attributes":{"name":{}}}]}`, `evaluagent: list groups: groups "g1": attributes: `},
		{"queue", "GET /v1/quality/work-queue-templates", `{"data":[{"type":"work-queue-templates","id":"q1","attributes":{"name":{}}}]}`,
			`evaluagent: list work-queue templates: work-queue-templates "q1": attributes: `},
		{"queue agent", "GET /v1/quality/work-queue-templates/q-sales/agents", `{"data":[{"type":"users"}]}`,
			`evaluagent: list agents of work-queue template "Sales QA": work-queue template agent without an id`},
	} {
		t.Run("malformed "+tc.name, func(t *testing.T) {
			account := map[string]string{
				"GET /v1/org/roles":                                   rolesJSON,
				"GET /v1/org/levels":                                  levelsJSON,
				"GET /v1/org/users":                                   `{"data":[{"type":"users","id":"u1","attributes":{"username":"ada"}}]}`,
				"GET /v1/org/groups":                                  `{"data":[{"type":"groups","id":"g1","attributes":{"name":"North"}}]}`,
				"GET /v1/quality/work-queue-templates":                `{"data":[{"type":"work-queue-templates","id":"q-sales","attributes":{"name":"Sales QA"}}]}`,
				"GET /v1/quality/work-queue-templates/q-sales/agents": `{"data":[{"type":"users","id":"u1"}]}`,
			}
			account[tc.pattern] = tc.body
			f := newFake(t)
			for pattern, body := range account {
				f.json(pattern, 200, body)
			}
			c, _ := newTestClient(t, f)
			_, err := c.List(ctx)
			check(t, err, tc.prefix)
		})
	}
	t.Run("create without id", func(t *testing.T) {
		f := newFake(t)
		f.json("GET /v1/org/roles", 200, rolesJSON)
		f.json("GET /v1/org/levels", 200, levelsJSON)
		f.json("POST /v1/org/users", 201, `{"data":{"type":"users","attributes":{}}}`)
		f.json("POST /v1/org/groups", 201, `{"data":{"type":"groups"}}`)
		c, _ := newTestClient(t, f)
		_, err := c.CreateUser(ctx, reconcile.User{Username: "ada", Forename: "A", Surname: "L", Active: true, Roles: reconcile.NamesOf("agent")})
		check(t, err, `evaluagent: create user "ada": the response carries no id`)
		_, err = c.CreateTeam(ctx, reconcile.Team{Name: "North"})
		check(t, err, `evaluagent: create group "North": the response carries no id`)
		_, err = c.CreateTeam(ctx, reconcile.Team{Name: "X", Level: "Galaxy"})
		check(t, err, `evaluagent: create group "X": unknown level "Galaxy": Evaluagent defines Business, Team`)
		err = c.UpdateUser(ctx, "u1", reconcile.User{Username: "ada", Roles: reconcile.NamesOf("boss")}, []reconcile.Field{reconcile.FieldRoles})
		check(t, err, `evaluagent: update user "ada" (u1): unknown role "boss": Evaluagent defines agent, system_access, team_leader`)
	})
	t.Run("create with a body that does not decode", func(t *testing.T) {
		f := newFake(t)
		f.json("GET /v1/org/levels", 200, levelsJSON)
		f.json("POST /v1/org/groups", 201, `not json`)
		c, _ := newTestClient(t, f)
		_, err := c.CreateTeam(ctx, reconcile.Team{Name: "North"})
		check(t, err, `evaluagent: create group "North": `)
	})
	t.Run("queue agents", func(t *testing.T) {
		f := newFake(t)
		f.json("POST /v1/quality/work-queue-templates/{id}/agents", 422, `{"errors":[{"status":"422","detail":"nope"}]}`)
		c, _ := newTestClient(t, f)
		err := c.AddQueueAgents(ctx, "q1", []string{"u1"})
		if err == nil || !strings.Contains(err.Error(), "add agents to work-queue template q1") {
			t.Errorf("err = %v, want it to name the work", err)
		}
	})
}
