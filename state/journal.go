package state

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Journal outcomes.
const (
	OutcomeOK      = "ok"
	OutcomeFailed  = "failed"
	OutcomeUnknown = "unknown" // sent, but no answer (a timeout): check the platform
)

// Entry is one write in the apply journal.
//
// The caller fills RunID (0 for none), Target, OpID, Kind, Key, Action and
// Payload for JournalBegin; the rest is recorded by the journal.
type Entry struct {
	ID      int64
	RunID   int64
	Target  string
	OpID    string // stable identity of the operation, computed by the caller
	Kind    string
	Key     string
	Action  string
	Payload []byte
	// Epoch is the epoch of the lease the entry was begun under (0: none);
	// set by JournalBegin, not by the caller.
	Epoch int64

	BegunAt    time.Time
	FinishedAt time.Time // zero while pending
	Outcome    string    // "" while pending
	ResultID   string    // the platform id a create returned
	Err        string
}

// Pending reports whether the entry was begun but never finished.
func (e Entry) Pending() bool { return e.FinishedAt.IsZero() }

// JournalBegin records, before a write is sent, that it is about to be, and
// returns the entry's id for JournalFinish. An entry still pending after a
// restart means the process died with the write in flight: whether it took
// effect must be checked on the platform before it is retried.
func (d *DB) JournalBegin(ctx context.Context, e Entry) (int64, error) {
	wrap := func(err error) error { return fmt.Errorf("state: journal %s %s %q: %w", e.Action, e.Kind, e.Key, err) }
	if err := need("target", e.Target, "op id", e.OpID, "kind", e.Kind, "key", e.Key, "action", e.Action); err != nil {
		return 0, wrap(err)
	}
	e.Epoch = d.leaseEpoch()
	var id int64
	err := d.fencedTx(ctx, func(tx dbtx) error {
		var err error
		id, err = insertEntry(ctx, tx, e, d.stamp(), nil)
		return err
	})
	if err != nil {
		return 0, wrap(err)
	}
	return id, nil
}

// JournalFinish records the outcome of entry id: OutcomeOK (with the new
// object's platform id for a create), OutcomeFailed, or OutcomeUnknown when
// the write was sent but its effect is not known. An entry finished as
// unknown may be finished again once the platform has been checked; one
// finished as ok or failed may not.
func (d *DB) JournalFinish(ctx context.Context, id int64, outcome, resultID, errText string) error {
	wrap := func(err error) error { return fmt.Errorf("state: finish journal entry %d: %w", id, err) }
	switch outcome {
	case OutcomeOK, OutcomeFailed, OutcomeUnknown:
	default:
		return wrap(fmt.Errorf("unknown outcome %q", outcome))
	}
	err := d.fencedTx(ctx, func(tx dbtx) error {
		return finishEntry(ctx, tx, id, finishRow{outcome, resultID, errText, d.stamp()})
	})
	if err != nil {
		return wrap(err)
	}
	return nil
}

// JournalPending returns target's entries that were begun and never
// finished, oldest first: after a crash, the writes that may or may not have
// happened.
func (d *DB) JournalPending(ctx context.Context, target string) ([]Entry, error) {
	es, err := d.journalQuery(ctx, `WHERE target = ? AND finished_at IS NULL ORDER BY id`, target)
	if err != nil {
		return nil, fmt.Errorf("state: pending journal %s: %w", target, err)
	}
	return es, nil
}

// JournalUnknown returns target's entries finished as OutcomeUnknown, oldest
// first: writes sent whose effect still has to be checked.
func (d *DB) JournalUnknown(ctx context.Context, target string) ([]Entry, error) {
	es, err := d.journalQuery(ctx, `WHERE target = ? AND outcome = 'unknown' ORDER BY id`, target)
	if err != nil {
		return nil, fmt.Errorf("state: unknown journal %s: %w", target, err)
	}
	return es, nil
}

// JournalByOp returns every entry for target's operation opID, oldest first,
// so that an applier can tell whether the same operation already succeeded.
func (d *DB) JournalByOp(ctx context.Context, target, opID string) ([]Entry, error) {
	es, err := d.journalQuery(ctx, `WHERE target = ? AND op_id = ? ORDER BY id`, target, opID)
	if err != nil {
		return nil, fmt.Errorf("state: journal %s op %q: %w", target, opID, err)
	}
	return es, nil
}

func (d *DB) journalQuery(ctx context.Context, where string, args ...any) ([]Entry, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, run_id, target, op_id, kind, key, action, payload,
		epoch, begun_at, finished_at, outcome, result_id, error FROM journal `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var runID sql.NullInt64
		var begun string
		var finished sql.NullString
		if err := rows.Scan(&e.ID, &runID, &e.Target, &e.OpID, &e.Kind, &e.Key, &e.Action, &e.Payload,
			&e.Epoch, &begun, &finished, &e.Outcome, &e.ResultID, &e.Err); err != nil {
			return nil, err
		}
		e.RunID = runID.Int64
		if e.BegunAt, err = parseTime(begun); err != nil {
			return nil, err
		}
		if e.FinishedAt, err = parseNullTime(finished); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
