package state

import (
	"context"
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
