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
