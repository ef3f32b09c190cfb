package state

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var ignoreHeldTimes = cmpopts.IgnoreFields(HeldOp{}, "CreatedAt", "UpdatedAt")

func heldIDs(t *testing.T, db *DB, target, status string) []int64 {
	t.Helper()
	hs, err := db.HeldList(context.Background(), target, status)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, h := range hs {
		ids = append(ids, h.ID)
	}
	return ids
}

func TestHeld(t *testing.T) { forEachBackend(t, testHeld) }

func testHeld(t *testing.T, bk testBackend) {
	ctx := context.Background()
	db, dir := bk.openTest(t)
	op := func(key string) HeldOp {
		return HeldOp{Target: "evaluagent", OpID: "deactivate " + key, Kind: "user", Key: key, Action: "deactivate",
			Reason: "absent from source for 3 passes", Payload: []byte(`{"key":"` + key + `"}`)}
	}

	a, err := db.Hold(ctx, op("E1"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := db.Hold(ctx, op("E2"))
	c, _ := db.Hold(ctx, op("E3"))
	other, _ := db.Hold(ctx, HeldOp{Target: "agentiq", OpID: "x", Kind: "user", Key: "E1", Action: "deactivate"})

	// Holding the same operation again is idempotent while pending, and
	// refreshes its reason.
	again := op("E1")
	again.Reason = "absent from source for 4 passes"
	if id, err := db.Hold(ctx, again); err != nil || id != a {
		t.Errorf("Hold again = %d, %v; want %d", id, err, a)
	}
	got, err := db.HeldList(ctx, "evaluagent", HeldPending)
	if err != nil {
		t.Fatal(err)
	}
	want := []HeldOp{op("E1"), op("E2"), op("E3")}
	want[0].Reason = again.Reason
	for i, id := range []int64{a, b, c} {
		want[i].ID, want[i].Status = id, HeldPending
	}
	if diff := cmp.Diff(want, got, ignoreHeldTimes); diff != "" {
		t.Errorf("HeldList pending (-want +got):\n%s", diff)
	}
	if got[0].UpdatedAt.Before(got[0].CreatedAt) || got[0].UpdatedAt.Equal(got[0].CreatedAt) {
		t.Errorf("refreshed hold times: created %v updated %v", got[0].CreatedAt, got[0].UpdatedAt)
	}

	if err := db.HeldApprove(ctx, a, b); err != nil {
		t.Fatal(err)
	}
	if err := db.HeldApprove(ctx, a); err != nil {
		t.Errorf("approving twice: %v", err)
	}
	// Still idempotent once approved; the approved payload is not replaced.
	if id, err := db.Hold(ctx, again); err != nil || id != a {
		t.Errorf("Hold of approved = %d, %v; want %d", id, err, a)
	}
	if diff := cmp.Diff([]int64{a, b}, heldIDs(t, db, "evaluagent", HeldApproved)); diff != "" {
		t.Errorf("approved ids (-want +got):\n%s", diff)
	}

	// Unknown ids are named, and nothing changes.
	err = db.HeldApprove(ctx, c, 404, 405)
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("approve unknown: %v, want ErrNotFound", err)
	}
	if err == nil || err.Error() != "state: approve held 3, 404, 405: no held operation 404, 405: not found" {
		t.Errorf("error text = %q", err)
	}
	if diff := cmp.Diff([]int64{c}, heldIDs(t, db, "evaluagent", HeldPending)); diff != "" {
		t.Errorf("a failed approval changed something (-want +got):\n%s", diff)
	}

	if err := db.HeldReject(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := db.HeldApprove(ctx, b); !errors.Is(err, ErrConflict) {
		t.Errorf("approving a rejected hold: %v, want ErrConflict", err)
	}
	if err := db.HeldDone(ctx, c); !errors.Is(err, ErrConflict) {
		t.Errorf("finishing a pending hold: %v, want ErrConflict", err)
	}
	if err := db.HeldDone(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := db.HeldDone(ctx, a); err != nil {
		t.Errorf("finishing twice: %v", err)
	}
	if err := db.HeldReject(ctx, a); !errors.Is(err, ErrConflict) {
		t.Errorf("rejecting a done hold: %v, want ErrConflict", err)
	}
	if err := db.HeldReject(ctx); err == nil {
		t.Error("reject with no ids succeeded")
	}
	// Once done, the same operation can be held afresh.
	if id, err := db.Hold(ctx, op("E1")); err != nil || id == a {
		t.Errorf("Hold after done = %d, %v; want a new id", id, err)
	}

	n, err := db.HeldApproveAll(ctx, "evaluagent")
	if err != nil || n != 2 {
		t.Errorf("HeldApproveAll = %d, %v; want 2", n, err)
	}
	approved, err := db.HeldApproved(ctx, "evaluagent")
	if err != nil {
		t.Fatal(err)
	}
	if len(approved) != 2 || approved[0].ID != c {
		t.Errorf("HeldApproved = %+v", approved)
	}
	if ids := heldIDs(t, db, "agentiq", HeldPending); len(ids) != 1 || ids[0] != other {
		t.Errorf("other target touched: %v", ids)
	}
	if _, err := db.HeldList(ctx, "", "lost"); err == nil {
		t.Error("unknown status accepted")
	}
	if _, err := db.Hold(ctx, HeldOp{Target: "evaluagent", Kind: "user", Key: "E9", Action: "deactivate"}); err == nil {
		t.Error("hold without op id accepted")
	}

	db.Close()
	db = openAt(t, dir)
	all, err := db.HeldList(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, h := range all {
		statuses = append(statuses, h.Target+"/"+h.Key+":"+h.Status)
	}
	wantStatuses := []string{
		"evaluagent/E1:done", "evaluagent/E2:rejected", "evaluagent/E3:approved",
		"agentiq/E1:pending", "evaluagent/E1:approved",
	}
	if diff := cmp.Diff(wantStatuses, statuses); diff != "" {
		t.Errorf("after reopen (-want +got):\n%s", diff)
	}
}
