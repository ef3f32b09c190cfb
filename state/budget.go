package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// budgetKeep is how long a rate window's count is kept after its last use:
// longer than the longest window (a day).
const budgetKeep = 48 * time.Hour

// MinuteWindow names the UTC minute containing t ("minute:2026-11-21T10:05").
func MinuteWindow(t time.Time) string { return "minute:" + t.UTC().Format("2006-01-02T15:04") }

// DayWindow names the UTC day containing t ("day:2026-11-21").
func DayWindow(t time.Time) string { return "day:" + t.UTC().Format("2006-01-02") }

// BudgetUse adds n requests to endpoint's count for window (see MinuteWindow
// and DayWindow) and returns the new count. Windows unused for two days are
// pruned as it goes.
func (d *DB) BudgetUse(ctx context.Context, endpoint, window string, n int) (used int, err error) {
	used, _, err = d.budgetAdd(ctx, endpoint, window, n, -1)
	return used, err
}

// BudgetTake adds n requests to endpoint's count for window only if the
// count stays within limit, and reports whether it did. Checking and adding
// in one step lets processes sharing the database share the budget.
func (d *DB) BudgetTake(ctx context.Context, endpoint, window string, n, limit int) (used int, ok bool, err error) {
	if limit < 0 {
		return 0, false, fmt.Errorf("state: budget %s %s: negative limit %d", endpoint, window, limit)
	}
	return d.budgetAdd(ctx, endpoint, window, n, limit)
}

// budgetAdd adds n unless limit >= 0 and the sum would exceed it.
func (d *DB) budgetAdd(ctx context.Context, endpoint, window string, n, limit int) (used int, ok bool, err error) {
	wrap := func(err error) error { return fmt.Errorf("state: budget %s %s: %w", endpoint, window, err) }
	if err := need("endpoint", endpoint, "window", window); err != nil {
		return 0, false, wrap(err)
	}
	if n < 0 {
		return 0, false, wrap(fmt.Errorf("negative use %d", n))
	}
	// Each statement stands alone: the add is one conditional upsert, atomic
	// on both backends, so that processes and hosts sharing the database
	// never take more than limit together.
	now := d.now()
	if _, err := d.db.ExecContext(ctx, `DELETE FROM budgets WHERE updated_at < ?`, fmtTime(now.Add(-budgetKeep))); err != nil {
		return 0, false, wrap(err)
	}
	if limit < 0 || n <= limit {
		err = d.db.QueryRowContext(ctx, `INSERT INTO budgets (endpoint, budget_window, used, updated_at) VALUES (?1, ?2, ?3, ?4)
			ON CONFLICT (endpoint, budget_window) DO UPDATE SET used = budgets.used + excluded.used, updated_at = excluded.updated_at
			WHERE ?5 < 0 OR budgets.used + excluded.used <= ?5
			RETURNING used`, endpoint, window, n, fmtTime(now), limit).Scan(&used)
		if err == nil {
			return used, true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, false, wrap(err)
		}
	}
	// Refused: the count as it stands.
	used, err = d.BudgetUsed(ctx, endpoint, window)
	return used, false, err
}

// BudgetUsed returns endpoint's count for window (0 if unused).
func (d *DB) BudgetUsed(ctx context.Context, endpoint, window string) (int, error) {
	var used int
	err := d.db.QueryRowContext(ctx, `SELECT used FROM budgets WHERE endpoint = ? AND budget_window = ?`,
		endpoint, window).Scan(&used)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("state: budget %s %s: %w", endpoint, window, err)
	}
	return used, nil
}
