// Package daemon is the heart of "rostersync serve": a scheduler that runs
// one reconcile pass at a time (a full pass at start and on an interval,
// cheaper delta passes in between, a debounced pass after a push), the
// status it keeps of those passes, and the admin HTTP handlers that report
// it (/healthz, /readyz, /status, /trigger).
//
// The package knows nothing of sources, mappings or targets: a pass is a
// function it is given, and what a pass found is an Outcome.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Kind says why a pass runs.
type Kind string

// Pass kinds.
const (
	// Full passes run at start and every Interval: every source is read and
	// the platform listed, whatever changed.
	Full Kind = "full"
	// Delta passes run every DeltaInterval between full passes; the pass
	// function may find cheaply that no source changed and skip the work.
	Delta Kind = "delta"
	// Trigger passes run Debounce after Trigger (a SCIM push, POST /trigger).
	Trigger Kind = "trigger"
	// Reload passes run at once after a successful reload, so a new mapping
	// takes effect without waiting for the interval.
	Reload Kind = "reload"
)

// Outcome is what a pass function reports.
type Outcome struct {
	// Skipped is set by a delta pass that found no source changed; such a
	// pass is not recorded.
	Skipped bool
	// Result is a short word: "ok", "planned", "failed", "interrupted".
	// Empty means "ok" when the pass returned no error and "failed" when it
	// did.
	Result string
	// Summary is one line for people: "3 changes applied", "no changes".
	Summary string
	// Changes is the number of operations the plan held ready; Applied and
	// Failed what became of them; Held how many wait for approval.
	Changes, Applied, Failed, Held int
	// Pending is the plan still to apply (JSON), shown by /status; nil when
	// nothing is pending.
	Pending json.RawMessage
}

// PassFunc runs one pass. ctx is cancelled when the daemon stops; the
// function should finish the write in flight, record where it stopped, and
// return.
type PassFunc func(ctx context.Context, kind Kind) (Outcome, error)

// Config configures a Scheduler.
type Config struct {
	// Interval between full passes (required, > 0).
	Interval time.Duration
	// DeltaInterval between delta passes; 0 disables them.
	DeltaInterval time.Duration
	// Debounce is how long after the first Trigger the pass runs; triggers
	// within that window (or during a pass) join it.
	Debounce time.Duration
	// Pass runs a pass (required).
	Pass PassFunc
	// Reload loads a new configuration and, only when it is good, makes it
	// the one later passes use. An error leaves the old one in place.
	Reload func(ctx context.Context) error
	// OnPass is called after every recorded pass, with the status updated.
	OnPass func(Pass)
	// Logger receives a line per pass (nil discards).
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Scheduler runs passes one at a time. Trigger and RequestReload may be
// called from any goroutine.
type Scheduler struct {
	cfg    Config
	log    *slog.Logger
	status *Status
	trig   chan struct{}
	reload chan struct{}
}

// New returns a Scheduler; Run starts it.
func New(cfg Config) (*Scheduler, error) {
	var errs []error
	if cfg.Interval <= 0 {
		errs = append(errs, fmt.Errorf("daemon: interval %s must be positive", cfg.Interval))
	}
	if cfg.DeltaInterval < 0 || cfg.Debounce < 0 {
		errs = append(errs, errors.New("daemon: delta interval and debounce must not be negative"))
	}
	if cfg.Pass == nil {
		errs = append(errs, errors.New("daemon: no pass function"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{
		cfg: cfg, log: log, status: NewStatus(cfg.Now),
		trig: make(chan struct{}, 1), reload: make(chan struct{}, 1),
	}, nil
}

// Status returns the scheduler's status, for the HTTP handlers.
func (s *Scheduler) Status() *Status { return s.status }

// Trigger asks for a pass soon: Debounce after the first of a burst of
// triggers. A trigger during a pass schedules one more pass, however many
// arrive. It never blocks.
func (s *Scheduler) Trigger() {
	select {
	case s.trig <- struct{}{}:
	default:
	}
}

// RequestReload asks for the configuration to be reloaded between passes.
// It never blocks.
func (s *Scheduler) RequestReload() {
	select {
	case s.reload <- struct{}{}:
	default:
	}
}

// Run runs a full pass at once, then passes as scheduled, until ctx ends.
// It returns nil when ctx ends; a pass in flight is given ctx and is waited
// for.
func (s *Scheduler) Run(ctx context.Context) error {
	full := time.NewTimer(0)
	defer full.Stop()
	var delta *time.Timer
	var deltaC <-chan time.Time
	if s.cfg.DeltaInterval > 0 {
		delta = time.NewTimer(s.cfg.DeltaInterval)
		defer delta.Stop()
		deltaC = delta.C
	}
	var debounce *time.Timer
	var debounceC <-chan time.Time
	stopDebounce := func() {
		if debounce != nil {
			debounce.Stop()
		}
		debounceC = nil
	}
	defer stopDebounce()

	pass := func(kind Kind) {
		if kind != Delta {
			// A complete pass answers every trigger that came before it.
			stopDebounce()
		}
		s.pass(ctx, kind)
		if delta != nil {
			delta.Reset(s.cfg.DeltaInterval)
		}
	}
	for {
		// A stop wins over any timer that is also ready.
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-full.C:
			pass(Full)
			full.Reset(s.cfg.Interval)
		case <-deltaC:
			pass(Delta)
		case <-s.trig:
			if debounceC == nil {
				debounce = time.NewTimer(s.cfg.Debounce)
				debounceC = debounce.C
			}
		case <-debounceC:
			debounceC = nil
			pass(Trigger)
		case <-s.reload:
			if s.doReload(ctx) {
				pass(Reload)
			}
		}
	}
}

func (s *Scheduler) doReload(ctx context.Context) bool {
	if s.cfg.Reload == nil {
		s.log.Warn("reload requested, but this daemon cannot reload")
		return false
	}
	err := s.cfg.Reload(ctx)
	s.status.reloaded(err)
	if err != nil {
		s.log.Error("reload failed: keeping the configuration in use", "err", err)
		return false
	}
	s.log.Info("configuration reloaded")
	return true
}

func (s *Scheduler) pass(ctx context.Context, kind Kind) {
	started := s.cfg.Now()
	s.status.begin(kind, started)
	out, err := s.cfg.Pass(ctx, kind)
	finished := s.cfg.Now()
	if out.Skipped && err == nil {
		s.status.skip()
		s.log.Debug("delta pass: no source changed", "kind", kind)
		return
	}
	p := Pass{
		Kind: kind, Started: started, Finished: finished,
		Duration: finished.Sub(started), Seconds: finished.Sub(started).Seconds(),
		Result: out.Result, Summary: out.Summary,
		Changes: out.Changes, Applied: out.Applied, Failed: out.Failed, Held: out.Held,
	}
	if err != nil {
		p.Error = err.Error()
	}
	if p.Result == "" {
		p.Result = "ok"
		if err != nil {
			p.Result = "failed"
		}
	}
	s.status.end(p, err == nil, out.Pending)
	switch {
	case err != nil && ctx.Err() != nil:
		// A stop (SIGTERM) cut the pass short: expected, not a failure.
		s.log.Info("pass interrupted: stopping", "kind", kind, "result", p.Result, "duration", p.Duration.Round(time.Millisecond), "err", err)
	case err != nil:
		s.log.Error("pass failed", "kind", kind, "result", p.Result, "duration", p.Duration.Round(time.Millisecond), "err", err)
	default:
		s.log.Info("pass finished", "kind", kind, "result", p.Result, "summary", p.Summary, "duration", p.Duration.Round(time.Millisecond))
	}
	if s.cfg.OnPass != nil {
		s.cfg.OnPass(p)
	}
}
