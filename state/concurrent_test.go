package state

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentWriters has goroutines write through one handle and, like a
// daemon and a command-line approval sharing the file, through a second
// handle on the same database. No write may fail with a lock error or be
// lost.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	a, dir := openTest(t)
	b := openAt(t, dir)
	const workers, each = 8, 20

	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
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
}
