package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rostersync/rostersync/cmd/rostersync/internal/daemon"
	"github.com/rostersync/rostersync/cmd/rostersync/internal/statuspage"
	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/sources"
	"github.com/rostersync/rostersync/state"
)

// runsShown is how many stored runs the status page lists and charts.
const runsShown = 50

// sourceHealth is what the daemon knows of each source's reads: the last
// read of this process, and the last healthy read from the state store.
type sourceHealth struct {
	mu sync.Mutex
	m  map[string]statuspage.Source
	// onChange, when set, hears a source turn unhealthy (healthy false) or
	// recover (healthy true), not every read.
	onChange func(s statuspage.Source, healthy bool)
}

// seed lists the configured sources and their last healthy reads as
// stored, so that the page is right from the start of the process.
func (h *sourceHealth) seed(ctx context.Context, a *app) {
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.m
	h.m = map[string]statuspage.Source{}
	for _, sc := range a.file.Sources {
		s := statuspage.Source{Name: sc.Name, Type: sc.Type}
		if o, ok := old[sc.Name]; ok {
			s = o
			s.Type = sc.Type
		} else if hist, err := a.db.SourceHistory(ctx, sc.Name, 200); err == nil {
			for _, c := range hist {
				if c.Healthy {
					s.LastHealthy = c.At
					break
				}
			}
		}
		h.m[sc.Name] = s
	}
}

func (h *sourceHealth) observe(name string, snap *sources.Snapshot, err error, at time.Time) {
	h.mu.Lock()
	s := h.m[name]
	if h.m == nil {
		h.m = map[string]statuspage.Source{}
	}
	was, wasRead := s.Healthy(), s.Read
	s.Name, s.Read, s.ReadAt, s.Error, s.Reason = name, true, at, "", ""
	switch {
	case err != nil:
		s.Error, s.Complete = err.Error(), false
	case snap != nil:
		s.Records, s.Complete, s.Reason = snap.Health.Count, snap.Health.Complete, snap.Health.Reason
	}
	if s.Healthy() {
		s.LastHealthy = at
	}
	h.m[name] = s
	notify := h.onChange
	h.mu.Unlock()
	if notify != nil && (was != s.Healthy()) && (wasRead || !s.Healthy()) {
		notify(s, s.Healthy())
	}
}

func (h *sourceHealth) list(order []string) []statuspage.Source {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]statuspage.Source, 0, len(h.m))
	for _, n := range order {
		if s, ok := h.m[n]; ok {
			out = append(out, s)
		}
	}
	return out
}

// statusBackend is the status page's view of the daemon.
type statusBackend struct{ d *server }

func (b statusBackend) Trigger() { b.d.sched.Trigger() }

func (b statusBackend) Approve(ctx context.Context, id int64) error {
	if line := b.d.lead.standbyLine(); line != "" {
		return fmt.Errorf("this node is a %s: approve on the leader's status page", line)
	}
	return b.d.current().db.HeldApprove(ctx, id)
}

func (b statusBackend) Reject(ctx context.Context, id int64) error {
	if line := b.d.lead.standbyLine(); line != "" {
		return fmt.Errorf("this node is a %s: reject on the leader's status page", line)
	}
	return b.d.current().db.HeldReject(ctx, id)
}

func (b statusBackend) View(ctx context.Context) (*statuspage.View, error) {
	d := b.d
	a := d.current()
	st := d.sched.Status()
	rep := st.Report(a.env.Serve.ReadyMaxAge())
	now := d.c.now()
	v := &statuspage.View{
		Now: now, Version: version, Mode: a.env.Serve.Mode, Targets: a.targetNames(),
		Ready: rep.Ready, ReadyReason: rep.ReadyReason, Standby: d.lead.standbyLine(),
	}
	if standby, ok, why := d.standby(); standby {
		v.Ready, v.ReadyReason = ok, why
	}
	if rep.Running != nil {
		v.Running = &statuspage.Run{Kind: string(rep.Running.Kind), Started: rep.Running.Started, Result: "running"}
	}
	next, kind := st.Next()
	v.NextPass, v.NextKind = next, string(kind)

	runs, err := storedRuns(ctx, a.db, runsShown)
	if err != nil {
		return nil, err
	}
	v.Runs = runs
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		if r.Finished.IsZero() || r.Result == "failed" || r.Result == "interrupted" {
			continue
		}
		v.Drift = append(v.Drift, statuspage.Point{At: r.Finished, Pending: r.Changes, Held: r.Held})
	}
	names := make([]string, len(a.file.Sources))
	for i, s := range a.file.Sources {
		names[i] = s.Name
	}
	v.Sources = d.health.list(names)

	for _, t := range a.targetNames() {
		r, _, ok, err := a.db.LastPlanReader(ctx, t)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		// Read op by op: the page shows the first few, and a stored plan
		// may hold 100k.
		var ops opViews
		p, err := reconcile.DecodePlanOps(r, ops.add)
		if err != nil {
			return nil, fmt.Errorf("stored plan for %s: %w", t, err)
		}
		pv := planView(p)
		pv.Ops, pv.Omitted = ops.shown, ops.omitted
		v.Plans = append(v.Plans, pv)
	}

	hs, err := a.db.HeldList(ctx, "", "")
	if err != nil {
		return nil, err
	}
	for _, h := range hs {
		if h.Status != state.HeldPending && h.Status != state.HeldApproved {
			continue
		}
		v.Held = append(v.Held, heldView(h))
	}
	if v.Budgets, err = budgetViews(ctx, a, now); err != nil {
		return nil, err
	}
	return v, nil
}

// storedRuns reads the run history, newest first, with what each daemon
// pass recorded of itself.
func storedRuns(ctx context.Context, db *state.DB, limit int) ([]statuspage.Run, error) {
	rs, err := db.Runs(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]statuspage.Run, 0, len(rs))
	for _, r := range rs {
		v := statuspage.Run{ID: r.ID, Kind: r.Kind, Started: r.StartedAt, Finished: r.FinishedAt, Result: r.Result, Error: r.Err}
		var s passSummary
		if len(r.Summary) > 0 && json.Unmarshal(r.Summary, &s) == nil {
			if s.Kind != "" {
				v.Kind = s.Kind
			}
			v.Summary, v.Changes, v.Applied, v.Failed, v.Held = s.Summary, s.Changes, s.Applied, s.Failed, s.Held
		}
		if r.Running() {
			v.Result = "running"
		}
		out = append(out, v)
	}
	return out, nil
}

// daemonPasses turns stored runs into the daemon's pass records, so that
// /status.json keeps its history across restarts.
func daemonPasses(runs []statuspage.Run) []daemon.Pass {
	var out []daemon.Pass
	for _, r := range runs {
		if r.Finished.IsZero() {
			continue
		}
		out = append(out, daemon.Pass{
			Kind: daemon.Kind(r.Kind), Started: r.Started, Finished: r.Finished,
			Duration: r.Duration(), Seconds: r.Duration().Seconds(),
			Result: r.Result, Summary: r.Summary, Error: r.Error,
			Changes: r.Changes, Applied: r.Applied, Failed: r.Failed, Held: r.Held,
		})
	}
	return out
}

func planView(p *reconcile.Plan) statuspage.Plan {
	s := p.Summary
	v := statuspage.Plan{
		Target: p.Target, CreatedAt: p.CreatedAt, Create: s.Create, Update: s.Update, Adopt: s.Adopt,
		Deactivate: s.Deactivate, Held: s.Held, Suppressed: s.Suppressed, Unsupported: s.Unsupported,
		Unchanged: s.Unchanged, Notes: p.Notes,
	}
	var ops opViews
	for i := range p.Ops {
		ops.add(&p.Ops[i])
	}
	v.Ops, v.Omitted = ops.shown, ops.omitted
	return v
}

// opViews gathers the views of a plan's first pendingOpsShown ready or
// held operations, and counts the rest, as planView does.
type opViews struct {
	shown   []statuspage.Op
	omitted int
}

func (v *opViews) add(op *reconcile.Op) {
	if op.Status != reconcile.StatusReady && op.Status != reconcile.StatusHeld {
		return
	}
	if len(v.shown) >= pendingOpsShown {
		v.omitted++
		return
	}
	v.shown = append(v.shown, opView(op))
}

func opView(op *reconcile.Op) statuspage.Op {
	sym := string(rune(op.Action))
	switch op.Status {
	case reconcile.StatusHeld:
		sym = "!"
	case reconcile.StatusSuppressed, reconcile.StatusUnsupported, reconcile.StatusWaiting:
		sym = "#"
	}
	v := statuspage.Op{Symbol: sym, Action: op.Action.String(), Kind: string(op.Kind), Key: op.Key,
		Name: op.Name, Status: string(op.Status), Reason: op.Reason}
	if v.Status == "" {
		v.Status = "ready"
	}
	for _, c := range op.Changes {
		v.Changes = append(v.Changes, fmt.Sprintf("%s: %q → %q", c.Field, c.Old, c.New))
	}
	return v
}

func heldView(h state.HeldOp) statuspage.Held {
	name := h.Key
	var op reconcile.Op
	if json.Unmarshal(h.Payload, &op) == nil && op.Name != "" {
		name = op.Name
	}
	return statuspage.Held{ID: h.ID, Status: h.Status, Target: h.Target, Action: h.Action, Kind: h.Kind,
		Key: h.Key, Name: name, Reason: h.Reason, CreatedAt: h.CreatedAt}
}

// budgetViews lists, for every target with request budgets, each endpoint's requests
// this minute and this UTC day against its limits: the write endpoints
// always, the others once used.
func budgetViews(ctx context.Context, a *app, now time.Time) ([]statuspage.Budget, error) {
	minute, err := a.db.BudgetWindowUse(ctx, state.MinuteWindow(now))
	if err != nil {
		return nil, err
	}
	day, err := a.db.BudgetWindowUse(ctx, state.DayWindow(now))
	if err != nil {
		return nil, err
	}
	var out []statuspage.Budget
	for _, t := range a.targets {
		c, ok := t.client.(budgeted)
		if !ok || t.perDay <= 0 {
			continue
		}
		eps := map[string]bool{}
		for _, ep := range c.RequestEndpoints() {
			eps[ep] = true
		}
		prefix := budgetKey(t.name, "")
		for k := range day {
			if ep, ok := strings.CutPrefix(k, prefix); ok {
				eps[ep] = true
			}
		}
		names := make([]string, 0, len(eps))
		for ep := range eps {
			names = append(names, ep)
		}
		slices.Sort(names)
		for _, ep := range names {
			key := budgetKey(t.name, ep)
			out = append(out, statuspage.Budget{Target: t.name, Endpoint: ep,
				MinuteUsed: minute[key], MinuteLimit: t.perMinute, DayUsed: day[key], DayLimit: t.perDay})
		}
	}
	return out, nil
}
