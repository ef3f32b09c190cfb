package mapping

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortMostlySorted sorts generated sequences, from in order to
// shuffled through every degree of disorder, and compares with a full sort;
// where it gives up, what it leaves must hold the same elements.
func TestSortMostlySorted(t *testing.T) {
	type rec struct{ key, seq int }
	byKey := func(a, b rec) int {
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	}
	merged, gaveUp := 0, 0
	for seed := range uint64(2000) {
		rng := rand.New(rand.NewPCG(seed, 31))
		n := rng.IntN(300)
		s := make([]rec, n)
		for i := range s {
			s[i] = rec{key: i, seq: i}
			if rng.IntN(3) == 0 {
				s[i].key = i - rng.IntN(3) // repeated keys, told apart by seq
			}
		}
		// Move some records: to random places (new starters), a little
		// way (corrections), or shuffle everything.
		switch moved := rng.IntN(1 + n/4); rng.IntN(4) {
		case 0:
			rng.Shuffle(n, func(i, j int) { s[i], s[j] = s[j], s[i] })
		default:
			for range moved {
				i, j := rng.IntN(n), rng.IntN(n)
				if rng.IntN(2) == 0 {
					j = min(n-1, i+rng.IntN(4))
				}
				x := s[i]
				s = slices.Insert(slices.Delete(s, i, i+1), j, x)
			}
		}
		want := slices.SortedFunc(slices.Values(s), byKey)
		got := slices.Clone(s)
		if !sortMostlySorted(got, byKey) {
			if !slices.Equal(slices.SortedFunc(slices.Values(got), byKey), want) {
				t.Fatalf("seed %d: gave up leaving %v, not a permutation of %v", seed, got, s)
			}
			gaveUp++
			continue
		}
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d: sorted %v\nwant %v\nfrom %v", seed, got, want, s)
		}
		if !slices.IsSortedFunc(s, byKey) {
			merged++
		}
	}
	if merged < 200 || gaveUp < 200 {
		t.Fatalf("%d sequences out of order sorted by the walk, %d given up on: the test proves little", merged, gaveUp)
	}
}
