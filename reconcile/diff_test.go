package reconcile_test

import (
	"testing"

	"github.com/rostersync/rostersync/reconcile"
)

// Population counts the listed platform users that are active and owned, each listed user once,
// duplicate ids included, whatever the desired state says.
func TestDiffPopulation(t *testing.T) {
	u := func(id string, active bool) reconcile.User {
		return reconcile.User{ID: id, Username: id + "@x.example", Forename: "F", Surname: "S", Active: active, Roles: []string{}}
	}
	current := &reconcile.Snapshot{Users: []reconcile.User{
		u("u1", true),  // owned, active
		u("u2", false), // owned, inactive
		u("u3", true),  // not owned
		u("u4", true),  // owned, listed twice
		u("u4", true),
	}}
	own := reconcile.NewOwnership()
	own.Users["E1"], own.Users["E2"], own.Users["E4"], own.Users["E9"] = "u1", "u2", "u4", "u-gone"
	for _, desired := range []*reconcile.Snapshot{{}, {Users: []reconcile.User{{Key: "E1", Username: "u1@x.example", Forename: "F", Surname: "S", Active: true}}}} {
		plan := reconcile.Diff(desired, current, own, reconcile.Policy{}, testNow)
		if plan.Population != 3 {
			t.Errorf("Population = %d, want 3 (u1 and u4 twice)", plan.Population)
		}
	}
}

// An operation's user is its own copy, not a pointer into the desired state, which would keep
// every desired person alive as long as the plan.
func TestDiffOperationsCopyTheirUser(t *testing.T) {
	desired := &reconcile.Snapshot{Users: []reconcile.User{
		// Already as Diff would make them (third-party id set, roles normal): nothing forces a copy.
		{Key: "E1", ThirdPartyID: "E1", Username: "ann@x.example", Email: "ann@x.example", Forename: "Ann", Surname: "Lee", Active: true, Roles: []string{"team_leader"}},
		{Key: "E2", ThirdPartyID: "E2", Username: "bo@x.example", Email: "bo@x.example", Forename: "Bo", Surname: "Ng", Active: true, Roles: []string{"team_leader"}},
	}}
	plan := reconcile.Diff(desired, &reconcile.Snapshot{}, reconcile.NewOwnership(), reconcile.Policy{}, testNow)
	if len(plan.Ops) != 2 {
		t.Fatalf("planned %d ops, want 2 creates: %+v %+v", len(plan.Ops), plan.Ops, plan.Problems)
	}
	for i := range desired.Users {
		desired.Users[i].Forename = "changed after Diff"
	}
	for _, op := range plan.Ops {
		for i := range desired.Users {
			if op.User == &desired.Users[i] {
				t.Errorf("op %s %s points into the desired state", op.Action, op.Key)
			}
		}
		if op.User.Forename == "changed after Diff" {
			t.Errorf("op %s %s shares its user with the desired state", op.Action, op.Key)
		}
	}
}
