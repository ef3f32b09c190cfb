package main

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/sources"
	"github.com/rostersync/rostersync/state"
)

// passFacts is what a plan was guarded with, kept so that an apply of that
// plan can record it: source counts, absences and new holds are written
// only by a pass that applies, never by a dry run.
type passFacts struct {
	sources *sourcePass
	ok      bool // every source healthy and the desired state complete
	absent  []string
	holds   map[string]state.HeldOp
	rec     *recovery
	// plan, when set, is the pass's own plan, recorded in place of the
	// plan applied (a saved plan file applied as this pass).
	plan *reconcile.Plan
}

// sourcePass is what is known of this pass's reads: each source's facts
// and whether its read is healthy. Shared by the plans of every target.
type sourcePass struct {
	facts    []reconcile.SourceFacts
	healthy  []bool
	recorded bool
}

// sourceFacts gathers each source's health: its own verdict, its count now
// and at its last healthy read (last, from lastHealthy).
func (a *app) sourceFacts(snaps []*sources.Snapshot, last map[string]int) *sourcePass {
	sp := &sourcePass{}
	lim := a.limits()
	for _, snap := range snaps {
		f := reconcile.SourceFacts{Name: snap.Source, Complete: snap.Health.Complete, Reason: snap.Health.Reason, Count: snap.Health.Count}
		if n, ok := last[snap.Source]; ok {
			f.LastHealthy = &n
		}
		problems := reconcile.SourceProblems([]reconcile.SourceFacts{f}, lim.MaxDrop)
		for _, p := range problems {
			a.log.Warn("source not healthy: no deactivations or removals this pass", "problem", p)
		}
		sp.facts = append(sp.facts, f)
		sp.healthy = append(sp.healthy, len(problems) == 0)
	}
	return sp
}

func (a *app) limits() reconcile.Limits {
	s := a.env.Safety
	return reconcile.Limits{
		MaxDrop: s.MaxDrop, AbsentPasses: s.AbsentPasses, AbsentFor: s.AbsentFor,
		HoldOver: s.HoldDeactivationsOver, HoldPercent: s.HoldDeactivationsPercent,
		HoldPercentFloor: s.HoldDeactivationsPercentFloor,
	}
}

// guard gathers the facts the guard needs from the state store and applies
// it. It writes nothing: the absences it uses are what this pass would
// record if it is applied.
func (a *app) guard(ctx context.Context, t *target, plan *reconcile.Plan, desired, current *reconcile.Snapshot,
	own reconcile.Ownership, sp *sourcePass, rec *recovery) (*reconcile.Plan, *passFacts, error) {
	target := t.name
	now := a.c.now().UTC()
	lim := a.limits()
	pf := &passFacts{sources: sp, ok: len(desired.Incomplete) == 0, rec: rec}
	for _, h := range sp.healthy {
		pf.ok = pf.ok && h
	}

	recorded, err := a.db.Absences(ctx, target)
	if err != nil {
		return nil, nil, err
	}
	pf.absent = reconcile.AbsentKeys(plan, desired)
	absences := map[string]reconcile.Absence{}
	for _, k := range pf.absent {
		r, seen := recorded[k]
		ab := reconcile.Absence{Passes: r.Consecutive, Since: r.First}
		if !seen {
			ab = reconcile.Absence{Passes: 0, Since: now}
		}
		if pf.ok && (!seen || now.After(r.Last)) {
			ab.Passes++ // this pass, once recorded
		}
		absences[k] = ab
	}

	held, err := a.db.HeldList(ctx, target, "")
	if err != nil {
		return nil, nil, err
	}
	pf.holds = map[string]state.HeldOp{}
	holds := map[string]reconcile.HoldState{}
	for _, h := range held { // oldest first: the latest decision wins
		if h.Status == state.HeldDone {
			continue
		}
		pf.holds[h.OpID] = h
		holds[h.OpID] = reconcile.HoldState{ID: h.ID, Status: h.Status}
	}

	population := plan.Population // Diff counted it: no second index of every listed user
	guarded := reconcile.Guard(plan, reconcile.GuardInput{
		Limits: lim, Sources: sp.facts, Desired: desired, Absences: absences,
		Population: population, Holds: holds, Now: now, BatchRows: t.policy.Target.BatchRows,
	})
	for _, n := range guarded.Notes {
		a.log.Warn("plan note", "target", target, "note", n)
	}
	return guarded, pf, nil
}

// record writes what an applied pass learnt: each source's count and
// health, who is missing (and who is back), new holds, and holds whose
// operation is no longer planned. It does nothing for a plan this process
// did not guard (a saved plan file).
func (a *app) record(ctx context.Context, t *target, p *pass) error {
	pf, plan := p.facts, p.Plan
	if pf == nil {
		return nil
	}
	p.facts = nil // recorded once
	target := t.name
	now := a.c.now().UTC()
	if err := a.settle(ctx, t, pf.rec); err != nil {
		return err
	}
	if sp := pf.sources; !sp.recorded {
		sp.recorded = true
		for i, f := range sp.facts {
			if err := a.db.RecordSourceCount(ctx, f.Name, f.Count, sp.healthy[i], now); err != nil {
				return err
			}
		}
	}
	recorded, err := a.db.Absences(ctx, target)
	if err != nil {
		return err
	}
	var back []string
	for k := range recorded {
		if !slices.Contains(pf.absent, k) {
			back = append(back, k)
		}
	}
	slices.Sort(back)
	if err := a.db.ClearAbsent(ctx, target, back...); err != nil {
		return err
	}
	if pf.ok {
		for _, k := range pf.absent {
			n, first, err := a.db.MarkAbsent(ctx, target, k, now)
			if err != nil {
				return err
			}
			a.log.Info("person missing from the sources", "target", target, "key", k, "passes", n, "since", first)
		}
	}

	if pf.plan != nil {
		plan = pf.plan
	}
	planned := map[string]bool{}
	for i := range plan.Ops {
		for _, held := range reconcile.HoldOps(&plan.Ops[i]) {
			op := &held
			id := reconcile.OpID(op)
			planned[id] = true
			if op.Status != reconcile.StatusHeld {
				continue
			}
			if h, ok := pf.holds[id]; ok && h.Status == state.HeldPending {
				continue
			}
			payload, err := json.Marshal(op)
			if err != nil {
				return err
			}
			hid, err := a.db.Hold(ctx, state.HeldOp{Target: target, OpID: id, Kind: string(op.Kind), Key: op.Key,
				Action: op.Action.String(), Reason: op.ReasonWords(), Payload: payload})
			if err != nil {
				return err
			}
			a.log.Warn("operation held for approval", "id", hid, "op", id, "name", op.Name)
		}
	}
	var stale []int64
	for id, h := range pf.holds {
		if !planned[id] {
			stale = append(stale, h.ID)
			a.log.Info("held operation withdrawn: no longer planned", "id", h.ID, "op", id, "was", h.Status)
		}
	}
	slices.Sort(stale)
	return a.db.HeldWithdraw(ctx, stale...)
}

// heldDone marks approved holds whose operation was just applied as done.
func (a *app) heldDone(ctx context.Context, t *target, applied []string) error {
	if len(applied) == 0 {
		return nil
	}
	approved, err := a.db.HeldApproved(ctx, t.name)
	if err != nil {
		return err
	}
	for _, h := range approved {
		if slices.Contains(applied, h.OpID) {
			if err := a.db.HeldDone(ctx, h.ID); err != nil {
				return err
			}
			a.log.Info("approved operation applied", "id", h.ID, "op", h.OpID)
		}
	}
	return nil
}
