package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// SavePlan stores planJSON as target's latest plan, made at time at, so that
// a later apply can be checked against it.
func (d *DB) SavePlan(ctx context.Context, target string, planJSON []byte, at time.Time) error {
	wrap := func(err error) error { return fmt.Errorf("state: save plan for %s: %w", target, err) }
	if target == "" {
		return wrap(errors.New("empty target"))
	}
	if !json.Valid(planJSON) {
		return wrap(errors.New("plan is not valid JSON"))
	}
	if _, err := d.db.ExecContext(ctx, `INSERT INTO plans (target, plan, at) VALUES (?, ?, ?)
		ON CONFLICT (target) DO UPDATE SET plan = excluded.plan, at = excluded.at`,
		target, planJSON, fmtTime(at)); err != nil {
		return wrap(err)
	}
	return nil
}

// LastPlan returns target's latest saved plan and when it was made; ok is
// false if none was saved.
func (d *DB) LastPlan(ctx context.Context, target string) (planJSON []byte, at time.Time, ok bool, err error) {
	var ats string
	err = d.db.QueryRowContext(ctx, `SELECT plan, at FROM plans WHERE target = ?`, target).Scan(&planJSON, &ats)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, time.Time{}, false, nil
	case err != nil:
		return nil, time.Time{}, false, fmt.Errorf("state: last plan for %s: %w", target, err)
	}
	if at, err = parseTime(ats); err != nil {
		return nil, time.Time{}, false, fmt.Errorf("state: last plan for %s: %w", target, err)
	}
	return planJSON, at, true, nil
}
