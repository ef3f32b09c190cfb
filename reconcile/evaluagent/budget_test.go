package evaluagent

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeBudget allows limit requests per endpoint in each minute of clk, and
// dayLimit in all.
type fakeBudget struct {
	clk             *fakeClock
	limit, dayLimit int
	mu              sync.Mutex
	used            map[string]int
	day             map[string]int
}

func (b *fakeBudget) Take(_ context.Context, endpoint string) (time.Duration, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clk.Now()
	if b.day[endpoint] >= b.dayLimit {
		return 24 * time.Hour, nil
	}
	k := endpoint + now.Truncate(time.Minute).String()
	if b.used[k] >= b.limit {
		return now.Truncate(time.Minute).Add(time.Minute).Sub(now), nil
	}
	b.used[k]++
	b.day[endpoint]++
	return 0, nil
}

func TestBudgetIsTakenBeforeEverySend(t *testing.T) {
	f := newFake(t)
	fakeAccount(f)
	var b *fakeBudget
	c, clk := newTestClient(t, f, func(cfg *Config) { cfg.RatePerMinute = 1000 })
	b = &fakeBudget{clk: clk, limit: 2, dayLimit: 5, used: map[string]int{}, day: map[string]int{}}
	c.cfg.Budget = b
	ctx := context.Background()
	for range 4 {
		if _, err := c.FindUsers(ctx, "ada@example.com", ""); err != nil {
			t.Fatal(err)
		}
	}
	// Two a minute: the third and fourth waited for the next minute.
	if s := clk.Sleeps(); len(s) != 1 || s[0] != time.Minute {
		t.Errorf("sleeps %v, want one wait to the next minute", s)
	}
	_, err := c.FindUsers(ctx, "ada@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	// The day's five are spent: the next request is not sent and the error
	// says until when.
	sent := len(f.requestsTo("GET", "/v1/org/users"))
	_, err = c.FindUsers(ctx, "ada@example.com", "")
	var be *BudgetError
	if !errors.As(err, &be) || !be.Fatal() || !be.Until.After(clk.Now()) {
		t.Fatalf("err = %v, want a fatal *BudgetError", err)
	}
	if n := len(f.requestsTo("GET", "/v1/org/users")); n != sent {
		t.Errorf("%d requests sent past the budget", n-sent)
	}
}
