package reconcile_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/rostersync/rostersync/reconcile"
)

// benchState builds a platform of n owned users in 50 teams and a desired
// state that differs in 1% of them: a mix of new hires, leavers, moves and
// changed emails.
func benchState(n int) (desired, current *reconcile.Snapshot, own reconcile.Ownership) {
	own = reconcile.NewOwnership()
	current = &reconcile.Snapshot{Teams: []reconcile.Team{{ID: "g-root", Name: "Root", Level: "Business", Active: true}}}
	desired = &reconcile.Snapshot{}
	const teams = 50
	for t := 0; t < teams; t++ {
		key := fmt.Sprintf("team-%02d", t)
		id := "g-" + key
		current.Teams = append(current.Teams, reconcile.Team{ID: id, Name: key, Parent: "g-root", Level: "Team", Active: true})
		desired.Teams = append(desired.Teams, reconcile.Team{Key: key, Name: key, Level: "Team"})
		own.Teams[key] = id
	}
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("E%07d", i)
		team := fmt.Sprintf("team-%02d", i%teams)
		u := reconcile.User{Key: key, ThirdPartyID: key, Username: key + "@example.com", Email: key + "@example.com",
			Forename: "F" + key, Surname: "S", StartDate: "2024-01-01", Active: true, Roles: []string{"agent"}}
		c := u
		c.ID, c.Key, c.Team = "u-"+key, "", "g-"+team
		current.Users = append(current.Users, c)
		own.Users[key] = c.ID
		u.Team = team
		switch i % 400 {
		case 1: // leaver
			continue
		case 2: // changed email
			u.Email = "new." + u.Email
		case 3: // team move
			u.Team = fmt.Sprintf("team-%02d", (i+1)%teams)
		}
		desired.Users = append(desired.Users, u)
		if i%400 == 4 { // new hire
			h := u
			h.Key = fmt.Sprintf("N%07d", i)
			h.ThirdPartyID, h.Username, h.Email = h.Key, h.Key+"@example.com", h.Key+"@example.com"
			desired.Users = append(desired.Users, h)
		}
	}
	return desired, current, own
}

// BenchmarkDiff reports plan time and allocations for 10k and 100k users
// with 1% drift, and the peak heap in use while planning.
func BenchmarkDiff(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			desired, current, own := benchState(n)
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ReportAllocs()
			b.ResetTimer()
			var plan *reconcile.Plan
			for b.Loop() {
				plan = reconcile.Diff(desired, current, own, reconcile.Policy{}, testNow)
			}
			b.StopTimer()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/(1<<20), "MiB-alloc/op")
			b.ReportMetric(float64(len(plan.Ops)), "ops")
			if s := plan.Summary; s.Create == 0 || s.Update == 0 || s.Deactivate == 0 {
				b.Fatalf("drift not planned: %+v", s)
			}
		})
	}
}
