package reconcile_test

import (
	"strings"
	"testing"

	"github.com/rostersync/rostersync/reconcile"
)

// A key given more than once plans the first and reports every repeat.
func TestDiffRepeatedUserKey(t *testing.T) {
	u := reconcile.User{Key: "E1", Username: "ann@x.example", Email: "ann@x.example", Forename: "Ann", Surname: "Lee", Active: true}
	other := u
	other.Key, other.Username, other.Email = "E2", "bo@x.example", "bo@x.example"
	desired := &reconcile.Snapshot{Users: []reconcile.User{u, other, u, u}}
	plan := reconcile.Diff(desired, &reconcile.Snapshot{}, reconcile.NewOwnership(), reconcile.Policy{}, testNow)
	var repeats int
	for _, p := range plan.Problems {
		if p.Key == "E1" && strings.Contains(p.Message, `user key "E1" appears twice`) {
			repeats++
		} else {
			t.Errorf("unexpected problem %+v", p)
		}
	}
	if repeats != 2 {
		t.Errorf("got %d repeat problems for E1, want 2: %+v", repeats, plan.Problems)
	}
	if plan.Summary.Create != 2 {
		t.Errorf("planned %d creates, want 2 (E1 once, E2): %+v", plan.Summary.Create, plan.Ops)
	}
}
