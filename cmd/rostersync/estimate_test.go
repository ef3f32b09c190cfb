package main

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEndpointTimeFollowsItsBudget(t *testing.T) {
	lat := 100 * time.Millisecond
	cases := []struct {
		l    endpointLoad
		want time.Duration
	}{
		{endpointLoad{Requests: 50, PerMinute: 100, LeftThisMinute: 100, PerDay: 10000, LeftToday: 10000}, 5 * time.Second},
		// 331 creates, 100 a minute, 100 left: this minute's 100, then
		// three more windows a minute apart, 31 sent in the last.
		{endpointLoad{Requests: 331, PerMinute: 100, LeftThisMinute: 100, PerDay: 10000, LeftToday: 10000}, 3*time.Minute + 3100*time.Millisecond},
		// An earlier run spent most of this minute: the same windows.
		{endpointLoad{Requests: 120, PerMinute: 100, LeftThisMinute: 10, PerDay: 10000, LeftToday: 10000}, 2*time.Minute + 1*time.Second},
		// Beyond today's budget: only what fits today is counted.
		{endpointLoad{Requests: 331, PerMinute: 100, LeftThisMinute: 100, PerDay: 10000, LeftToday: 40}, 4 * time.Second},
		// No known limit: the sending alone.
		{endpointLoad{Requests: 3}, 300 * time.Millisecond},
	}
	for _, c := range cases {
		if got := c.l.timeFor(lat); got != c.want {
			t.Errorf("%+v: %s, want %s", c.l, got, c.want)
		}
	}
	e := estimateLoads([]endpointLoad{
		{Endpoint: "POST /org/users", Requests: 331, PerMinute: 100, LeftThisMinute: 100, PerDay: 10000, LeftToday: 10000},
		{Endpoint: "PATCH /org/users/{id}", Requests: 1, PerMinute: 100, LeftThisMinute: 100, PerDay: 10000, LeftToday: 10000},
	}, lat)
	if line := e.Line("evaluagent"); line != "Applying this plan to evaluagent takes about 3m 05s: 332 requests, and POST /org/users needs 331 at 100 a minute (100 left this minute)." {
		t.Errorf("estimate line: %q", line)
	}
}

// TestEndpointsGoSideBySide: the busiest endpoint sets the time, not the
// sum of them.
func TestEndpointsGoSideBySide(t *testing.T) {
	lat := 100 * time.Millisecond
	users := endpointLoad{Endpoint: "POST /org/users", Requests: 250, PerMinute: 100, LeftThisMinute: 100, PerDay: 10000, LeftToday: 10000}
	updates := endpointLoad{Endpoint: "PATCH /org/users/{id}", Requests: 150, PerMinute: 100, LeftThisMinute: 100, PerDay: 10000, LeftToday: 10000}
	teams := endpointLoad{Endpoint: "POST /org/groups", Requests: 12, PerMinute: 100, LeftThisMinute: 100, PerDay: 10000, LeftToday: 10000}
	e := estimateLoads([]endpointLoad{teams, users, updates}, lat)
	if want := users.timeFor(lat); e.Total != want || e.Binding == nil || e.Binding.Endpoint != users.Endpoint {
		t.Errorf("side by side: %s bound by %v, want the busiest endpoint's %s", e.Total, e.Binding, want)
	}
}

// TestApplySaysHowLongAndWhatItWaitsFor: with a small per-minute budget,
// apply says up front how long it will take and why, then says what it
// waits for during each rate-limit wait, and logs its progress off a
// terminal. (The client paces on the real clock while this test's sleeps
// are instant, so the test cannot time the apply itself.)
func TestApplySaysHowLongAndWhatItWaitsFor(t *testing.T) {
	r := newRig(t)
	r.env["ROSTERSYNC_EVALUAGENT_RATE_PER_MINUTE"] = "5"
	var mu sync.Mutex
	clk := rigStart.Add(30 * time.Second)
	code := run(context.Background(), []string{"apply", "-yes"}, &cli{
		stdin: strings.NewReader(""), stdout: &r.stdout, stderr: &r.stderr,
		lookupEnv: func(k string) (string, bool) { v, ok := r.env[k]; return v, ok },
		now:       func() time.Time { mu.Lock(); defer mu.Unlock(); return clk },
		sleep: func(_ context.Context, d time.Duration) error {
			mu.Lock()
			clk = clk.Add(d)
			mu.Unlock()
			return nil
		},
	})
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, r.stdout.String(), r.stderr.String())
	}
	// 9 group creates and 11 user creates at 5 a minute, side by side: the
	// users take longest (5 at once, then two more windows). A real apply
	// of this plan at this rate took 2m 00s.
	out := r.stdout.String()
	want := "Applying this plan to evaluagent takes about 2m 00s: 21 requests, and POST /org/users needs 11 at 5 a minute (5 left this minute)."
	if !strings.Contains(out, want) {
		t.Errorf("the estimate before the apply: want %q in\n%s", want, out)
	}
	if strings.Index(out, want) > strings.Index(out, "Apply complete") {
		t.Error("the estimate came after the apply")
	}
	log := r.stderr.String()
	if !regexp.MustCompile(`msg="waiting for the request budget" target=evaluagent endpoint="POST /org/groups" wait=\S+ requests_left_on_endpoint=4`).MatchString(log) {
		t.Errorf("no line says what the apply waits for:\n%s", log)
	}
	if !strings.Contains(log, `msg="apply progress" target=evaluagent done=21 total=21 left=0s`) {
		t.Errorf("off a terminal, no progress lines:\n%s", log)
	}
}
