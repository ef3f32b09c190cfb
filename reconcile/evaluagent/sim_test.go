package evaluagent_test

// Client ↔ simulator tests: the client drives evaluagentsim over real HTTP,
// so both are held to the contract rather than to each other.

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
)

// The simulator and the client share a fakeClock: the client's Sleep
// advances it, so rate-limit windows pass without real waiting.
type simEnv struct {
	sim    *evaluagentsim.Server
	client *evaluagent.Client
	clock  *evaluagent.FakeClock
}

func newSimEnv(t *testing.T, simMod func(*evaluagentsim.Config), clientMod func(*evaluagent.Config)) *simEnv {
	t.Helper()
	// Mid-minute, so a fixed window resets in a known 30s.
	clk := evaluagent.NewFakeClock(time.Date(2025, 6, 2, 10, 0, 30, 0, time.UTC))
	scfg := evaluagentsim.DefaultConfig()
	scfg.Now = clk.Now
	if simMod != nil {
		simMod(&scfg)
	}
	sim, err := evaluagentsim.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	ccfg := evaluagent.Config{
		BaseURL:   ts.URL + "/v1",
		KeyID:     evaluagentsim.DemoKeyID,
		KeySecret: evaluagentsim.DemoKeySecret,
		Now:       clk.Now,
		Sleep:     clk.Sleep,
	}
	if clientMod != nil {
		clientMod(&ccfg)
	}
	c, err := evaluagent.New(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	env := &simEnv{sim: sim, client: c, clock: clk}
	t.Cleanup(func() {
		for ep := range sim.Counts() {
			if strings.Contains(ep, "/auth/") {
				t.Errorf("the client called %s; it must never touch the token endpoints", ep)
			}
		}
	})
	return env
}

func (e *simEnv) list(t *testing.T) *reconcile.Snapshot {
	t.Helper()
	s, err := e.client.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func teamByName(t *testing.T, s *reconcile.Snapshot, name string) reconcile.Team {
	t.Helper()
	for _, tm := range s.Teams {
		if tm.Name == name {
			return tm
		}
	}
	t.Fatalf("no group %q in %+v", name, s.Teams)
	return reconcile.Team{}
}

func queueByName(t *testing.T, s *reconcile.Snapshot, name string) reconcile.Queue {
	t.Helper()
	for _, q := range s.Queues {
		if q.Name == name {
			return q
		}
	}
	t.Fatalf("no work-queue template %q in %+v", name, s.Queues)
	return reconcile.Queue{}
}

func userByID(t *testing.T, s *reconcile.Snapshot, id string) reconcile.User {
	t.Helper()
	for _, u := range s.Users {
		if u.ID == id {
			return u
		}
	}
	t.Fatalf("no user %s in %+v", id, s.Users)
	return reconcile.User{}
}

func fields(fs ...reconcile.Field) []reconcile.Field { return fs }

func TestSimPing(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	if err := e.client.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := e.sim.Counts()["GET /ping"]; got != 1 {
		t.Errorf("sim saw %d pings", got)
	}
}

func TestSimListSeed(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	s := e.list(t)
	root := teamByName(t, s, "Acme Contact Centre")
	if root.Parent != "" || root.Level != "Business" || !root.Active {
		t.Errorf("root = %+v", root)
	}
	team := teamByName(t, s, "Test Team 1")
	if team.Parent != root.ID || team.Level != "Team" || !team.Active {
		t.Errorf("Test Team 1 = %+v", team)
	}
	var names []string
	for _, q := range s.Queues {
		names = append(names, q.Name)
		if len(q.Agents) != 0 || !q.Active {
			t.Errorf("queue %+v", q)
		}
	}
	if diff := cmp.Diff([]string{"Complaints", "Inbound Calls"}, names); diff != "" {
		t.Errorf("queues (-want +got):\n%s", diff)
	}
	if len(s.Users) != 0 {
		t.Errorf("users = %+v", s.Users)
	}
	roles, err := e.client.Roles(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var roleNames []string
	for _, r := range roles {
		roleNames = append(roleNames, r.Name)
	}
	slices.Sort(roleNames)
	want := []string{"administrator", "agent", "manager", "quality_analyst", "system_access", "team_leader"}
	if diff := cmp.Diff(want, roleNames); diff != "" {
		t.Errorf("roles (-want +got):\n%s", diff)
	}
}

// TestSimLifecycle walks every write the reconciler makes, checking each
// through a fresh List.
func TestSimLifecycle(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	ctx := context.Background()
	c := e.client
	s := e.list(t)
	root := teamByName(t, s, "Acme Contact Centre")
	team1 := teamByName(t, s, "Test Team 1")
	inbound := queueByName(t, s, "Inbound Calls")

	// Groups: create a site and a team under the root, then move the team under the site.
	siteID, err := c.CreateTeam(ctx, reconcile.Team{Name: "North", Parent: root.ID, Level: "Site"})
	if err != nil {
		t.Fatal(err)
	}
	northID, err := c.CreateTeam(ctx, reconcile.Team{Name: "Team North", Parent: root.ID}) // level defaults to Team
	if err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateTeam(ctx, northID, reconcile.Team{Name: "Team North East", Parent: siteID},
		fields(reconcile.FieldName, reconcile.FieldParent)); err != nil {
		t.Fatal(err)
	}
	s = e.list(t)
	got := teamByName(t, s, "Team North East")
	if diff := cmp.Diff(reconcile.Team{ID: northID, Name: "Team North East", Parent: siteID, Level: "Team", Active: true}, got); diff != "" {
		t.Errorf("moved team (-want +got):\n%s", diff)
	}

	// Users: an agent with a second role, a team leader without team.
	adaID, err := c.CreateUser(ctx, reconcile.User{
		Username: "ada@example.com", Email: "ada@example.com", Forename: "Ada", Surname: "Lovelace",
		StartDate: 20240115, ThirdPartyID: "WFM-1001", Active: true,
		Roles: reconcile.NamesOf("system_access", "agent"), Team: northID,
	})
	if err != nil {
		t.Fatal(err)
	}
	cyID, err := c.CreateUser(ctx, reconcile.User{
		Username: "cy@example.com", Forename: "Cy", Surname: "Young", Active: true, Roles: reconcile.NamesOf("team_leader"),
	})
	if err != nil {
		t.Fatal(err)
	}
	s = e.list(t)
	wantAda := reconcile.User{ID: adaID, ThirdPartyID: "WFM-1001", Username: "ada@example.com", Email: "ada@example.com",
		Forename: "Ada", Surname: "Lovelace", StartDate: 20240115, Active: true,
		Roles: reconcile.NamesOf("agent", "system_access"), Team: northID}
	if diff := cmp.Diff(wantAda, userByID(t, s, adaID)); diff != "" {
		t.Errorf("created agent (-want +got):\n%s", diff)
	}
	wantCy := reconcile.User{ID: cyID, Username: "cy@example.com", Forename: "Cy", Surname: "Young", Active: true, Roles: reconcile.NamesOf("team_leader")}
	if diff := cmp.Diff(wantCy, userByID(t, s, cyID)); diff != "" {
		t.Errorf("created team leader (-want +got):\n%s", diff)
	}

	// Update: rename, clear email and third-party id, move team — one PATCH.
	e.sim.ResetCounts()
	ada := wantAda
	ada.Surname, ada.Email, ada.ThirdPartyID, ada.Team = "Byron", "", "", team1.ID
	if err := c.UpdateUser(ctx, adaID, ada, fields(reconcile.FieldSurname, reconcile.FieldEmail, reconcile.FieldThirdPartyID, reconcile.FieldTeam)); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"PATCH /org/users/{id}": 1}, e.sim.Counts()); diff != "" {
		t.Errorf("requests for one update (-want +got):\n%s", diff)
	}
	s = e.list(t)
	if diff := cmp.Diff(ada, userByID(t, s, adaID)); diff != "" {
		t.Errorf("updated agent (-want +got):\n%s", diff)
	}

	// Queues: add, see it in both the queue and the user, remove.
	if err := c.AddQueueAgents(ctx, inbound.ID, []string{adaID}); err != nil {
		t.Fatal(err)
	}
	s = e.list(t)
	if diff := cmp.Diff([]string{adaID}, queueByName(t, s, "Inbound Calls").Agents); diff != "" {
		t.Errorf("agents after add (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Inbound Calls"}, userByID(t, s, adaID).Queues.List()); diff != "" {
		t.Errorf("user queues (-want +got):\n%s", diff)
	}
	if err := c.RemoveQueueAgents(ctx, inbound.ID, []string{adaID}); err != nil {
		t.Fatal(err)
	}
	s = e.list(t)
	if got := queueByName(t, s, "Inbound Calls").Agents; len(got) != 0 {
		t.Errorf("agents after remove = %v", got)
	}
	// Replace (W4): exactly the list sent, in one request; [] empties it.
	e.sim.ResetCounts()
	if err := c.ReplaceQueueAgents(ctx, inbound.ID, []string{adaID}); err != nil {
		t.Fatal(err)
	}
	if got := e.sim.Counts()["PATCH /quality/work-queue-templates/{id}/agents"]; got != 1 {
		t.Errorf("replace took %d PATCH requests, want 1 (%v)", got, e.sim.Counts())
	}
	s = e.list(t)
	if diff := cmp.Diff([]string{adaID}, queueByName(t, s, "Inbound Calls").Agents); diff != "" {
		t.Errorf("agents after replace (-want +got):\n%s", diff)
	}
	if err := c.ReplaceQueueAgents(ctx, inbound.ID, nil); err != nil {
		t.Fatal(err)
	}
	if got := queueByName(t, e.list(t), "Inbound Calls").Agents; len(got) != 0 {
		t.Errorf("agents after an empty replace = %v", got)
	}
	if err := c.AddQueueAgents(ctx, inbound.ID, []string{adaID}); err != nil {
		t.Fatal(err)
	}

	// Deactivate: roles, team and queue membership go (D6).
	if err := c.UpdateUser(ctx, adaID, reconcile.User{Username: "ada@example.com", Active: false}, fields(reconcile.FieldActive)); err != nil {
		t.Fatal(err)
	}
	s = e.list(t)
	gone := userByID(t, s, adaID)
	if gone.Active || gone.Roles.Len() != 0 || gone.Team != "" || gone.Queues.Len() != 0 {
		t.Errorf("deactivated user = %+v", gone)
	}

	// Reactivate with only FieldActive named: roles and team travel with it (D7).
	if err := c.UpdateUser(ctx, adaID, ada, fields(reconcile.FieldActive)); err != nil {
		t.Fatal(err)
	}
	s = e.list(t)
	if diff := cmp.Diff(ada, userByID(t, s, adaID)); diff != "" {
		t.Errorf("reactivated agent (-want +got):\n%s", diff)
	}

	// Deactivate the now empty team, then see it among the inactive groups.
	if err := c.UpdateTeam(ctx, northID, reconcile.Team{Name: "Team North East", Active: false}, fields(reconcile.FieldActive)); err != nil {
		t.Fatal(err)
	}
	s = e.list(t)
	if got := teamByName(t, s, "Team North East"); got.Active {
		t.Errorf("deactivated team = %+v", got)
	}
}

func TestSimDomainRulesSurfaceAsClearErrors(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	ctx := context.Background()
	c := e.client
	s := e.list(t)
	team1 := teamByName(t, s, "Test Team 1")
	inbound := queueByName(t, s, "Inbound Calls")
	adaID, err := c.CreateUser(ctx, reconcile.User{Username: "ada@example.com", Forename: "Ada", Surname: "Lovelace",
		Active: true, Roles: reconcile.NamesOf("agent"), Team: team1.ID})
	if err != nil {
		t.Fatal(err)
	}
	cyID, err := c.CreateUser(ctx, reconcile.User{Username: "cy@example.com", Forename: "Cy", Surname: "Young",
		Active: true, Roles: reconcile.NamesOf("manager")})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		do     func() error
		status int
		want   string // the whole error text
	}{{
		name: "duplicate username, case-insensitive",
		do: func() error {
			_, err := c.CreateUser(ctx, reconcile.User{Username: "ADA@example.com", Forename: "A", Surname: "B", Active: true, Roles: reconcile.NamesOf("agent"), Team: team1.ID})
			return err
		},
		status: 422,
		want:   `evaluagent: create user "ADA@example.com": username: The username has already been taken. (422)`,
	}, {
		name: "agent without team",
		do: func() error {
			_, err := c.CreateUser(ctx, reconcile.User{Username: "bo@example.com", Forename: "Bo", Surname: "B", Active: true, Roles: reconcile.NamesOf("agent")})
			return err
		},
		status: 422,
		want:   `evaluagent: create user "bo@example.com": agent-team: A user with the agent role must have an agent team. (422)`,
	}, {
		name: "team on a non-agent",
		do: func() error {
			return c.UpdateUser(ctx, cyID, reconcile.User{Username: "cy@example.com", Team: team1.ID}, fields(reconcile.FieldTeam))
		},
		status: 422,
		want:   `evaluagent: update user "cy@example.com" (` + cyID + `): agent-team: Only users with the agent role can have an agent team. (422)`,
	}, {
		name:   "non-agent into a queue",
		do:     func() error { return c.AddQueueAgents(ctx, inbound.ID, []string{cyID}) },
		status: 422,
		want: `evaluagent: add agents to work-queue template ` + inbound.ID + `: user ` + cyID +
			`: Only users with the agent role can be assigned. (422)`,
	}, {
		name: "group under a Team-level group",
		do: func() error {
			_, err := c.CreateTeam(ctx, reconcile.Team{Name: "Sub Team", Parent: team1.ID})
			return err
		},
		status: 422,
	}, {
		name: "deactivate a group that has agents",
		do: func() error {
			return c.UpdateTeam(ctx, team1.ID, reconcile.Team{Name: "Test Team 1"}, fields(reconcile.FieldActive))
		},
		status: 422,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			var apiErr *evaluagent.APIError
			if !errors.As(err, &apiErr) || apiErr.Status != tc.status {
				t.Fatalf("err = %v, want *APIError %d", err, tc.status)
			}
			if tc.want != "" && err.Error() != tc.want {
				t.Errorf("err  %s\nwant %s", err, tc.want)
			}
		})
	}

	// Reactivating an agent without a team fails and leaves the user inactive.
	if err := c.UpdateUser(ctx, adaID, reconcile.User{Active: false}, fields(reconcile.FieldActive)); err != nil {
		t.Fatal(err)
	}
	err = c.UpdateUser(ctx, adaID, reconcile.User{Username: "ada@example.com", Active: true, Roles: reconcile.NamesOf("agent")}, fields(reconcile.FieldActive))
	if err == nil || !strings.Contains(err.Error(), "agent-team:") {
		t.Fatalf("reactivation without team: err = %v", err)
	}
	if u := userByID(t, e.list(t), adaID); u.Active {
		t.Errorf("user reactivated despite the error: %+v", u)
	}

	// A user that does not exist.
	err = c.UpdateUser(ctx, "00000000-0000-4000-8000-00000000dead", reconcile.User{Forename: "X"}, fields(reconcile.FieldForename))
	if !errors.Is(err, evaluagent.ErrNotFound) {
		t.Errorf("err = %v, want ErrNotFound", err)
	}
	// A user found through the filters, as after a failed create (§9.1).
	found, err := c.FindUsers(ctx, "ADA@EXAMPLE.COM", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].ID != adaID {
		t.Errorf("FindUsers = %+v", found)
	}
}

func TestSimRateLimitWaitedOut(t *testing.T) {
	// The simulator allows 3 a minute; the client paces at the default 100
	// and so meets the server's 429 and waits out its Retry-After.
	e := newSimEnv(t, func(c *evaluagentsim.Config) { c.RatePerMinute = 3 }, nil)
	ctx := context.Background()
	for range 5 {
		if err := e.client.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]time.Duration{30 * time.Second}, e.clock.Sleeps()); diff != "" {
		t.Errorf("sleeps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[int]int{200: 5, 429: 1}, e.sim.StatusCounts()["GET /ping"]); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestSimPacingAvoids429(t *testing.T) {
	e := newSimEnv(t, func(c *evaluagentsim.Config) { c.RatePerMinute = 3 },
		func(c *evaluagent.Config) { c.RatePerMinute = 3 })
	ctx := context.Background()
	for range 7 {
		if err := e.client.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.sim.StatusCounts()["GET /ping"]; got[429] != 0 || got[200] != 7 {
		t.Errorf("statuses = %v, want 7×200 and no 429", got)
	}
}

func TestSimDailyLimitStopsTheRun(t *testing.T) {
	e := newSimEnv(t, func(c *evaluagentsim.Config) { c.RatePerDay = 2 }, nil)
	ctx := context.Background()
	for range 2 {
		if err := e.client.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}
	err := e.client.Ping(ctx)
	var rl *evaluagent.RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("err = %v, want *RateLimitError", err)
	}
	if rl.Endpoint != "GET /ping" || rl.Wait < 13*time.Hour {
		t.Errorf("RateLimitError = %+v, want the wait until the UTC day ends", rl)
	}
	if len(e.clock.Sleeps()) != 0 {
		t.Errorf("slept %v", e.clock.Sleeps())
	}
}

func TestSim5xxRetriedForReadsNotCreates(t *testing.T) {
	e := newSimEnv(t, nil, nil)
	ctx := context.Background()
	e.sim.ForceStatus("GET /org/users", 503, 2)
	s := e.list(t)
	if got := e.sim.StatusCounts()["GET /org/users"]; got[503] != 2 || got[200] != 1 {
		t.Errorf("statuses = %v", got)
	}
	team1 := teamByName(t, s, "Test Team 1")

	e.sim.ForceStatus("POST /org/users", 500, 1)
	_, err := e.client.CreateUser(ctx, reconcile.User{Username: "ada@example.com", Forename: "Ada", Surname: "L", Active: true, Roles: reconcile.NamesOf("agent"), Team: team1.ID})
	var apiErr *evaluagent.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 500 {
		t.Fatalf("err = %v, want *APIError 500", err)
	}
	if got := e.sim.Counts()["POST /org/users"]; got != 1 {
		t.Errorf("POST sent %d times, want 1", got)
	}

	// The PATCH of a user is retried.
	id, err := e.client.CreateUser(ctx, reconcile.User{Username: "ada@example.com", Forename: "Ada", Surname: "L", Active: true, Roles: reconcile.NamesOf("agent"), Team: team1.ID})
	if err != nil {
		t.Fatal(err)
	}
	e.sim.ForceStatus("PATCH /org/users/{id}", 502, 1)
	if err := e.client.UpdateUser(ctx, id, reconcile.User{Forename: "Augusta"}, fields(reconcile.FieldForename)); err != nil {
		t.Fatal(err)
	}
	if got := userByID(t, e.list(t), id).Forename; got != "Augusta" {
		t.Errorf("forename = %q", got)
	}
}

func TestSimPagedLists(t *testing.T) {
	e := newSimEnv(t, func(c *evaluagentsim.Config) { c.PageSize = 2 }, nil)
	ctx := context.Background()
	team1 := teamByName(t, e.list(t), "Test Team 1")
	for _, name := range []string{"a1", "a2", "a3", "a4", "a5"} {
		if _, err := e.client.CreateUser(ctx, reconcile.User{Username: name + "@example.com", Forename: name, Surname: "X",
			Active: true, Roles: reconcile.NamesOf("agent"), Team: team1.ID}); err != nil {
			t.Fatal(err)
		}
	}
	e.sim.ResetCounts()
	s := e.list(t)
	if len(s.Users) != 5 {
		t.Errorf("users = %d, want 5", len(s.Users))
	}
	if got := e.sim.Counts()["GET /org/users"]; got != 3 {
		t.Errorf("user pages fetched = %d, want 3", got)
	}
	if got := e.sim.Counts()["GET /org/roles"]; got != 3 {
		t.Errorf("role pages fetched = %d; six roles at two a page take three", got)
	}
}

func TestSimAuthFailures(t *testing.T) {
	t.Run("wrong secret", func(t *testing.T) {
		e := newSimEnv(t, nil, func(c *evaluagent.Config) { c.KeySecret = "ffffffffffffffffffffffffffffffffffffffff" })
		err := e.client.Ping(context.Background())
		var ae *evaluagent.AuthError
		if !errors.As(err, &ae) || ae.Status != 401 {
			t.Fatalf("err = %v, want *AuthError 401", err)
		}
		if got := e.sim.Counts()["GET /ping"]; got != 1 {
			t.Errorf("pings = %d, want 1 (no retry)", got)
		}
	})
	t.Run("key in bearer mode", func(t *testing.T) {
		e := newSimEnv(t, func(c *evaluagentsim.Config) {
			c.Keys[0].Mode = evaluagentsim.ModeBearer
			c.Keys[0].Token = "pre-issued"
		}, nil)
		_, err := e.client.List(context.Background())
		var ae *evaluagent.AuthError
		if !errors.As(err, &ae) || ae.Status != 401 {
			t.Fatalf("err = %v, want *AuthError 401", err)
		}
	})
	t.Run("IP not allowed", func(t *testing.T) {
		e := newSimEnv(t, func(c *evaluagentsim.Config) { c.Keys[0].AllowIPs = []string{"192.0.2.1"} }, nil)
		err := e.client.Ping(context.Background())
		var ae *evaluagent.AuthError
		if !errors.As(err, &ae) || ae.Status != 403 {
			t.Fatalf("err = %v, want *AuthError 403", err)
		}
	})
}

func TestSimAlternativeRoutes(t *testing.T) {
	// The simulator mounts the contract's alternative spellings; an override
	// of the route table reaches them with no other change.
	e := newSimEnv(t, nil, func(c *evaluagent.Config) {
		c.Routes.UpdateUser = evaluagent.Route{Method: "PUT"}
		c.Routes.ListQueueAgents = evaluagent.Route{Path: "/quality/work-queue-templates/{id}/relationships/agents"}
		c.Routes.AddQueueAgents = evaluagent.Route{Path: "/quality/work-queue-templates/{id}/relationships/agents"}
	})
	ctx := context.Background()
	s := e.list(t)
	team1 := teamByName(t, s, "Test Team 1")
	id, err := e.client.CreateUser(ctx, reconcile.User{Username: "ada@example.com", Forename: "Ada", Surname: "L", Active: true, Roles: reconcile.NamesOf("agent"), Team: team1.ID})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.client.UpdateUser(ctx, id, reconcile.User{Surname: "Byron"}, fields(reconcile.FieldSurname)); err != nil {
		t.Fatal(err)
	}
	if err := e.client.AddQueueAgents(ctx, queueByName(t, s, "Complaints").ID, []string{id}); err != nil {
		t.Fatal(err)
	}
	s = e.list(t)
	u := userByID(t, s, id)
	if u.Surname != "Byron" || !slices.Equal(u.Queues.List(), []string{"Complaints"}) {
		t.Errorf("user = %+v", u)
	}
	counts := e.sim.Counts()
	for _, ep := range []string{"PUT /org/users/{id}", "POST /quality/work-queue-templates/{id}/relationships/agents"} {
		if counts[ep] != 1 {
			t.Errorf("%s: %d requests, want 1 (counts %v)", ep, counts[ep], counts)
		}
	}
}
