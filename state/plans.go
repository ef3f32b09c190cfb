package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// StoredPlan is the last plan made for a target, as its maker encoded it.
type StoredPlan struct {
	Target  string
	RunID   int64 // the run that made it; 0 when none was recorded
	SavedAt time.Time
	Summary []byte // JSON, as the caller gave it; may be nil
	Plan    []byte // JSON
}

// SavePlan stores planJSON as the last plan for target, replacing the one
// before: the daemon in plan mode keeps the plan it would apply, for
// /status and for an operator to review. runID, when not 0, names the run
// that made it. Both JSON arguments must be valid JSON (summaryJSON may be
// nil).
func (d *DB) SavePlan(ctx context.Context, target string, runID int64, summaryJSON, planJSON []byte) error {
	wrap := func(err error) error { return fmt.Errorf("state: save plan for %s: %w", target, err) }
	if err := need("target", target); err != nil {
		return wrap(err)
	}
	if !json.Valid(planJSON) {
		return wrap(errors.New("plan is not valid JSON"))
	}
	if summaryJSON != nil && !json.Valid(summaryJSON) {
		return wrap(errors.New("summary is not valid JSON"))
	}
	var run any
	if runID != 0 {
		run = runID
	}
	_, err := d.db.ExecContext(ctx, `INSERT INTO plans (target, run_id, saved_at, summary, plan) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (target) DO UPDATE SET run_id = excluded.run_id, saved_at = excluded.saved_at,
			summary = excluded.summary, plan = excluded.plan`,
		target, run, d.stamp(), summaryJSON, planJSON)
	if err != nil {
		return wrap(err)
	}
	return nil
}

// LastPlan returns the last plan saved for target, or ErrNotFound.
func (d *DB) LastPlan(ctx context.Context, target string) (StoredPlan, error) {
	p := StoredPlan{Target: target}
	var run sql.NullInt64
	var saved string
	err := d.db.QueryRowContext(ctx, `SELECT run_id, saved_at, summary, plan FROM plans WHERE target = ?`, target).
		Scan(&run, &saved, &p.Summary, &p.Plan)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return StoredPlan{}, fmt.Errorf("state: last plan for %s: %w", target, ErrNotFound)
	case err != nil:
		return StoredPlan{}, fmt.Errorf("state: last plan for %s: %w", target, err)
	}
	p.RunID = run.Int64
	if p.SavedAt, err = parseTime(saved); err != nil {
		return StoredPlan{}, fmt.Errorf("state: last plan for %s: %w", target, err)
	}
	return p, nil
}
