package reconcile_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rostersync/rostersync/reconcile"
)

func intp(n int) *int { return &n }

// guardPlan is a plan with every kind of removal and some harmless ops.
func guardPlan() *reconcile.Plan {
	ops := []reconcile.Op{
		{Action: reconcile.ActionCreate, Kind: reconcile.KindUser, Key: "N1", Name: "new", Reason: "new in source"},
		{Action: reconcile.ActionUpdate, Kind: reconcile.KindUser, Key: "E1", ID: "u1", Name: "ada", Reason: "changed", Fields: []reconcile.Field{reconcile.FieldSurname}},
		{Action: reconcile.ActionUpdate, Kind: reconcile.KindQueue, Key: "Inbound", ID: "q1", Name: "Inbound", Add: []string{"N1"}, Remove: []string{"E1"}, Reason: "queue rules"},
		{Action: reconcile.ActionDeactivate, Kind: reconcile.KindUser, Key: "E2", ID: "u2", Name: "bob", Reason: "no longer in source"},
		{Action: reconcile.ActionDeactivate, Kind: reconcile.KindUser, Key: "E3", ID: "u3", Name: "cy", Reason: "inactive in source"},
		{Action: reconcile.ActionDeactivate, Kind: reconcile.KindTeam, Key: "t9", ID: "g9", Name: "old team", Reason: "no longer in source"},
	}
	return &reconcile.Plan{Ops: ops, Summary: reconcile.Summarize(ops, 0)}
}

func desiredForGuard() *reconcile.Snapshot {
	return &reconcile.Snapshot{Users: []reconcile.User{{Key: "N1"}, {Key: "E1"}, {Key: "E3", Active: false}}}
}

func readyRemovals(p *reconcile.Plan) int {
	n := 0
	for i := range p.Ops {
		if p.Ops[i].Ready() && reconcile.Removes(&p.Ops[i]) {
			n++
		}
	}
	return n
}

func TestGuardUnhealthySourcesRemoveNothing(t *testing.T) {
	lim := reconcile.Limits{MaxDrop: 0.2, AbsentPasses: 1, HoldOver: -1, HoldPercent: -1}
	cases := map[string][]reconcile.SourceFacts{
		"incomplete":                 {{Name: "hr", Complete: false, Reason: "size limit", Count: 100}},
		"incomplete without reason":  {{Name: "hr", Count: 100}},
		"count dropped":              {{Name: "hr", Complete: true, Count: 79, LastHealthy: intp(100)}},
		"one of two sources dropped": {{Name: "a", Complete: true, Count: 10, LastHealthy: intp(10)}, {Name: "b", Complete: true, Count: 0, LastHealthy: intp(5)}},
		"one of two incomplete":      {{Name: "a", Complete: true, Count: 10}, {Name: "b", Reason: "partial page", Count: 3}},
	}
	for name, srcs := range cases {
		t.Run(name, func(t *testing.T) {
			in := guardPlan()
			before := *in
			before.Ops = append([]reconcile.Op(nil), in.Ops...)
			out := reconcile.Guard(in, reconcile.GuardInput{Limits: lim, Sources: srcs, Desired: desiredForGuard(),
				Absences: map[string]reconcile.Absence{"E2": {Passes: 5}}})
			if n := readyRemovals(out); n != 0 {
				t.Errorf("%d removals ready from an unhealthy pass:\n%s", n, render(out))
			}
			if out.Summary.Create != 1 || out.Summary.Update != 2 {
				t.Errorf("creates and updates must go on: %+v\n%s", out.Summary, render(out))
			}
			if len(out.Notes) == 0 {
				t.Error("the plan does not say why")
			}
			if d := cmp.Diff(before, *in); d != "" {
				t.Errorf("Guard changed its input (-before +after):\n%s", d)
			}
		})
	}
}

func TestGuardHealthyDropWithinLimit(t *testing.T) {
	lim := reconcile.Limits{MaxDrop: 0.2, AbsentPasses: 1, HoldOver: -1, HoldPercent: -1}
	srcs := []reconcile.SourceFacts{{Name: "hr", Complete: true, Count: 80, LastHealthy: intp(100)}}
	out := reconcile.Guard(guardPlan(), reconcile.GuardInput{Limits: lim, Sources: srcs, Desired: desiredForGuard()})
	if n := readyRemovals(out); n != 4 {
		t.Errorf("%d removals ready, want 4 (a 20%% drop is allowed):\n%s", n, render(out))
	}
}

// TestGuardPercentFloor: the percentage limit lets a few removals through
// in a small organisation and holds more than the floor.
func TestGuardPercentFloor(t *testing.T) {
	// guardPlan has 4 removals; 40 owned users make them 10%, over 5%.
	for _, tc := range []struct {
		floor, held int
	}{{floor: 0, held: 4}, {floor: 3, held: 4}, {floor: 4, held: 0}, {floor: 10, held: 0}} {
		lim := reconcile.Limits{MaxDrop: 1, AbsentPasses: 1, HoldOver: -1, HoldPercent: 5, HoldPercentFloor: tc.floor}
		out := reconcile.Guard(guardPlan(), reconcile.GuardInput{Limits: lim, Desired: desiredForGuard(), Population: 40})
		if out.Summary.Held != tc.held {
			t.Errorf("floor %d: %d held, want %d:\n%s", tc.floor, out.Summary.Held, tc.held, render(out))
		}
	}
	// Under the percentage, no floor matters: 4 of 1000 is 0.4%.
	lim := reconcile.Limits{MaxDrop: 1, AbsentPasses: 1, HoldOver: -1, HoldPercent: 5}
	if out := reconcile.Guard(guardPlan(), reconcile.GuardInput{Limits: lim, Desired: desiredForGuard(), Population: 1000}); out.Summary.Held != 0 {
		t.Errorf("4 of 1000 held:\n%s", render(out))
	}
}

func TestGuardThresholdHoldsOnlyRemovals(t *testing.T) {
	lim := reconcile.Limits{MaxDrop: 1, AbsentPasses: 1, HoldOver: 3, HoldPercent: -1}
	out := reconcile.Guard(guardPlan(), reconcile.GuardInput{Limits: lim, Desired: desiredForGuard()})
	if out.Summary.Held != 4 || out.Summary.Create != 1 || out.Summary.Update != 2 {
		t.Errorf("summary %+v, want 4 held, 1 create, 2 updates:\n%s", out.Summary, render(out))
	}
	// Approving one brings the rest under the limit, but what was held
	// stays held until a person decides.
	holds := map[string]reconcile.HoldState{}
	for i, o := range out.Ops {
		if o.Status == reconcile.StatusHeld {
			holds[reconcile.OpID(&o)] = reconcile.HoldState{ID: int64(i), Status: reconcile.HoldPending}
		}
	}
	first := reconcile.OpID(&out.Ops[3])
	holds[first] = reconcile.HoldState{ID: 3, Status: reconcile.HoldApproved}
	again := reconcile.Guard(guardPlan(), reconcile.GuardInput{Limits: lim, Desired: desiredForGuard(), Holds: holds})
	if again.Summary.Held != 3 || readyRemovals(again) != 1 {
		t.Errorf("after one approval: %+v\n%s", again.Summary, render(again))
	}
}

// TestGuardQueueRemovalHoldsArePerMember: approving one person's removal
// from a queue stands when others join the set being removed; the others
// are held on their own.
func TestGuardQueueRemovalHoldsArePerMember(t *testing.T) {
	rm := func(keys ...string) *reconcile.Plan {
		return &reconcile.Plan{Ops: []reconcile.Op{{Action: reconcile.ActionUpdate, Kind: reconcile.KindQueue, Key: "Inbound", ID: "q1",
			Name: "Inbound", Remove: keys, Changes: []reconcile.Change{{Field: "agents-", Old: strings.Join(keys, ", ")}},
			Why: reconcile.Reason{Code: reconcile.ReasonQueueRules}}}}
	}
	first := reconcile.Guard(rm("A", "B"), reconcile.GuardInput{Limits: reconcile.Limits{HoldOver: 0, HoldPercent: -1, AbsentPasses: 1, MaxDrop: 1}})
	keys := reconcile.HoldKeys(&first.Ops[0])
	if len(first.Ops) != 1 || first.Ops[0].Status != reconcile.StatusHeld || len(keys) != 2 {
		t.Fatalf("first pass: %+v, hold keys %v; want one held removal with a key per member", first.Ops, keys)
	}
	// A's removal is approved; C now leaves the queue too.
	holds := map[string]reconcile.HoldState{keys[0]: {ID: 1, Status: reconcile.HoldApproved}, keys[1]: {ID: 2, Status: reconcile.HoldPending}}
	second := reconcile.Guard(rm("A", "B", "C"), reconcile.GuardInput{Limits: reconcile.Limits{HoldOver: 0, HoldPercent: -1, AbsentPasses: 1, MaxDrop: 1}, Holds: holds})
	got := map[string]reconcile.Status{}
	for _, o := range second.Ops {
		for _, k := range o.Remove {
			got[k] = o.Status
		}
	}
	want := map[string]reconcile.Status{"A": reconcile.StatusReady, "B": reconcile.StatusHeld, "C": reconcile.StatusHeld}
	if !maps.Equal(got, want) {
		t.Errorf("second pass: removal statuses %v, want %v (A approved stands)", got, want)
	}
}

func TestHoldOpsMatchHoldKeys(t *testing.T) {
	o := reconcile.Op{Action: reconcile.ActionUpdate, Kind: reconcile.KindQueue, Key: "Q", Name: "Q", Remove: []string{"A", "B"},
		Changes: []reconcile.Change{{Field: "agents-", Old: "ada, bob"}}}
	keys, ops := reconcile.HoldKeys(&o), reconcile.HoldOps(&o)
	if len(keys) != 2 || len(ops) != 2 {
		t.Fatalf("keys %v, ops %d", keys, len(ops))
	}
	for i := range ops {
		if reconcile.OpID(&ops[i]) != keys[i] || ops[i].Changes[0].Old != []string{"ada", "bob"}[i] {
			t.Errorf("held op %d: id %q, changes %v; want %q naming one member", i, reconcile.OpID(&ops[i]), ops[i].Changes, keys[i])
		}
	}
}

func TestAbsentKeys(t *testing.T) {
	deactivate := func(kind reconcile.Kind, key string) reconcile.Op {
		return reconcile.Op{Action: reconcile.ActionDeactivate, Kind: kind, Key: key}
	}
	p := &reconcile.Plan{Ops: []reconcile.Op{
		deactivate(reconcile.KindUser, "E9"),
		deactivate(reconcile.KindUser, "E3"), // inactive in the source: not absent
		deactivate(reconcile.KindUser, "E2"),
		deactivate(reconcile.KindUser, "E9"), // twice: listed once
		deactivate(reconcile.KindTeam, "t9"), // a team is never absent
		{Action: reconcile.ActionUpdate, Kind: reconcile.KindUser, Key: "E4"},
	}}
	desired := &reconcile.Snapshot{Users: []reconcile.User{{Key: "E1"}, {Key: "E3"}, {Key: "E4"}}}
	if diff := cmp.Diff([]string{"E2", "E9"}, reconcile.AbsentKeys(p, desired)); diff != "" {
		t.Errorf("AbsentKeys (-want +got):\n%s", diff)
	}
	desired.Users = append(desired.Users, reconcile.User{Key: "E2"}, reconcile.User{Key: "E9"})
	if got := reconcile.AbsentKeys(p, desired); len(got) != 0 {
		t.Errorf("every deactivated user is in the sources, yet AbsentKeys = %q", got)
	}
	if got := reconcile.AbsentKeys(&reconcile.Plan{}, desired); len(got) != 0 {
		t.Errorf("a plan without deactivations: AbsentKeys = %q", got)
	}
}
