package httpx

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestRoute(t *testing.T) {
	r := Route{Method: http.MethodPatch, Path: "/org/users/{id}"}
	if got, want := r.Endpoint(), "PATCH /org/users/{id}"; got != want {
		t.Errorf("Endpoint() = %q, want %q", got, want)
	}
	if got, want := r.Expand("a/b c"), "/org/users/a%2Fb%20c"; got != want {
		t.Errorf("Expand = %q, want %q", got, want)
	}
	base, _ := url.Parse("https://api.example.com/v1")
	if got, want := r.URL(base, "7", url.Values{"x": {"1"}}), "https://api.example.com/v1/org/users/7?x=1"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	if got, want := r.URL(base, "7", nil), "https://api.example.com/v1/org/users/7"; got != want {
		t.Errorf("URL without query = %q, want %q", got, want)
	}
	def := Route{Method: http.MethodGet, Path: "/d"}
	if got := (Route{Method: "PUT"}).Or(def); got != (Route{Method: "PUT", Path: "/d"}) {
		t.Errorf("Or keeps method: %+v", got)
	}
	if got := (Route{Path: "/p"}).Or(def); got != (Route{Method: http.MethodGet, Path: "/p"}) {
		t.Errorf("Or keeps path: %+v", got)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"7", 7 * time.Second, true},
		{" 0 ", 0, true},
		{"-3", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	} {
		h := http.Header{}
		if tc.v != "" {
			h.Set("Retry-After", tc.v)
		}
		got, ok := RetryAfter(h, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("RetryAfter(%q) = %s, %v; want %s, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}

func TestBackoff(t *testing.T) {
	top := func(d time.Duration) time.Duration { return d - 1 }
	none := func(time.Duration) time.Duration { return 0 }
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: time.Second, 3: 2 * time.Second, 7: 30 * time.Second, 50: 30 * time.Second} {
		if got := Backoff(attempt, time.Second, time.Minute, none); got != want {
			t.Errorf("Backoff(%d) without jitter = %s, want %s", attempt, got, want)
		}
	}
	for attempt := 1; attempt <= 100; attempt++ {
		if d := Backoff(attempt, time.Second, time.Minute, top); d < time.Second || d >= time.Minute {
			t.Errorf("Backoff(%d) = %s, outside 1s..60s", attempt, d)
		}
		if d := Backoff(attempt, time.Second, time.Minute, Jitter); d < time.Second || d >= time.Minute {
			t.Errorf("Backoff(%d) with Jitter = %s, outside 1s..60s", attempt, d)
		}
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), 0); err != nil {
		t.Errorf("Sleep(0) = %v", err)
	}
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("Sleep(1ms) = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep after cancel = %v, want context.Canceled", err)
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true, "10.0.0.1": false, "example.com": false} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestSend(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Test", "yes")
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte(strings.TrimPrefix(r.URL.Path, "/")))
	}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/hello", nil)
	status, h, body, err := Send(srv.Client(), req, 5)
	if err != nil || status != http.StatusTeapot || h.Get("X-Test") != "yes" || string(body) != "hello" {
		t.Errorf("Send = %d, %v, %q, %v", status, h, body, err)
	}
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"/toolong", nil)
	status, _, _, err = Send(srv.Client(), req, 5)
	if err == nil || status != 0 || !strings.Contains(err.Error(), "larger than 5 bytes") {
		t.Errorf("Send of a long body = %d, %v", status, err)
	}
}

func TestCounter(t *testing.T) {
	var c Counter
	if got := c.Counts(); got == nil || len(got) != 0 {
		t.Errorf("zero Counter counts %v", got)
	}
	c.Add("GET /a")
	c.Add("GET /a")
	got := c.Counts()
	got["GET /a"] = 9
	if n := c.Counts()["GET /a"]; n != 2 {
		t.Errorf("count = %d, want 2 (and Counts a copy)", n)
	}
}

func TestTransport(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	clock := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var reported []string
	tr := &Transport{
		HTTP:    srv.Client(),
		MaxBody: 10,
		Now: func() time.Time {
			clock = clock.Add(time.Second)
			return clock
		},
		OnRequest: func(endpoint string, status int, dur time.Duration) {
			reported = append(reported, endpoint+" "+http.StatusText(status)+" "+dur.String())
		},
	}
	for range 2 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/x", nil)
		status, _, body, dur, err := tr.Send("GET /x", req)
		if err != nil || status != http.StatusOK || string(body) != "ok" || dur != time.Second {
			t.Fatalf("Send = %d, %q, %s, %v", status, body, dur, err)
		}
	}
	if got.Get("Accept") != "application/json, */*" || got.Get("User-Agent") != "rostersync" {
		t.Errorf("headers sent: %v", got)
	}
	if len(reported) != 2 || reported[0] != "GET /x OK 1s" {
		t.Errorf("OnRequest saw %q", reported)
	}
	if n := tr.Requests()["GET /x"]; n != 2 {
		t.Errorf("Requests = %d, want 2", n)
	}
}
