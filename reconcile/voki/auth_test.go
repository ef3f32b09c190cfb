package voki_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/voki"
	"github.com/rostersync/rostersync/reconcile/voki/vokisim"
)

// clock is a fake clock shared by a simulator and a client; Sleep advances it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
func (c *clock) Sleep(_ context.Context, d time.Duration) error { c.Advance(d); return nil }

// authLog records when (on the fake clock) each /api/auth/* request arrived.
type authLog struct {
	mu    sync.Mutex
	clk   *clock
	times []time.Time
	next  http.Handler
}

func (a *authLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/auth/") {
		a.mu.Lock()
		a.times = append(a.times, a.clk.Now())
		a.mu.Unlock()
	}
	a.next.ServeHTTP(w, r)
}

// maxPerMinute is the most auth requests seen in any minute.
func (a *authLog) maxPerMinute() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	most := 0
	for i, t := range a.times {
		n := 0
		for _, u := range a.times[i:] {
			if u.Sub(t) < time.Minute {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

func clocked(t *testing.T, simCfg func(*vokisim.Config), email, password string) (*voki.Client, *vokisim.Sim, *clock, *authLog) {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	cfg := vokisim.Config{Tenants: []*vokisim.Tenant{vokisim.DefaultTenant(clk.Now())}, Now: clk.Now}
	if simCfg != nil {
		simCfg(&cfg)
	}
	sim := vokisim.New(cfg)
	log := &authLog{clk: clk, next: sim}
	srv := httptest.NewServer(log)
	t.Cleanup(srv.Close)
	c, err := voki.New(voki.Config{BaseURL: srv.URL, Tenant: vokisim.DemoTenant, Email: email, Password: password, Now: clk.Now, Sleep: clk.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	return c, sim, clk, log
}

func TestTokenIsRefreshedBeforeItExpiresAndLoginFollowsAnExpiredRefresh(t *testing.T) {
	ctx := context.Background()
	c, sim, clk, _ := clocked(t, nil, vokisim.DemoEmail, vokisim.DemoPassword)
	if _, err := c.List(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(13 * time.Minute) // past the 12-minute margin, before the 15-minute expiry
	if _, err := c.List(ctx); err != nil {
		t.Fatal(err)
	}
	if l, r := sim.Counts(); l != 1 || r != 1 {
		t.Errorf("after 13 minutes: %d login(s) and %d refresh(es), want 1 and 1", l, r)
	}
	clk.Advance(8 * 24 * time.Hour) // both tokens expired
	if _, err := c.List(ctx); err != nil {
		t.Fatal(err)
	}
	if l, r := sim.Counts(); l != 2 || r != 2 {
		t.Errorf("after 8 days: %d login(s) and %d refresh(es), want 2 and 2 (a refused refresh, then one login)", l, r)
	}
}

func TestA401IsRenewedOnceAndRetried(t *testing.T) {
	ctx := context.Background()
	// The platform expires access tokens sooner than the client expects.
	c, sim, clk, _ := clocked(t, func(c *vokisim.Config) { c.AccessTTL = time.Minute }, vokisim.DemoEmail, vokisim.DemoPassword)
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)
	if _, err := c.List(ctx); err != nil {
		t.Fatalf("a 401 on an expired token is not renewed: %v", err)
	}
	if l, r := sim.Counts(); l != 1 || r != 1 {
		t.Errorf("%d login(s) and %d refresh(es), want 1 and 1", l, r)
	}
}

func TestAuthenticationStaysUnderTheLoginLimit(t *testing.T) {
	ctx := context.Background()
	// Tokens that die within seconds force two auth calls per request.
	c, _, clk, log := clocked(t, func(c *vokisim.Config) { c.AccessTTL, c.RefreshTTL = time.Second, time.Second }, vokisim.DemoEmail, vokisim.DemoPassword)
	start := clk.Now()
	for i := range 10 {
		clk.Advance(2 * time.Second)
		if err := c.Ping(ctx); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
		c.ForgetSelf()
		c.NewRun()
	}
	if got := log.maxPerMinute(); got > voki.AuthPerMinute {
		t.Errorf("%d auth requests within one minute, want at most %d", got, voki.AuthPerMinute)
	}
	if len(log.times) < 10 {
		t.Errorf("only %d auth requests: the test forced too few", len(log.times))
	}
	if waited := clk.Now().Sub(start); waited < time.Minute {
		t.Errorf("the client never paced itself (%s passed)", waited)
	}
}

func TestTwoFactorServiceUserIsAClearError(t *testing.T) {
	c, _, _, log := clocked(t, nil, "mia.manager@acme.example", "mia-password")
	err := c.Ping(context.Background())
	if !errors.Is(err, voki.ErrTwoFactor) {
		t.Fatalf("err = %v, want ErrTwoFactor", err)
	}
	if !strings.Contains(err.Error(), "without two-factor login") {
		t.Errorf("the message does not say how to fix it: %v", err)
	}
	if len(log.times) != 1 {
		t.Errorf("%d auth requests, want 1 (never retried)", len(log.times))
	}
}

func TestWrongPasswordIsNeverRetried(t *testing.T) {
	c, _, _, log := clocked(t, nil, vokisim.DemoEmail, "wrong")
	err := c.Ping(context.Background())
	if !errors.Is(err, voki.ErrLoginRefused) {
		t.Fatalf("err = %v, want ErrLoginRefused", err)
	}
	if len(log.times) != 1 {
		t.Errorf("%d auth requests, want 1", len(log.times))
	}
}

func TestA429IsWaitedOutAsRetryAfterSays(t *testing.T) {
	var mu sync.Mutex
	forced := 0
	c, _, clk, _ := clocked(t, func(s *vokisim.Config) {
		s.Force429 = func(r *http.Request) bool {
			mu.Lock()
			defer mu.Unlock()
			if r.URL.Path == "/api/v1/users" && forced < 2 {
				forced++
				return true
			}
			return false
		}
	}, vokisim.DemoEmail, vokisim.DemoPassword)
	start := clk.Now()
	if _, err := c.List(context.Background()); err != nil {
		t.Fatalf("List after two 429s: %v", err)
	}
	if waited := clk.Now().Sub(start); waited != 2*time.Second {
		t.Errorf("waited %s, want 2s (Retry-After: 1, twice)", waited)
	}
}

func TestARunMakesAtMostThreeAuthenticationCalls(t *testing.T) {
	ctx := context.Background()
	// Every user update is refused as unauthorised, however fresh the token.
	var refuse atomic.Bool
	c, _, _, log := clocked(t, nil, vokisim.DemoEmail, vokisim.DemoPassword)
	inner := log.next
	log.next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse.Load() && r.Method == http.MethodPut {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":{"detail":"Unauthorized"}}`))
			return
		}
		inner.ServeHTTP(w, r)
	})
	snap, err := c.List(ctx) // one login
	if err != nil {
		t.Fatal(err)
	}
	refuse.Store(true)
	u := snap.Users[len(snap.Users)-1]
	update := func() error {
		return c.UpdateUser(ctx, u.ID, reconcile.User{Forename: "A", Surname: "B"}, []reconcile.Field{reconcile.FieldForename, reconcile.FieldSurname})
	}
	for i := range 2 { // a refresh each, then the retry is refused
		if err := update(); err == nil || errors.Is(err, voki.ErrAuthCap) {
			t.Fatalf("update %d: %v, want the platform's 401", i, err)
		}
	}
	if err := update(); !errors.Is(err, voki.ErrAuthCap) {
		t.Fatalf("a fourth authentication call in one run: %v, want ErrAuthCap", err)
	}
	if n := len(log.times); n != voki.AuthPerRun {
		t.Errorf("%d authentication calls, want %d", n, voki.AuthPerRun)
	}
	// The next run may authenticate again.
	refuse.Store(false)
	if _, err := c.List(ctx); err != nil {
		t.Fatal(err)
	}
	refuse.Store(true)
	if err := update(); err == nil || errors.Is(err, voki.ErrAuthCap) {
		t.Fatalf("in a new run: %v, want the platform's 401 after one refresh", err)
	}
	if n := len(log.times); n != voki.AuthPerRun+1 {
		t.Errorf("%d authentication calls after the second run, want %d", n, voki.AuthPerRun+1)
	}
}
