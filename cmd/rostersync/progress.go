package main

import (
	"fmt"
	"io"
	"log/slog"
	"time"
)

// progress reports a long apply: on a terminal, one line on standard error
// rewritten in place; otherwise a log line every logEvery operations or
// logInterval, whichever comes first. Both carry an estimate of the time
// left. Endpoints are applied side by side, each at its own pace, so the
// estimate is that of the endpoint with the most time left: its remaining
// requests at the pace it has kept so far (the overall pace before its
// first request).
type progress struct {
	w        io.Writer
	terminal bool
	log      *slog.Logger
	now      func() time.Time

	start, logged time.Time
	loggedAt      int
	drawn         bool

	// laneTotal and laneDone count requests per endpoint (reconcile.Lane).
	laneTotal, laneDone map[string]int
}

const (
	logEvery    = 100
	logInterval = 10 * time.Second
)

func newProgress(w io.Writer, terminal bool, log *slog.Logger, now func() time.Time) *progress {
	t := now()
	return &progress{w: w, terminal: terminal, log: log, now: now, start: t, logged: t}
}

// lanes sets the requests the apply has to send to each endpoint.
func (p *progress) lanes(total map[string]int) {
	p.laneTotal, p.laneDone = total, map[string]int{}
}

// sent counts n requests sent to an endpoint.
func (p *progress) sent(lane string, n int) {
	if p.laneDone != nil {
		p.laneDone[lane] += n
	}
}

// eta estimates the time left after done of total operations.
func (p *progress) eta(done, total int) time.Duration {
	if done == 0 {
		return 0
	}
	elapsed := p.now().Sub(p.start)
	if len(p.laneTotal) == 0 {
		return (elapsed / time.Duration(done) * time.Duration(total-done)).Round(time.Second)
	}
	sent := 0
	for _, n := range p.laneDone {
		sent += n
	}
	var worst time.Duration
	for lane, tot := range p.laneTotal {
		d := p.laneDone[lane]
		left := tot - d
		if left <= 0 {
			continue
		}
		var pace time.Duration
		switch {
		case d > 0:
			pace = elapsed / time.Duration(d)
		case sent > 0:
			pace = elapsed / time.Duration(sent)
		}
		worst = max(worst, pace*time.Duration(left))
	}
	return worst.Round(time.Second)
}

// update records that done of total operations are finished.
func (p *progress) update(done, total int) {
	eta := p.eta(done, total)
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[Kapplying: %d/%d (%d%%), about %s left", done, total, done*100/max(total, 1), eta)
		p.drawn = true
		if done == total {
			p.finish()
		}
		return
	}
	now := p.now()
	if done == total || done-p.loggedAt >= logEvery || now.Sub(p.logged) >= logInterval {
		p.log.Info("apply progress", "done", done, "total", total, "eta", eta.String())
		p.logged, p.loggedAt = now, done
	}
}

// finish ends the terminal line.
func (p *progress) finish() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
