package mapping

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rostersync/rostersync/sources"
)

// TestUniqueModel checks, over generated sources full of repeated keys,
// usernames and emails in mixed case, that the Builder keeps and refuses
// the people a plain reading of the rules does: sources in order, each
// source's people in key order, the first holder of a key, username or
// email kept. It runs with the real hash and with one that gives a handful
// of values to everything, so that holders are told apart by value; and
// with people keyed by the records' keys or by an attribute of theirs
// (the order is still the records'); the records come shuffled or nearly
// in key order.
func TestUniqueModel(t *testing.T) {
	hashes := map[string]func(string) uint64{
		"maphash":   nil,
		"colliding": func(s string) uint64 { return uint64(len(s) % 3) },
	}
	for _, keyAttr := range []string{"", "emp"} {
		spec := base()
		spec.User.Username, spec.User.Email, spec.User.Key = "uname", "mail", keyAttr
		rules, err := Compile(spec)
		if err != nil {
			t.Fatal(err)
		}
		for name, hash := range hashes {
			t.Run(name+"/key="+keyAttr, func(t *testing.T) {
				refused := 0
				for seed := range uint64(300) {
					rng := rand.New(rand.NewPCG(seed, 23))
					pick := func(n int) int { return rng.IntN(n) }
					caseOf := func(s string) string {
						if pick(2) == 0 {
							return strings.ToUpper(s)
						}
						return s
					}
					var snaps []*sources.Snapshot
					for s := range 1 + pick(3) {
						var recs []sources.Record
						for range pick(25) {
							key := fmt.Sprintf("k%02d", pick(30))
							mail := ""
							if pick(4) > 0 {
								mail = caseOf(fmt.Sprintf("m%d@x.com", pick(20)))
							}
							r := rec(key, "uname", caseOf(fmt.Sprintf("u%d", pick(25))), "mail", mail, "first", "F", "last", "L",
								"emp", fmt.Sprintf("e%02d", pick(30)))
							r.Origin = fmt.Sprintf("s%d:%d", s, len(recs)+1)
							recs = append(recs, r)
						}
						if pick(2) == 0 {
							// Nearly in key order, as an export sorted by
							// employee number with a starter out of place.
							slices.SortStableFunc(recs, func(a, b sources.Record) int { return strings.Compare(a.Key, b.Key) })
							if len(recs) > 1 {
								i, j := pick(len(recs)), pick(len(recs))
								recs[i], recs[j] = recs[j], recs[i]
							}
						}
						snaps = append(snaps, &sources.Snapshot{Source: fmt.Sprintf("s%d", s), Records: recs, Health: sources.Health{Complete: true, Count: len(recs)}})
					}
					b := rules.NewBuilder()
					b.hash = hash
					for _, snap := range snaps {
						for i := range snap.Records {
							b.Add(&snap.Records[i])
						}
						b.EndSource(snap.Source, snap.Health)
					}
					got := b.Result()
					var gotKept []string
					for _, u := range got.Desired.Users {
						gotKept = append(gotKept, u.Key+" "+u.Origin)
					}
					var gotProblems []string
					for _, p := range got.Problems {
						gotProblems = append(gotProblems, p.Key+" "+p.Origin+": "+p.Message)
					}
					wantKept, wantProblems := uniqueReference(snaps, keyAttr)
					refused += len(wantProblems)
					if d := cmp.Diff(wantKept, gotKept); d != "" {
						t.Fatalf("seed %d: people kept (-want +got):\n%s", seed, d)
					}
					if d := cmp.Diff(wantProblems, gotProblems); d != "" {
						t.Fatalf("seed %d: problems (-want +got):\n%s", seed, d)
					}
				}
				if refused < 1000 {
					t.Fatalf("only %d refusals over all seeds: the generator repeats too little to test anything", refused)
				}
			})
		}
	}
}

// uniqueReference is the rule read plainly, with maps from the values.
func uniqueReference(snaps []*sources.Snapshot, keyAttr string) (kept, problems []string) {
	byKey, byUsername, byEmail := map[string]string{}, map[string]string{}, map[string]string{}
	for _, snap := range snaps {
		recs := slices.Clone(snap.Records)
		slices.SortStableFunc(recs, func(a, b sources.Record) int { return strings.Compare(a.Key, b.Key) })
		for _, r := range recs {
			key, uname, mail := r.Key, r.Get("uname"), r.Get("mail")
			if keyAttr != "" {
				key = r.Get(keyAttr)
			}
			refuse := func(format string, a ...any) {
				problems = append(problems, key+" "+r.Origin+": "+fmt.Sprintf(format, a...))
			}
			if first, dup := byKey[key]; dup {
				refuse("duplicate person key %q: also at %s, which is kept", key, first)
				continue
			}
			if other, dup := byUsername[strings.ToLower(uname)]; dup {
				refuse("username %q is already used by %s (%s)", uname, other, byKey[other])
				continue
			}
			if other, dup := byEmail[strings.ToLower(mail)]; dup && mail != "" {
				refuse("email %q is already used by %s (%s); the platform needs each email once", mail, other, byKey[other])
				continue
			}
			byKey[key] = r.Origin
			byUsername[strings.ToLower(uname)] = key
			if mail != "" {
				byEmail[strings.ToLower(mail)] = key
			}
			kept = append(kept, key+" "+r.Origin)
		}
	}
	slices.Sort(kept)
	return kept, problems
}

// TestRepeatsFindsEveryRepeat checks that every hash added twice is
// reported, and that hashes added once are reported rarely: each such
// report costs the lookup the filter is there to save.
func TestRepeatsFindsEveryRepeat(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	const n = 100_000
	hs := make([]uint64, n)
	for i := range hs {
		hs[i] = rng.Uint64()
		if i%100 == 99 {
			hs[i] = hs[rng.IntN(i)] // a repeat of an earlier one
		}
	}
	r := newRepeats(n)
	for _, h := range hs {
		r.add(r.slot(h))
	}
	count := map[uint64]int{}
	for _, h := range hs {
		count[h]++
	}
	falseAlarms := 0
	for _, h := range hs {
		switch {
		case count[h] > 1 && !r.many(r.slot(h)):
			t.Fatalf("hash %x was added %d times and not reported", h, count[h])
		case count[h] == 1 && r.many(r.slot(h)):
			falseAlarms++
		}
	}
	if falseAlarms > n/10 {
		t.Fatalf("%d of %d hashes added once are reported as repeats; the filter saves little", falseAlarms, n)
	}
}

// BenchmarkRepeats compares the filter's two walks over a million hashes
// with what it saves: a lookup and an insert each into a map sized for
// them.
func BenchmarkRepeats(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	hs := make([]uint64, 1_000_000)
	for i := range hs {
		hs[i] = rng.Uint64()
	}
	b.Run("filter", func(b *testing.B) {
		for b.Loop() {
			r := newRepeats(len(hs))
			for _, h := range hs {
				r.add(r.slot(h))
			}
			n := 0
			for _, h := range hs {
				if r.many(r.slot(h)) {
					n++
				}
			}
			if n > len(hs)/10 {
				b.Fatalf("%d reported", n)
			}
		}
	})
	b.Run("map", func(b *testing.B) {
		for b.Loop() {
			m := make(map[uint64]int32, len(hs))
			for i, h := range hs {
				if _, ok := m[h]; !ok {
					m[h] = int32(i)
				}
			}
		}
	})
}
