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
	{"held operations", `
CREATE TABLE held (
	id         INTEGER PRIMARY KEY,
	target     TEXT NOT NULL,
	op_id      TEXT NOT NULL,
	kind       TEXT NOT NULL,
	key        TEXT NOT NULL,
	action     TEXT NOT NULL,
	reason     TEXT NOT NULL,
	payload    BLOB,
	status     TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'done')),
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
) STRICT;
-- One open (pending or approved) hold per operation.
CREATE UNIQUE INDEX held_open ON held (target, op_id) WHERE status IN ('pending', 'approved');
CREATE INDEX held_by_status ON held (target, status, id);
`},
	{"source cursors, health and absences", `
CREATE TABLE cursors (
	source     TEXT PRIMARY KEY,
	value      BLOB NOT NULL,
	updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE source_counts (
	id      INTEGER PRIMARY KEY,
	source  TEXT NOT NULL,
	count   INTEGER NOT NULL CHECK (count >= 0),
	healthy INTEGER NOT NULL CHECK (healthy IN (0, 1)),
	at      TEXT NOT NULL
) STRICT;
CREATE INDEX source_counts_by_source ON source_counts (source, healthy, at);

CREATE TABLE absences (
	target      TEXT NOT NULL,
	key         TEXT NOT NULL,
	consecutive INTEGER NOT NULL CHECK (consecutive > 0),
	first_at    TEXT NOT NULL,
	last_at     TEXT NOT NULL,
	PRIMARY KEY (target, key)
) STRICT;
`},
	{"rate budgets and plans", `
CREATE TABLE budgets (
	endpoint      TEXT NOT NULL,
	budget_window TEXT NOT NULL,
	used          INTEGER NOT NULL CHECK (used >= 0),
	updated_at    TEXT NOT NULL,
	PRIMARY KEY (endpoint, budget_window)
) STRICT;
CREATE INDEX budgets_by_age ON budgets (updated_at);

CREATE TABLE plans (
	target TEXT PRIMARY KEY,
	plan   BLOB NOT NULL,
	at     TEXT NOT NULL
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
