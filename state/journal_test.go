package state

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// ignoreTimes compares entries without their recorded times.
var ignoreTimes = cmpopts.IgnoreFields(Entry{}, "BegunAt", "FinishedAt")

func TestJournal(t *testing.T) { forEachBackend(t, testJournal) }

func testJournal(t *testing.T, bk testBackend) {
	ctx := context.Background()
	db, _ := bk.openTest(t)
	run, err := db.RunStart(ctx, RunApply)
	if err != nil {
		t.Fatal(err)
	}
	create := Entry{RunID: run, Target: "evaluagent", OpID: "op-create-E1", Kind: "user", Key: "E1",
		Action: "create", Payload: []byte(`{"username":"ann"}`)}
	update := Entry{Target: "evaluagent", OpID: "op-update-E2", Kind: "user", Key: "E2", Action: "update"}
	other := Entry{Target: "agentiq", OpID: "op-x", Kind: "user", Key: "E3", Action: "create"}

	var ids []int64
	for _, e := range []Entry{create, update, other} {
		id, err := db.JournalBegin(ctx, e)
		if err != nil {
			t.Fatalf("JournalBegin(%s): %v", e.OpID, err)
		}
		ids = append(ids, id)
	}
	create.ID, update.ID, other.ID = ids[0], ids[1], ids[2]

	pending, err := db.JournalPending(ctx, "evaluagent")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Entry{create, update}, pending, ignoreTimes); diff != "" {
		t.Errorf("JournalPending (-want +got):\n%s", diff)
	}
	for _, e := range pending {
		if !e.Pending() || e.BegunAt.Before(t0) {
			t.Errorf("entry %d: pending=%v begun %v", e.ID, e.Pending(), e.BegunAt)
		}
	}

	if err := db.JournalFinish(ctx, create.ID, OutcomeOK, "u-100", ""); err != nil {
		t.Fatal(err)
	}
	if err := db.JournalFinish(ctx, update.ID, OutcomeUnknown, "", "context deadline exceeded"); err != nil {
		t.Fatal(err)
	}
	pending, err = db.JournalPending(ctx, "evaluagent")
	if err != nil || len(pending) != 0 {
		t.Errorf("JournalPending after finishing = %v, %v", pending, err)
	}
	unknown, err := db.JournalUnknown(ctx, "evaluagent")
	if err != nil || len(unknown) != 1 || unknown[0].ID != update.ID || unknown[0].Err != "context deadline exceeded" {
		t.Errorf("JournalUnknown = %+v, %v", unknown, err)
	}

	// An unknown outcome may be resolved; ok and failed are final.
	if err := db.JournalFinish(ctx, update.ID, OutcomeFailed, "", "422"); err != nil {
		t.Errorf("resolving unknown: %v", err)
	}
	if err := db.JournalFinish(ctx, update.ID, OutcomeOK, "", ""); !errors.Is(err, ErrConflict) {
		t.Errorf("refinishing failed entry: %v, want ErrConflict", err)
	}
	if err := db.JournalFinish(ctx, create.ID, OutcomeFailed, "", ""); !errors.Is(err, ErrConflict) {
		t.Errorf("refinishing ok entry: %v, want ErrConflict", err)
	}
	if err := db.JournalFinish(ctx, 9999, OutcomeOK, "", ""); !errors.Is(err, ErrNotFound) ||
		err.Error() != "state: finish journal entry 9999: not found" {
		t.Errorf("finishing unknown id: %v", err)
	}
	if err := db.JournalFinish(ctx, other.ID, "maybe", "", ""); err == nil {
		t.Error("bad outcome accepted")
	}

	byOp, err := db.JournalByOp(ctx, "evaluagent", "op-create-E1")
	if err != nil {
		t.Fatal(err)
	}
	create.Outcome, create.ResultID = OutcomeOK, "u-100"
	if diff := cmp.Diff([]Entry{create}, byOp, ignoreTimes); diff != "" {
		t.Errorf("JournalByOp (-want +got):\n%s", diff)
	}
	if byOp[0].Pending() || byOp[0].FinishedAt.Before(byOp[0].BegunAt) {
		t.Errorf("finished entry times: begun %v finished %v", byOp[0].BegunAt, byOp[0].FinishedAt)
	}

	// Validation and the run foreign key.
	if _, err := db.JournalBegin(ctx, Entry{Target: "evaluagent", Kind: "user", Key: "E9", Action: "create"}); err == nil {
		t.Error("entry without op id accepted")
	}
	if _, err := db.JournalBegin(ctx, Entry{RunID: 4242, Target: "evaluagent", OpID: "o", Kind: "user", Key: "E9", Action: "create"}); err == nil {
		t.Error("entry for a run that does not exist accepted")
	}
}

func TestJournalPendingAfterCrash(t *testing.T) { forEachBackend(t, testJournalPendingAfterCrash) }

func testJournalPendingAfterCrash(t *testing.T, bk testBackend) {
	ctx := context.Background()
	db, dir := bk.openTest(t)
	e := Entry{Target: "evaluagent", OpID: "op-1", Kind: "user", Key: "E1", Action: "create", Payload: []byte(`{}`)}
	id, err := db.JournalBegin(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	// The process dies here: no JournalFinish, no orderly Close.
	if err := db.raw.Close(); err != nil {
		t.Fatal(err)
	}

	db = openAt(t, dir)
	pending, err := db.JournalPending(ctx, "evaluagent")
	if err != nil {
		t.Fatal(err)
	}
	e.ID = id
	if diff := cmp.Diff([]Entry{e}, pending, ignoreTimes); diff != "" {
		t.Fatalf("pending after reopen (-want +got):\n%s", diff)
	}
	if err := db.JournalFinish(ctx, id, OutcomeOK, "u-7", ""); err != nil {
		t.Fatal(err)
	}
	if pending, _ := db.JournalPending(ctx, "evaluagent"); len(pending) != 0 {
		t.Errorf("still pending: %+v", pending)
	}
}

func TestRuns(t *testing.T) { forEachBackend(t, testRuns) }

func testRuns(t *testing.T, bk testBackend) {
	ctx := context.Background()
	db, dir := bk.openTest(t)
	plan, err := db.RunStart(ctx, RunPlan)
	if err != nil {
		t.Fatal(err)
	}
	pass, err := db.RunStart(ctx, RunPass)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.RunStart(ctx, "nap"); err == nil {
		t.Error("unknown run kind accepted")
	}
	if err := db.RunFinish(ctx, plan, "ok", []byte(`{"create":2}`), ""); err != nil {
		t.Fatal(err)
	}
	if err := db.RunFinish(ctx, plan, "ok", nil, ""); !errors.Is(err, ErrConflict) {
		t.Errorf("second finish: %v, want ErrConflict", err)
	}
	if err := db.RunFinish(ctx, 777, "ok", nil, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("finish of unknown run: %v, want ErrNotFound", err)
	}
	if err := db.RunFinish(ctx, pass, "failed", []byte(`{not json`), ""); err == nil {
		t.Error("invalid summary JSON accepted")
	}
	if err := db.RunFinish(ctx, pass, "", nil, ""); err == nil {
		t.Error("empty result accepted")
	}

	db.Close()
	db = openAt(t, dir)
	runs, err := db.Runs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []Run{
		{ID: pass, Kind: RunPass},
		{ID: plan, Kind: RunPlan, Result: "ok", Summary: []byte(`{"create":2}`)},
	}
	if diff := cmp.Diff(want, runs, cmpopts.IgnoreFields(Run{}, "StartedAt", "FinishedAt")); diff != "" {
		t.Errorf("Runs (-want +got):\n%s", diff)
	}
	if !runs[0].Running() || runs[1].Running() || runs[1].FinishedAt.Before(runs[1].StartedAt) {
		t.Errorf("run times: %+v", runs)
	}
	if runs, err := db.Runs(ctx, 1); err != nil || len(runs) != 1 || runs[0].ID != pass {
		t.Errorf("Runs(1) = %+v, %v", runs, err)
	}
}

// The journal reads of every pass (pending and unknown outcomes) go through an index, not the
// whole journal, which grows with every apply.
func TestJournalPassReadsUseAnIndex(t *testing.T) {
	db, _ := testBackend{BackendSQLite}.openTest(t) // SQLite's EXPLAIN QUERY PLAN names the index
	for name, where := range map[string]string{
		"journal_pending": `WHERE target = 'x' AND finished_at IS NULL ORDER BY id`,
		"journal_unknown": `WHERE target = 'x' AND outcome = 'unknown' ORDER BY id`,
	} {
		rows, err := db.db.QueryContext(context.Background(), `EXPLAIN QUERY PLAN SELECT id FROM journal `+where)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if got := strings.Join(plan, "; "); !strings.Contains(got, "INDEX "+name+" ") {
			t.Errorf("%s: query plan %q, want it to use index %s", where, got, name)
		}
	}
}
