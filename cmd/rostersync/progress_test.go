package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestProgress(t *testing.T) {
	clk := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clk }

	var term bytes.Buffer
	p := newProgress(&term, true, slog.New(slog.DiscardHandler), now)
	clk = clk.Add(10 * time.Second)
	p.update(50, 200)
	if got := term.String(); !strings.Contains(got, "\r") || !strings.Contains(got, "50/200 (25%), about 30s left") {
		t.Errorf("terminal line %q", got)
	}
	p.update(200, 200)
	if !strings.HasSuffix(term.String(), "\n") {
		t.Error("the terminal line is not ended when done")
	}

	var logs bytes.Buffer
	clk = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p = newProgress(nil, false, slog.New(slog.NewTextHandler(&logs, nil)), now)
	for i := 1; i <= 250; i++ {
		clk = clk.Add(10 * time.Millisecond)
		p.update(i, 250)
	}
	if n := strings.Count(logs.String(), "apply progress"); n != 3 {
		t.Errorf("%d progress lines for 250 quick ops, want 3 (at 100, 200 and the end):\n%s", n, logs.String())
	}
	logs.Reset()
	p = newProgress(nil, false, slog.New(slog.NewTextHandler(&logs, nil)), now)
	clk = clk.Add(11 * time.Second)
	p.update(1, 1000)
	if !strings.Contains(logs.String(), "eta=3h3m9s") {
		t.Errorf("a slow op logs at once with its ETA: %s", logs.String())
	}
}

// TestProgressETAPerEndpoint: endpoints go side by side, so the time left
// is that of the endpoint with the most left at its own pace, not the sum.
func TestProgressETAPerEndpoint(t *testing.T) {
	clk := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var out bytes.Buffer
	p := newProgress(&out, true, slog.New(slog.DiscardHandler), func() time.Time { return clk })
	p.lanes(map[string]int{"create user": 100, "update user": 20})
	clk = clk.Add(60 * time.Second)
	p.sent("create user", 50) // 50 in a minute: 50 left, another minute
	p.sent("update user", 20) // done
	if got := p.eta(70, 120); got != time.Minute {
		t.Errorf("eta = %s, want 1m0s (create user's 50 left at its pace)", got)
	}
	p.lanes(map[string]int{"create user": 10, "update team": 30})
	p.sent("create user", 10) // update team has not started: the overall pace
	if got := p.eta(10, 40); got != 3*time.Minute {
		t.Errorf("eta = %s, want 3m0s (update team's 30 at the overall pace of 10 a minute)", got)
	}
}
