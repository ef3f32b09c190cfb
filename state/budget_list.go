package state

import (
	"context"
	"fmt"
)

// BudgetWindowUse returns every endpoint's count for window (see
// MinuteWindow and DayWindow), for reports of what is left.
func (d *DB) BudgetWindowUse(ctx context.Context, window string) (map[string]int, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT endpoint, used FROM budgets WHERE budget_window = ?`, window)
	if err != nil {
		return nil, fmt.Errorf("state: budgets of %s: %w", window, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var ep string
		var used int
		if err := rows.Scan(&ep, &used); err != nil {
			return nil, fmt.Errorf("state: budgets of %s: %w", window, err)
		}
		out[ep] = used
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: budgets of %s: %w", window, err)
	}
	return out, nil
}
