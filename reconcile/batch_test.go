package reconcile_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/internal/memtarget"
)

// batcher is a Target whose writes go through ApplyBatch only; its
// per-object methods panic.
type batcher struct {
	reconcile.Target
	got     []reconcile.Op
	results []reconcile.BatchResult
}

func (b *batcher) ApplyBatch(_ context.Context, ops []reconcile.Op) []reconcile.BatchResult {
	b.got = ops
	return b.results
}

func TestApplyBatchResolvesTeamsAndRecordsOwnership(t *testing.T) {
	plan := &reconcile.Plan{
		TeamIDs: map[string]string{"north/a": "Team A"},
		Ops: []reconcile.Op{
			{Action: reconcile.ActionCreate, Kind: reconcile.KindUser, Key: "E1", User: &reconcile.User{Key: "E1", Team: "north/a"}},
			{Action: reconcile.ActionAdopt, Kind: reconcile.KindUser, Key: "E2", ID: "7", User: &reconcile.User{Key: "E2"}},
			{Action: reconcile.ActionCreate, Kind: reconcile.KindUser, Key: "E3", User: &reconcile.User{Key: "E3", Team: "missing"}},
			{Action: reconcile.ActionCreate, Kind: reconcile.KindUser, Key: "E4", User: &reconcile.User{Key: "E4"}},
			{Action: reconcile.ActionDeactivate, Kind: reconcile.KindUser, Key: "E5", ID: "9", Status: reconcile.StatusUnsupported},
		},
	}
	b := &batcher{results: []reconcile.BatchResult{{ID: "42"}, {ID: "7"}, {Err: errors.New("row 3: refused")}}}
	led := memtarget.NewLedger()
	res := reconcile.Apply(context.Background(), plan, b, reconcile.ApplyOptions{Ledger: led})
	if len(b.got) != 3 {
		t.Fatalf("the batcher got %d ops, want 3 (the unresolvable team and the unsupported op are not sent)", len(b.got))
	}
	if b.got[0].User.Team != "Team A" || plan.Ops[0].User.Team != "north/a" {
		t.Errorf("team sent %q (plan now %q), want the resolved id and the plan untouched", b.got[0].User.Team, plan.Ops[0].User.Team)
	}
	if led.Owned.Users["E1"] != "42" || led.Owned.Users["E2"] != "7" || len(led.Owned.Users) != 2 {
		t.Errorf("ledger %v, want E1→42 and E2→7 only", led.Owned.Users)
	}
	if res.Applied != 2 || len(res.Failed) != 2 {
		t.Fatalf("applied %d, failed %d; want 2 and 2", res.Applied, len(res.Failed))
	}
	if !errors.Is(res.Failed[0].Err, reconcile.ErrDependency) || res.Failed[0].Op.Key != "E3" {
		t.Errorf("first failure %v, want E3's missing team", res.Failed[0])
	}
	if res.Failed[1].Op.Key != "E4" || res.Failed[1].Err.Error() != "row 3: refused" {
		t.Errorf("second failure %v, want E4's row error", res.Failed[1])
	}
}
