package state

import (
	"context"
	"errors"
	"testing"
	"time"
)

func ledgerKeys(t *testing.T, db *DB, target, kind string) map[string]string {
	t.Helper()
	l, err := db.Ledger(context.Background(), target)
	if err != nil {
		t.Fatal(err)
	}
	return l[kind]
}

func TestBatchBuffersUntilADurableEntryOrFlush(t *testing.T) {
	forEachBackend(t, testBatchBuffersUntilADurableEntryOrFlush)
}

func testBatchBuffersUntilADurableEntryOrFlush(t *testing.T, bk testBackend) {
	ctx := context.Background()
	db, _ := bk.openTest(t)
	b := db.NewBatch(100, time.Hour)
	if err := b.Own(ctx, "ea", "user", "E1", "u1", HowAdopted); err != nil {
		t.Fatal(err)
	}
	quiet, err := b.JournalBegin(ctx, Entry{Target: "ea", OpID: "adopt-E2", Kind: "user", Key: "E2", Action: "adopt"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.JournalFinish(ctx, quiet, OutcomeOK, "", ""); err != nil {
		t.Fatal(err)
	}
	if got := ledgerKeys(t, db, "ea", "user"); len(got) != 0 {
		t.Fatalf("ledger %v before any commit, want the writes buffered", got)
	}
	// A write about to be sent commits itself and everything before it.
	sent, err := b.JournalBegin(ctx, Entry{Target: "ea", OpID: "create-E3", Kind: "user", Key: "E3", Action: "create"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := ledgerKeys(t, db, "ea", "user"); got["E1"] != "u1" {
		t.Errorf("ledger %v after a durable entry, want E1 owned", got)
	}
	pending, err := db.JournalPending(ctx, "ea")
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].ID != sent || pending[0].Key != "E3" {
		t.Errorf("pending %+v, want only the durable create (the adoption was finished with it)", pending)
	}
	byOp, err := db.JournalByOp(ctx, "ea", "adopt-E2")
	if err != nil || len(byOp) != 1 || byOp[0].Outcome != OutcomeOK {
		t.Errorf("adopt entry %+v, %v: want one finished ok", byOp, err)
	}
	if err := b.Own(ctx, "ea", "user", "E3", "u3", HowCreated); err != nil {
		t.Fatal(err)
	}
	if err := b.JournalFinish(ctx, sent, OutcomeOK, "u3", ""); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ledgerKeys(t, db, "ea", "user"); got["E3"] != "u3" {
		t.Errorf("ledger %v after Flush, want E3 owned", got)
	}
	if pending, _ := db.JournalPending(ctx, "ea"); len(pending) != 0 {
		t.Errorf("pending %+v after Flush, want none", pending)
	}
}

// A crash loses only the buffer: the durable entry is pending for recovery, the buffered
// adoption is simply not there.
func TestBatchCrashLosesOnlyTheBuffer(t *testing.T) {
	forEachBackend(t, testBatchCrashLosesOnlyTheBuffer)
}

func testBatchCrashLosesOnlyTheBuffer(t *testing.T, bk testBackend) {
	ctx := context.Background()
	db, dir := bk.openTest(t)
	b := db.NewBatch(100, time.Hour)
	if _, err := b.JournalBegin(ctx, Entry{Target: "ea", OpID: "create-E1", Kind: "user", Key: "E1", Action: "create"}, true); err != nil {
		t.Fatal(err)
	}
	if err := b.Own(ctx, "ea", "user", "E1", "u1", HowCreated); err != nil {
		t.Fatal(err)
	}
	if err := b.Own(ctx, "ea", "user", "E2", "u2", HowAdopted); err != nil {
		t.Fatal(err)
	}
	db.Close() // the process dies: no Flush
	again := openAt(t, dir)
	pending, err := again.JournalPending(ctx, "ea")
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 1 || pending[0].Key != "E1" {
		t.Errorf("pending %+v, want the create of E1 to check against the platform", pending)
	}
	if got := ledgerKeys(t, again, "ea", "user"); len(got) != 0 {
		t.Errorf("ledger %v, want nothing: both ownerships were buffered", got)
	}
}

func TestBatchConflicts(t *testing.T) { forEachBackend(t, testBatchConflicts) }

func testBatchConflicts(t *testing.T, bk testBackend) {
	ctx := context.Background()
	db, _ := bk.openTest(t)
	if err := db.Own(ctx, "ea", "user", "E1", "u1", HowCreated); err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch(100, time.Hour)
	if err := b.Own(ctx, "ea", "user", "E9", "u1", HowAdopted); !errors.Is(err, ErrConflict) {
		t.Errorf("own an id the database gives another key: %v, want ErrConflict", err)
	}
	if err := b.Own(ctx, "ea", "user", "E2", "u2", HowAdopted); err != nil {
		t.Fatal(err)
	}
	if err := b.Own(ctx, "ea", "user", "E3", "u2", HowAdopted); !errors.Is(err, ErrConflict) {
		t.Errorf("own an id the buffer gives another key: %v, want ErrConflict", err)
	}
	// E1 moves to another id in the buffer: its old id is free.
	if err := b.Own(ctx, "ea", "user", "E1", "u1b", HowAdopted); err != nil {
		t.Fatal(err)
	}
	if err := b.Own(ctx, "ea", "user", "E4", "u1", HowAdopted); err != nil {
		t.Errorf("own an id its old key gave up in the buffer: %v", err)
	}
	if err := b.Own(ctx, "ea", "team", "T1", "u2", HowAdopted); err != nil {
		t.Errorf("another kind may hold the same id: %v", err)
	}
	id, err := b.JournalBegin(ctx, Entry{Target: "ea", OpID: "adopt-E2", Kind: "user", Key: "E2", Action: "adopt"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.JournalFinish(ctx, id, OutcomeOK, "", ""); err != nil {
		t.Fatal(err)
	}
	if err := b.JournalFinish(ctx, id, OutcomeFailed, "", "x"); !errors.Is(err, ErrConflict) {
		t.Errorf("finish twice: %v, want ErrConflict", err)
	}
	if err := b.JournalFinish(ctx, -999, OutcomeOK, "", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("finish an unknown provisional entry: %v, want ErrNotFound", err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"E1": "u1b", "E2": "u2", "E4": "u1"}
	got := ledgerKeys(t, db, "ea", "user")
	for k, v := range want {
		if got[k] != v {
			t.Errorf("ledger %v, want %v", got, want)
			break
		}
	}
}

func TestBatchCommitsWhenFull(t *testing.T) { forEachBackend(t, testBatchCommitsWhenFull) }

func testBatchCommitsWhenFull(t *testing.T, bk testBackend) {
	ctx := context.Background()
	db, _ := bk.openTest(t)
	b := db.NewBatch(3, time.Hour)
	for i, k := range []string{"E1", "E2", "E3"} {
		if err := b.Own(ctx, "ea", "user", k, "u"+k, HowAdopted); err != nil {
			t.Fatal(err)
		}
		if n := len(ledgerKeys(t, db, "ea", "user")); i < 2 && n != 0 || i == 2 && n != 3 {
			t.Errorf("after %d writes the ledger holds %d, want 0 until the third", i+1, n)
		}
	}
}

// An entry committed by a full buffer before it was finished is finished under its first id.
func TestBatchFinishAfterTheEntryWasCommitted(t *testing.T) {
	forEachBackend(t, testBatchFinishAfterTheEntryWasCommitted)
}

func testBatchFinishAfterTheEntryWasCommitted(t *testing.T, bk testBackend) {
	ctx := context.Background()
	db, _ := bk.openTest(t)
	b := db.NewBatch(2, time.Hour)
	id, err := b.JournalBegin(ctx, Entry{Target: "ea", OpID: "adopt-E1", Kind: "user", Key: "E1", Action: "adopt"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Own(ctx, "ea", "user", "E1", "u1", HowAdopted); err != nil { // fills the buffer
		t.Fatal(err)
	}
	if pending, _ := db.JournalPending(ctx, "ea"); len(pending) != 1 {
		t.Fatalf("pending %+v, want the committed, unfinished adoption", pending)
	}
	if err := b.JournalFinish(ctx, id, OutcomeOK, "", ""); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if pending, _ := db.JournalPending(ctx, "ea"); len(pending) != 0 {
		t.Errorf("pending %+v, want the adoption finished", pending)
	}
}
