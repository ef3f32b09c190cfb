package flex_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/flex"
	"github.com/rostersync/rostersync/reconcile/flex/flexsim"
	"github.com/rostersync/rostersync/reconcile/internal/memtarget"
)

var now = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// env is a simulator over HTTP and a client of it.
type env struct {
	sim    *flexsim.Sim
	url    string
	client *flex.Client
	mu     sync.Mutex
	waits  []time.Duration // the client's sleeps, under mu
	led    *memtarget.Ledger
}

// open starts a simulator holding seed (no rate limit unless a test sets
// one) and a client of it, with cfg adjusted by tweak.
func open(t *testing.T, seed flexsim.Seed, tweak func(*flex.Config), simTweak ...func(*flexsim.Config)) *env {
	t.Helper()
	sc := flexsim.DefaultConfig()
	sc.Seed = seed
	sc.UsersPerSecond = -1
	for _, f := range simTweak {
		f(&sc)
	}
	sim, err := flexsim.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	e := &env{sim: sim, url: srv.URL, led: memtarget.NewLedger()}
	cfg := flex.Config{
		FlexURL: srv.URL, TaskRouterURL: srv.URL, AccountSID: flexsim.DemoAccountSID,
		Username: flexsim.DemoKeySID, Secret: flexsim.DemoSecret, RatePerSecond: -1,
		Sleep: func(_ context.Context, d time.Duration) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.waits = append(e.waits, d)
			return nil
		},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	c, err := flex.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.client = c
	return e
}

// plan shapes desired for Flex and diffs it against what the client lists.
func (e *env) plan(t *testing.T, desired *reconcile.Snapshot) *reconcile.Plan {
	t.Helper()
	cur, err := e.client.List(context.Background())
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	pol := reconcile.Policy{Adopt: true, Target: e.client.Capabilities()}
	shaped := e.client.ShapeDesired(desired)
	p := reconcile.Diff(shaped, cur, e.led.Owned, pol, now)
	p.Target = "flex"
	p.Notes = append(p.Notes, e.client.Audit(shaped, cur, p)...)
	return p
}

// apply applies p, failing on any failed op.
func (e *env) apply(t *testing.T, p *reconcile.Plan) {
	t.Helper()
	res := reconcile.Apply(context.Background(), p, e.client, reconcile.ApplyOptions{Ledger: e.led})
	if err := res.Err(); err != nil {
		t.Fatalf("apply: %v", err)
	}
}
