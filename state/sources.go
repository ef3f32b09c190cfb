package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// CursorGet returns source's saved cursor (an LDAP sync cookie, a SCIM
// watermark); ok is false when there is none.
func (d *DB) CursorGet(ctx context.Context, source string) (value []byte, ok bool, err error) {
	err = d.db.QueryRowContext(ctx, `SELECT value FROM cursors WHERE source = ?`, source).Scan(&value)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("state: cursor %s: %w", source, err)
	}
	if value == nil {
		value = []byte{}
	}
	return value, true, nil
}

// CursorPut saves source's cursor, replacing any before it.
func (d *DB) CursorPut(ctx context.Context, source string, value []byte) error {
	if source == "" {
		return errors.New("state: put cursor: empty source")
	}
	if value == nil {
		value = []byte{}
	}
	if _, err := d.db.ExecContext(ctx, `INSERT INTO cursors (source, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (source) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		source, value, d.stamp()); err != nil {
		return fmt.Errorf("state: put cursor %s: %w", source, err)
	}
	return nil
}

// CursorDelete forgets source's cursor, so that its next read is a full one.
func (d *DB) CursorDelete(ctx context.Context, source string) error {
	if _, err := d.db.ExecContext(ctx, `DELETE FROM cursors WHERE source = ?`, source); err != nil {
		return fmt.Errorf("state: delete cursor %s: %w", source, err)
	}
	return nil
}

// SourceCount is one recorded read of a source.
type SourceCount struct {
	Source  string
	Count   int
	Healthy bool
	At      time.Time
}

// RecordSourceCount records that a read of source at time at returned count
// records and whether it was healthy (complete).
func (d *DB) RecordSourceCount(ctx context.Context, source string, count int, healthy bool, at time.Time) error {
	if source == "" {
		return errors.New("state: record source count: empty source")
	}
	if count < 0 {
		return fmt.Errorf("state: record source %s count: negative count %d", source, count)
	}
	if _, err := d.db.ExecContext(ctx, `INSERT INTO source_counts (source, count, healthy, at) VALUES (?, ?, ?, ?)`,
		source, count, b2i(healthy), fmtTime(at)); err != nil {
		return fmt.Errorf("state: record source %s count: %w", source, err)
	}
	return nil
}

// LastHealthyCount returns the count of source's latest healthy read, the
// baseline a sharp drop is measured against; ok is false before the first.
func (d *DB) LastHealthyCount(ctx context.Context, source string) (count int, ok bool, err error) {
	err = d.db.QueryRowContext(ctx, `SELECT count FROM source_counts WHERE source = ? AND healthy = 1
		ORDER BY at DESC, id DESC LIMIT 1`, source).Scan(&count)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("state: last healthy count of %s: %w", source, err)
	}
	return count, true, nil
}

// SourceHistory returns up to limit of source's recorded reads, newest
// first; limit <= 0 means all.
func (d *DB) SourceHistory(ctx context.Context, source string, limit int) ([]SourceCount, error) {
	if limit <= 0 {
		limit = noLimit
	}
	rows, err := d.db.QueryContext(ctx, `SELECT source, count, healthy, at FROM source_counts WHERE source = ?
		ORDER BY at DESC, id DESC LIMIT ?`, source, limit)
	if err != nil {
		return nil, fmt.Errorf("state: history of %s: %w", source, err)
	}
	defer rows.Close()
	var out []SourceCount
	for rows.Next() {
		var c SourceCount
		var at string
		if err := rows.Scan(&c.Source, &c.Count, &c.Healthy, &at); err != nil {
			return nil, fmt.Errorf("state: history of %s: %w", source, err)
		}
		if c.At, err = parseTime(at); err != nil {
			return nil, fmt.Errorf("state: history of %s: %w", source, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: history of %s: %w", source, err)
	}
	return out, nil
}

// Absence is how long a key has been missing from healthy reads.
type Absence struct {
	Consecutive int       // healthy passes in a row without the key
	First       time.Time // the first of them
	Last        time.Time // the latest of them
}

// MarkAbsent records that key was missing from target's desired state in the
// healthy pass at time at, and returns for how many passes in a row it has
// been and since when. Marking again at or before the latest recorded time
// counts nothing, so retrying a pass does not bring a deactivation closer.
// Call it only for healthy passes, and ClearAbsent when the key reappears.
func (d *DB) MarkAbsent(ctx context.Context, target, key string, at time.Time) (consecutive int, first time.Time, err error) {
	wrap := func(err error) error { return fmt.Errorf("state: mark %q absent from %s: %w", key, target, err) }
	if err := need("target", target, "key", key); err != nil {
		return 0, time.Time{}, wrap(err)
	}
	var firstAt string
	err = d.db.QueryRowContext(ctx, `INSERT INTO absences (target, key, consecutive, first_at, last_at) VALUES (?, ?, 1, ?, ?)
		ON CONFLICT (target, key) DO UPDATE SET
			consecutive = absences.consecutive + CASE WHEN excluded.last_at > absences.last_at THEN 1 ELSE 0 END,
			last_at = CASE WHEN excluded.last_at > absences.last_at THEN excluded.last_at ELSE absences.last_at END
		RETURNING consecutive, first_at`, target, key, fmtTime(at), fmtTime(at)).Scan(&consecutive, &firstAt)
	if err != nil {
		return 0, time.Time{}, wrap(err)
	}
	if first, err = parseTime(firstAt); err != nil {
		return 0, time.Time{}, wrap(err)
	}
	return consecutive, first, nil
}

// ClearAbsent forgets that keys were absent from target: they are back.
func (d *DB) ClearAbsent(ctx context.Context, target string, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	err := d.tx(ctx, func(tx dbtx) error {
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, `DELETE FROM absences WHERE target = ? AND key = ?`, target, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("state: clear %d absences from %s: %w", len(keys), target, err)
	}
	return nil
}

// Absences returns every key absent from target, by key.
func (d *DB) Absences(ctx context.Context, target string) (map[string]Absence, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT key, consecutive, first_at, last_at FROM absences WHERE target = ?`, target)
	if err != nil {
		return nil, fmt.Errorf("state: absences from %s: %w", target, err)
	}
	defer rows.Close()
	out := map[string]Absence{}
	for rows.Next() {
		var key, first, last string
		var a Absence
		if err := rows.Scan(&key, &a.Consecutive, &first, &last); err != nil {
			return nil, fmt.Errorf("state: absences from %s: %w", target, err)
		}
		if a.First, err = parseTime(first); err != nil {
			return nil, fmt.Errorf("state: absences from %s: %w", target, err)
		}
		if a.Last, err = parseTime(last); err != nil {
			return nil, fmt.Errorf("state: absences from %s: %w", target, err)
		}
		out[key] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: absences from %s: %w", target, err)
	}
	return out, nil
}
