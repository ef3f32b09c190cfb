package reconcile_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/internal/memtarget"
)

// bits hands out small numbers from the fuzzer's bytes.
type bits struct {
	b []byte
	i int
}

func (b *bits) n(max int) int {
	if len(b.b) == 0 || max <= 0 {
		return 0
	}
	v := int(b.b[b.i%len(b.b)])
	b.i++
	return v % max
}

var (
	fuzzNames  = []string{"ada", "bob", "cy", "dee", "eve", "fay"}
	fuzzRoles  = []string{"agent", "team_leader", "quality_analyst", "manager"}
	fuzzTeams  = []reconcile.Team{{Key: "s1", Name: "Site One", Level: "Site"}, {Key: "s2", Name: "Site Two", Level: "Site"}, {Key: "t1", Name: "Team One", Parent: "s1", Level: "Team"}, {Key: "t2", Name: "Team Two", Parent: "s1", Level: "Team"}, {Key: "t3", Name: "Team Three", Parent: "s2", Level: "Team"}}
	fuzzQueues = []string{"Inbound", "Chat"}
)

func fuzzUser(b *bits, i int) reconcile.User {
	name := fuzzNames[i]
	u := reconcile.User{
		Key: fmt.Sprintf("E%d", i), Username: name + "@example.com", Forename: name, Surname: "Test",
		Email: []string{name + "@example.com", name + ".x@example.com", ""}[b.n(3)], Active: b.n(4) != 0,
	}
	var roles, queues []string
	for _, r := range fuzzRoles {
		if b.n(3) == 0 {
			roles = append(roles, r)
		}
	}
	if b.n(2) == 0 {
		roles = append(roles, "agent")
	}
	u.Roles = reconcile.NamesOf(roles...)
	u.Team = []string{"t1", "t2", "t3"}[b.n(3)]
	for _, q := range fuzzQueues {
		if b.n(2) == 0 {
			queues = append(queues, q)
		}
	}
	u.Queues = reconcile.NamesOf(queues...)
	return u
}

func fuzzDesired(b *bits) *reconcile.Snapshot {
	s := &reconcile.Snapshot{}
	for _, t := range fuzzTeams {
		if t.Level == "Site" || b.n(4) != 0 {
			t.Name += []string{"", " (renamed)"}[b.n(2)]
			if t.Level == "Team" {
				t.Parent = []string{"s1", "s2"}[b.n(2)]
			}
			s.Teams = append(s.Teams, t)
		}
	}
	for i := range fuzzNames {
		if b.n(3) != 0 {
			u := fuzzUser(b, i)
			s.Users = append(s.Users, u)
		}
	}
	for _, q := range fuzzQueues {
		s.Queues = append(s.Queues, reconcile.Queue{Name: q})
	}
	return s
}

// FuzzPlanApplyPlan: for any two desired states, syncing the first and then
// the second converges: the plan after applying is empty, and Diff of a
// state against itself plans nothing.
func FuzzPlanApplyPlan(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5}, []byte{9, 8, 7})
	f.Add([]byte{0, 0, 0}, []byte{255, 1, 0, 3})
	f.Add([]byte{7}, []byte{})
	f.Fuzz(func(t *testing.T, first, second []byte) {
		ctx := context.Background()
		mem := memtarget.New()
		mem.Queues = []reconcile.Queue{{ID: "q-in", Name: "Inbound", Active: true}, {ID: "q-chat", Name: "Chat", Active: true}}
		led := memtarget.NewLedger()
		pol := reconcile.Policy{Adopt: true, ReplaceQueues: len(first)%2 == 0}
		for round, seed := range [][]byte{first, second} {
			desired := fuzzDesired(&bits{b: seed})
			cur, _ := mem.List(ctx)
			plan := reconcile.Diff(desired, cur, led.Owned, pol, testNow)
			res := reconcile.Apply(ctx, plan, mem, reconcile.ApplyOptions{Ledger: led})
			if err := res.Err(); err != nil {
				t.Fatalf("round %d: apply: %v\n%s", round, err, render(plan))
			}
			cur, _ = mem.List(ctx)
			again := reconcile.Diff(desired, cur, led.Owned, pol, testNow)
			if !again.Empty() {
				t.Fatalf("round %d: plan after apply is not empty:\n%s\nfirst plan:\n%s", round, render(again), render(plan))
			}
		}
	})
}

func render(p *reconcile.Plan) string {
	var b bytes.Buffer
	_ = reconcile.Render(&b, p, reconcile.FormatText)
	return b.String()
}
