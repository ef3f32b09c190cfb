package daemon

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// recorder is a pass function that records what ran, when, and how many at
// once. Each pass takes passTime of (fake) time.
type recorder struct {
	mu       sync.Mutex
	start    time.Time
	passTime time.Duration
	kinds    []Kind
	at       []time.Duration
	inFlight int
	maxIn    int
	config   string // what the pass "uses"; changed only by a good reload
	used     []string
	skip     bool
}

func (r *recorder) pass(ctx context.Context, kind Kind) (Outcome, error) {
	r.mu.Lock()
	r.inFlight++
	r.maxIn = max(r.maxIn, r.inFlight)
	r.kinds = append(r.kinds, kind)
	r.at = append(r.at, time.Since(r.start))
	r.used = append(r.used, r.config)
	skip := r.skip && kind == Delta
	r.mu.Unlock()
	if r.passTime > 0 {
		select {
		case <-time.After(r.passTime):
		case <-ctx.Done():
		}
	}
	r.mu.Lock()
	r.inFlight--
	r.mu.Unlock()
	return Outcome{Skipped: skip, Summary: "no changes"}, nil
}

func (r *recorder) snapshot() ([]Kind, []time.Duration, []string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Kind(nil), r.kinds...), append([]time.Duration(nil), r.at...), append([]string(nil), r.used...), r.maxIn
}

// start runs a scheduler in the bubble and returns a stop function that
// cancels it and waits for Run to return.
func start(t *testing.T, cfg Config) (*Scheduler, func()) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	return s, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func TestFullPassAtStartAndOnInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{start: time.Now(), passTime: time.Minute}
		_, stop := start(t, Config{Interval: 15 * time.Minute, Pass: r.pass})
		time.Sleep(time.Hour)
		synctest.Wait()
		stop()
		kinds, at, _, _ := r.snapshot()
		// Passes at 0, 16m, 32m, 48m: the interval runs from a pass's end.
		want := []time.Duration{0, 16 * time.Minute, 32 * time.Minute, 48 * time.Minute}
		if len(at) != len(want) {
			t.Fatalf("passes at %v, want %v", at, want)
		}
		for i := range want {
			if at[i] != want[i] || kinds[i] != Full {
				t.Errorf("pass %d: %s at %v, want full at %v", i, kinds[i], at[i], want[i])
			}
		}
	})
}

func TestTriggersCoalesceAndNeverOverlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{start: time.Now(), passTime: 10 * time.Second}
		s, stop := start(t, Config{Interval: time.Hour, Debounce: 2 * time.Second, Pass: r.pass})
		// During the first (full) pass, a burst of twenty pushes.
		time.Sleep(time.Second)
		for range 20 {
			s.Trigger()
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		kinds, at, _, maxIn := r.snapshot()
		if maxIn != 1 {
			t.Errorf("%d passes ran at once, want 1", maxIn)
		}
		// One more pass, not twenty: after the full pass ends (10s) and the
		// debounce (2s).
		if len(kinds) != 2 || kinds[1] != Trigger || at[1] != 12*time.Second {
			t.Errorf("passes %v at %v, want [full trigger] at [0s 12s]", kinds, at)
		}

		// An idle daemon: a burst of pushes makes one pass, Debounce after
		// the first.
		t0 := time.Since(r.start)
		for range 5 {
			s.Trigger()
			time.Sleep(300 * time.Millisecond)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		stop()
		kinds, at, _, maxIn = r.snapshot()
		if len(kinds) != 3 || kinds[2] != Trigger || at[2] != t0+2*time.Second {
			t.Errorf("passes %v at %v, want a third (trigger) at %v", kinds, at, t0+2*time.Second)
		}
		if maxIn != 1 {
			t.Errorf("%d passes ran at once, want 1", maxIn)
		}
	})
}

func TestFullPassAnswersPendingTrigger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{start: time.Now()}
		s, stop := start(t, Config{Interval: 10 * time.Second, Debounce: 5 * time.Second, Pass: r.pass})
		synctest.Wait()
		time.Sleep(8 * time.Second) // 2s before the next full pass
		s.Trigger()
		time.Sleep(20 * time.Second) // the full pass at 10s; no trigger pass at 13s
		synctest.Wait()
		stop()
		kinds, at, _, _ := r.snapshot()
		if len(kinds) != 3 || kinds[1] != Full || kinds[2] != Full || at[2] != 20*time.Second {
			t.Errorf("passes %v at %v, want full at 0s, 10s, 20s", kinds, at)
		}
	})
}

func TestDeltaPasses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{start: time.Now(), skip: true}
		s, stop := start(t, Config{Interval: time.Hour, DeltaInterval: time.Minute, Pass: r.pass})
		time.Sleep(5*time.Minute + time.Second)
		synctest.Wait()
		stop()
		kinds, at, _, _ := r.snapshot()
		want := []Kind{Full, Delta, Delta, Delta, Delta, Delta}
		if len(kinds) != len(want) {
			t.Fatalf("passes %v at %v, want %v", kinds, at, want)
		}
		for i := range want {
			if kinds[i] != want[i] || at[i] != time.Duration(i)*time.Minute {
				t.Errorf("pass %d: %s at %v", i, kinds[i], at[i])
			}
		}
		// Skipped delta passes are not recorded.
		if n := len(s.Status().Passes()); n != 1 {
			t.Errorf("%d passes recorded, want 1 (the full pass)", n)
		}
	})
}

func TestReloadKeepsOldConfigurationOnError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{start: time.Now(), config: "v1", passTime: time.Second}
		next, nextErr := "", error(nil)
		reload := func(ctx context.Context) error {
			if nextErr != nil {
				return nextErr
			}
			r.mu.Lock()
			r.config = next
			r.mu.Unlock()
			return nil
		}
		s, stop := start(t, Config{Interval: time.Hour, Debounce: time.Second, Pass: r.pass, Reload: reload})
		synctest.Wait()

		// A broken configuration: logged, the old one kept, no pass.
		next, nextErr = "broken", errors.New("mapping.yaml:3: unknown key")
		s.RequestReload()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		rep := s.Status().Report(time.Hour)
		if rep.Reload == nil || rep.Reload.Error == "" {
			t.Errorf("status after a failed reload: %+v, want the error", rep.Reload)
		}
		s.Trigger()
		time.Sleep(5 * time.Second)
		synctest.Wait()

		// A good one: used at once by a reload pass, and after.
		next, nextErr = "v2", nil
		s.RequestReload()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		stop()
		kinds, _, used, _ := r.snapshot()
		wantKinds := []Kind{Full, Trigger, Reload}
		wantUsed := []string{"v1", "v1", "v2"}
		if len(kinds) != 3 {
			t.Fatalf("passes %v using %v, want %v using %v", kinds, used, wantKinds, wantUsed)
		}
		for i := range wantKinds {
			if kinds[i] != wantKinds[i] || used[i] != wantUsed[i] {
				t.Errorf("pass %d: %s using %s, want %s using %s", i, kinds[i], used[i], wantKinds[i], wantUsed[i])
			}
		}
		if rep := s.Status().Report(time.Hour); rep.Reload == nil || rep.Reload.Error != "" {
			t.Errorf("status after a good reload: %+v", rep.Reload)
		}
	})
}

func TestReloadWaitsForThePassInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &recorder{start: time.Now(), config: "v1", passTime: time.Minute}
		var reloadedAt time.Duration
		s, stop := start(t, Config{Interval: time.Hour, Pass: r.pass, Reload: func(context.Context) error {
			reloadedAt = time.Since(r.start)
			return nil
		}})
		time.Sleep(time.Second)
		s.RequestReload()
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		stop()
		if reloadedAt != time.Minute {
			t.Errorf("reloaded at %v, want at 1m when the first pass ended", reloadedAt)
		}
	})
}

func TestStopWaitsForThePassInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sawCancel, returned bool
		pass := func(ctx context.Context, kind Kind) (Outcome, error) {
			<-ctx.Done()
			sawCancel = true
			time.Sleep(3 * time.Second) // finishing the write in flight
			returned = true
			return Outcome{Result: "interrupted"}, ctx.Err()
		}
		s, err := New(Config{Interval: time.Hour, Pass: pass})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { s.Run(ctx); close(done) }()
		time.Sleep(time.Second)
		cancel()
		<-done
		if !sawCancel || !returned {
			t.Errorf("Run returned before the pass did (cancel seen %v, returned %v)", sawCancel, returned)
		}
		if p := s.Status().Passes(); len(p) != 1 || p[0].Result != "interrupted" {
			t.Errorf("recorded %+v, want one interrupted pass", p)
		}
	})
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New accepted no interval and no pass")
	}
}
