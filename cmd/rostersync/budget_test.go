package main

import (
	"strings"
	"testing"
	"time"
)

// TestDailyBudgetPersistsAndTheRestGoesLater: with a daily budget smaller
// than the plan, an apply does what fits and says when the rest goes; a
// restart the same day sends nothing more; the next day carries on.
func TestDailyBudgetPersistsAndTheRestGoesLater(t *testing.T) {
	r := newRig(t)
	r.env["ROSTERSYNC_EVALUAGENT_RATE_PER_DAY"] = "8"
	day := func(n int) time.Time { return rigStart.Add(time.Duration(n) * 24 * time.Hour) }

	if code := r.runAt(day(0), "apply", "-yes"); code != 1 {
		t.Fatalf("first apply: exit %d, want 1 (stopped by the budget)\n%s", code, r.stderr.String())
	}
	errOut := r.stderr.String()
	for _, want := range []string{
		"today's request budget for POST /org/groups has 8 left and this plan needs 9",
		"the rest after 2026-11-22T00:00:00Z",
		"Stopped: the day's request budget for POST /org/groups is spent",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if n := r.sim.Counts()["POST /org/groups"]; n != 8 {
		t.Errorf("%d group creates sent, want the 8 the budget allows", n)
	}

	// A restart the same day: the counts survived; nothing more is created.
	r.sim.ResetCounts()
	r.runAt(day(0).Add(time.Hour), "apply", "-yes")
	if n := r.sim.Counts()["POST /org/groups"]; n != 0 {
		t.Errorf("a restart the same day sent %d group creates past the budget", n)
	}

	// The next days carry on until done.
	for d := 1; d <= 3; d++ {
		r.runAt(day(d), "apply", "-yes")
	}
	if code := r.runAt(day(3).Add(time.Hour), "plan", "-detailed-exitcode"); code != 0 {
		t.Fatalf("not converged after three more days: exit %d\n%s\n%s", code, r.stdout.String(), r.stderr.String())
	}
}
