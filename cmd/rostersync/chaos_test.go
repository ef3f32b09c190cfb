package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
)

var applyLine = regexp.MustCompile(`Apply complete: (\d+) applied, (\d+) failed, (\d+) skipped`)

type chaosPass struct {
	phase                    string
	exit                     int
	applied, failed, skipped int
	recovered                int
}

// TestChaosConverges syncs against a simulator with every fault enabled and
// applies pass after pass until the plan is empty: the sync converges, no
// one is created twice, every desired person is present, and no operation
// is lost. It prints what was injected and what happened.
func TestChaosConverges(t *testing.T) {
	const people = 120
	faults := evaluagentsim.Faults{Seed: 42, Storm429: 0.01, StormRequests: 4, Error5xx: 0.08,
		Latency: 200 * time.Microsecond, LatencyJitter: time.Millisecond, Reset: 0.04, CommitDrop: 0.08}
	r := newRig(t, func(c *evaluagentsim.Config) {
		c.RatePerMinute = 1_000_000
		c.RatePerDay = 10_000_000
	})
	peopleCSV(t, r.dir, people)
	r.env["ROSTERSYNC_EVALUAGENT_RATE_PER_MINUTE"] = "1000000"
	r.env["ROSTERSYNC_EVALUAGENT_RATE_PER_DAY"] = "10000000"
	r.env["ROSTERSYNC_ABSENT_PASSES"] = "1"
	r.env["ROSTERSYNC_HOLD_DEACTIVATIONS_OVER"] = "-1"
	r.env["ROSTERSYNC_HOLD_DEACTIVATIONS_PERCENT"] = "-1"
	r.env["ROSTERSYNC_LOG_LEVEL"] = "warn"
	// Waits for 429s and retries are real decisions but take no time here.
	r.sleep = func(ctx context.Context, _ time.Duration) error { return ctx.Err() }
	r.sim.SetFaults(faults)

	var passes []chaosPass
	clock := rigStart
	converge := func(phase string) {
		t.Helper()
		for range 20 {
			clock = clock.Add(time.Minute)
			code := r.runAt(clock, "apply", "-yes")
			p := chaosPass{phase: phase, exit: code, recovered: strings.Count(r.stderr.String(), "recovered an interrupted create")}
			if m := applyLine.FindStringSubmatch(r.stdout.String()); m != nil {
				p.applied, _ = strconv.Atoi(m[1])
				p.failed, _ = strconv.Atoi(m[2])
				p.skipped, _ = strconv.Atoi(m[3])
			}
			passes = append(passes, p)
			if code == 0 && strings.Contains(r.stdout.String(), "No changes.") {
				return
			}
		}
		t.Fatalf("%s: no convergence after 20 passes; last output:\n%s\n%s", phase, r.stdout.String(), r.stderr.String())
	}

	converge("create")
	// Changes under fire: ten new email addresses, five leavers, a new hire.
	for i := range 10 {
		r.editRow(fmt.Sprintf("P%05d", i), func(f []string) []string { f[3] = fmt.Sprintf("person%d.new@example.com", i); return f })
	}
	for i := 10; i < 15; i++ {
		r.leave(fmt.Sprintf("P%05d", i))
	}
	r.addRow("P99999,New,Hire,new.hire@example.com,2026-11-20,active,Agent,Leeds,Support,North")
	converge("change")

	// Without faults, the platform must be exactly what was asked.
	injected := r.sim.FaultCounts()
	r.sim.SetFaults(evaluagentsim.Faults{})
	if code := r.runAt(clock.Add(time.Minute), "plan", "-detailed-exitcode"); code != 0 {
		t.Fatalf("plan after chaos: exit %d\n%s", code, r.stdout.String())
	}
	users := r.sim.Users()
	byTPID := map[string]int{}
	byName := map[string]int{}
	active := 0
	for _, u := range users {
		byTPID[fmt.Sprint(u.ThirdPartyID)]++
		byName[strings.ToLower(u.Username)]++
		if u.Active {
			active++
		}
	}
	for k, n := range byTPID {
		if n > 1 {
			t.Errorf("third_party_id %s: %d users", k, n)
		}
	}
	for k, n := range byName {
		if n > 1 {
			t.Errorf("username %s: %d users", k, n)
		}
	}
	if len(users) != people+1 || active != people+1-5 {
		t.Errorf("%d users, %d active; want %d and %d", len(users), active, people+1, people+1-5)
	}
	for i := range 10 {
		if byName[fmt.Sprintf("person%d.new@example.com", i)] != 1 {
			t.Errorf("person %d's email change was lost", i)
		}
	}
	counts := r.sim.StatusCounts()
	dupCreates := counts["POST /org/users"][422]

	// The summary.
	var b strings.Builder
	b.WriteString("\nchaos test summary\n  faults injected (" + faults.String() + "):\n")
	for _, k := range evaluagentsim.FaultKinds() {
		fmt.Fprintf(&b, "    %-18s %d\n", k, injected[k])
	}
	b.WriteString("  passes:\n    #  phase   exit  applied  failed  skipped  recovered\n")
	var applied, failed, skipped, recovered int
	for i, p := range passes {
		fmt.Fprintf(&b, "    %-2d %-7s %4d  %7d  %6d  %7d  %9d\n", i+1, p.phase, p.exit, p.applied, p.failed, p.skipped, p.recovered)
		applied += p.applied
		failed += p.failed
		skipped += p.skipped
		recovered += p.recovered
	}
	phases := map[string]int{}
	for _, p := range passes {
		phases[p.phase]++
	}
	requests := 0
	answers := map[string]int{}
	for _, st := range counts {
		for code, n := range st {
			requests += n
			switch {
			case code == 0:
				answers["reset"] += n
			case code == 429:
				answers["429"] += n
			case code >= 500:
				answers["5xx"] += n
			case code == 422:
				answers["422"] += n
			}
		}
	}
	fmt.Fprintf(&b, "  totals: %d ops applied, %d failed (left to a later pass), %d skipped (a dependency failed); %d interrupted creates recovered\n",
		applied, failed, skipped, recovered)
	fmt.Fprintf(&b, "  requests: %d; answered 429: %d, 5xx: %d, reset: %d (GET and PATCH retried by the client, POST left to the next pass); 422: %d\n",
		requests, answers["429"], answers["5xx"], answers["reset"], answers["422"])
	fmt.Fprintf(&b, "  passes needed: create %d, change %d; result: %d users for %d people, %d duplicate creates, converged\n",
		phases["create"], phases["change"], len(users), people+1, dupCreates)
	t.Log(b.String())
	if dupCreates != 0 {
		t.Errorf("%d creates were refused as duplicates: a create was sent again", dupCreates)
	}
	for _, k := range []string{evaluagentsim.FaultStorm429, evaluagentsim.Fault5xx, evaluagentsim.FaultReset, evaluagentsim.FaultCommitDrop} {
		if injected[k] == 0 {
			t.Errorf("no %s was injected: the test did not test it", k)
		}
	}
}
