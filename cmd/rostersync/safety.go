package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/sources"
	"github.com/rostersync/rostersync/state"
)

// passFacts is what a plan was guarded with, kept so that an apply of that
// plan can record it: source counts, absences and new holds are written
// only by a pass that applies, never by a dry run.
type passFacts struct {
	plan    *reconcile.Plan
	facts   []reconcile.SourceFacts
	healthy []bool // per source
	ok      bool   // every source healthy and the desired state complete
	absent  []string
	holds   map[string]state.HeldOp
	rec     *recovery
}

// read fetches every source and maps the records, returning the desired
// state and what is known of each source's health.
func (a *app) read(ctx context.Context) (*reconcile.Snapshot, []reconcile.SourceFacts, error) {
	var snaps []*sources.Snapshot
	var facts []reconcile.SourceFacts
	for _, s := range a.sources {
		snap, err := s.Fetch(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("source %s: %w", s.Name(), err)
		}
		if !snap.Health.Complete {
			a.log.Warn("source incomplete: no deactivations this pass", "source", s.Name(), "reason", snap.Health.Reason)
		}
		a.log.Info("source read", "source", s.Name(), "records", snap.Health.Count, "complete", snap.Health.Complete)
		f := reconcile.SourceFacts{Name: s.Name(), Complete: snap.Health.Complete, Reason: snap.Health.Reason, Count: snap.Health.Count}
		last, ok, err := a.db.LastHealthyCount(ctx, s.Name())
		if err != nil {
			return nil, nil, err
		}
		if ok {
			f.LastHealthy = &last
		}
		facts = append(facts, f)
		snaps = append(snaps, snap)
	}
	res := a.rules.Map(snaps)
	for _, p := range res.Problems {
		a.log.Warn("mapping problem", "problem", p.String())
	}
	return res.Desired, facts, nil
}

func (a *app) limits() reconcile.Limits {
	s := a.env.Safety
	return reconcile.Limits{
		MaxDrop: s.MaxDrop, AbsentPasses: s.AbsentPasses, AbsentFor: s.AbsentFor,
		HoldOver: s.HoldDeactivationsOver, HoldPercent: s.HoldDeactivationsPercent,
	}
}

// guard gathers the facts the guard needs from the state store and applies
// it. It writes nothing: the absences it uses are what this pass would
// record if it is applied.
func (a *app) guard(ctx context.Context, plan *reconcile.Plan, desired, current *reconcile.Snapshot,
	own reconcile.Ownership, facts []reconcile.SourceFacts) (*reconcile.Plan, error) {
	target := a.target.Name()
	now := a.c.now().UTC()
	lim := a.limits()
	pf := &passFacts{facts: facts, ok: len(desired.Incomplete) == 0}
	for _, f := range facts {
		h := len(reconcile.SourceProblems([]reconcile.SourceFacts{f}, lim.MaxDrop)) == 0
		pf.healthy = append(pf.healthy, h)
		pf.ok = pf.ok && h
	}

	recorded, err := a.db.Absences(ctx, target)
	if err != nil {
		return nil, err
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
		return nil, err
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

	population := 0
	owned := map[string]bool{}
	for _, id := range own.Users {
		owned[id] = true
	}
	for _, u := range current.Users {
		if u.Active && owned[u.ID] {
			population++
		}
	}

	guarded := reconcile.Guard(plan, reconcile.GuardInput{
		Limits: lim, Sources: facts, Desired: desired, Absences: absences,
		Population: population, Holds: holds, Now: now,
	})
	for _, n := range guarded.Notes {
		a.log.Warn("plan note", "note", n)
	}
	pf.plan = guarded
	a.pass = pf
	return guarded, nil
}

// record writes what an applied pass learnt: each source's count and
// health, who is missing (and who is back), new holds, and holds whose
// operation is no longer planned. It does nothing for a plan this process
// did not guard (a saved plan file).
func (a *app) record(ctx context.Context, plan *reconcile.Plan) error {
	pf := a.pass
	if pf == nil || pf.plan != plan {
		return nil
	}
	a.pass = nil
	target := a.target.Name()
	now := a.c.now().UTC()
	if err := a.settle(ctx, pf.rec); err != nil {
		return err
	}
	for i, f := range pf.facts {
		if err := a.db.RecordSourceCount(ctx, f.Name, f.Count, pf.healthy[i], now); err != nil {
			return err
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
			a.log.Info("person missing from the sources", "key", k, "passes", n, "since", first)
		}
	}

	planned := map[string]bool{}
	for i := range plan.Ops {
		op := &plan.Ops[i]
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
			Action: op.Action.String(), Reason: op.Reason, Payload: payload})
		if err != nil {
			return err
		}
		a.log.Warn("operation held for approval", "id", hid, "op", id, "name", op.Name)
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
func (a *app) heldDone(ctx context.Context, applied []string) error {
	if len(applied) == 0 {
		return nil
	}
	approved, err := a.db.HeldApproved(ctx, a.target.Name())
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
