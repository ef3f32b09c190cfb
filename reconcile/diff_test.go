package reconcile_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rostersync/rostersync/reconcile"
)

// Population counts the listed platform users that are active and owned, each listed user once,
// duplicate ids included, whatever the desired state says.
func TestDiffPopulation(t *testing.T) {
	u := func(id string, active bool) reconcile.User {
		return reconcile.User{ID: id, Username: id + "@x.example", Forename: "F", Surname: "S", Active: active, Roles: reconcile.NamesOf()}
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
		{Key: "E1", ThirdPartyID: "E1", Username: "ann@x.example", Email: "ann@x.example", Forename: "Ann", Surname: "Lee", Active: true, Roles: reconcile.NamesOf("team_leader")},
		{Key: "E2", ThirdPartyID: "E2", Username: "bo@x.example", Email: "bo@x.example", Forename: "Bo", Surname: "Ng", Active: true, Roles: reconcile.NamesOf("team_leader")},
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

// genListing makes n platform users whose ids repeat (drawn from u0 to u(n+1)), three in four
// active; with others, each also has an email and a third-party id (drawn from E0 to E(n+2)) that
// desired users may match by.
func genListing(r *rand.Rand, n int, others bool) *reconcile.Snapshot {
	current := &reconcile.Snapshot{}
	for range n {
		id := fmt.Sprintf("u%d", r.IntN(n+2))
		u := reconcile.User{ID: id, Username: id + "@x.example", Forename: "F", Surname: "S", Roles: reconcile.NamesOf()}
		if others {
			u.Email, u.ThirdPartyID = u.Username, fmt.Sprintf("E%d", r.IntN(n+3))
		}
		u.Active = r.IntN(4) > 0
		current.Users = append(current.Users, u)
	}
	return current
}

// Departures are the owned, active platform users whose ledger key no desired user has: checked
// against that definition over generated listings that repeat ids, and ledgers that name ids the
// listing lacks.
func TestDiffDeparturesByDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for round := range 400 {
		n := 1 + r.IntN(12)
		current := genListing(r, n, false)
		own := reconcile.NewOwnership()
		owner := map[string]string{} // id → key
		desired := &reconcile.Snapshot{}
		wanted := map[string]bool{}
		for i := range n + 2 {
			key, id := fmt.Sprintf("E%d", i), fmt.Sprintf("u%d", i)
			if r.IntN(3) > 0 {
				own.Users[key], owner[id] = id, key
			}
			if r.IntN(2) == 0 {
				wanted[key] = true
				desired.Users = append(desired.Users, reconcile.User{Key: key, Username: fmt.Sprintf("e%d@x.example", i), Forename: "F", Surname: "S", Active: true})
			}
		}
		var want, got []string
		for _, u := range current.Users {
			if key, ok := owner[u.ID]; ok && u.Active && !wanted[key] {
				want = append(want, key+"="+u.ID)
			}
		}
		plan := reconcile.Diff(desired, current, own, reconcile.Policy{}, testNow)
		for _, op := range plan.Ops {
			if op.Why.Code == reconcile.ReasonGone {
				got = append(got, op.Key+"="+op.ID)
			}
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: departures %s, want %s\nlisting %+v\nledger %v", round, strings.Join(got, " "), strings.Join(want, " "), current.Users, own.Users)
		}
	}
}

// sortedForm returns own with its users in UserKeys and UserIDs, as the ledger reads them.
func sortedForm(own reconcile.Ownership) reconcile.Ownership {
	keys := slices.Sorted(maps.Keys(own.Users))
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = own.Users[k]
	}
	return reconcile.Ownership{Teams: own.Teams, UserKeys: keys, UserIDs: ids}
}

// Diff makes the same plan from either form of the owned users, over generated states with
// repeated ids, keys owning the same id, ledger ids the listing lacks, and desired keys repeated.
func TestDiffOwnershipForms(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 17))
	for round := range 300 {
		n := 1 + r.IntN(14)
		current := genListing(r, n, true)
		own := reconcile.NewOwnership()
		desired := &reconcile.Snapshot{}
		for i := range n + 3 {
			key := fmt.Sprintf("E%d", i)
			if r.IntN(3) > 0 {
				own.Users[key] = fmt.Sprintf("u%d", r.IntN(n+4))
			}
			for range r.IntN(3) { // absent, once, or twice
				desired.Users = append(desired.Users, reconcile.User{Key: key, Username: fmt.Sprintf("u%d@x.example", r.IntN(n+2)),
					Forename: "F", Surname: fmt.Sprint("S", r.IntN(2)), Active: r.IntN(5) > 0})
			}
		}
		pol := reconcile.Policy{Adopt: r.IntN(2) == 0}
		want := reconcile.Diff(desired, current, own, pol, testNow)
		got := reconcile.Diff(desired, current, sortedForm(own), pol, testNow)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("round %d: plan from the sorted form (-map +sorted):\n%s\nledger %v", round, diff, own.Users)
		}
	}
}

func TestOwnershipForms(t *testing.T) {
	m := reconcile.NewOwnership()
	m.Users = map[string]string{"E2": "u2", "E1": "u1"}
	s := sortedForm(m)
	for _, o := range []*reconcile.Ownership{&m, &s} {
		o.SetUser("E3", "u3")
		o.SetUser("E0", "u0")
		o.SetUser("E2", "u22")
		all := maps.Collect(o.AllUsers())
		if diff := cmp.Diff(map[string]string{"E0": "u0", "E1": "u1", "E2": "u22", "E3": "u3"}, all); diff != "" {
			t.Errorf("users of %+v (-want +got):\n%s", o, diff)
		}
		if id, ok := o.UserID("E2"); !ok || id != "u22" {
			t.Errorf("UserID(E2) = %q, %v", id, ok)
		}
		if _, ok := o.UserID("E9"); ok {
			t.Errorf("UserID(E9) found in %+v", o)
		}
		if k, ok := o.UserOwner("u3"); !ok || k != "E3" {
			t.Errorf("UserOwner(u3) = %q, %v", k, ok)
		}
	}
	if !slices.IsSorted(s.UserKeys) {
		t.Errorf("SetUser left the keys unsorted: %q", s.UserKeys)
	}
}
