package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rostersync/rostersync/cmd/rostersync/internal/statuspage"
	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/state"
)

// assumedLatency is what one write is assumed to take before any has been
// timed in this process.
const assumedLatency = 150 * time.Millisecond

// endpointLoad is what one endpoint still has to carry, and the budget it
// has to carry it in.
type endpointLoad struct {
	Endpoint       string // "POST /org/users"; the plan's request name where the target names none
	Requests       int
	PerMinute      int // 0: no per-minute limit known
	LeftThisMinute int
	PerDay         int // 0: no daily limit known
	LeftToday      int
}

// timeFor is how long an endpoint takes to carry its requests, one at a
// time: what this minute's budget still allows goes at once, then a
// window's worth a minute. (The client paces each endpoint over a sliding
// minute, so the k-th further window opens k minutes after the first
// request, never sooner than the calendar minute.) Requests beyond today's
// budget are not counted: they go tomorrow, and budgetCheck says so.
func (l endpointLoad) timeFor(latency time.Duration) time.Duration {
	n := l.Requests
	if l.PerDay > 0 && n > l.LeftToday {
		n = l.LeftToday
	}
	sending := time.Duration(n) * latency
	if l.PerMinute <= 0 || n <= l.LeftThisMinute {
		return sending
	}
	rest := n - l.LeftThisMinute
	windows := (rest + l.PerMinute - 1) / l.PerMinute
	last := rest - (windows-1)*l.PerMinute
	return max(sending, time.Duration(windows)*time.Minute+time.Duration(last)*latency)
}

// estimate is how long applying what remains takes.
type estimate struct {
	Total    time.Duration
	Requests int
	Loads    []endpointLoad
	// Binding is the endpoint whose budget takes longest, when a budget
	// (not the sending itself) decides the time.
	Binding *endpointLoad
	Latency time.Duration
}

// estimateLoads puts the endpoints' times together as the applier works:
// endpoints side by side, each at its own budget, so the busiest one sets
// the time. (An operation also waits for those it needs, a person for a new
// team, but those go early in their own lanes: measured on the demo at 5
// requests a minute, the busiest endpoint's time is what the apply took.)
func estimateLoads(loads []endpointLoad, latency time.Duration) estimate {
	e := estimate{Loads: loads, Latency: latency}
	for i := range loads {
		l := &loads[i]
		t := l.timeFor(latency)
		e.Requests += l.Requests
		if t > e.Total {
			e.Total = t
			if l.PerMinute > 0 && l.Requests > l.LeftThisMinute {
				e.Binding = l
			} else {
				e.Binding = nil
			}
		}
	}
	return e
}

// Line says the estimate in one sentence for people.
func (e estimate) Line(target string) string {
	if e.Requests == 0 {
		return ""
	}
	s := fmt.Sprintf("Applying this plan to %s takes about %s: %s", target, statuspage.Duration(roundEstimate(e.Total)), plural(e.Requests, "request"))
	if b := e.Binding; b != nil {
		s += fmt.Sprintf(", and %s needs %d at %d a minute (%d left this minute)", b.Endpoint, b.Requests, b.PerMinute, b.LeftThisMinute)
	}
	for _, l := range e.Loads {
		if l.PerDay > 0 && l.Requests > l.LeftToday {
			s += fmt.Sprintf("; %d for %s go after midnight UTC, beyond today's budget", l.Requests-l.LeftToday, l.Endpoint)
		}
	}
	return s + "."
}

// roundEstimate keeps an estimate from claiming more precision than it has.
func roundEstimate(d time.Duration) time.Duration {
	switch {
	case d < 10*time.Second:
		return d.Round(time.Second)
	case d < 10*time.Minute:
		return d.Round(5 * time.Second)
	}
	return d.Round(time.Minute)
}

// targetRates are the per-minute and per-day limits of target's endpoints
// (zero when the platform has none that rostersync knows).
func (a *app) targetRates(name string) (perMinute, perDay int) {
	if t := a.target(name); t != nil {
		return t.perMinute, t.perDay
	}
	return 0, 0
}

// endpointOf maps a plan's request name ("create user") to the target's
// endpoint ("POST /org/users"); targets without endpoints keep the name.
func endpointOf(t *target, request string) string {
	c, ok := t.client.(budgeted)
	if !ok {
		return request
	}
	if ep, ok := c.RequestEndpoints()[request]; ok {
		return ep
	}
	return request
}

// loads is what each of t's endpoints has to carry for lanes (the plan's
// request names: "create user"), with the budget left now in the state
// store.
func (a *app) loads(ctx context.Context, t *target, lanes map[string]int, now time.Time) ([]endpointLoad, error) {
	requests := map[string]int{}
	for lane, n := range lanes {
		requests[endpointOf(t, lane)] += n
	}
	perMinute, perDay := a.targetRates(t.name)
	var minute, day map[string]int
	if perMinute > 0 {
		var err error
		if minute, err = a.db.BudgetWindowUse(ctx, state.MinuteWindow(now)); err != nil {
			return nil, err
		}
		if day, err = a.db.BudgetWindowUse(ctx, state.DayWindow(now)); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(requests))
	for ep := range requests {
		names = append(names, ep)
	}
	slices.Sort(names)
	var out []endpointLoad
	for _, ep := range names {
		if requests[ep] <= 0 {
			continue
		}
		l := endpointLoad{Endpoint: ep, Requests: requests[ep], PerMinute: perMinute, PerDay: perDay}
		if perMinute > 0 {
			key := budgetKey(t.name, ep)
			l.LeftThisMinute = max(perMinute-minute[key], 0)
			l.LeftToday = max(perDay-day[key], 0)
		}
		out = append(out, l)
	}
	return out, nil
}

// planLanes is the requests the plan's ready operations send, by lane (the
// plan's request names, which the applier runs side by side).
func planLanes(plan *reconcile.Plan) map[string]int {
	out := map[string]int{}
	for _, op := range plan.ReadyOps() {
		out[reconcile.Lane(&op)] += requestsOf(&op)
	}
	return out
}

// estimatePlan says how long applying plan takes, before it is applied.
func (a *app) estimatePlan(ctx context.Context, plan *reconcile.Plan) (estimate, error) {
	t := a.target(plan.Target)
	if t == nil {
		return estimate{}, fmt.Errorf("no target %q is configured", plan.Target)
	}
	now := a.c.now()
	loads, err := a.loads(ctx, t, planLanes(plan), now)
	if err != nil {
		return estimate{}, err
	}
	return estimateLoads(loads, assumedLatency), nil
}

// printEstimates tells, with the plans and before anything is applied, how
// long applying them takes.
func (a *app) printEstimates(ctx context.Context, plans []*reconcile.Plan) {
	var lines []string
	for _, p := range plans {
		e, err := a.estimatePlan(ctx, p)
		if err != nil {
			a.log.Warn("estimating the apply", "target", p.Target, "err", err)
			continue
		}
		if l := e.Line(p.Target); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > 0 {
		fmt.Fprintln(a.c.stdout, "\n"+strings.Join(lines, "\n"))
	}
}
