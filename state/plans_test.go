package state

import (
	"context"
	"testing"
	"time"
)

func TestPlans(t *testing.T) { forEachBackend(t, testPlans) }

func testPlans(t *testing.T, bk testBackend) {
	ctx := context.Background()
	db, dir := bk.openTest(t)
	if p, at, ok, err := db.LastPlan(ctx, "evaluagent"); p != nil || !at.IsZero() || ok || err != nil {
		t.Errorf("LastPlan before save = %q, %v, %v, %v", p, at, ok, err)
	}
	at1, at2 := t0, t0.Add(5*time.Minute)
	if err := db.SavePlan(ctx, "evaluagent", []byte(`{"ops":[1]}`), at1); err != nil {
		t.Fatal(err)
	}
	if err := db.SavePlan(ctx, "evaluagent", []byte(`{"ops":[2]}`), at2); err != nil {
		t.Fatal(err)
	}
	if err := db.SavePlan(ctx, "agentiq", []byte(`{"ops":[]}`), at1); err != nil {
		t.Fatal(err)
	}
	if err := db.SavePlan(ctx, "evaluagent", []byte(`{"ops":`), at2); err == nil {
		t.Error("invalid JSON accepted")
	}
	db.Close()
	db = openAt(t, dir)
	p, at, ok, err := db.LastPlan(ctx, "evaluagent")
	if string(p) != `{"ops":[2]}` || !at.Equal(at2) || !ok || err != nil {
		t.Errorf("LastPlan = %q, %v, %v, %v; want the second plan", p, at, ok, err)
	}
}
