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
