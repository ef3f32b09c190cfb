package ldap_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rostersync/rostersync/mapping"
	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
	"github.com/rostersync/rostersync/sources"
	"github.com/rostersync/rostersync/sources/ldap"
)

// ledger is the ownership ledger in memory.
type ledger struct{ own reconcile.Ownership }

func (l *ledger) Own(_ context.Context, kind reconcile.Kind, key, id, _ string) error {
	switch kind {
	case reconcile.KindUser:
		l.own.Users[key] = id
	case reconcile.KindTeam:
		l.own.Teams[key] = id
	}
	return nil
}

// TestSambaADSyncsToThePlatform takes people from a real Samba AD through
// the mapping, the plan and the Evaluagent client into the simulator: roles
// come from a group reached only through nesting (team-a ⊂ dept-x ⊂
// company), disabled accounts are never created, a second plan is empty,
// and disabling an account on the server deactivates that person.
func TestSambaADSyncsToThePlatform(t *testing.T) {
	s := samba(t)
	ctx := context.Background()
	rules, err := mapping.Compile(mapping.Spec{
		User: mapping.UserSpec{Username: "sAMAccountName", Email: "mail", Forename: "givenName", Surname: "sn",
			Active: &mapping.ActiveSpec{Attr: ldap.AttrActive, Values: []string{"true"}}},
		Scope: []mapping.Condition{{Group: "company"}},
		Roles: mapping.RolesSpec{Groups: map[string][]string{"company": {"agent"}}},
		Team:  mapping.TeamSpec{GroupPattern: "^(team-.+)$"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := adConfig(s)
	cfg.Attributes = []string{"sAMAccountName", "mail", "givenName", "sn"}
	src, err := ldap.New("corp", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()

	sim, err := evaluagentsim.New(evaluagentsim.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	defer ts.Close()
	client, err := evaluagent.New(evaluagent.Config{BaseURL: ts.URL + "/v1", KeyID: evaluagentsim.DemoKeyID, KeySecret: evaluagentsim.DemoKeySecret})
	if err != nil {
		t.Fatal(err)
	}
	led := &ledger{own: reconcile.NewOwnership()}
	plan := func() *reconcile.Plan {
		t.Helper()
		snap, err := src.Fetch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		res := rules.Map([]*sources.Snapshot{snap})
		if len(res.Problems) > 0 {
			t.Fatalf("mapping problems: %v", res.Problems)
		}
		cur, err := client.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return reconcile.Diff(res.Desired, cur, led.own, reconcile.Policy{Target: evaluagent.Capabilities}, time.Now())
	}
	apply := func(p *reconcile.Plan) {
		t.Helper()
		if err := reconcile.Apply(ctx, p, client, reconcile.ApplyOptions{Ledger: led}).Err(); err != nil {
			t.Fatal(err)
		}
	}

	// user001..005 are in team-a, user006..010 in team-b; user005 and
	// user010 are disabled and so never created.
	p := plan()
	if p.Summary.Create != 2+8 || p.Summary.Changes() != 10 || sim.Writes() != 0 {
		t.Fatalf("first plan %+v (writes %d), want 2 teams and 8 agents created", p.Summary, sim.Writes())
	}
	apply(p)
	for _, u := range sim.Users() {
		if u.Username == s.Sam(5) || u.Username == s.Sam(10) {
			t.Errorf("disabled account %s was created", u.Username)
		}
		if len(u.Roles) != 1 || u.Roles[0] != "agent" || u.TeamID == "" {
			t.Errorf("%s: roles %v team %q, want the agent role (from the nested company group) and a team", u.Username, u.Roles, u.TeamID)
		}
	}
	if p := plan(); !p.Empty() {
		t.Fatalf("second plan is not empty: %+v", p.Summary)
	}

	// Disable user003 on the server: the next plan deactivates them.
	setUAC := func(i int, uac string) {
		c, err := s.Admin()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		m := goldap.NewModifyRequest(s.UserDN(i), nil)
		m.Replace("userAccountControl", []string{uac})
		if err := c.Modify(m); err != nil {
			t.Fatal(err)
		}
	}
	setUAC(3, "546")
	t.Cleanup(func() { setUAC(3, "544") }) // the DC is shared by this package's tests
	p = plan()
	if p.Summary.Deactivate != 1 || p.Summary.Changes() != 1 || p.Ops[0].Name != s.Sam(3) {
		t.Fatalf("after disabling %s: %+v %v", s.Sam(3), p.Summary, p.Ops)
	}
	apply(p)
	if p := plan(); !p.Empty() {
		t.Fatalf("plan after the deactivation is not empty: %+v", p.Summary)
	}
}
