package reconcile

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestIDIndexMatchesMap holds IDIndex to a map from id to the last
// position holding it, over generated listings with repeated ids, ids
// that are prefixes of others, and ids nobody has.
func TestIDIndexMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 7))
	for round := range 200 {
		n := r.IntN(300)
		users := make([]User, n)
		want := map[string]int32{}
		for i := range users {
			id := fmt.Sprint(r.IntN(n + 1))
			if r.IntN(4) == 0 {
				id += "0"
			}
			users[i].ID = id
			want[id] = int32(i)
		}
		x := NewIDIndex(users)
		if x.Distinct() != len(want) {
			t.Fatalf("round %d: Distinct() = %d, want %d", round, x.Distinct(), len(want))
		}
		for k := range 2*n + 2 {
			id := fmt.Sprint(k)
			got, ok := x.Find(id)
			w, wok := want[id]
			if ok != wok || got != w {
				t.Fatalf("round %d: Find(%q) = %d, %v; want %d, %v", round, id, got, ok, w, wok)
			}
		}
	}
}
