package state

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rostersync/rostersync/state/pgtest"
)

// TestLeasePostgresRow exercises the lease row over real PostgreSQL: one
// holder at a time, renewals that keep it, a release that frees it at
// once, and a holder whose row was taken over losing its lease.
func TestLeasePostgresRow(t *testing.T) {
	srv := pgtest.Start(t)
	url := srv.Database(t)
	ctx := context.Background()
	connect := func(ctx context.Context) (*pgx.Conn, error) { return pgx.Connect(ctx, url) }
	const ttl = 3 * time.Second

	a, err := acquirePG(ctx, connect, "host-a", ttl, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if a.Epoch() != 1 {
		t.Fatalf("epoch %d, want 1", a.Epoch())
	}
	_, err = acquirePG(ctx, connect, "host-b", ttl, time.Now)
	var held *LeaseHeldError
	if !errors.As(err, &held) || held.Holder != "host-a" || held.Epoch != 1 {
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
	if _, err := acquirePG(ctx, connect, "host-b", ttl, time.Now); !errors.As(err, &held) {
		t.Fatalf("after renewals: %v, want held", err)
	}
	// Release frees it at once for the next, with a new epoch.
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := acquirePG(ctx, connect, "host-b", ttl, time.Now)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	if b.Epoch() != 2 {
		t.Fatalf("epoch %d, want 2", b.Epoch())
	}
	// The row expires under b (as if b were partitioned) and c takes over:
	// b's next renewal finds it gone and b loses the lease.
	c0, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c0.Close(ctx)
	if _, err := c0.Exec(ctx, `UPDATE lease SET expires_at = clock_timestamp() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	c, err := acquirePG(ctx, connect, "host-c", ttl, time.Now)
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
	case <-time.After(2 * ttl):
		t.Fatal("b still trusts a lease taken over by c")
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	var holder string
	if err := c0.QueryRow(ctx, `SELECT holder FROM lease`).Scan(&holder); err != nil || holder != "host-c" {
		t.Fatalf("b's release touched c's lease: holder %q %v", holder, err)
	}
}
