package state

import (
	"context"
	"errors"
	"testing"
)

func TestPlans(t *testing.T) {
	ctx := context.Background()
	db, dir := openTest(t)
	if _, err := db.LastPlan(ctx, "evaluagent"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LastPlan on an empty database = %v, want ErrNotFound", err)
	}
	run, err := db.RunStart(ctx, RunPass)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SavePlan(ctx, "evaluagent", run, []byte(`{"create":2}`), []byte(`{"ops":[1,2]}`)); err != nil {
		t.Fatal(err)
	}
	if err := db.SavePlan(ctx, "evaluagent", 0, nil, []byte(`{"ops":[3]}`)); err != nil {
		t.Fatal(err)
	}
	if err := db.SavePlan(ctx, "agentiq", run, nil, []byte(`{"ops":[]}`)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = openAt(t, dir)
	p, err := db.LastPlan(ctx, "evaluagent")
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Plan) != `{"ops":[3]}` || p.RunID != 0 || p.Summary != nil || p.SavedAt.IsZero() {
		t.Errorf("LastPlan = %+v, want the second plan, with no run", p)
	}
	if p, err := db.LastPlan(ctx, "agentiq"); err != nil || p.RunID != run {
		t.Errorf("LastPlan(agentiq) = %+v, %v", p, err)
	}

	for _, bad := range []struct {
		target        string
		summary, plan string
	}{
		{"", "", "{}"},
		{"evaluagent", "", "{"},
		{"evaluagent", "{", "{}"},
	} {
		var sum []byte
		if bad.summary != "" {
			sum = []byte(bad.summary)
		}
		if err := db.SavePlan(ctx, bad.target, 0, sum, []byte(bad.plan)); err == nil {
			t.Errorf("SavePlan(%q, %q, %q) succeeded", bad.target, bad.summary, bad.plan)
		}
	}
	if err := db.SavePlan(ctx, "evaluagent", 999, nil, []byte(`{}`)); err == nil {
		t.Error("SavePlan with a run that does not exist succeeded")
	}
}
