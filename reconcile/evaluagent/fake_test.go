package evaluagent

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testKeyID     = "0b7c3a52-6a0e-4d0c-9d53-0a6f4c1e2b3d"
	testKeySecret = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
)

// recorded is one request the fake server saw.
type recorded struct {
	Method string
	Path   string
	Query  string
	Body   string
	Header http.Header
}

// fakeAPI is an httptest server with handlers per "METHOD /v1/path"
// pattern. A request no handler claims fails the test, and so does any call
// to /auth/token*, whatever handlers exist.
type fakeAPI struct {
	t   *testing.T
	srv *httptest.Server
	mux *http.ServeMux

	mu   sync.Mutex
	reqs []recorded
}

func newFake(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, mux: http.NewServeMux()}
	f.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
		http.Error(w, "unexpected", http.StatusTeapot)
	})
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body), Header: r.Header.Clone()})
	f.mu.Unlock()
	if strings.HasPrefix(r.URL.Path, "/v1/auth/token") {
		f.t.Errorf("the client called %s %s; it must never touch the token endpoints", r.Method, r.URL.Path)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(testKeyID+":"+testKeySecret))
	if got := r.Header.Get("Authorization"); got != want {
		f.t.Errorf("%s %s: Authorization = %q, want Basic credentials", r.Method, r.URL.Path, got)
	}
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	f.mux.ServeHTTP(w, r)
}

// handle registers h for a pattern such as "GET /v1/org/users".
func (f *fakeAPI) handle(pattern string, h http.HandlerFunc) { f.mux.HandleFunc(pattern, h) }

// json registers a handler answering status and body.
func (f *fakeAPI) json(pattern string, status int, body string) {
	f.handle(pattern, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, status, body) })
}

func (f *fakeAPI) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

// requestsTo returns the recorded requests to method and path.
func (f *fakeAPI) requestsTo(method, path string) []recorded {
	var out []recorded
	for _, r := range f.requests() {
		if r.Method == method && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// fakeClock is Now and Sleep for tests: sleeping advances the clock at once
// and records the duration.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 6, 2, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// newTestClient returns a client of the fake with a fake clock and no jitter.
func newTestClient(t *testing.T, f *fakeAPI, mod ...func(*Config)) (*Client, *fakeClock) {
	t.Helper()
	clk := newClock()
	cfg := Config{
		BaseURL:   f.srv.URL + "/v1",
		KeyID:     testKeyID,
		KeySecret: testKeySecret,
		Now:       clk.Now,
		Sleep:     clk.Sleep,
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.jitter = func(time.Duration) time.Duration { return 0 }
	return c, clk
}

// compactJSON normalises a JSON text so bodies compare as strings.
func compactJSON(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// FakeClock lends fakeClock to the package's external tests (the
// client ↔ simulator tests), which share one with the simulator.
type FakeClock = fakeClock

// NewFakeClock returns a FakeClock set to now.
func NewFakeClock(now time.Time) *FakeClock { return &fakeClock{now: now} }
