package state

import (
	"context"
	"testing"
)

func TestHeldWithdraw(t *testing.T) { forEachBackend(t, testHeldWithdraw) }

func testHeldWithdraw(t *testing.T, bk testBackend) {
	ctx := context.Background()
	d, _ := bk.openTest(t)
	var ids []int64
	for _, key := range []string{"E1", "E2", "E3", "E4"} {
		id, err := d.Hold(ctx, HeldOp{Target: "ea", OpID: "deactivate user " + key, Kind: "user", Key: key, Action: "deactivate"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := d.HeldApprove(ctx, ids[1], ids[3]); err != nil {
		t.Fatal(err)
	}
	if err := d.HeldReject(ctx, ids[2]); err != nil {
		t.Fatal(err)
	}
	if err := d.HeldDone(ctx, ids[3]); err != nil {
		t.Fatal(err)
	}
	if err := d.HeldWithdraw(ctx, ids...); err != nil {
		t.Fatal(err)
	}
	left, err := d.HeldList(ctx, "ea", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].ID != ids[3] || left[0].Status != HeldDone {
		t.Errorf("after withdrawing, held = %+v, want only the done one", left)
	}
	// The operation may be held afresh.
	if _, err := d.Hold(ctx, HeldOp{Target: "ea", OpID: "deactivate user E1", Kind: "user", Key: "E1", Action: "deactivate"}); err != nil {
		t.Fatal(err)
	}
}
