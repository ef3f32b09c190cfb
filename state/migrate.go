package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// migration is one schema step. Steps are append-only: once released, a
// step's SQL never changes; a later step alters what it made.
type migration struct {
	name string
	sql  string
}

// migrations is the schema's history; version n is migrations[n-1].
var migrations = []migration{
	{"ledger, runs and journal", `
CREATE TABLE ownership (
	target     TEXT NOT NULL,
	kind       TEXT NOT NULL,
	key        TEXT NOT NULL,
	id         TEXT NOT NULL,
	how        TEXT NOT NULL CHECK (how IN ('created', 'adopted')),
	since      TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (target, kind, key)
) STRICT;
CREATE UNIQUE INDEX ownership_by_id ON ownership (target, kind, id);

CREATE TABLE runs (
	id          INTEGER PRIMARY KEY,
	kind        TEXT NOT NULL CHECK (kind IN ('plan', 'apply', 'pass')),
	started_at  TEXT NOT NULL,
	finished_at TEXT,
	result      TEXT NOT NULL DEFAULT '',
	summary     BLOB,
	error       TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE journal (
	id          INTEGER PRIMARY KEY,
	run_id      INTEGER REFERENCES runs (id),
	target      TEXT NOT NULL,
	op_id       TEXT NOT NULL,
	kind        TEXT NOT NULL,
	key         TEXT NOT NULL,
	action      TEXT NOT NULL,
	payload     BLOB,
	begun_at    TEXT NOT NULL,
	finished_at TEXT,
	outcome     TEXT NOT NULL DEFAULT '' CHECK (outcome IN ('', 'ok', 'failed', 'unknown')),
	result_id   TEXT NOT NULL DEFAULT '',
	error       TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX journal_pending ON journal (target, id) WHERE finished_at IS NULL;
CREATE INDEX journal_by_op ON journal (target, op_id, id);
CREATE INDEX journal_by_run ON journal (run_id);
`},
	{"last plan per target", `
CREATE TABLE plans (
	target   TEXT PRIMARY KEY,
	run_id   INTEGER REFERENCES runs (id),
	saved_at TEXT NOT NULL,
	summary  BLOB,
	plan     BLOB NOT NULL
) STRICT;
`},
}

// migrate brings the schema up to date in one transaction, refusing a
// database newer than this binary.
func (d *DB) migrate(ctx context.Context) error {
	err := d.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			name       TEXT NOT NULL,
			applied_at TEXT NOT NULL
		) STRICT`); err != nil {
			return err
		}
		var have int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
			return err
		}
		if have > len(migrations) {
			return &SchemaTooNewError{Path: d.path, Have: have, Known: len(migrations)}
		}
		for v := have + 1; v <= len(migrations); v++ {
			m := migrations[v-1]
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("step %d (%s): %w", v, m.name, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				v, m.name, d.stamp()); err != nil {
				return fmt.Errorf("step %d (%s): %w", v, m.name, err)
			}
		}
		return nil
	})
	if err != nil {
		var tooNew *SchemaTooNewError
		if errors.As(err, &tooNew) {
			return err
		}
		return fmt.Errorf("state: migrate %s: %w", d.path, err)
	}
	return nil
}

// SchemaVersion returns the database's schema version.
func (d *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := d.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("state: schema version: %w", err)
	}
	return v, nil
}
