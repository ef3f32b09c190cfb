package reconcile_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/rostersync/rostersync/reconcile"
)

// benchState builds a platform of n owned users in 50 teams and a desired
// state that differs in 1% of them: a mix of new hires, leavers, moves and
// changed emails. own holds the owned users twice: in key order, the form
// the ledger is read in and Diff takes, and in the map mapJoin uses.
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
			Forename: "F" + key, Surname: "S", StartDate: 20240101, Active: true, Roles: reconcile.NamesOf("agent")}
		c := u
		c.ID, c.Key, c.Team = "u-"+key, "", "g-"+team
		current.Users = append(current.Users, c)
		own.Users[key] = c.ID
		own.UserKeys, own.UserIDs = append(own.UserKeys, key), append(own.UserIDs, c.ID)
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
// with 1% drift, and beside them (join-ns/op, join-MiB-alloc/op) the same
// figures for a plain map join of the same sets, measured in the same run.
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
			// The baseline, on the same line: a plain map join of the same
			// sets, the least any sync must do (no ledger, reasons, order,
			// groups or queues), run as many times as Diff was.
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			var join joinCounts
			for range b.N {
				join = mapJoin(desired, current, own)
			}
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N), "join-ns/op")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/(1<<20), "join-MiB-alloc/op")
			if s := plan.Summary; join.create != s.Create || join.update != s.Update || join.deactivate != s.Deactivate {
				b.Fatalf("the baseline join found %+v, Diff %+v: they compare different things", join, s)
			}
		})
	}
}

type joinCounts struct{ create, update, deactivate int }

// mapJoin is BenchmarkDiff's baseline: index the platform's users by
// third_party_id, look every desired user up, compare the fields, and count
// the users left over as departures.
func mapJoin(desired, current *reconcile.Snapshot, own reconcile.Ownership) joinCounts {
	var out joinCounts
	byID := make(map[string]*reconcile.User, len(current.Users))
	for i := range current.Users {
		byID[current.Users[i].ThirdPartyID] = &current.Users[i]
	}
	seen := make(map[string]bool, len(desired.Users))
	for i := range desired.Users {
		d := &desired.Users[i]
		c, ok := byID[d.ThirdPartyID]
		if !ok {
			out.create++
			continue
		}
		seen[d.ThirdPartyID] = true
		if c.Username != d.Username || c.Email != d.Email || c.Forename != d.Forename || c.Surname != d.Surname ||
			c.StartDate != d.StartDate || c.Active != d.Active || c.Team != own.Teams[d.Team] || !c.Roles.Equal(d.Roles) {
			out.update++
		}
	}
	for i := range current.Users {
		if c := &current.Users[i]; c.Active && !seen[c.ThirdPartyID] {
			out.deactivate++
		}
	}
	return out
}
