package evaluagent

import (
	"sync"
	"time"
)

// pacer keeps each endpoint at or below limit requests in any window
// (a sliding window, which also keeps every fixed calendar minute of the
// server at or below the limit). Callers reserve a send time and sleep until
// it, so concurrent callers queue fairly without holding the lock.
type pacer struct {
	limit  int
	window time.Duration

	mu      sync.Mutex
	sent    map[string][]time.Time // the last limit reserved send times, ascending
	blocked map[string]time.Time   // no send before this (after a 429)
}

func newPacer(limit int, window time.Duration) *pacer {
	return &pacer{limit: limit, window: window, sent: map[string][]time.Time{}, blocked: map[string]time.Time{}}
}

// reserve books the earliest allowed send time for endpoint and returns how
// long to wait from now until it.
func (p *pacer) reserve(endpoint string, now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := now
	if b := p.blocked[endpoint]; b.After(at) {
		at = b
	}
	ts := p.sent[endpoint]
	if len(ts) >= p.limit {
		if earliest := ts[len(ts)-p.limit].Add(p.window); earliest.After(at) {
			at = earliest
		}
	}
	if n := len(ts); n > 0 && ts[n-1].After(at) {
		// Keep the list ascending even if the clock stepped back.
		at = ts[n-1]
	}
	ts = append(ts, at)
	if len(ts) > p.limit {
		ts = append(ts[:0], ts[len(ts)-p.limit:]...)
	}
	p.sent[endpoint] = ts
	return at.Sub(now)
}

// block holds every send to endpoint until t: the server said the window is
// spent, so requests queued behind this one must not fire either.
func (p *pacer) block(endpoint string, t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.After(p.blocked[endpoint]) {
		p.blocked[endpoint] = t
	}
}
