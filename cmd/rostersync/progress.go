package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/rostersync/rostersync/cmd/rostersync/internal/statuspage"
	"github.com/rostersync/rostersync/reconcile"
)

// termGuard is standard error on a terminal while a progress bar may be
// drawn on its last line: every log line clears the bar first and draws it
// again after, so that a log line is never glued to the bar.
type termGuard struct {
	mu  sync.Mutex
	w   io.Writer
	bar *progressbar.ProgressBar
}

// newTermGuard returns the guard for w on a terminal, nil otherwise.
func newTermGuard(w io.Writer, terminal bool) *termGuard {
	if !terminal {
		return nil
	}
	return &termGuard{w: w}
}

// writer is what the logger writes to: the guard, or w itself.
func (g *termGuard) writer(w io.Writer) io.Writer {
	if g == nil {
		return w
	}
	return g
}

func (g *termGuard) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.bar != nil {
		g.bar.Clear()
	}
	n, err := g.w.Write(p)
	if g.bar != nil {
		g.bar.RenderBlank()
	}
	return n, err
}

// draw runs f on the bar, if there is one, with the log held off.
func (g *termGuard) draw(f func(*progressbar.ProgressBar)) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.bar != nil {
		f(g.bar)
	}
}

// applyProgress reports a long apply honestly. On a terminal it is a bar on
// its own line; off a terminal, a log line every logEvery operations or
// logInterval. The time left is worked out from the requests each endpoint
// still has to carry and the budget it has left (see estimate.go), not
// from the pace so far, and a wait for a rate window says what it waits
// for and how long.
type applyProgress struct {
	mu      sync.Mutex
	term    *termGuard
	log     *slog.Logger
	now     func() time.Time
	target  string
	etaFunc func(remaining map[string]int, latency time.Duration) (time.Duration, error)

	remaining map[string]int      // requests still to send, by lane ("create user")
	lanesOf   map[string][]string // the lanes each endpoint carries
	latSum    time.Duration
	latN      int

	eta        time.Duration
	etaAt      time.Time
	refreshing bool           // an estimate is being worked out
	syncETA    bool           // work it out in update itself (tests)
	wg         sync.WaitGroup // the estimates in flight
	waitNote   string
	waitTill   time.Time

	logged   time.Time
	loggedAt int
	total    int
}

const (
	logEvery    = 100
	logInterval = 10 * time.Second
	// waitWorthSaying is the shortest rate-limit wait that gets a line of
	// its own; the pacing between requests is shorter.
	waitWorthSaying = time.Second
)

// startProgress begins reporting t's apply of plan.
func (a *app) startProgress(ctx context.Context, t *target, plan *reconcile.Plan) *applyProgress {
	total := len(plan.ReadyOps())
	p := &applyProgress{
		log: a.log.With("target", t.name), now: a.c.now, target: t.name, total: total,
		remaining: planLanes(plan), lanesOf: map[string][]string{},
	}
	for lane := range p.remaining {
		ep := endpointOf(t, lane)
		p.lanesOf[ep] = append(p.lanesOf[ep], lane)
	}
	if a.c.now == nil {
		p.now = time.Now
	}
	p.logged = p.now()
	p.etaFunc = func(remaining map[string]int, latency time.Duration) (time.Duration, error) {
		loads, err := a.loads(context.WithoutCancel(ctx), t, remaining, p.now())
		if err != nil {
			return 0, err
		}
		return estimateLoads(loads, latency).Total, nil
	}
	p.mu.Lock()
	p.refreshETA(true)
	p.mu.Unlock()
	if a.term != nil && total > 1 {
		bar := newBar(a.term, total, p.describe(0))
		a.term.mu.Lock()
		a.term.bar = bar
		a.term.mu.Unlock()
		p.term = a.term
	}
	a.progress.Store(p)
	return p
}

// newBar makes the bar of an apply of total operations.
func newBar(term *termGuard, total int, desc string) *progressbar.ProgressBar {
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(term.w),
		progressbar.OptionUseANSICodes(true),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetRenderBlankState(true),
		progressbar.OptionThrottle(0),
	)
}

// describe is the text beside the bar.
func (p *applyProgress) describe(int) string {
	if p.waitNote != "" {
		if left := p.waitTill.Sub(p.now()); left > 0 {
			return fmt.Sprintf("applying to %s: %s (%s)", p.target, p.waitNote, statuspage.Duration(left.Round(time.Second)))
		}
	}
	return fmt.Sprintf("applying to %s: about %s left", p.target, statuspage.Duration(roundEstimate(p.left())))
}

// left is the time left: the last estimate, less what has passed since.
func (p *applyProgress) left() time.Duration {
	return max(p.eta-p.now().Sub(p.etaAt), 0)
}

func (p *applyProgress) latency() time.Duration {
	if p.latN == 0 {
		return assumedLatency
	}
	return p.latSum / time.Duration(p.latN)
}

// refreshETA works the estimate out again from what remains, at most once
// a second unless forced.
// a second unless forced. p.mu is held. The estimate reads the budgets in
// the state store, so unless forced (or syncETA) it is worked out on a
// goroutine of its own: the applier calls update with its own lock held.
func (p *applyProgress) refreshETA(force bool) {
	if !force && (p.refreshing || p.now().Sub(p.etaAt) < time.Second) {
		return
	}
	remaining := maps.Clone(p.remaining)
	lat := p.latency()
	work := func() {
		eta, err := p.etaFunc(remaining, lat)
		p.mu.Lock()
		defer p.mu.Unlock()
		p.refreshing = false
		if err != nil {
			p.log.Debug("estimating the time left", "err", err)
			return
		}
		p.eta, p.etaAt = eta, p.now()
	}
	p.refreshing = true
	if force || p.syncETA {
		p.mu.Unlock()
		work()
		p.mu.Lock()
		return
	}
	p.wg.Go(work)
}

// request records how long a platform write took, for the estimate.
func (p *applyProgress) request(endpoint string, status int, d time.Duration) {
	if p == nil || strings.HasPrefix(endpoint, "GET ") || status == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latSum += d
	p.latN++
}

// sent records that an operation's n requests on lane are done with.
func (p *applyProgress) sent(lane string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.remaining[lane] = max(p.remaining[lane]-n, 0)
}

// rateWait says what the apply waits for and how long.
func (p *applyProgress) rateWait(endpoint string, d time.Duration) {
	if p == nil || d < waitWorthSaying {
		return
	}
	p.mu.Lock()
	p.waitNote = "waiting for the " + endpoint + " request budget"
	p.waitTill = p.now().Add(d)
	left := 0
	for _, lane := range p.lanesOf[endpoint] {
		left += p.remaining[lane]
	}
	desc := p.describe(-1)
	p.mu.Unlock()
	p.log.Info("waiting for the request budget", "endpoint", endpoint, "wait", d.Round(time.Second), "requests_left_on_endpoint", left)
	p.term.draw(func(b *progressbar.ProgressBar) { b.Describe(desc) })
}

// update records that done of total operations are finished.
func (p *applyProgress) update(done, total int) {
	p.mu.Lock()
	p.waitNote = ""
	if done == total {
		p.eta, p.etaAt = 0, p.now()
	} else {
		p.refreshETA(false)
	}
	desc := p.describe(done)
	left := p.left()
	now := p.now()
	logIt := p.term == nil && (done == total || done-p.loggedAt >= logEvery || now.Sub(p.logged) >= logInterval)
	if logIt {
		p.logged, p.loggedAt = now, done
	}
	p.mu.Unlock()
	if p.term != nil {
		p.term.draw(func(b *progressbar.ProgressBar) {
			b.Describe(desc)
			b.Set(done)
		})
		return
	}
	if logIt {
		p.log.Info("apply progress", "done", done, "total", total, "left", roundEstimate(left))
	}
}

// finish takes the bar off the terminal, leaving the line clean.
func (p *applyProgress) finish(a *app) {
	a.progress.Store(nil)
	p.wg.Wait()
	if p.term == nil {
		return
	}
	p.term.mu.Lock()
	defer p.term.mu.Unlock()
	if p.term.bar != nil {
		p.term.bar.Finish()
		fmt.Fprintln(p.term.w)
		p.term.bar = nil
	}
}

// progressHooks forwards the clients' request and rate-limit hooks to the
// apply in progress of the app current() returns, keeping the caller's.
func progressHooks(h appHooks, current func() *app) appHooks {
	onReq, onWait := h.onRequest, h.onRateLimitWait
	h.onRequest = func(target, endpoint string, status int, d time.Duration) {
		if onReq != nil {
			onReq(target, endpoint, status, d)
		}
		if a := current(); a != nil {
			if p := a.progress.Load(); p != nil && p.target == target {
				p.request(endpoint, status, d)
			}
		}
	}
	h.onRateLimitWait = func(target, endpoint string, d time.Duration) {
		if onWait != nil {
			onWait(target, endpoint, d)
		}
		if a := current(); a != nil {
			if p := a.progress.Load(); p != nil && p.target == target {
				p.rateWait(endpoint, d)
			}
		}
	}
	return h
}
