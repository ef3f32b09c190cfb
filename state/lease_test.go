package state

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestLeaseSQLite: on SQLite the lease is the writer lock: a second holder
// is refused at once with the first named, the epoch grows with each
// holder, and journal writes under a released lease are refused.
func TestLeaseSQLite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	if st, err := a.LeaseInfo(ctx); err != nil || st.Held || st.Epoch != 0 || st.Backend != "sqlite" {
		t.Fatalf("before any lease: %+v %v", st, err)
	}
	la, err := a.AcquireLease(ctx, "rostersync serve on host-a", 0)
	if err != nil {
		t.Fatal(err)
	}
	if la.Epoch() != 1 {
		t.Fatalf("first epoch %d, want 1", la.Epoch())
	}
	_, err = b.AcquireLease(ctx, "rostersync apply on host-a", 0)
	var le *LockedError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "rostersync serve on host-a") {
		t.Fatalf("second holder: %v, want a *LockedError naming the first", err)
	}
	st, err := b.LeaseInfo(ctx)
	if err != nil || !st.Held || st.Holder != "rostersync serve on host-a" || st.Epoch != 1 {
		t.Fatalf("info while held: %+v %v", st, err)
	}

	a.UseLease(la)
	if _, err := a.JournalBegin(ctx, Entry{Target: "t", OpID: "op1", Kind: "user", Key: "k1", Action: "create"}); err != nil {
		t.Fatalf("journal under a held lease: %v", err)
	}
	if err := la.Release(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-la.Lost():
	default:
		t.Fatal("a released lease is not lost")
	}
	if _, err := a.JournalBegin(ctx, Entry{Target: "t", OpID: "op2", Kind: "user", Key: "k2", Action: "create"}); !errors.Is(err, ErrFenced) {
		t.Fatalf("journal under a released lease: %v, want ErrFenced", err)
	}
	batch := a.NewBatch(0, 0)
	if _, err := batch.JournalBegin(ctx, Entry{Target: "t", OpID: "op3", Kind: "user", Key: "k3", Action: "create"}, true); !errors.Is(err, ErrFenced) {
		t.Fatalf("batched journal under a released lease: %v, want ErrFenced", err)
	}

	lb, err := b.AcquireLease(ctx, "rostersync apply on host-a", 0)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	defer lb.Release(ctx)
	if lb.Epoch() != 2 {
		t.Fatalf("second epoch %d, want 2", lb.Epoch())
	}
	es, err := b.JournalByOp(ctx, "t", "op2")
	if err != nil || len(es) != 0 {
		t.Fatalf("a fenced write was recorded: %v %v", es, err)
	}

	// Every entry records the epoch it was written under; 0 without a lease.
	b.UseLease(lb)
	bb := b.NewBatch(0, 0)
	if _, err := bb.JournalBegin(ctx, Entry{Target: "t", OpID: "op4", Kind: "user", Key: "k4", Action: "create"}, false); err != nil {
		t.Fatal(err)
	}
	if err := bb.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.JournalBegin(ctx, Entry{Target: "t", OpID: "op5", Kind: "user", Key: "k5", Action: "create"}); err != nil {
		t.Fatal(err)
	}
	for op, want := range map[string]int64{"op1": 1, "op4": 2, "op5": 0} {
		es, err := c.JournalByOp(ctx, "t", op)
		if err != nil || len(es) != 1 || es[0].Epoch != want {
			t.Errorf("%s: %+v %v, want one entry of epoch %d", op, es, err, want)
		}
	}
	if _, err := a.AcquireLease(ctx, "x", time.Second); err == nil || !strings.Contains(err.Error(), "shorter") {
		t.Fatalf("a 1s ttl: %v", err)
	}
}
