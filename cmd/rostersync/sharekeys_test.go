package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/rostersync/rostersync/reconcile"
)

// TestShareKeys checks, over generated ledgers and desired sets, that the
// owned keys keep their values and take the desired person's copy of each
// key both hold, whether or not the desired people are in key order.
func TestShareKeys(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var desired []reconcile.User
		var keys []string
		for i := range rng.IntN(40) {
			k := fmt.Sprintf("k%03d", i)
			if rng.IntN(4) > 0 {
				desired = append(desired, reconcile.User{Key: strings.Clone(k)})
			}
			if rng.IntN(4) > 0 {
				keys = append(keys, strings.Clone(k))
			}
		}
		sorted := rng.IntN(4) > 0
		if !sorted {
			rng.Shuffle(len(desired), func(i, j int) { desired[i], desired[j] = desired[j], desired[i] })
		}
		want := slices.Clone(keys)
		shareKeys(keys, desired)
		if !slices.Equal(keys, want) {
			t.Fatalf("seed %d: keys changed: %q, want %q", seed, keys, want)
		}
		if !sorted {
			continue
		}
		for _, u := range desired {
			i, ok := slices.BinarySearch(keys, u.Key)
			if ok && unsafe.StringData(keys[i]) != unsafe.StringData(u.Key) {
				t.Fatalf("seed %d: owned key %q is a copy of the desired person's, not the same string", seed, u.Key)
			}
		}
	}
}
