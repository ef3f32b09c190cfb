package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Run kinds.
const (
	RunPlan  = "plan"
	RunApply = "apply"
	RunPass  = "pass" // a daemon pass: plan, guard, apply
)

// Run is one recorded plan, apply or daemon pass.
type Run struct {
	ID         int64
	Kind       string
	StartedAt  time.Time
	FinishedAt time.Time // zero while running (or if the process died)
	Result     string
	Summary    []byte // JSON, as the caller gave it
	Err        string
}

// Running reports whether the run was never finished.
func (r Run) Running() bool { return r.FinishedAt.IsZero() }

// RunStart records the start of a run of kind (RunPlan, RunApply, RunPass)
// and returns its id.
func (d *DB) RunStart(ctx context.Context, kind string) (int64, error) {
	switch kind {
	case RunPlan, RunApply, RunPass:
	default:
		return 0, fmt.Errorf("state: start run: unknown kind %q", kind)
	}
	var id int64
	err := d.db.QueryRowContext(ctx, `INSERT INTO runs (kind, started_at) VALUES (?, ?) RETURNING id`, kind, d.stamp()).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("state: start %s run: %w", kind, err)
	}
	return id, nil
}

// RunFinish records how run id ended. result is a short word of the
// caller's ("ok", "failed", "held"); summaryJSON, if not nil, must be valid
// JSON. A run finishes once.
func (d *DB) RunFinish(ctx context.Context, id int64, result string, summaryJSON []byte, errText string) error {
	wrap := func(err error) error { return fmt.Errorf("state: finish run %d: %w", id, err) }
	if result == "" {
		return wrap(errors.New("empty result"))
	}
	if summaryJSON != nil && !json.Valid(summaryJSON) {
		return wrap(errors.New("summary is not valid JSON"))
	}
	err := d.tx(ctx, func(tx dbtx) error {
		var finished sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT finished_at FROM runs WHERE id = ?`, id).Scan(&finished)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return err
		case finished.Valid:
			return fmt.Errorf("already finished at %s: %w", finished.String, ErrConflict)
		}
		_, err = tx.ExecContext(ctx, `UPDATE runs SET finished_at = ?, result = ?, summary = ?, error = ? WHERE id = ?`,
			d.stamp(), result, summaryJSON, errText, id)
		return err
	})
	if err != nil {
		return wrap(err)
	}
	return nil
}

// Runs returns up to limit runs, newest first; limit <= 0 means all.
func (d *DB) Runs(ctx context.Context, limit int) ([]Run, error) {
	if limit <= 0 {
		limit = noLimit
	}
	rows, err := d.db.QueryContext(ctx, `SELECT id, kind, started_at, finished_at, result, summary, error
		FROM runs ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("state: runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		var started string
		var finished sql.NullString
		if err := rows.Scan(&r.ID, &r.Kind, &started, &finished, &r.Result, &r.Summary, &r.Err); err != nil {
			return nil, fmt.Errorf("state: runs: %w", err)
		}
		if r.StartedAt, err = parseTime(started); err != nil {
			return nil, fmt.Errorf("state: run %d: %w", r.ID, err)
		}
		if r.FinishedAt, err = parseNullTime(finished); err != nil {
			return nil, fmt.Errorf("state: run %d: %w", r.ID, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: runs: %w", err)
	}
	return out, nil
}
