package state

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentWriters has goroutines write through one handle and, like a
// daemon and a command-line approval sharing the file, through a second
// handle on the same database. No write may fail with a lock error or be
// lost.
func TestConcurrentWriters(t *testing.T) { forEachBackend(t, testConcurrentWriters) }

func testConcurrentWriters(t *testing.T, bk testBackend) {
	ctx := context.Background()
	a, dir := bk.openTest(t)
	b := openAt(t, dir)
	const workers, each = 8, 20

	var wg sync.WaitGroup
	var taken atomic.Int64
	errs := make(chan error, 4*workers*each)
	for w := range workers {
		db := a
		if w%2 == 1 {
			db = b
		}
		wg.Go(func() {
			for i := range each {
				key := fmt.Sprintf("E%d-%d", w, i)
				id, err := db.JournalBegin(ctx, Entry{Target: "evaluagent", OpID: "create " + key, Kind: "user", Key: key, Action: "create"})
				if err != nil {
					errs <- err
					continue
				}
				if err := db.Own(ctx, "evaluagent", "user", key, "id-"+key, HowCreated); err != nil {
					errs <- err
				}
				if err := db.JournalFinish(ctx, id, OutcomeOK, "id-"+key, ""); err != nil {
					errs <- err
				}
				// Every worker holds the same operations: one hold each.
				if _, err := db.Hold(ctx, HeldOp{Target: "evaluagent", OpID: fmt.Sprint("deactivate ", i), Kind: "user",
					Key: fmt.Sprint(i), Action: "deactivate"}); err != nil {
					errs <- err
				}
				// All share one budget of 100 requests.
				if _, ok, err := db.BudgetTake(ctx, "/v1/users", "minute:2026-11-21T10:05", 1, 100); err != nil {
					errs <- err
				} else if ok {
					taken.Add(1)
				}
				if _, err := db.BudgetUse(ctx, "/v1/users", "day:2026-11-21", 1); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	ledger, err := a.Ledger(ctx, "evaluagent")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(ledger["user"]); got != workers*each {
		t.Errorf("ledger holds %d users, want %d", got, workers*each)
	}
	if pending, err := b.JournalPending(ctx, "evaluagent"); err != nil || len(pending) != 0 {
		t.Errorf("pending = %d entries, %v", len(pending), err)
	}
	if held, err := a.HeldList(ctx, "evaluagent", HeldPending); err != nil || len(held) != each {
		t.Errorf("held = %d operations, %v; want %d", len(held), err, each)
	}
	if used, err := b.BudgetUsed(ctx, "/v1/users", "minute:2026-11-21T10:05"); used != 100 || taken.Load() != 100 || err != nil {
		t.Errorf("minute budget used %d, taken %d times (%v); want 100 and 100", used, taken.Load(), err)
	}
	if used, err := b.BudgetUsed(ctx, "/v1/users", "day:2026-11-21"); used != workers*each || err != nil {
		t.Errorf("day budget used %d (%v); want %d", used, err, workers*each)
	}
}
