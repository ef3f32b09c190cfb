package scim

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// The store on PostgreSQL lives in the database rostersync keeps its state
// in, in a schema of its own (PGSchema) with its own version row, so that
// both hosts of a pair serve SCIM from one store. The statements are the
// SQLite ones: the connections put PGSchema first on their search_path and
// rebind "?" placeholders as "$n"; the few differences are in this file.

// PGSchema is the PostgreSQL schema that holds the store's tables.
const PGSchema = "rostersync_scim"

// pgChannel is the LISTEN/NOTIFY channel a committed change is announced on.
const pgChannel = "rostersync_scim_changed"

// pgMigrationLock is the advisory lock key held while the schema is brought
// up to date, so that two processes opening the store at once take turns.
const pgMigrationLock int64 = 0x7273_7363_696d_0001 // "rsscim" 1

// pgMigrations are applied in order; PGSchema.schema_version counts those
// done. Columns are those of the SQLite schema (its two migrations in one);
// members and emails get an explicit rowid, the column SQLite gives them
// implicitly, so that the same statements order and address their rows.
var pgMigrations = []string{
	`CREATE TABLE resources (
		seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		rtype           TEXT    NOT NULL,
		id              TEXT    NOT NULL UNIQUE,
		name            TEXT    NOT NULL, -- userName or group displayName
		name_lc         TEXT    NOT NULL, -- fold(name)
		display_lc      TEXT,             -- fold(User displayName)
		external_id     TEXT,
		active          INTEGER,
		employee_number TEXT,
		created_ms      BIGINT  NOT NULL,
		modified_ms     BIGINT  NOT NULL,
		version         BIGINT  NOT NULL,
		connection      TEXT    NOT NULL DEFAULT '',
		doc             TEXT    NOT NULL
	);
	CREATE UNIQUE INDEX resources_name ON resources(rtype, name_lc);
	CREATE INDEX resources_type ON resources(rtype, seq);
	CREATE INDEX resources_external ON resources(rtype, external_id);
	CREATE INDEX resources_display ON resources(rtype, display_lc);
	CREATE TABLE emails (
		rowid      BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		seq        BIGINT  NOT NULL REFERENCES resources(seq) ON DELETE CASCADE,
		value_lc   TEXT    NOT NULL,
		type_lc    TEXT    NOT NULL DEFAULT '',
		is_primary INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX emails_seq ON emails(seq);
	CREATE INDEX emails_value ON emails(value_lc);
	CREATE TABLE members (
		rowid      BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
		group_seq  BIGINT NOT NULL REFERENCES resources(seq) ON DELETE CASCADE,
		member_seq BIGINT NOT NULL REFERENCES resources(seq) ON DELETE CASCADE,
		display    TEXT   NOT NULL DEFAULT '',
		PRIMARY KEY (group_seq, member_seq)
	);
	CREATE INDEX members_member ON members(member_seq);
	CREATE TABLE counts (rtype TEXT PRIMARY KEY, n BIGINT NOT NULL);
	CREATE FUNCTION resources_count() RETURNS trigger LANGUAGE plpgsql
		SET search_path FROM CURRENT AS $$
	BEGIN
		IF TG_OP = 'INSERT' THEN
			INSERT INTO counts(rtype, n) VALUES (NEW.rtype, 1)
				ON CONFLICT (rtype) DO UPDATE SET n = counts.n + 1;
		ELSE
			UPDATE counts SET n = n - 1 WHERE rtype = OLD.rtype;
		END IF;
		RETURN NULL;
	END $$;
	CREATE TRIGGER resources_counted AFTER INSERT OR DELETE ON resources
		FOR EACH ROW EXECUTE FUNCTION resources_count();`,
}

// pgBackend is what a Store on PostgreSQL needs beyond its *sql.DB.
type pgBackend struct {
	cfg *pgx.ConnConfig // a copy per LISTEN connection
}

// rebind rewrites the "?" placeholders of a statement as PostgreSQL's "$n".
// The statements of the store have no "?" inside string literals.
func rebind(q string) string {
	n := strings.Count(q, "?")
	if n == 0 {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 2*n)
	i := 0
	for {
		j := strings.IndexByte(q, '?')
		if j < 0 {
			b.WriteString(q)
			return b.String()
		}
		i++
		b.WriteString(q[:j])
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(i))
		q = q[j+1:]
	}
}

// describeURL names a PostgreSQL database for errors and logs, without the
// password.
func describeURL(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// openPostgres opens the store in the database at url; a non-empty password
// replaces the URL's.
func openPostgres(ctx context.Context, url, password string) (*Store, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("scim store: the PostgreSQL URL does not parse (postgres://user@host:5432/database?sslmode=verify-full): %w", err)
	}
	if password != "" {
		cfg.Password = password
	}
	name := describeURL(cfg)
	// Unqualified names are the store's tables. A read-only transaction
	// (the source's snapshot) sees one snapshot for all its statements;
	// writes ask for READ COMMITTED and lock what they change.
	cfg.RuntimeParams["search_path"] = pgx.Identifier{PGSchema}.Sanitize()
	cfg.RuntimeParams["default_transaction_isolation"] = "repeatable read"
	db := stdlib.OpenDB(*cfg.Copy())
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := newStore(db, name)
	s.pg = &pgBackend{cfg: cfg}
	if err := s.migratePG(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("scim store %s: %w", name, err)
	}
	return s, nil
}

// migratePG brings the schema up to date in one transaction under an
// advisory lock: a second process opening the store waits, then finds
// nothing left to do.
func (s *Store) migratePG(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, pgMigrationLock); err != nil {
		return err
	}
	schema := pgx.Identifier{PGSchema}.Sanitize()
	// CREATE SCHEMA needs the CREATE privilege on the database even when
	// the schema exists: a schema an administrator made is only used.
	var exists bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, PGSchema).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		if _, err := tx.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
			return fmt.Errorf("create schema %s (grant the user CREATE on the database, or create the schema with AUTHORIZATION the user): %w", PGSchema, err)
		}
	}
	// The schema may be new: name it for this transaction's statements.
	if _, err := tx.ExecContext(ctx, `SET LOCAL search_path = `+schema); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return err
	}
	var v int
	switch err := tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v); {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version(version) VALUES (0)`); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	if v > len(pgMigrations) {
		return fmt.Errorf("schema version %d is newer than this program (%d)", v, len(pgMigrations))
	}
	for ; v < len(pgMigrations); v++ {
		if _, err := tx.ExecContext(ctx, pgMigrations[v]); err != nil {
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = $1`, v); err != nil {
		return err
	}
	return tx.Commit()
}

// maxWriteAttempts bounds the retries of a write transaction that lost a
// race with another host (deadlock, serialisation failure, a member deleted
// meanwhile).
const maxWriteAttempts = 10

// retryable reports whether a write transaction failed only because of a
// concurrent one, so that running it again is right.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40001", // serialization_failure
		"40P01", // deadlock_detected
		"23503": // foreign_key_violation: a member deleted since the statement looked
		return true
	}
	return false
}

// nameTaken reports whether err is a PostgreSQL unique violation of the
// folded name: another host stored the same name since the check.
func nameTaken(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "resources_name"
}

// writePG runs fn in a READ COMMITTED transaction from the pool, announces
// a change on pgChannel with the commit, and runs it again when it lost a
// race with another transaction.
func (s *Store) writePG(ctx context.Context, fn func(tx wtx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.writePGOnce(ctx, fn)
		if err == nil || attempt == maxWriteAttempts || !retryable(err) {
			return err
		}
		wait := time.Duration(attempt)*5*time.Millisecond + rand.N(5*time.Millisecond)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

func (s *Store) writePGOnce(ctx context.Context, fn func(tx wtx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return err
	}
	w := wtx{s: s, tx: tx, state: &writeState{}}
	if err := fn(w); err != nil {
		tx.Rollback()
		return err
	}
	if w.state.changed {
		// Delivered to every listener when, and only if, the transaction commits.
		if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, '')`, pgChannel); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// listenPG sends on ch whenever a change is announced on pgChannel, from
// any process, until ctx ends. A lost connection is opened again; the
// first announcement after that is sent at once, as changes may have been
// missed meanwhile.
func (s *Store) listenPG(ctx context.Context, ch chan<- struct{}, ready chan<- struct{}) {
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, ch, &first, ready)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}
}

func (s *Store) listenOnce(ctx context.Context, ch chan<- struct{}, first *bool, ready chan<- struct{}) error {
	conn, err := pgx.ConnectConfig(ctx, s.pg.cfg.Copy())
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{pgChannel}.Sanitize()); err != nil {
		return err
	}
	if *first {
		*first = false
		close(ready)
	} else {
		signal(ch)
	}
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		signal(ch)
	}
}

// signal sends on ch without blocking: one pending signal stands for any
// number of changes.
func signal(ch chan<- struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
