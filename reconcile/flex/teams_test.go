package flex_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/flex"
	"github.com/rostersync/rostersync/reconcile/flex/flexsim"
)

func teamsSeed() flexsim.Seed {
	return flexsim.Seed{Users: []flexsim.SeedUser{
		{Username: "ada@example.com", Email: "ada@example.com", FullName: "Ada Lovelace", Roles: []string{"agent"}},
		{Username: "bob@example.com", Email: "bob@example.com", FullName: "Bob Byte", Roles: []string{"supervisor"}},
		{Username: "cy@example.com", Email: "cy@example.com", FullName: "Cy Young", Roles: []string{"agent"}},
	}}
}

func teamsDesired(cyTeam string, withS2 bool) *reconcile.Snapshot {
	d := &reconcile.Snapshot{
		Teams: []reconcile.Team{
			{Key: "div-ops", Name: "Operations", Level: "Division", Active: true},
			{Key: "dept-sales", Name: "Sales", Parent: "div-ops", Level: "Department", Active: true},
			{Key: "t-s1", Name: "Sales 1", Parent: "dept-sales", Level: "Team", Active: true},
		},
		Users: []reconcile.User{
			{Key: "ada", Username: "ada@example.com", Email: "ada@example.com", Forename: "Ada", Surname: "Lovelace", Active: true, Roles: reconcile.NamesOf("agent"), Team: "t-s1"},
			{Key: "bob", Username: "bob@example.com", Email: "bob@example.com", Forename: "Bob", Surname: "Byte", Active: true, Roles: reconcile.NamesOf("team_leader"), Team: "t-s1"},
			{Key: "cy", Username: "cy@example.com", Email: "cy@example.com", Forename: "Cy", Surname: "Young", Active: true, Roles: reconcile.NamesOf("agent"), Team: cyTeam},
		},
	}
	if withS2 {
		d.Teams = append(d.Teams, reconcile.Team{Key: "t-s2", Name: "Sales 2", Parent: "dept-sales", Level: "Team", Active: true})
	}
	return d
}

func mirror(c *flex.Config) {
	c.Teams = flex.TeamsMirror
	c.Attributes = flex.AttributesOff
}

func ready(p *reconcile.Plan) []reconcile.Op {
	var out []reconcile.Op
	for _, o := range p.Ops {
		if o.Ready() {
			out = append(out, o)
		}
	}
	return out
}

// The tree is created parents first, agents join their level-1 team, the
// team leader becomes its owner, a second pass plans nothing, and a team
// the directory drops is deleted once its agent has moved.
func TestTeamsMirror(t *testing.T) {
	e := open(t, teamsSeed(), func(c *flex.Config) { mirror(c); c.PageSize = 2 }) // the teams list takes pages
	p := e.plan(t, teamsDesired("t-s2", true))
	e.sim.ForceStatus("create_team", 429)
	e.sim.ForceStatus("add_owner", 429)
	if len(p.Problems) > 0 {
		t.Fatalf("problems: %+v", p.Problems)
	}
	ids := map[string]string{} // key → OpID of the team create
	for _, o := range p.Ops {
		if o.Kind == reconcile.KindTeam && o.Action == reconcile.ActionCreate {
			ids[o.Key] = reconcile.OpID(&o)
		}
	}
	if len(ids) != 4 {
		t.Fatalf("want 4 team creates, got %v\n%s", ids, render(p))
	}
	for _, o := range p.Ops {
		if o.Kind == reconcile.KindTeam && o.Key == "t-s1" && !slices.Contains(o.Needs, ids["dept-sales"]) {
			t.Errorf("Sales 1's create needs %v, not its parent's create %s", o.Needs, ids["dept-sales"])
		}
		if o.Kind == reconcile.KindUser && o.Key == "cy" && !slices.Contains(o.Needs, ids["t-s2"]) {
			t.Errorf("cy's move needs %v, not Sales 2's create %s", o.Needs, ids["t-s2"])
		}
	}
	e.apply(t, p)
	if n := e.client.Requests()["POST /v1/Instances/{instance}/Teams"]; n != 5 {
		t.Errorf("team creates sent %d times, want 5 (4 and one retry after 429)", n)
	}
	want := [][2]string{{"Operations", ""}, {"Sales", "Operations"}, {"Sales 1", "Sales"}, {"Sales 2", "Sales"}, {"default", ""}}
	if got := e.sim.Teams(); !slices.Equal(got, want) {
		t.Errorf("teams = %v, want %v", got, want)
	}
	if m, owns := e.sim.Team("ada@example.com"); m != "Sales 1" || len(owns) != 0 {
		t.Errorf("ada: member of %q, owns %v", m, owns)
	}
	if m, owns := e.sim.Team("bob@example.com"); m != "Sales 1" || !slices.Equal(owns, []string{"Sales 1"}) {
		t.Errorf("bob (team leader): member of %q, owns %v; want Sales 1 and its ownership", m, owns)
	}
	if m, _ := e.sim.Team("cy@example.com"); m != "Sales 2" {
		t.Errorf("cy: member of %q", m)
	}
	if r := ready(e.plan(t, teamsDesired("t-s2", true))); len(r) != 0 {
		t.Fatalf("second pass plans %d ops: %+v", len(r), r)
	}

	// Reorganisation: Sales 2 goes, cy joins Sales 1.
	p = e.plan(t, teamsDesired("t-s1", false))
	var del *reconcile.Op
	var move string
	for i, o := range p.Ops {
		switch {
		case o.Kind == reconcile.KindTeam && o.Action == reconcile.ActionDeactivate:
			del = &p.Ops[i]
		case o.Kind == reconcile.KindUser && o.Key == "cy":
			move = reconcile.OpID(&o)
		}
	}
	if del == nil || move == "" || !slices.Contains(del.Needs, move) {
		t.Fatalf("want Sales 2's removal to need cy's move:\n%s", render(p))
	}
	e.apply(t, p)
	if got := e.sim.Teams(); slices.ContainsFunc(got, func(x [2]string) bool { return x[0] == "Sales 2" }) {
		t.Errorf("Sales 2 is still there: %v", got)
	}
	if m, _ := e.sim.Team("cy@example.com"); m != "Sales 1" {
		t.Errorf("cy: member of %q, want Sales 1", m)
	}
	if r := ready(e.plan(t, teamsDesired("t-s1", false))); len(r) != 0 {
		t.Fatalf("pass after the reorganisation plans %d ops: %+v", len(r), r)
	}
}

// A team a person's name would be given is refused in the plan, and the
// agents placed in it wait; the template names it otherwise.
func TestTeamsPersonalNameRefused(t *testing.T) {
	d := teamsDesired("t-s1", false)
	d.Teams[2].Name = "Ada Lovelace"
	e := open(t, teamsSeed(), mirror)
	p := e.plan(t, d)
	var refused bool
	for _, o := range p.Ops {
		if o.Key == "t-s1" && o.Kind == reconcile.KindTeam {
			refused = o.Status == reconcile.StatusUnsupported
		}
		if o.Kind == reconcile.KindUser && o.Key == "ada" && o.Ready() {
			t.Errorf("ada's move is ready though her team is refused: %+v", o)
		}
	}
	if !refused || !slices.ContainsFunc(p.Problems, func(pr reconcile.Problem) bool {
		return strings.Contains(pr.Message, "the name of the person ada@example.com")
	}) {
		t.Fatalf("the personal team name is not refused:\n%s", render(p))
	}
	e.apply(t, p)
	if slices.ContainsFunc(e.sim.Teams(), func(x [2]string) bool { return x[0] == "Ada Lovelace" }) {
		t.Fatal("a team was created with a person's name")
	}

	e = open(t, teamsSeed(), func(c *flex.Config) { mirror(c); c.TeamNameTemplate = "Team {key}" })
	p = e.plan(t, d)
	if len(p.Problems) > 0 {
		t.Fatalf("with a key template: %+v", p.Problems)
	}
	e.apply(t, p)
	if m, _ := e.sim.Team("ada@example.com"); m != "Team t-s1" {
		t.Errorf("ada: member of %q, want Team t-s1", m)
	}
}

func render(p *reconcile.Plan) string {
	var b strings.Builder
	_ = reconcile.Render(&b, p, reconcile.FormatText)
	return b.String()
}

// Two directory teams the template names alike are refused before Flex
// would refuse the second (names are unique in an instance).
func TestTeamsDuplicateNameRefused(t *testing.T) {
	d := teamsDesired("t-s2", true)
	d.Teams[3].Name = "SALES 1"
	e := open(t, teamsSeed(), mirror)
	p := e.plan(t, d)
	if !slices.ContainsFunc(p.Problems, func(pr reconcile.Problem) bool {
		return pr.Key == "t-s2" && strings.Contains(pr.Message, "unique in the instance")
	}) {
		t.Fatalf("duplicate team name not refused:\n%s", render(p))
	}
	e.apply(t, p)
	if m, _ := e.sim.Team("ada@example.com"); m != "Sales 1" {
		t.Errorf("ada: member of %q, want Sales 1 (the first of the two is created)", m)
	}
}

func TestTeamsBlockValidation(t *testing.T) {
	b := flex.Block{AccountSID: flexsim.DemoAccountSID, APIKeySID: flexsim.DemoKeySID,
		Teams: "yes", TeamNameTemplate: "Squad", TeamLevels: map[string]int{"Team": 1, "Site": 4}}
	err := b.Validate()
	for _, want := range []string{"teams", "team_name_template", "team_levels.Site"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want a problem with %s, got %v", want, err)
		}
	}
	b.Teams, b.TeamNameTemplate, b.TeamLevels = flex.TeamsMirror, "Team {key}", map[string]int{"Team": 1, "Site": 3}
	if err := b.Validate(); err != nil {
		t.Fatalf("valid block refused: %v", err)
	}
	cfg, err := b.Config("s")
	if err != nil || cfg.Teams != flex.TeamsMirror || cfg.TeamNameTemplate != "Team {key}" || cfg.TeamLevels["Site"] != 3 {
		t.Fatalf("Config: %+v %v", cfg, err)
	}
}

// An owned key whose directory value became empty is removed from the
// worker, and nothing else is: foreign keys and unmapped keys stay.
func TestAttributeRemovedKeepsTheRest(t *testing.T) {
	seed := flexsim.Seed{Users: []flexsim.SeedUser{
		{Username: "ada@example.com", Email: "ada@example.com", FullName: "Ada Lovelace", Roles: []string{"agent"},
			Attributes: map[string]any{"channel.voice.capacity": 1, "nickname": "countess"}},
		{Username: "bob@example.com", Email: "bob@example.com", FullName: "Bob Brown", Roles: []string{"agent"}},
	}}
	e := open(t, seed, nil)
	user := func(key, loc string) reconcile.User {
		a := map[string]string{"manager": "Grace"}
		if loc != "" {
			a["location"] = loc
		}
		return reconcile.User{Key: key, Username: key + "@example.com", Email: key + "@example.com", Forename: key, Surname: "X", Active: true, Attributes: a}
	}
	e.apply(t, e.plan(t, &reconcile.Snapshot{Users: []reconcile.User{user("ada", "Leeds"), user("bob", "Glasgow")}}))
	if a, _ := e.sim.Attributes("ada@example.com"); a["location"] != "Leeds" {
		t.Fatalf("location not written: %v", a)
	}
	e.apply(t, e.plan(t, &reconcile.Snapshot{Users: []reconcile.User{user("ada", ""), user("bob", "Glasgow")}}))
	a, _ := e.sim.Attributes("ada@example.com")
	if _, still := a["location"]; still || a["manager"] != "Grace" || a["nickname"] != "countess" || a["channel.voice.capacity"] != float64(1) {
		t.Fatalf("after the removal: %v; want location gone and the rest kept", a)
	}
	if b, _ := e.sim.Attributes("bob@example.com"); b["location"] != "Glasgow" {
		t.Errorf("bob's location changed: %v", b)
	}
}

// Team writes are paced per route at Flex's limits (5 a second for team
// creates), on top of the host's pace; the routes can be overridden.
func TestTeamsPacedAndRoutable(t *testing.T) {
	e := open(t, teamsSeed(), func(c *flex.Config) {
		mirror(c)
		c.RatePerSecond = 1000
		c.Now = func() time.Time { return now }
	})
	e.apply(t, e.plan(t, teamsDesired("t-s2", true)))
	var paced int
	e.mu.Lock()
	for _, w := range e.waits {
		if w >= 200*time.Millisecond {
			paced++
		}
	}
	e.mu.Unlock()
	if paced < 3 {
		t.Errorf("waits %v: want the 4 team creates spaced 200ms apart", e.waits)
	}
	r, err := flex.ParseRoutes(map[string]string{"create_team": "POST /v1/Instances/{instance}/Teams/New", "remove_owner": "/v2/T/{id}/O/{member}"})
	if err != nil || r.CreateTeam.Path != "/v1/Instances/{instance}/Teams/New" || r.RemoveOwner.Path != "/v2/T/{id}/O/{member}" {
		t.Fatalf("team route overrides: %+v %v", r, err)
	}
	b := flex.Block{AccountSID: flexsim.DemoAccountSID, APIKeySID: flexsim.DemoKeySID, Teams: flex.TeamsMirror,
		IdPOwnedKeys: []string{"full_name", "team_member"}}
	if err := b.Validate(); err == nil || !strings.Contains(err.Error(), "team_member") {
		t.Errorf("teams: mirror with an IdP sending team_member: %v", err)
	}
}

// A team leader who moves owns the new team and no longer the old one.
func TestTeamLeaderMoves(t *testing.T) {
	e := open(t, teamsSeed(), mirror)
	e.apply(t, e.plan(t, teamsDesired("t-s2", true)))
	d := teamsDesired("t-s2", true)
	d.Users[1].Team = "t-s2"
	e.apply(t, e.plan(t, d))
	if m, owns := e.sim.Team("bob@example.com"); m != "Sales 2" || !slices.Equal(owns, []string{"Sales 2"}) {
		t.Errorf("bob after his move: member of %q, owns %v; want Sales 2 only", m, owns)
	}
}
