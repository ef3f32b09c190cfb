package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// screen plays terminal output the way a terminal shows it: \r goes back
// to the start of the line, ESC[2K clears it, and other ANSI sequences
// draw nothing.
func screen(out string) []string {
	lines := []string{""}
	col := 0
	put := func(r rune) {
		cur := []rune(lines[len(lines)-1])
		for len(cur) < col {
			cur = append(cur, ' ')
		}
		if col < len(cur) {
			cur[col] = r
		} else {
			cur = append(cur, r)
		}
		lines[len(lines)-1] = string(cur)
		col++
	}
	rs := []rune(out)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == '\r':
			col = 0
		case r == '\n':
			lines = append(lines, "")
			col = 0
		case r == 0x1b:
			j := i + 1
			for j < len(rs) && !(rs[j] >= 'A' && rs[j] <= 'Z' || rs[j] >= 'a' && rs[j] <= 'z') {
				j++
			}
			if j < len(rs) && string(rs[i:j+1]) == "\x1b[2K" {
				lines[len(lines)-1] = ""
			}
			i = j
		default:
			put(r)
		}
	}
	return lines
}

// TestProgressBarKeepsItsOwnLine: on a terminal, log lines written during
// an apply are never glued to the bar, and the bar says the time left and
// what a rate-limit wait waits for.
func TestProgressBarKeepsItsOwnLine(t *testing.T) {
	var out bytes.Buffer
	clk := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	term := newTermGuard(&out, true)
	log, err := newLogger(term.writer(&out), "text", slog.LevelInfo, logOptions{terminal: true})
	if err != nil {
		t.Fatal(err)
	}
	a := &app{log: log, term: term, c: &cli{now: func() time.Time { return clk }}}
	p := &applyProgress{log: log, now: a.c.now, target: "evaluagent", total: 4, term: term,
		remaining: map[string]int{"POST /org/users": 4},
		etaFunc: func(rem map[string]int, lat time.Duration) (time.Duration, error) {
			return time.Duration(rem["POST /org/users"]) * 30 * time.Second, nil
		}}
	p.syncETA = true
	p.mu.Lock()
	p.refreshETA(true)
	p.mu.Unlock()
	term.bar = newBar(term, 4, p.describe(0))
	for i := 1; i <= 4; i++ {
		log.Log(t.Context(), LevelChange, "create user u"+string(rune('0'+i))+"@example.com")
		p.request("POST /org/users", 201, 100*time.Millisecond)
		p.sent("POST /org/users", 1)
		if i == 2 {
			p.rateWait("POST /org/users", 42*time.Second)
			if !strings.Contains(out.String(), "waiting for the POST /org/users request budget (42s)") {
				t.Errorf("the bar does not say what it waits for:\n%q", out.String())
			}
		}
		clk = clk.Add(time.Second)
		p.update(i, 4)
		if i == 1 && !strings.Contains(out.String(), "about 1m 30s left") {
			t.Errorf("after 1 of 4, the bar does not say 3 requests' time is left:\n%q", out.String())
		}
	}
	p.finish(a)
	lines := screen(out.String())
	logLines := 0
	for _, l := range lines {
		if strings.Contains(l, "msg=") {
			logLines++
			if strings.Contains(l, "applying to") || strings.Contains(l, "|") {
				t.Errorf("a log line is glued to the bar: %q", l)
			}
		}
	}
	if logLines != 5 { // four changes and the wait
		t.Errorf("%d log lines on screen, want 5:\n%s", logLines, strings.Join(lines, "\n"))
	}
	if last := lines[len(lines)-1]; last != "" {
		t.Errorf("the bar is left on the last line: %q", last)
	}
}
