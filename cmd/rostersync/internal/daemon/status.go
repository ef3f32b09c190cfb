package daemon

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// KeepPasses is how many recent passes Status remembers.
const KeepPasses = 20

// Pass is one recorded pass.
type Pass struct {
	Kind     Kind          `json:"kind"`
	Started  time.Time     `json:"started"`
	Finished time.Time     `json:"finished"`
	Duration time.Duration `json:"-"`
	Seconds  float64       `json:"duration_seconds"`
	Result   string        `json:"result"`
	Summary  string        `json:"summary,omitempty"`
	Error    string        `json:"error,omitempty"`
	Changes  int           `json:"changes"`
	Applied  int           `json:"applied"`
	Failed   int           `json:"failed"`
	Held     int           `json:"held"`
}

// OK reports whether the pass succeeded.
func (p Pass) OK() bool { return p.Error == "" }

// Line is the pass as one line for people and for systemd's STATUS=:
// "last pass 12:00:03: 3 changes applied".
func (p Pass) Line() string {
	what := p.Summary
	if !p.OK() {
		what = p.Result + ": " + p.Error
	}
	if what == "" {
		what = p.Result
	}
	return fmt.Sprintf("last pass %s: %s", p.Finished.Format(time.TimeOnly), what)
}

// Status is what the daemon knows of its passes. It is safe for concurrent
// use; the scheduler writes it, HTTP handlers and the watchdog read it.
type Status struct {
	now func() time.Time

	mu           sync.Mutex
	started      time.Time
	passes       []Pass // newest first
	lastSuccess  time.Time
	running      *Pass
	lastProgress time.Time
	pending      json.RawMessage
	reloadAt     time.Time
	reloadErr    string
	nextFull     time.Time // when the next full pass is due
	soon         time.Time // when a triggered pass is due (zero: none)
}

func (s *Status) setNext(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextFull = at
}

func (s *Status) setSoon(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.soon = at
}

// Next returns when the next pass is due: a triggered one if it comes
// first, else the next full pass; zero before the scheduler runs. Delta
// passes in between run only when a source changed and are not counted.
func (s *Status) Next() (at time.Time, kind Kind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextLocked()
}

func (s *Status) nextLocked() (time.Time, Kind) {
	if !s.soon.IsZero() && (s.nextFull.IsZero() || s.soon.Before(s.nextFull)) {
		return s.soon, Trigger
	}
	return s.nextFull, Full
}

// Seed fills an empty Status with passes recorded before this process
// started (newest first), so that a restart does not empty the history.
func (s *Status) Seed(passes []Pass) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.passes) > 0 {
		return
	}
	s.passes = append([]Pass(nil), passes[:min(len(passes), KeepPasses)]...)
}

// NewStatus returns an empty Status on the clock now.
func NewStatus(now func() time.Time) *Status {
	return &Status{now: now, started: now()}
}

func (s *Status) begin(kind Kind, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = &Pass{Kind: kind, Started: at, Result: "running"}
	s.lastProgress = at
}

func (s *Status) skip() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = nil
}

func (s *Status) end(p Pass, ok bool, pending json.RawMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = nil
	s.passes = append([]Pass{p}, s.passes...)
	if len(s.passes) > KeepPasses {
		s.passes = s.passes[:KeepPasses]
	}
	if ok {
		s.lastSuccess = p.Finished
		s.pending = pending
	}
}

func (s *Status) reloaded(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reloadAt = s.now()
	s.reloadErr = ""
	if err != nil {
		s.reloadErr = err.Error()
	}
}

// Progress records that the pass in flight moved (a platform request
// answered, an operation done); the watchdog pings only while it does.
func (s *Status) Progress() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastProgress = s.now()
}

// Healthy reports whether the daemon is doing its work: idle, or in a pass
// that made progress within stallAfter. A daemon stuck longer stops pinging
// the watchdog, and systemd restarts it.
func (s *Status) Healthy(stallAfter time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running == nil || s.now().Sub(s.lastProgress) < stallAfter
}

// Ready reports whether the last successful pass finished within maxAge,
// and why not.
func (s *Status) Ready(maxAge time.Duration) (bool, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastSuccess.IsZero() {
		if len(s.passes) > 0 {
			return false, "no pass has succeeded yet; the last: " + s.passes[0].Line()
		}
		return false, "the first pass has not finished"
	}
	if age := s.now().Sub(s.lastSuccess); age > maxAge {
		return false, fmt.Sprintf("the last successful pass finished %s ago, more than %s", age.Round(time.Second), maxAge)
	}
	return true, "the last successful pass finished at " + s.lastSuccess.Format(time.RFC3339)
}

// Passes returns the recorded passes, newest first.
func (s *Status) Passes() []Pass {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Pass(nil), s.passes...)
}

// LastSuccess returns when the last successful pass finished (zero if none).
func (s *Status) LastSuccess() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastSuccess
}

// Report is the JSON document of GET /status.
type Report struct {
	Now         time.Time       `json:"now"`
	Started     time.Time       `json:"started"`
	Ready       bool            `json:"ready"`
	ReadyReason string          `json:"ready_reason"`
	LastSuccess *time.Time      `json:"last_success"`
	Running     *Pass           `json:"running"`
	Passes      []Pass          `json:"passes"`
	PendingPlan json.RawMessage `json:"pending_plan"`
	NextPass    *NextPass       `json:"next_pass,omitempty"`
	Reload      *ReloadReport   `json:"reload,omitempty"`
	// Extra holds what the daemon adds (mode, version, listeners).
	Extra map[string]any `json:"daemon,omitempty"`
}

// NextPass says when the next pass is due and of which kind.
type NextPass struct {
	At   time.Time `json:"at"`
	Kind Kind      `json:"kind"`
}

// ReloadReport says how the last reload went.
type ReloadReport struct {
	At    time.Time `json:"at"`
	Error string    `json:"error,omitempty"`
}

// Report returns the status as a document.
func (s *Status) Report(readyAfter time.Duration) Report {
	ready, why := s.Ready(readyAfter)
	s.mu.Lock()
	defer s.mu.Unlock()
	r := Report{
		Now: s.now(), Started: s.started, Ready: ready, ReadyReason: why,
		Passes: append([]Pass{}, s.passes...), PendingPlan: s.pending,
	}
	if !s.lastSuccess.IsZero() {
		t := s.lastSuccess
		r.LastSuccess = &t
	}
	if s.running != nil {
		p := *s.running
		r.Running = &p
	}
	if at, kind := s.nextLocked(); !at.IsZero() {
		r.NextPass = &NextPass{At: at, Kind: kind}
	}
	if !s.reloadAt.IsZero() {
		r.Reload = &ReloadReport{At: s.reloadAt, Error: s.reloadErr}
	}
	if r.PendingPlan == nil {
		r.PendingPlan = json.RawMessage("null")
	}
	return r
}
