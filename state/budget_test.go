package state

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWindows(t *testing.T) {
	at := time.Date(2026, 11, 21, 11, 5, 59, 0, time.FixedZone("CET", 3600))
	if got := MinuteWindow(at); got != "minute:2026-11-21T10:05" {
		t.Errorf("MinuteWindow = %q", got)
	}
	if got := DayWindow(at.Add(-11 * time.Hour)); got != "day:2026-11-20" {
		t.Errorf("DayWindow = %q", got)
	}
}

func TestBudgets(t *testing.T) { forEachBackend(t, testBudgets) }

func testBudgets(t *testing.T, bk testBackend) {
	ctx := context.Background()
	clk := &fakeClock{t: t0}
	dir := bk.fresh(t)
	db, err := openLoc(dir, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	minute, day := MinuteWindow(t0), DayWindow(t0)

	use := func(endpoint, window string, n, want int) {
		t.Helper()
		got, err := db.BudgetUse(ctx, endpoint, window, n)
		if err != nil || got != want {
			t.Errorf("BudgetUse(%s, %s, %d) = %d, %v; want %d", endpoint, window, n, got, err, want)
		}
	}
	use("/v1/users", minute, 1, 1)
	use("/v1/users", minute, 3, 4)
	use("/v1/users", day, 4, 4)
	use("/v1/groups", minute, 1, 1)
	use("/v1/users", minute, 0, 4)
	if _, err := db.BudgetUse(ctx, "/v1/users", minute, -1); err == nil {
		t.Error("negative use accepted")
	}
	if _, err := db.BudgetUse(ctx, "/v1/users", "", 1); err == nil {
		t.Error("empty window accepted")
	}

	if used, ok, err := db.BudgetTake(ctx, "/v1/users", minute, 96, 100); used != 100 || !ok || err != nil {
		t.Errorf("BudgetTake to the limit = %d, %v, %v; want 100, true", used, ok, err)
	}
	if used, ok, err := db.BudgetTake(ctx, "/v1/users", minute, 1, 100); used != 100 || ok || err != nil {
		t.Errorf("BudgetTake over the limit = %d, %v, %v; want 100, false", used, ok, err)
	}

	// Counts survive a restart.
	db.Close()
	db, err = openLoc(dir, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		endpoint, window string
		want             int
	}{
		{"/v1/users", minute, 100},
		{"/v1/users", day, 4},
		{"/v1/groups", minute, 1},
		{"/v1/groups", day, 0},
	} {
		if got, err := db.BudgetUsed(ctx, c.endpoint, c.window); got != c.want || err != nil {
			t.Errorf("BudgetUsed(%s, %s) = %d, %v; want %d", c.endpoint, c.window, got, err, c.want)
		}
	}

	// Two days on, the old windows are pruned by the next use.
	clk.mu.Lock()
	clk.t = t0.Add(49 * time.Hour)
	clk.mu.Unlock()
	use("/v1/users", DayWindow(clk.t), 1, 1)
	var rows int
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM budgets`).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("%d budget rows after pruning (%v), want 1", rows, err)
	}
}

// Two hosts (two handles on one database) taking from one budget at once
// never take more than its limit together, and take all of it.
func TestBudgetTakeSharedByTwoHandles(t *testing.T) {
	forEachBackend(t, testBudgetTakeSharedByTwoHandles)
}

func testBudgetTakeSharedByTwoHandles(t *testing.T, bk testBackend) {
	ctx := context.Background()
	a, loc := bk.openTest(t)
	b := openAt(t, loc)
	const limit, workers, tries = 50, 6, 20
	var wg sync.WaitGroup
	var taken atomic.Int64
	errs := make(chan error, workers*tries)
	for w := range workers {
		db := a
		if w%2 == 1 {
			db = b
		}
		wg.Go(func() {
			for i := range tries {
				n := 1 + (w+i)%3 // 1, 2 or 3 requests at a time
				used, ok, err := db.BudgetTake(ctx, "/v1/users", "minute:2026-11-21T10:05", n, limit)
				switch {
				case err != nil:
					errs <- err
				case used > limit:
					errs <- fmt.Errorf("BudgetTake reported %d used, over the limit %d", used, limit)
				case ok:
					taken.Add(int64(n))
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	used, err := a.BudgetUsed(ctx, "/v1/users", "minute:2026-11-21T10:05")
	if err != nil || used != int(taken.Load()) || used > limit || used < limit-2 {
		t.Errorf("used %d (%v), taken %d; want what was taken, at most %d and no less than %d", used, err, taken.Load(), limit, limit-2)
	}
}
