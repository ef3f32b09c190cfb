package state

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/rostersync/rostersync/state/pgtest"
)

// expireLease makes the lease row expire now, as the database sees it: what
// a holder that stopped renewing (paused, partitioned) leaves behind.
func expireLease(t *testing.T, d *DB) {
	t.Helper()
	if _, err := d.raw.Exec(`UPDATE lease SET expires_at = clock_timestamp() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
}

// TestLeasePostgres exercises the lease row over real PostgreSQL, from two
// handles as two hosts have: one holder at a time, renewals that keep it, a
// release that frees it at once, and a holder whose row was taken over
// losing its lease.
func TestLeasePostgres(t *testing.T) {
	loc := pgtest.Shared(t).Database(t)
	ctx := context.Background()
	hostA, hostB := openAt(t, loc), openAt(t, loc)
	const ttl = 6 * time.Second // room for a loaded machine: renewals every 2s, trusted 4.8s

	if st, err := hostB.LeaseInfo(ctx); err != nil || st.Held || st.Backend != BackendPostgres {
		t.Fatalf("before any lease: %+v %v", st, err)
	}
	a, err := hostA.AcquireLease(ctx, "host-a", ttl)
	if err != nil {
		t.Fatal(err)
	}
	if a.Epoch() != 1 {
		t.Fatalf("epoch %d, want 1", a.Epoch())
	}
	_, err = hostB.AcquireLease(ctx, "host-b", ttl)
	var held *LeaseHeldError
	if !errors.As(err, &held) || held.Holder != "host-a" || held.Epoch != 1 || held.Acquired.IsZero() || !held.Expires.After(held.Acquired) {
		t.Fatalf("second holder: %v, want a *LeaseHeldError naming host-a", err)
	}
	// Renewals keep it past its ttl.
	first := a.Deadline()
	time.Sleep(ttl + ttl/2)
	select {
	case <-a.Lost():
		t.Fatalf("lost while renewing: %v", a.Err())
	default:
	}
	if !a.Deadline().After(first) {
		t.Fatalf("deadline %v not moved on from %v", a.Deadline(), first)
	}
	if st, err := hostB.LeaseInfo(ctx); err != nil || !st.Held || st.Holder != "host-a" || st.Epoch != 1 {
		t.Fatalf("info while held: %+v %v", st, err)
	}
	// Release frees it at once for the next, with a new epoch.
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := hostB.AcquireLease(ctx, "host-b", ttl)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	if b.Epoch() != 2 {
		t.Fatalf("epoch %d, want 2", b.Epoch())
	}
	// The row expires under b and a takes over: b's next renewal finds it
	// gone and b loses the lease.
	expireLease(t, hostA)
	c, err := hostA.AcquireLease(ctx, "host-a", ttl)
	if err != nil {
		t.Fatalf("takeover of an expired lease: %v", err)
	}
	defer c.Release(ctx)
	if c.Epoch() != 3 {
		t.Fatalf("epoch %d, want 3", c.Epoch())
	}
	select {
	case <-b.Lost():
		t.Logf("b lost its lease: %v", b.Err())
	case <-time.After(4 * ttl):
		t.Fatal("b still trusts a lease taken over by another")
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := hostB.LeaseInfo(ctx); err != nil || st.Holder != "host-a" || st.Epoch != 3 || !st.Held {
		t.Fatalf("b's release touched the new holder's lease: %+v %v", st, err)
	}
}

// TestLeaseFencesJournalPostgres: lease A is taken and A records a write;
// A's lease lapses and B takes over; A's journal writes (begin, finish, a
// batch's commit) are refused with ErrFenced and nothing of them is
// recorded, while B resolves A's pending entry.
func TestLeaseFencesJournalPostgres(t *testing.T) {
	loc := pgtest.Shared(t).Database(t)
	ctx := context.Background()
	hostA, hostB := openAt(t, loc), openAt(t, loc)
	const ttl = 6 * time.Second // room for a loaded machine: renewals every 2s, trusted 4.8s

	a, err := hostA.AcquireLease(ctx, "host-a", ttl)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release(ctx)
	hostA.UseLease(a)
	entry := func(op string) Entry {
		return Entry{Target: "evaluagent", OpID: op, Kind: "user", Key: op, Action: "create"}
	}
	inFlight, err := hostA.JournalBegin(ctx, entry("op1"))
	if err != nil {
		t.Fatalf("journal under the lease: %v", err)
	}
	batchA := hostA.NewBatch(0, 24*time.Hour) // the fake clock runs fast
	if err := batchA.Own(ctx, "evaluagent", "user", "op0", "id0", HowCreated); err != nil {
		t.Fatal(err) // buffered: committed with the next durable entry
	}

	expireLease(t, hostB)
	b, err := hostB.AcquireLease(ctx, "host-b", ttl)
	if err != nil {
		t.Fatalf("takeover: %v", err)
	}
	defer b.Release(ctx)
	hostB.UseLease(b)
	if b.Epoch() != a.Epoch()+1 {
		t.Fatalf("epochs %d then %d", a.Epoch(), b.Epoch())
	}

	if _, err := hostA.JournalBegin(ctx, entry("op2")); !errors.Is(err, ErrFenced) {
		t.Fatalf("A's begin after the takeover: %v, want ErrFenced", err)
	}
	if err := hostA.JournalFinish(ctx, inFlight, OutcomeOK, "id1", ""); !errors.Is(err, ErrFenced) {
		t.Fatalf("A's finish after the takeover: %v, want ErrFenced", err)
	}
	if _, err := batchA.JournalBegin(ctx, entry("op3"), true); !errors.Is(err, ErrFenced) {
		t.Fatalf("A's batched begin after the takeover: %v, want ErrFenced", err)
	}

	for _, op := range []string{"op2", "op3"} {
		if es, err := hostB.JournalByOp(ctx, "evaluagent", op); err != nil || len(es) != 0 {
			t.Fatalf("%s was recorded under a stale lease: %+v %v", op, es, err)
		}
	}
	if led, err := hostB.Ledger(ctx, "evaluagent"); err != nil || len(led["user"]) != 0 {
		t.Fatalf("A's buffered ownership was committed under a stale lease: %v %v", led, err)
	}
	// A's write in flight is pending for B to resolve, once.
	pending, err := hostB.JournalPending(ctx, "evaluagent")
	if err != nil || len(pending) != 1 || pending[0].OpID != "op1" {
		t.Fatalf("pending for the new leader: %+v %v", pending, err)
	}
	if err := hostB.JournalFinish(ctx, inFlight, OutcomeOK, "id1", "recovered"); err != nil {
		t.Fatalf("B resolves A's entry: %v", err)
	}
	if es, err := hostB.JournalByOp(ctx, "evaluagent", "op1"); err != nil || len(es) != 1 || es[0].Outcome != OutcomeOK {
		t.Fatalf("op1 recorded as %+v %v, want once, ok", es, err)
	}
}

// TestLeasePartitionedHolderStopsFirst: a holder cut off from the database
// (every packet dropped, nothing closed) stops trusting its lease before
// the row expires for anyone else, and its journal writes are refused from
// then on.
func TestLeasePartitionedHolderStopsFirst(t *testing.T) {
	srv := pgtest.Shared(t)
	loc := srv.Database(t)
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	proxy := pgtest.NewProxy(t, u.Host)
	ctx := context.Background()
	cut, other := openAt(t, proxy.Via(t, loc)), openAt(t, loc)
	const ttl = 6 * time.Second // room for a loaded machine: renewals every 2s, trusted 4.8s

	l, err := cut.AcquireLease(ctx, "host-a", ttl)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	cut.UseLease(l)
	time.Sleep(ttl / 2) // a renewal or so
	proxy.Cut()
	select {
	case <-l.Lost():
	case <-time.After(4 * ttl):
		t.Fatal("a partitioned holder still trusts its lease")
	}
	lostAt := time.Now()
	t.Logf("lost: %v", l.Err())
	st, err := other.LeaseInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !lostAt.Before(st.Expires) {
		t.Errorf("the holder stopped at %s, after its row expired at %s", lostAt, st.Expires)
	}
	if _, err := cut.JournalBegin(ctx, Entry{Target: "t", OpID: "op", Kind: "user", Key: "k", Action: "create"}); !errors.Is(err, ErrFenced) {
		t.Errorf("journal after the loss: %v, want ErrFenced at once", err)
	}
	// The row expires by the database's clock, and then another takes it.
	var next *Lease
	deadline := time.Now().Add(4 * ttl)
	for next == nil && time.Now().Before(deadline) {
		if next, err = other.AcquireLease(ctx, "host-b", ttl); err != nil {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if next == nil {
		t.Fatalf("nobody could take the lease after it expired: %v", err)
	}
	defer next.Release(ctx)
	if next.Epoch() != l.Epoch()+1 {
		t.Errorf("epoch %d after %d", next.Epoch(), l.Epoch())
	}
}
