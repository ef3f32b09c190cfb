package evaluagent_test

// Bearer-token mode against the simulator, with one fake clock for both.

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rostersync/rostersync/reconcile/evaluagent"
	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
)

// memStore is a TokenStore in memory; its lock is a channel so that two
// clients sharing it exclude each other as two processes sharing a file do.
type memStore struct {
	mu    sync.Mutex
	t     evaluagent.Token
	ok    bool
	saves int
	lock  chan struct{}
	fail  bool
}

func newMemStore() *memStore { return &memStore{lock: make(chan struct{}, 1)} }

func (m *memStore) Load() (evaluagent.Token, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t, m.ok, nil
}

func (m *memStore) Save(t evaluagent.Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("disk full")
	}
	m.t, m.ok = t, true
	m.saves++
	return nil
}

func (m *memStore) Lock(ctx context.Context) (func() error, error) {
	select {
	case m.lock <- struct{}{}:
		return func() error { <-m.lock; return nil }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (m *memStore) Where() string { return "memory" }

type bearerEnv struct {
	sim   *evaluagentsim.Server
	url   string
	clock *evaluagent.FakeClock
	store *memStore
}

func newBearerEnv(t *testing.T, simMod func(*evaluagentsim.Config)) *bearerEnv {
	t.Helper()
	clk := evaluagent.NewFakeClock(time.Date(2025, 6, 2, 10, 0, 30, 0, time.UTC))
	scfg := evaluagentsim.DefaultConfig()
	scfg.Now = clk.Now
	if simMod != nil {
		simMod(&scfg)
	}
	sim, err := evaluagentsim.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	return &bearerEnv{sim: sim, url: ts.URL + "/v1", clock: clk, store: newMemStore()}
}

// client makes a bearer-mode client of the demo key over the env's store.
func (e *bearerEnv) client(t *testing.T, mod ...func(*evaluagent.Config)) *evaluagent.Client {
	t.Helper()
	cfg := evaluagent.Config{
		BaseURL: e.url, KeyID: evaluagentsim.DemoKeyID, KeySecret: evaluagentsim.DemoKeySecret,
		Now: e.clock.Now, Sleep: e.clock.Sleep, Bearer: &evaluagent.Bearer{Store: e.store},
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := evaluagent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *bearerEnv) advance(d time.Duration) {
	_ = e.clock.Sleep(context.Background(), d)
}

func TestBearerNeverCreatesOnItsOwn(t *testing.T) {
	e := newBearerEnv(t, nil)
	c := e.client(t)
	_, err := c.List(context.Background())
	var te *evaluagent.TokenError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "auth create") {
		t.Fatalf("List with no stored token: %v, want a TokenError naming auth create", err)
	}
	if n := e.sim.Counts()["POST /auth/token"]; n != 0 {
		t.Errorf("the client created a token by itself (%d requests)", n)
	}
	if err := c.Ping(context.Background()); !errors.As(err, &te) {
		t.Errorf("Ping with no stored token: %v, want a TokenError", err)
	}
	if len(e.sim.Counts()) != 0 {
		t.Errorf("requests were sent with no token: %v", e.sim.Counts())
	}
}

func TestBearerCreateUseRefreshExpire(t *testing.T) {
	e := newBearerEnv(t, nil)
	ctx := context.Background()
	c := e.client(t)
	tok, err := c.CreateToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !e.store.ok || e.store.t.Token != tok.Token || tok.Origin != evaluagent.OriginCreated {
		t.Fatalf("created token not stored: %+v", e.store.t)
	}
	if want := e.clock.Now().Add(24 * time.Hour); !tok.ExpiresAt.Equal(want) {
		t.Errorf("expires %s, want %s", tok.ExpiresAt, want)
	}
	if _, err := c.CreateToken(ctx); err == nil {
		t.Error("a second CreateToken was not refused")
	}
	// Basic is gone for good: a basic-mode client of the same key is refused.
	basic, _ := evaluagent.New(evaluagent.Config{BaseURL: e.url, KeyID: evaluagentsim.DemoKeyID, KeySecret: evaluagentsim.DemoKeySecret, Now: e.clock.Now, Sleep: e.clock.Sleep})
	if err := basic.Ping(ctx); err == nil {
		t.Error("Basic still works after the token was created")
	}
	// Use: a whole listing with the token.
	if _, err := c.List(ctx); err != nil {
		t.Fatal(err)
	}
	// Before 20 hours nothing is refreshed.
	e.advance(19*time.Hour + 59*time.Minute)
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.sim.Counts()["POST /auth/token/refresh"]; n != 0 {
		t.Fatalf("refreshed before 20h (%d)", n)
	}
	// At 20 hours the next request refreshes first, and the new token is
	// stored before it is used.
	e.advance(time.Minute)
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.sim.Counts()["POST /auth/token/refresh"]; n != 1 {
		t.Fatalf("refreshes at 20h: %d, want 1", n)
	}
	if e.store.t.Token == tok.Token || e.store.t.Origin != evaluagent.OriginRefreshed || !e.store.t.RefreshSent.IsZero() {
		t.Fatalf("refreshed token not stored cleanly: %+v", e.store.t)
	}
	st := c.TokenStatus()
	if st.State != "ok" || st.SecondsLeft != (24*time.Hour).Seconds() {
		t.Errorf("status after refresh: %+v", st)
	}
	// Left alone for 24 hours, the token expires and the key is lost: the
	// error says so, and nothing is sent.
	e.advance(24*time.Hour + time.Minute)
	before := e.sim.Counts()
	err = c.Ping(ctx)
	if !errors.Is(err, evaluagent.ErrKeyLost) || !strings.Contains(err.Error(), "expired") || !strings.Contains(err.Error(), "new key") {
		t.Fatalf("after 24h: %v, want an expiry error that says to make a new key", err)
	}
	if got := e.sim.Counts(); len(got) != len(before) || got["GET /ping"] != before["GET /ping"] {
		t.Errorf("requests sent with an expired token: %v → %v", before, got)
	}
	if st := c.TokenStatus(); st.State != "expired" || st.SecondsLeft >= 0 {
		t.Errorf("status after expiry: %+v", st)
	}
}

func TestBearerLostRefreshAnswer(t *testing.T) {
	e := newBearerEnv(t, nil)
	ctx := context.Background()
	c := e.client(t)
	if _, err := c.CreateToken(ctx); err != nil {
		t.Fatal(err)
	}
	e.advance(20 * time.Hour)
	e.sim.DropResponses("POST /auth/token/refresh", 1)
	_, err := c.List(ctx)
	var te *evaluagent.TokenError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "was lost") || !strings.Contains(err.Error(), "rostersync check") {
		t.Fatalf("List after a lost refresh answer: %v, want a TokenError saying what to do", err)
	}
	if n := e.sim.Counts()["GET /org/roles"]; n != 0 {
		t.Errorf("the run went on after the lost refresh (%d role listings)", n)
	}
	if e.store.t.RefreshSent.IsZero() {
		t.Error("the store does not record the refresh in doubt")
	}
	if st := c.TokenStatus(); st.State != "refresh-in-doubt" {
		t.Errorf("status: %+v", st)
	}
	// The next use tests the stored token, finds it refused, and says the
	// key is lost: never a silent 401 loop.
	err = c.Ping(ctx)
	if !errors.Is(err, evaluagent.ErrKeyLost) || !strings.Contains(err.Error(), "answer was lost") {
		t.Fatalf("next use: %v, want the key reported lost", err)
	}
}

// A refresh whose request never reached the platform (the connection
// failed before): the next use finds the stored token still works and goes
// on, refreshing again.
func TestBearerRefreshInDoubtThatNeverHappened(t *testing.T) {
	e := newBearerEnv(t, nil)
	ctx := context.Background()
	c := e.client(t)
	tok, err := c.CreateToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.advance(20 * time.Hour)
	e.sim.ForceStatus("POST /auth/token/refresh", 502, 1)
	if _, err := c.List(ctx); err == nil || !strings.Contains(err.Error(), "was lost") {
		t.Fatalf("List: %v, want the refresh reported lost", err)
	}
	if e.store.t.Token != tok.Token {
		t.Fatal("the stored token changed")
	}
	if _, err := c.List(ctx); err != nil {
		t.Fatalf("List after the refresh turned out not to have happened: %v", err)
	}
	if e.store.t.Token == tok.Token || !e.store.t.RefreshSent.IsZero() {
		t.Errorf("not refreshed after settling: %+v", e.store.t)
	}
}

// Two clients (two processes) sharing a store: one refreshes, the other
// takes the new token from the store, and both keep working.
func TestBearerTwoClientsShareTheStore(t *testing.T) {
	e := newBearerEnv(t, nil)
	ctx := context.Background()
	a, b := e.client(t), e.client(t)
	if _, err := a.CreateToken(ctx); err != nil {
		t.Fatal(err)
	}
	e.advance(20 * time.Hour)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		c := a
		if i%2 == 1 {
			c = b
		}
		wg.Go(func() { errs[i] = c.Ping(ctx) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("ping %d: %v", i, err)
		}
	}
	if n := e.sim.Counts()["POST /auth/token/refresh"]; n != 1 {
		t.Errorf("refreshes: %d, want exactly 1", n)
	}
}

func TestBearerImport(t *testing.T) {
	const id = "00000000-0000-4000-8000-000000000002"
	e := newBearerEnv(t, func(c *evaluagentsim.Config) {
		c.Keys = append(c.Keys, evaluagentsim.Key{ID: id, Secret: evaluagentsim.DemoKeySecret, Mode: evaluagentsim.ModeBearer,
			Token: "pre-issued-token", TokenExpiresAt: time.Date(2025, 6, 2, 20, 0, 30, 0, time.UTC)})
	})
	ctx := context.Background()
	key := func(cfg *evaluagent.Config) { cfg.KeyID, cfg.KeySecret = id, "" }
	// A wrong token is never stored.
	bad := e.client(t, key, func(cfg *evaluagent.Config) { cfg.Bearer.InitialToken, cfg.Bearer.InitialFrom = "nope", "token.txt" })
	if err := bad.Ping(ctx); err == nil || !strings.Contains(err.Error(), "token.txt") {
		t.Fatalf("import of a wrong token: %v", err)
	}
	if e.store.ok {
		t.Fatal("a refused token was stored")
	}
	c := e.client(t, key, func(cfg *evaluagent.Config) {
		cfg.Bearer.InitialToken, cfg.Bearer.InitialFrom = "pre-issued-token", "token.txt"
	})
	if _, err := c.List(ctx); err != nil {
		t.Fatal(err)
	}
	// Imported with the expiry the ping gave: 10h left, so 14h old, not due.
	if e.store.t.Origin != evaluagent.OriginImported || !e.store.t.ExpiresAt.Equal(time.Date(2025, 6, 2, 20, 0, 30, 0, time.UTC)) {
		t.Fatalf("stored %+v", e.store.t)
	}
	if n := e.sim.Counts()["POST /auth/token/refresh"]; n != 0 {
		t.Errorf("refreshed a 14h-old token (%d)", n)
	}
	e.advance(6 * time.Hour)
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if e.store.t.Token == "pre-issued-token" {
		t.Error("the imported token was not refreshed at 20h of age")
	}
}

// staleStore hands out an old token on its next Load, as a process that
// read the store just before another process refreshed would hold.
type staleStore struct {
	*memStore
	stale string
}

func (s *staleStore) Load() (evaluagent.Token, bool, error) {
	t, ok, err := s.memStore.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stale != "" {
		t.Token, s.stale = s.stale, ""
	}
	return t, ok, err
}

// A request sent with a token another process has just replaced gets 401;
// the client sends it once more with the stored token instead of failing.
func TestBearerStaleTokenIsRetriedWithTheStoredOne(t *testing.T) {
	e := newBearerEnv(t, nil)
	ctx := context.Background()
	first := e.client(t)
	old, err := first.CreateToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.RefreshToken(ctx); err != nil {
		t.Fatal(err)
	}
	st := &staleStore{memStore: e.store, stale: old.Token}
	c := e.client(t, func(cfg *evaluagent.Config) { cfg.Bearer.Store = st })
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("ping with a stale token: %v", err)
	}
	if got := e.sim.StatusCounts()["GET /ping"]; got[401] != 1 || got[200] != 1 {
		t.Errorf("ping statuses %v, want one 401 then one 200", got)
	}
	// A token that is simply dead is not retried forever: one 401, an AuthError.
	e.store.mu.Lock()
	e.store.t.Token = "dead"
	e.store.mu.Unlock()
	var ae *evaluagent.AuthError
	if err := c.Ping(ctx); !errors.As(err, &ae) || !strings.Contains(err.Error(), "bearer token was refused") {
		t.Fatalf("ping with a dead token: %v", err)
	}
}

// A refresh the request budget stops is never sent, so it is no loss: the
// mark is cleared and the current token keeps serving.
func TestBearerRefreshStoppedByTheBudget(t *testing.T) {
	e := newBearerEnv(t, nil)
	ctx := context.Background()
	c := e.client(t, func(cfg *evaluagent.Config) { cfg.Budget = spentBudget{"POST /auth/token/refresh"} })
	tok, err := c.CreateToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.advance(20 * time.Hour)
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("ping with the refresh stopped by the budget: %v", err)
	}
	if e.sim.Counts()["POST /auth/token/refresh"] != 0 || e.store.t.Token != tok.Token || !e.store.t.RefreshSent.IsZero() {
		t.Errorf("after a refresh that was never sent: %d sent, stored %+v", e.sim.Counts()["POST /auth/token/refresh"], e.store.t)
	}
	if _, err := c.RefreshToken(ctx); err == nil || errors.Is(err, evaluagent.ErrKeyLost) || !strings.Contains(err.Error(), "nothing was sent") {
		t.Errorf("forced refresh stopped by the budget: %v", err)
	}
}

// spentBudget refuses one endpoint for a day.
type spentBudget struct{ endpoint string }

func (b spentBudget) Take(_ context.Context, endpoint string) (time.Duration, error) {
	if endpoint == b.endpoint {
		return 24 * time.Hour, nil
	}
	return 0, nil
}

// A platform that cannot be reached never received the creation: that is
// "try again", not "the key may be lost".
func TestBearerCreateAgainstNoServerIsNotALoss(t *testing.T) {
	e := newBearerEnv(t, nil)
	ln := httptest.NewServer(nil)
	dead := ln.URL + "/v1"
	ln.Close()
	c := e.client(t, func(cfg *evaluagent.Config) { cfg.BaseURL = dead })
	_, err := c.CreateToken(context.Background())
	if err == nil {
		t.Fatal("CreateToken against a closed port succeeded")
	}
	var te *evaluagent.TokenError
	if errors.As(err, &te) || strings.Contains(err.Error(), "lost") {
		t.Fatalf("CreateToken against a closed port: %v, want a plain not-sent error", err)
	}
	if !strings.Contains(err.Error(), "nothing was sent") || !strings.Contains(err.Error(), "unchanged") {
		t.Errorf("CreateToken against a closed port: %v, want it to say nothing was sent and the key is unchanged", err)
	}
}
