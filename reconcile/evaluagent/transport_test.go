package evaluagent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rostersync/rostersync/reconcile"
)

const emptyList = `{"data":[]}`

const tooMany = `{"errors":[{"status":"429","title":"Too Many Requests","detail":"Rate limit of 100 requests per minute exceeded for this endpoint."}]}`

// failFirst answers status (with header, if any) to the first n requests and
// then ok.
func failFirst(n int, status int, header map[string]string, body, ok string) http.HandlerFunc {
	var calls atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) {
		if int(calls.Add(1)) <= n {
			for k, v := range header {
				w.Header().Set(k, v)
			}
			writeJSON(w, status, body)
			return
		}
		writeJSON(w, http.StatusOK, ok)
	}
}

func TestPingSendsBasicAuthAndHeaders(t *testing.T) {
	f := newFake(t)
	f.json("GET /v1/ping", 200, `{"data":{"type":"auth","id":"x","attributes":{"auth_method":"basic","expires_at":null}}}`)
	c, _ := newTestClient(t, f)
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	if got := reqs[0].Header.Get("Accept"); got != "application/json, */*" {
		t.Errorf("Accept = %q", got)
	}
	if got := reqs[0].Header.Get("Content-Type"); got != "" {
		t.Errorf("Content-Type on a GET without body = %q", got)
	}
	if diff := cmp.Diff(map[string]int{"GET /ping": 1}, c.Requests()); diff != "" {
		t.Errorf("Requests() (-want +got):\n%s", diff)
	}
}

func TestRetryAfterSecondsIsWaitedOut(t *testing.T) {
	f := newFake(t)
	f.handle("GET /v1/ping", failFirst(2, 429, map[string]string{"Retry-After": "17"}, tooMany, `{"data":null}`))
	var waits []string
	c, clk := newTestClient(t, f, func(cfg *Config) {
		cfg.OnRateLimitWait = func(ep string, d time.Duration) { waits = append(waits, fmt.Sprint(ep, " ", d)) }
	})
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]time.Duration{17 * time.Second, 17 * time.Second}, clk.Sleeps()); diff != "" {
		t.Errorf("sleeps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"GET /ping 17s", "GET /ping 17s"}, waits); diff != "" {
		t.Errorf("OnRateLimitWait (-want +got):\n%s", diff)
	}
	if got := c.Requests()["GET /ping"]; got != 3 {
		t.Errorf("requests = %d, want 3", got)
	}
}

func TestRetryAfterHTTPDate(t *testing.T) {
	f := newFake(t)
	clkStart := newClock().Now()
	date := clkStart.Add(90 * time.Second).Format(http.TimeFormat)
	f.handle("GET /v1/ping", failFirst(1, 429, map[string]string{"Retry-After": date}, tooMany, `{}`))
	c, clk := newTestClient(t, f)
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]time.Duration{90 * time.Second}, clk.Sleeps()); diff != "" {
		t.Errorf("sleeps (-want +got):\n%s", diff)
	}
}

func TestTooManyWithoutRetryAfterBacksOffExponentially(t *testing.T) {
	f := newFake(t)
	f.handle("GET /v1/ping", failFirst(8, 429, nil, tooMany, `{}`))
	c, clk := newTestClient(t, f)
	c.jitter = func(d time.Duration) time.Duration { return d - 1 } // the top of the range
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	sleeps := clk.Sleeps()
	if len(sleeps) != 8 {
		t.Fatalf("sleeps = %v, want 8", sleeps)
	}
	for i, d := range sleeps {
		if d < time.Second || d > 60*time.Second {
			t.Errorf("sleep %d = %s, outside 1s..60s", i, d)
		}
		if i > 0 && d < sleeps[i-1] {
			t.Errorf("sleep %d = %s shrank from %s", i, d, sleeps[i-1])
		}
	}
	if sleeps[7] < 30*time.Second {
		t.Errorf("8th backoff = %s, want it grown towards 60s", sleeps[7])
	}
}

func TestBackoffJitterStaysInRange(t *testing.T) {
	c, err := New(Config{Region: "eu", KeyID: testKeyID, KeySecret: testKeySecret})
	if err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 12; attempt++ {
		for range 50 {
			d := c.backoffDelay(attempt)
			if d < time.Second || d > 60*time.Second {
				t.Fatalf("backoffDelay(%d) = %s, outside 1s..60s", attempt, d)
			}
		}
	}
}

func TestRateLimitBeyondMaxWaitStops(t *testing.T) {
	f := newFake(t)
	f.handle("PATCH /v1/org/users/{id}", failFirst(1, 429, map[string]string{"Retry-After": "3600"}, tooMany, `{}`))
	c, clk := newTestClient(t, f)
	err := c.UpdateUser(context.Background(), "u1", reconcile.User{Username: "ada"}, []reconcile.Field{reconcile.FieldForename})
	var rl *RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("err = %v, want *RateLimitError", err)
	}
	if rl.Endpoint != "PATCH /org/users/{id}" || rl.Wait != time.Hour || rl.MaxWait != DefaultMaxWait {
		t.Errorf("RateLimitError = %+v", rl)
	}
	if len(clk.Sleeps()) != 0 {
		t.Errorf("slept %v before giving up; want no sleep", clk.Sleeps())
	}
	if !strings.Contains(err.Error(), "PATCH /org/users/{id}") || !strings.Contains(err.Error(), "1h0m0s") {
		t.Errorf("error text %q does not name endpoint and wait", err)
	}
}

func TestRateLimitWaitsAddUpToMaxWait(t *testing.T) {
	f := newFake(t)
	f.handle("GET /v1/ping", failFirst(100, 429, map[string]string{"Retry-After": "40"}, tooMany, `{}`))
	c, clk := newTestClient(t, f, func(cfg *Config) { cfg.MaxWait = 2 * time.Minute })
	err := c.Ping(context.Background())
	var rl *RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("err = %v, want *RateLimitError", err)
	}
	if diff := cmp.Diff([]time.Duration{40 * time.Second, 40 * time.Second, 40 * time.Second}, clk.Sleeps()); diff != "" {
		t.Errorf("sleeps (-want +got):\n%s", diff)
	}
	if rl.Waited != 120*time.Second {
		t.Errorf("Waited = %s, want 2m", rl.Waited)
	}
}

func TestGetRetriedOn5xx(t *testing.T) {
	f := newFake(t)
	f.handle("GET /v1/ping", failFirst(3, 503, nil, `<html>busy</html>`, `{}`))
	var statuses []int
	c, clk := newTestClient(t, f, func(cfg *Config) {
		cfg.OnRequest = func(ep string, status int, _ time.Duration) { statuses = append(statuses, status) }
	})
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{503, 503, 503, 200}, statuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if len(clk.Sleeps()) != 3 {
		t.Errorf("sleeps = %v, want 3 backoffs", clk.Sleeps())
	}
}

func TestGetGivesUpAfterMaxAttempts(t *testing.T) {
	f := newFake(t)
	f.handle("GET /v1/org/roles", failFirst(100, 500, nil, ``, emptyList))
	c, _ := newTestClient(t, f)
	_, err := c.Roles(context.Background())
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 500 {
		t.Fatalf("err = %v, want *APIError 500", err)
	}
	if got := len(f.requests()); got != maxAttempts {
		t.Errorf("requests = %d, want %d", got, maxAttempts)
	}
}

func TestPostNeverRetried(t *testing.T) {
	for _, status := range []int{500, 502, 503, 504} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			f := newFake(t)
			f.json("GET /v1/org/roles", 200, `{"data":[{"type":"roles","id":"r-agent","attributes":{"name":"agent","title":"Agent"}}]}`)
			f.handle("POST /v1/org/users", failFirst(100, status, nil, `{"errors":[{"status":"500","title":"Server Error","detail":"boom"}]}`, `{}`))
			c, clk := newTestClient(t, f)
			_, err := c.CreateUser(context.Background(), reconcile.User{Username: "ada@example.com", Forename: "Ada", Surname: "L", Active: true})
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Status != status {
				t.Fatalf("err = %v, want *APIError %d", err, status)
			}
			if !strings.Contains(err.Error(), "re-list") {
				t.Errorf("error %q does not tell the caller to re-list", err)
			}
			if got := len(f.requestsTo("POST", "/v1/org/users")); got != 1 {
				t.Errorf("POST sent %d times, want once", got)
			}
			if len(clk.Sleeps()) != 0 {
				t.Errorf("slept %v", clk.Sleeps())
			}
		})
	}
}

func TestPostRetriedAfter429(t *testing.T) {
	// A 429 means the server did not process the request, so a POST may go again.
	f := newFake(t)
	f.handle("POST /v1/quality/work-queue-templates/{id}/agents", failFirst(1, 429, map[string]string{"Retry-After": "5"}, tooMany, `{"data":{"type":"work-queue-templates","id":"q1"}}`))
	c, clk := newTestClient(t, f)
	if err := c.AddQueueAgents(context.Background(), "q1", []string{"u1"}); err != nil {
		t.Fatal(err)
	}
	if got := len(f.requests()); got != 2 {
		t.Errorf("requests = %d, want 2", got)
	}
	if diff := cmp.Diff([]time.Duration{5 * time.Second}, clk.Sleeps()); diff != "" {
		t.Errorf("sleeps (-want +got):\n%s", diff)
	}
}

func TestPatchRetriedOn5xx(t *testing.T) {
	f := newFake(t)
	f.handle("PATCH /v1/org/users/{id}", failFirst(1, 502, nil, ``, `{"data":{"type":"users","id":"u1"}}`))
	c, _ := newTestClient(t, f)
	if err := c.UpdateUser(context.Background(), "u1", reconcile.User{Forename: "Ada"}, []reconcile.Field{reconcile.FieldForename}); err != nil {
		t.Fatal(err)
	}
	reqs := f.requestsTo("PATCH", "/v1/org/users/u1")
	if len(reqs) != 2 {
		t.Fatalf("PATCH sent %d times, want 2", len(reqs))
	}
	if reqs[0].Body != reqs[1].Body || reqs[1].Body == "" {
		t.Errorf("retry body %q differs from first %q", reqs[1].Body, reqs[0].Body)
	}
}

func TestNetworkErrorRetriedForGetNotPost(t *testing.T) {
	// A handler that hijacks and closes the connection gives a transport error.
	drop := func(n int, ok string) http.HandlerFunc {
		var calls atomic.Int32
		return func(w http.ResponseWriter, r *http.Request) {
			if int(calls.Add(1)) <= n {
				conn, _, err := w.(http.Hijacker).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				conn.Close()
				return
			}
			writeJSON(w, 200, ok)
		}
	}
	f := newFake(t)
	f.handle("GET /v1/ping", drop(2, `{}`))
	f.handle("POST /v1/org/groups", drop(1, `{"data":{"type":"groups","id":"g9"}}`))
	f.json("GET /v1/org/levels", 200, `{"data":[{"type":"levels","id":"l-team","attributes":{"name":"Team"}}]}`)
	c, _ := newTestClient(t, f)
	if err := c.Ping(context.Background()); err != nil {
		t.Fatalf("GET not retried over a dropped connection: %v", err)
	}
	if got := c.Requests()["GET /ping"]; got != 3 {
		t.Errorf("GET /ping sent %d times, want 3", got)
	}
	_, err := c.CreateTeam(context.Background(), reconcile.Team{Name: "North", Parent: "root"})
	if err == nil {
		t.Fatal("CreateTeam succeeded; want the dropped POST reported, not retried")
	}
	if got := c.Requests()["POST /org/groups"]; got != 1 {
		t.Errorf("POST sent %d times, want 1", got)
	}
}

func TestAuthErrorsAreFatal(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
	}{
		{401, `{"errors":[{"status":"401","title":"Unauthorized","detail":"Unauthorized. Check your API credentials."}]}`},
		{403, `{"errors":[{"status":"403","title":"Forbidden","detail":"IP address not allowed"}]}`},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			f := newFake(t)
			f.json("GET /v1/org/roles", tc.status, tc.body)
			c, clk := newTestClient(t, f)
			_, err := c.List(context.Background())
			var ae *AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want *AuthError", err)
			}
			if ae.Status != tc.status || ae.Endpoint != "GET /org/roles" {
				t.Errorf("AuthError = %+v", ae)
			}
			if got := len(f.requests()); got != 1 {
				t.Errorf("requests = %d, want 1 (no retry)", got)
			}
			if len(clk.Sleeps()) != 0 {
				t.Errorf("slept %v", clk.Sleeps())
			}
		})
	}
}

func TestValidationErrorNamesFieldAndObject(t *testing.T) {
	f := newFake(t)
	f.json("GET /v1/org/roles", 200, `{"data":[{"type":"roles","id":"r-agent","attributes":{"name":"agent","title":"Agent"}}]}`)
	f.json("POST /v1/org/users", 422, `{"errors":[{"status":"422","title":"Validation error","detail":"The username has already been taken.","source":{"pointer":"/data/attributes/username"}}]}`)
	c, _ := newTestClient(t, f)
	_, err := c.CreateUser(context.Background(), reconcile.User{Username: "ada@example.com", Forename: "Ada", Surname: "Lovelace", Active: true})
	want := `evaluagent: create user "ada@example.com": username: The username has already been taken. (422)`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant   %s", err, want)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err is %T, want *APIError", err)
	}
	wantErr := &APIError{Status: 422, Endpoint: "POST /org/users", Op: "create", Object: `user "ada@example.com"`,
		Errors: []ErrorObject{{Status: "422", Title: "Validation error", Detail: "The username has already been taken.", Pointer: "/data/attributes/username"}}}
	if diff := cmp.Diff(wantErr, apiErr); diff != "" {
		t.Errorf("APIError (-want +got):\n%s", diff)
	}
	if got := len(f.requestsTo("POST", "/v1/org/users")); got != 1 {
		t.Errorf("POST sent %d times, want 1", got)
	}
}

func TestOther4xxNotRetried(t *testing.T) {
	for _, status := range []int{400, 405, 409, 415, 422} {
		f := newFake(t)
		f.json("PATCH /v1/org/groups/{id}", status, `{"errors":[{"status":"`+fmt.Sprint(status)+`","title":"x","detail":"nope"}]}`)
		c, _ := newTestClient(t, f)
		err := c.UpdateTeam(context.Background(), "g1", reconcile.Team{Name: "North"}, []reconcile.Field{reconcile.FieldName})
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Status != status {
			t.Errorf("%d: err = %v, want *APIError", status, err)
		}
		if got := len(f.requests()); got != 1 {
			t.Errorf("%d: requests = %d, want 1", status, got)
		}
	}
}

func TestNotFoundMatchesSentinel(t *testing.T) {
	f := newFake(t)
	f.json("PATCH /v1/org/users/{id}", 404, `{"errors":[{"status":"404","title":"Not Found","detail":"User not found"}]}`)
	c, _ := newTestClient(t, f)
	err := c.UpdateUser(context.Background(), "u-gone", reconcile.User{Username: "ada", Forename: "Ada"}, []reconcile.Field{reconcile.FieldForename})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if want := `evaluagent: update user "ada" (u-gone): User not found (404)`; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	if got := len(f.requests()); got != 1 {
		t.Errorf("requests = %d, want 1", got)
	}
}

func TestErrorObjectField(t *testing.T) {
	for ptr, want := range map[string]string{
		"/data/attributes/username":        "username",
		"/data/relationships/agent-team":   "agent-team",
		"/data/3":                          "data[3]",
		"/data/relationships/roles/data/1": "roles.data.1",
		"":                                 "",
	} {
		if got := (ErrorObject{Pointer: ptr}).Field(); got != want {
			t.Errorf("Field(%q) = %q, want %q", ptr, got, want)
		}
	}
}

func TestPacingKeepsEachEndpointUnderItsBudget(t *testing.T) {
	f := newFake(t)
	f.json("GET /v1/ping", 200, `{}`)
	f.json("GET /v1/org/roles", 200, emptyList)
	var waits []time.Duration
	c, clk := newTestClient(t, f, func(cfg *Config) {
		cfg.RatePerMinute = 3
		cfg.OnRateLimitWait = func(_ string, d time.Duration) { waits = append(waits, d) }
	})
	ctx := context.Background()
	for range 3 {
		if err := c.Ping(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(clk.Sleeps()) != 0 {
		t.Fatalf("slept %v within the budget", clk.Sleeps())
	}
	// Another endpoint has its own budget.
	if _, err := c.Roles(ctx); err != nil {
		t.Fatal(err)
	}
	if len(clk.Sleeps()) != 0 {
		t.Fatalf("slept %v for another endpoint", clk.Sleeps())
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]time.Duration{time.Minute}, clk.Sleeps()); diff != "" {
		t.Errorf("sleeps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Duration{time.Minute}, waits); diff != "" {
		t.Errorf("OnRateLimitWait (-want +got):\n%s", diff)
	}
}

func TestPacerNeverExceedsLimitInAnyWindow(t *testing.T) {
	p := newPacer(5, time.Minute)
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	var sends []time.Time
	for i := range 40 {
		now = now.Add(time.Duration(i%7) * time.Second)
		d := p.reserve("GET /x", now)
		if d < 0 {
			t.Fatalf("negative wait %s", d)
		}
		sends = append(sends, now.Add(d))
		if i%3 == 0 { // sometimes the caller actually sleeps, sometimes requests pile up
			now = now.Add(d)
		}
	}
	for i := range sends {
		n := 0
		for _, s := range sends {
			if !s.Before(sends[i]) && s.Before(sends[i].Add(time.Minute)) {
				n++
			}
		}
		if n > 5 {
			t.Fatalf("%d sends in the minute from %s, limit 5", n, sends[i].Sub(start))
		}
	}
}

func TestContextCancelStopsWaiting(t *testing.T) {
	f := newFake(t)
	f.handle("GET /v1/ping", failFirst(1, 429, map[string]string{"Retry-After": "10"}, tooMany, `{}`))
	ctx, cancel := context.WithCancel(context.Background())
	c, _ := newTestClient(t, f, func(cfg *Config) {
		cfg.Sleep = func(ctx context.Context, d time.Duration) error { cancel(); return ctx.Err() }
	})
	err := c.Ping(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestTimeoutPerAttemptIsRetriedForGet(t *testing.T) {
	f := newFake(t)
	var calls atomic.Int32
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.handle("GET /v1/ping", func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		writeJSON(w, 200, `{}`)
	})
	c, _ := newTestClient(t, f, func(cfg *Config) { cfg.Timeout = 100 * time.Millisecond })
	if err := c.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The first attempt hangs until its timeout; a slow machine may time out
	// a later one too, which the retries absorb.
	if got := calls.Load(); got < 2 {
		t.Errorf("calls = %d, want the hung attempt retried", got)
	}
}

func TestBackoffBeyondMaxWaitStops(t *testing.T) {
	f := newFake(t)
	f.handle("GET /v1/ping", failFirst(100, 429, nil, tooMany, `{}`))
	c, clk := newTestClient(t, f, func(cfg *Config) { cfg.MaxWait = 10 * time.Second })
	err := c.Ping(context.Background())
	var rl *RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("err = %v, want *RateLimitError", err)
	}
	var total time.Duration
	for _, d := range clk.Sleeps() {
		total += d
	}
	if total > 10*time.Second || total+rl.Wait <= 10*time.Second {
		t.Errorf("waited %s then stopped before a wait of %s; ceiling 10s", total, rl.Wait)
	}
}

func TestConcurrentUse(t *testing.T) {
	f := newFake(t)
	f.json("GET /v1/ping", 200, `{}`)
	f.json("PATCH /v1/org/users/{id}", 200, `{"data":{"type":"users","id":"x"}}`)
	f.json("GET /v1/org/roles", 200, `{"data":[{"type":"roles","id":"r1","attributes":{"name":"agent"}}]}`)
	c, _ := newTestClient(t, f, func(cfg *Config) { cfg.RatePerMinute = 5 })
	ctx := context.Background()
	errs := make(chan error, 60)
	for i := range 20 {
		go func() { errs <- c.Ping(ctx) }()
		go func() {
			errs <- c.UpdateUser(ctx, fmt.Sprint("u", i), reconcile.User{Roles: reconcile.NamesOf("agent")}, []reconcile.Field{reconcile.FieldRoles})
		}()
		go func() { _, err := c.Roles(ctx); errs <- err }()
	}
	for range 60 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	got := c.Requests()
	if got["GET /ping"] != 20 || got["PATCH /org/users/{id}"] != 20 || got["GET /org/roles"] < 20 {
		t.Errorf("Requests() = %v", got)
	}
}
