package reconcile_test

import (
	"testing"
	"time"

	"github.com/rostersync/rostersync/reconcile"
)

var capsNow = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func flat(c reconcile.Capabilities) reconcile.Capabilities {
	c.Platform, c.FlatTeams = "Test", true
	c.UserFields = []reconcile.Field{reconcile.FieldForename, reconcile.FieldSurname, reconcile.FieldEmail, reconcile.FieldActive}
	return c
}

func person(key, forename, surname string, active bool) reconcile.User {
	return reconcile.User{Key: key, Email: key + "@x.example", Username: key + "@x.example", Forename: forename, Surname: surname, Active: active}
}

func TestNoCreatePlansTheCreateAsUnsupportedNamingTheSetting(t *testing.T) {
	caps := flat(reconcile.Capabilities{NoCreate: true, Settings: map[string]string{"user creation": "creates are off in the settings"}})
	p := reconcile.Diff(&reconcile.Snapshot{Users: []reconcile.User{person("ann", "Ann", "Lee", true)}}, &reconcile.Snapshot{},
		reconcile.NewOwnership(), reconcile.Policy{Target: caps}, capsNow)
	if len(p.Ops) != 1 || p.Ops[0].Status != reconcile.StatusUnsupported || p.Ops[0].Why.Unsupported.Setting != "creates are off in the settings" {
		t.Fatalf("ops: %+v", p.Ops)
	}
	if len(p.ReadyOps()) != 0 {
		t.Error("an unsupported create is ready to apply")
	}
}

func TestOneNameComparesNamesJoined(t *testing.T) {
	cur := &reconcile.Snapshot{Users: []reconcile.User{{ID: "1", Email: "mary@x.example", Username: "mary@x.example", Forename: "Mary", Surname: "Ann Smith", Active: true}}}
	own := reconcile.NewOwnership()
	own.Users["mary"] = "1"
	for _, tc := range []struct {
		oneName           bool
		forename, surname string
		changes           int
	}{
		{true, "Mary Ann", "Smith", 0},
		{false, "Mary Ann", "Smith", 2},
		{true, "Mary Ann", "Smyth", 2},
	} {
		p := reconcile.Diff(&reconcile.Snapshot{Users: []reconcile.User{person("mary", tc.forename, tc.surname, true)}}, cur, own,
			reconcile.Policy{Target: flat(reconcile.Capabilities{OneName: tc.oneName})}, capsNow)
		n := 0
		for _, op := range p.ReadyOps() {
			n += len(op.Changes)
		}
		if n != tc.changes {
			t.Errorf("OneName %v, %q %q against \"Mary\" \"Ann Smith\": %d changes, want %d", tc.oneName, tc.forename, tc.surname, n, tc.changes)
		}
	}
}

func TestQueuesOutliveDeactivation(t *testing.T) {
	cur := &reconcile.Snapshot{
		Users:  []reconcile.User{{ID: "1", Email: "ann@x.example", Username: "ann@x.example", Forename: "Ann", Surname: "Lee", Active: true, Roles: []string{"agent"}, Queues: []string{"Sales"}}},
		Queues: []reconcile.Queue{{ID: "q1", Name: "Sales", Active: true, Agents: []string{"1"}}},
	}
	own := reconcile.NewOwnership()
	own.Users["ann"] = "1"
	desired := &reconcile.Snapshot{Users: []reconcile.User{person("ann", "Ann", "Lee", false)}, Queues: []reconcile.Queue{{Name: "Sales"}}}
	for _, keep := range []bool{false, true} {
		p := reconcile.Diff(desired, cur, own, reconcile.Policy{Target: flat(reconcile.Capabilities{QueuesOutliveDeactivation: keep})}, capsNow)
		removals := 0
		for _, op := range p.ReadyOps() {
			removals += len(op.Remove)
		}
		if want := map[bool]int{false: 1, true: 0}[keep]; removals != want {
			t.Errorf("QueuesOutliveDeactivation %v: %d queue removals for a leaver, want %d", keep, removals, want)
		}
	}
}
