package reconcile

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// mergeTail gives what sorting the whole does, for sorted runs of every length, including keys
// before, between and after the others.
func TestMergeTail(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		m, k := r.IntN(40), r.IntN(10)
		var ms []Match
		for range m + k {
			ms = append(ms, Match{Key: fmt.Sprintf("E%03d", r.IntN(1000)), ID: fmt.Sprint(r.Int())})
		}
		byKey := func(a, b Match) int { return strings.Compare(a.Key, b.Key) }
		slices.SortStableFunc(ms[:m], byKey)
		slices.SortStableFunc(ms[m:], byKey)
		want := slices.Clone(ms)
		slices.SortStableFunc(want, byKey)
		mergeTail(ms, m)
		if !slices.IsSortedFunc(ms, byKey) || len(ms) != len(want) {
			t.Fatalf("m=%d k=%d: not sorted: %v", m, k, ms)
		}
		for _, w := range want {
			if !slices.Contains(ms, w) {
				t.Fatalf("m=%d k=%d: lost %v", m, k, w)
			}
		}
	}
}

// Departures' matches are found as desired users' are: Matches is one run sorted by key.
func TestMatchesIncludeDepartures(t *testing.T) {
	u := func(id, key string) User {
		return User{ID: id, Key: key, ThirdPartyID: key, Username: key + "@x.example", Forename: "F", Surname: "S", Active: true, Roles: NamesOf("team_leader")}
	}
	current := &Snapshot{Users: []User{u("u1", "E1"), u("u2", "E2"), u("u3", "E3"), u("u5", "E5")}}
	own := NewOwnership()
	own.Users["E1"], own.Users["E2"], own.Users["E3"], own.Users["E5"] = "u1", "u2", "u3", "u5"
	desired := &Snapshot{Users: []User{u("", "E2"), u("", "E4")}}
	plan := Diff(desired, current, own, Policy{}, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	var keys []string
	for _, m := range plan.Matches {
		keys = append(keys, m.Key+"="+m.ID+"/"+m.How.String())
	}
	if got, want := strings.Join(keys, " "), "E1=u1/ledger E2=u2/ledger E3=u3/ledger E5=u5/ledger"; got != want {
		t.Errorf("Matches = %s, want %s", got, want)
	}
	if m, ok := plan.MatchOf("E3"); !ok || m.ID != "u3" || !m.Claimed {
		t.Errorf("MatchOf(E3) = %+v, %v; want u3, claimed (a departure)", m, ok)
	}
	if _, ok := plan.MatchOf("E4"); ok {
		t.Error("MatchOf(E4) found a match for a new person")
	}
}
