package state

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rostersync/rostersync/state/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testBackend is one backend of the contract suite. Every test of what a
// DB does runs once per backend, as the subtests .../sqlite and
// .../postgres; the PostgreSQL ones skip with a message when the server
// binaries are missing (and fail instead under ROSTERSYNC_REQUIRE_POSTGRES=1).
type testBackend struct{ name string }

var testBackends = []testBackend{{BackendSQLite}, {BackendPostgres}}

// forEachBackend runs fn as a subtest per backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, bk testBackend)) {
	t.Helper()
	for _, bk := range testBackends {
		t.Run(bk.name, func(t *testing.T) { fn(t, bk) })
	}
}

// fresh returns a new, empty place for a database: a state directory on
// SQLite, an empty database's URL on PostgreSQL. openAt and openLoc open
// it, as often as a test likes.
func (bk testBackend) fresh(t *testing.T) string {
	t.Helper()
	if bk.name == BackendPostgres {
		return pgtest.Shared(t).Database(t)
	}
	return filepath.Join(t.TempDir(), "state")
}

// openTest opens a fresh database with a fake clock, and returns it with
// its place.
func (bk testBackend) openTest(t *testing.T) (*DB, string) {
	t.Helper()
	loc := bk.fresh(t)
	return openAt(t, loc), loc
}

// openWith opens a fresh database with opts.
func (bk testBackend) openWith(t *testing.T, opts Options) (*DB, string) {
	t.Helper()
	loc := bk.fresh(t)
	db, err := openLoc(loc, opts)
	if err != nil {
		t.Fatalf("open %s: %v", RedactURL(loc), err)
	}
	t.Cleanup(func() { db.Close() })
	return db, loc
}

// openAt opens the database at loc (a directory or a URL) with a fake
// clock, closed when t ends.
func openAt(t *testing.T, loc string) *DB {
	t.Helper()
	clk := &fakeClock{t: t0}
	// A generous busy timeout: the concurrent tests share the file between
	// handles, and a loaded test machine must not turn waiting into failure.
	db, err := openLoc(loc, Options{Now: clk.Now, BusyTimeout: time.Minute})
	if err != nil {
		t.Fatalf("open %s: %v", RedactURL(loc), err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openLoc opens the database at loc: a PostgreSQL URL, else a directory.
func openLoc(loc string, opts Options) (*DB, error) {
	if IsPostgresURL(loc) {
		return OpenURL(context.Background(), "", loc, opts)
	}
	return OpenURL(context.Background(), loc, "", opts)
}
