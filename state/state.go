// Package state is the daemon's durable memory, behind one API with two
// backends: an embedded SQLite database (pure Go, modernc.org/sqlite) in a
// private directory, the zero-configuration default; or a PostgreSQL
// database (github.com/jackc/pgx/v5), which two hosts share so that either
// can take over from the other.
//
// It remembers what must survive a restart or a crash:
//
//   - the ownership ledger: which platform objects rostersync created or
//     adopted, per target, so that it touches only what it owns;
//   - the apply journal: every write is recorded before it is sent and
//     finished after, so a crash mid-apply leaves pending entries to resolve
//     instead of a duplicated create;
//   - run history, held operations awaiting approval, source cursors, source
//     health counts, consecutive-absence tracking, rate-limit budgets and the
//     last plan per target;
//   - the key saved plans are authenticated with, and the bearer tokens of
//     API keys: files in the state directory on SQLite, rows in the
//     database on PostgreSQL (so that every host shares them).
//
// The package knows nothing of the reconciler or of any target: its types are
// plain strings and bytes, and callers adapt. Every method takes a context and
// returns errors that name the thing they were about ("state: own user
// \"E1001\": ..."); ErrNotFound and ErrConflict can be branched on with
// errors.Is.
//
// OpenURL picks the backend: an empty URL opens SQLite in the state
// directory (as OpenWith), a postgres:// or postgresql:// URL opens
// PostgreSQL. Backend says which one a DB is.
//
// The SQLite database runs in WAL mode with a busy timeout and foreign keys
// on, and takes write locks at the start of each transaction, so a
// short-lived command (approving held operations, say) can share it with a
// running daemon. Within one process a single connection serialises all
// access. On PostgreSQL, every write transaction first takes a
// transaction-scoped advisory lock (lockClass, lockWrite), so write
// transactions are serialised across processes and hosts as SQLite
// serialises them: a check and the write it allows cannot interleave with
// another host's.
//
// Schema changes are an ordered list of migrations, each with its SQLite and
// its PostgreSQL DDL, recorded in the schema_migrations table and applied in
// one transaction at open (on PostgreSQL under the write lock, so two
// processes starting together migrate once). A database written by a newer
// binary is refused with a *SchemaTooNewError.
//
// # Writing a method for both backends
//
// Every method exists once. Inside the package:
//
//   - d.db runs a statement outside a transaction; d.tx(ctx, fn) runs fn in
//     a write transaction (locked as above) and commits when fn returns nil.
//     Both hand out a dbtx, whose ExecContext, QueryContext, QueryRowContext
//     and PrepareContext are database/sql's.
//   - Write SQL both understand, with ? placeholders (?N for the N-th
//     argument, repeated as often as needed); dbtx rebinds them to $N on
//     PostgreSQL (rebind).
//   - New ids come from INSERT … RETURNING id, never LastInsertId.
//   - Upserts are INSERT … ON CONFLICT (…) DO UPDATE SET col = excluded.col,
//     naming the existing row by its table (ownership.since), not bare.
//   - Times are TEXT in timeLayout (fmtTime, d.stamp); booleans are
//     INTEGER 0/1 (b2i); text columns sort bytewise on both (COLLATE "C"
//     on PostgreSQL). No LIMIT -1: use noLimit.
//   - d.pg() is true on PostgreSQL, for what SQL cannot hide; a new table
//     is a new migration with both DDLs, and a row in copyTables (or, for
//     what must not move with a state, such as a lease, in notCopied).
//   - Tests run per backend: forEachBackend(t, fn) calls fn(t, bk) as the
//     subtests sqlite and postgres; bk.openTest(t) opens a fresh database
//     and returns its place, and openAt(t, place) opens another handle on
//     it (another process, or host).
//
// A session-level advisory lock for one's own purpose takes class
// lockClass with an object number not used in postgres.go, on a
// connection of its own (d.raw.Conn).
package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// FileName is the database's name inside the state directory.
const FileName = "rostersync.db"

// Sentinel errors.
var (
	// ErrNotFound: a row named by id or key does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the change contradicts what is recorded (an id owned by
	// another key, a finished run finished again, a rejected hold approved).
	ErrConflict = errors.New("conflict")
)

// SchemaTooNewError reports a database whose schema is newer than this binary
// understands. Opening it could corrupt it, so Open refuses.
type SchemaTooNewError struct {
	Path  string // the SQLite file, or the PostgreSQL URL without its password
	Have  int    // the database's schema version
	Known int    // the newest version this binary knows
}

func (e *SchemaTooNewError) Error() string {
	return fmt.Sprintf("state: %s has schema version %d but this binary knows only up to %d; "+
		"run a newer rostersync or point it at another state database", e.Path, e.Have, e.Known)
}

// Options tune OpenWith and OpenURL.
type Options struct {
	// Now is the clock for recorded timestamps; nil means time.Now.
	Now func() time.Time
	// BusyTimeout is how long a statement waits for another process's lock;
	// zero means 5s. SQLite only: PostgreSQL waits until the context ends.
	BusyTimeout time.Duration
	// Password is PostgreSQL's password, used when the URL holds none.
	Password string
}

// DB is an open state database. It is safe for concurrent use.
type DB struct {
	db   dbtx    // statements outside a transaction
	raw  *sql.DB // the pool itself
	path string  // the SQLite file, or the PostgreSQL URL without its password
	dir  string  // the state directory (SQLite), where the plan key and token files live
	now  func() time.Time
	leaseSlot
}

// Open opens (creating if needed) the state database in dir with default
// options.
func Open(dir string) (*DB, error) { return OpenWith(dir, Options{}) }

// OpenURL opens the state database that url names: "" is the SQLite
// database in dir, exactly as OpenWith; a postgres:// or postgresql:// URL
// is a PostgreSQL database (created tables and all on first use, dir
// unused). A password missing from the URL is taken from opts.Password.
// Errors name the URL without its password.
func OpenURL(ctx context.Context, dir, url string, opts Options) (*DB, error) {
	switch {
	case url == "":
		return openSQLite(ctx, dir, opts)
	case IsPostgresURL(url):
		return openPostgres(ctx, url, opts)
	default:
		return nil, fmt.Errorf("state: URL %s: want postgres://… or postgresql://…, or none for SQLite in the state directory", RedactURL(url))
	}
}

// OpenWith opens (creating if needed) the state database in dir.
//
// A missing dir is created with mode 0700. An existing dir that is group or
// world writable is refused: anyone who can replace the database can make
// rostersync deactivate people.
func OpenWith(dir string, opts Options) (*DB, error) {
	return openSQLite(context.Background(), dir, opts)
}

func openSQLite(ctx context.Context, dir string, opts Options) (*DB, error) {
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName)
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("state: path %q: must not contain '?'", path)
	}
	// Create the file ourselves so that it is private; SQLite gives its -wal
	// and -shm files the same mode.
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state: create %s: %w", path, err)
	}
	f.Close()

	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = 5 * time.Second
	}
	dsn := fmt.Sprintf("%s?_txlock=immediate&_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)"+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)", path, busy.Milliseconds())
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	// One connection: one writer, and pragmas that hold for every statement.
	sdb.SetMaxOpenConns(1)
	sdb.SetMaxIdleConns(1)
	sdb.SetConnMaxLifetime(0)
	sdb.SetConnMaxIdleTime(0)

	d := newDB(sdb, path, dir, false, opts)
	if err := d.initSQLite(ctx); err != nil {
		sdb.Close()
		return nil, err
	}
	return d, nil
}

func newDB(sdb *sql.DB, path, dir string, pg bool, opts Options) *DB {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &DB{db: dbtx{q: sdb, pg: pg}, raw: sdb, path: path, dir: dir, now: now}
}

func prepareDir(dir string) error {
	if dir == "" {
		return errors.New("state: no directory given")
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("state: create directory: %w", err)
		}
		// The umask can only have removed bits; make the mode exact.
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("state: create directory: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("state: directory: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("state: %s is not a directory", dir)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("state: directory %s is writable by group or others (mode %04o); run chmod go-w on it",
			dir, fi.Mode().Perm())
	}
	return nil
}

func (d *DB) initSQLite(ctx context.Context) error {
	var mode string
	if err := d.raw.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("state: open %s: %w", d.path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("state: open %s: journal mode is %q, want wal", d.path, mode)
	}
	return d.migrate(ctx)
}

// Path returns the SQLite database file's path, or the PostgreSQL
// database's URL without its password.
func (d *DB) Path() string { return d.path }

// Backend returns BackendSQLite or BackendPostgres.
func (d *DB) Backend() string {
	if d.pg() {
		return BackendPostgres
	}
	return BackendSQLite
}

// pg reports whether d is on PostgreSQL.
func (d *DB) pg() bool { return d.db.pg }

// Close closes the database.
func (d *DB) Close() error {
	if err := d.raw.Close(); err != nil {
		return fmt.Errorf("state: close: %w", err)
	}
	return nil
}

// tx runs fn in a transaction that holds the write lock from its start, and
// commits if fn returns nil. On SQLite the lock is the database's
// (BEGIN IMMEDIATE); on PostgreSQL it is the advisory lock (lockClass,
// lockWrite), released when the transaction ends.
func (d *DB) tx(ctx context.Context, fn func(dbtx) error) error {
	tx, err := d.raw.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if d.pg() {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClass, lockWrite); err != nil {
			tx.Rollback()
			return fmt.Errorf("take the write lock: %w", err)
		}
	}
	if err := fn(dbtx{q: tx, pg: d.pg()}); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// noLimit is a LIMIT that limits nothing, on both backends.
const noLimit = math.MaxInt64

// timeLayout is RFC 3339 in UTC with a fixed-width fraction, so that stored
// timestamps sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func (d *DB) stamp() string { return fmtTime(d.now()) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// parseNullTime parses an optional stored time; NULL is the zero time.
func parseNullTime(s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	return parseTime(s.String)
}

// need returns an error naming the first empty argument.
func need(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return fmt.Errorf("empty %s", pairs[i])
		}
	}
	return nil
}
