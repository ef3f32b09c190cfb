package state

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPrune(t *testing.T) { forEachBackend(t, testPrune) }

func testPrune(t *testing.T, bk testBackend) {
	ctx := context.Background()
	clk := &fakeClock{t: t0}
	db, _ := bk.openWith(t, Options{Now: clk.Now})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	later := t0.Add(30 * 24 * time.Hour)

	// Old history, recorded at t0 + a few seconds.
	oldRun, err := db.RunStart(ctx, RunApply)
	must(err)
	begin := func(run int64, op string) int64 {
		id, err := db.JournalBegin(ctx, Entry{RunID: run, Target: "evaluagent", OpID: op, Kind: "user", Key: op, Action: "create"})
		must(err)
		return id
	}
	okEntry, failedEntry, unknownEntry, pendingEntry := begin(0, "ok"), begin(0, "failed"), begin(0, "unknown"), begin(0, "pending")
	must(db.JournalFinish(ctx, okEntry, OutcomeOK, "u", ""))
	must(db.JournalFinish(ctx, failedEntry, OutcomeFailed, "", "boom"))
	must(db.JournalFinish(ctx, unknownEntry, OutcomeUnknown, "", "timeout"))
	must(db.RunFinish(ctx, oldRun, "ok", nil, ""))
	keptRun, err := db.RunStart(ctx, RunApply) // referenced by an unresolved entry
	must(err)
	must(db.RunFinish(ctx, keptRun, "ok", nil, ""))
	begin(keptRun, "pending-in-run")
	openRun, err := db.RunStart(ctx, RunPass) // never finished
	must(err)

	hold := func(op string) int64 {
		id, err := db.Hold(ctx, HeldOp{Target: "evaluagent", OpID: op, Kind: "user", Key: op, Action: "deactivate"})
		must(err)
		return id
	}
	pendingHold, approvedHold, rejectedHold, doneHold := hold("p"), hold("a"), hold("r"), hold("d")
	must(db.HeldApprove(ctx, approvedHold, doneHold))
	must(db.HeldReject(ctx, rejectedHold))
	must(db.HeldDone(ctx, doneHold))

	for i, c := range []SourceCount{
		{"hr.csv", 100, true, t0},
		{"hr.csv", 101, true, t0.Add(time.Minute)}, // the latest healthy, though old: kept
		{"hr.csv", 3, false, t0.Add(2 * time.Minute)},
		{"hr.csv", 102, false, later}, // new: kept
		{"sick", 0, false, t0},        // a source never healthy
	} {
		if err := db.RecordSourceCount(ctx, c.Source, c.Count, c.Healthy, c.At); err != nil {
			t.Fatalf("count %d: %v", i, err)
		}
	}
	_, err = db.BudgetUse(ctx, "/v1/users", DayWindow(t0), 5)
	must(err)

	n, err := db.Prune(ctx, t0.Add(24*time.Hour))
	must(err)
	// ok and failed entries, the old run, rejected and done holds, two hr.csv
	// counts and the sick one, and the budget.
	if n != 2+1+2+3+1 {
		t.Errorf("Prune deleted %d rows, want 9", n)
	}

	var entries []int64
	for _, target := range []string{"evaluagent"} {
		pending, err := db.JournalPending(ctx, target)
		must(err)
		unknown, err := db.JournalUnknown(ctx, target)
		must(err)
		for _, e := range append(unknown, pending...) {
			entries = append(entries, e.ID)
		}
	}
	if diff := cmp.Diff([]int64{unknownEntry, pendingEntry, pendingEntry + 1}, entries); diff != "" {
		t.Errorf("journal entries kept (-want +got):\n%s", diff)
	}
	runs, err := db.Runs(ctx, 0)
	must(err)
	var runIDs []int64
	for _, r := range runs {
		runIDs = append(runIDs, r.ID)
	}
	if diff := cmp.Diff([]int64{openRun, keptRun}, runIDs); diff != "" {
		t.Errorf("runs kept (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{pendingHold, approvedHold}, heldIDs(t, db, "", "")); diff != "" {
		t.Errorf("holds kept (-want +got):\n%s", diff)
	}
	hist, err := db.SourceHistory(ctx, "hr.csv", 0)
	must(err)
	var counts []int
	for _, c := range hist {
		counts = append(counts, c.Count)
	}
	if diff := cmp.Diff([]int{102, 101}, counts); diff != "" {
		t.Errorf("hr.csv counts kept (-want +got):\n%s", diff)
	}
	if hist, _ := db.SourceHistory(ctx, "sick", 0); len(hist) != 0 {
		t.Errorf("sick source counts kept: %+v", hist)
	}
	if used, _ := db.BudgetUsed(ctx, "/v1/users", DayWindow(t0)); used != 0 {
		t.Errorf("old budget kept: %d", used)
	}
}
