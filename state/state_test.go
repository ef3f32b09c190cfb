package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeClock returns t0, t0+1s, t0+2s, … so that every recorded time is
// distinct and predictable.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

var t0 = time.Date(2026, 11, 21, 10, 5, 0, 0, time.UTC)

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	c.t = c.t.Add(time.Second)
	return t
}

func TestOpenCreatesPrivateDirectory(t *testing.T) {
	db, dir := testBackend{BackendSQLite}.openTest(t)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("directory mode = %04o, want 0700", got)
	}
	fi, err = os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("database mode = %04o, want 0600", got)
	}
	if db.Path() != filepath.Join(dir, FileName) {
		t.Errorf("Path() = %q", db.Path())
	}
	var mode string
	if err := db.raw.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := db.raw.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
	var busy int
	if err := db.raw.QueryRow("PRAGMA busy_timeout").Scan(&busy); err != nil || busy != 60000 {
		t.Errorf("busy_timeout = %d, %v; want the 60000 asked for", busy, err)
	}
}

func TestOpenRefusesUnsafeDirectory(t *testing.T) {
	for _, mode := range []os.FileMode{0o770, 0o702, 0o777} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Chmod(dir, mode); err != nil {
				t.Fatal(err)
			}
			db, err := Open(dir)
			if err == nil {
				db.Close()
				t.Fatalf("Open of a %04o directory succeeded", mode)
			}
			if !strings.Contains(err.Error(), "writable by group or others") {
				t.Errorf("error = %v", err)
			}
		})
	}
	t.Run("existing 0750 is fine", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		db, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var busy int
		if err := db.raw.QueryRow("PRAGMA busy_timeout").Scan(&busy); err != nil || busy != 5000 {
			t.Errorf("default busy_timeout = %d, %v; want 5000", busy, err)
		}
	})
	t.Run("a file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(p); err == nil || !strings.Contains(err.Error(), "not a directory") {
			t.Errorf("Open(file) = %v", err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		if _, err := Open(""); err == nil {
			t.Error("Open(\"\") succeeded")
		}
	})
}

func migrationRows(t *testing.T, db *DB) []int {
	t.Helper()
	rows, err := db.raw.Query(`SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}

func TestMigrationsIdempotentOnReopen(t *testing.T) {
	forEachBackend(t, testMigrationsIdempotentOnReopen)
}

func testMigrationsIdempotentOnReopen(t *testing.T, bk testBackend) {
	ctx := context.Background()
	db, dir := bk.openTest(t)
	var want []int
	for v := 1; v <= len(migrations); v++ {
		want = append(want, v)
	}
	if diff := cmp.Diff(want, migrationRows(t, db)); diff != "" {
		t.Fatalf("first open (-want +got):\n%s", diff)
	}
	db.Close()
	for range 2 {
		db = openAt(t, dir)
		if diff := cmp.Diff(want, migrationRows(t, db)); diff != "" {
			t.Fatalf("reopen (-want +got):\n%s", diff)
		}
		v, err := db.SchemaVersion(ctx)
		if err != nil || v != len(migrations) {
			t.Errorf("SchemaVersion = %d, %v; want %d", v, err, len(migrations))
		}
		db.Close()
	}
}

func TestMigrateFromOlderSchema(t *testing.T) { forEachBackend(t, testMigrateFromOlderSchema) }

func testMigrateFromOlderSchema(t *testing.T, bk testBackend) {
	if len(migrations) < 2 {
		t.Skip("one migration only")
	}
	dir := bk.fresh(t)
	saved := migrations
	migrations = saved[:1]
	db := openAt(t, dir)
	db.Close()
	migrations = saved
	db = openAt(t, dir)
	if got := len(migrationRows(t, db)); got != len(migrations) {
		t.Errorf("after upgrade %d migrations recorded, want %d", got, len(migrations))
	}
}

func TestOpenRefusesFutureSchema(t *testing.T) { forEachBackend(t, testOpenRefusesFutureSchema) }

func testOpenRefusesFutureSchema(t *testing.T, bk testBackend) {
	db, dir := bk.openTest(t)
	future := len(migrations) + 1
	if _, err := db.db.ExecContext(context.Background(), `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from the future', ?)`,
		future, fmtTime(t0)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := openLoc(dir, Options{})
	var tooNew *SchemaTooNewError
	if !errors.As(err, &tooNew) {
		t.Fatalf("Open = %v, want *SchemaTooNewError", err)
	}
	if tooNew.Have != future || tooNew.Known != len(migrations) {
		t.Errorf("error = %+v", tooNew)
	}
	if !strings.Contains(err.Error(), "newer rostersync") {
		t.Errorf("error %q does not say what to do", err)
	}
}

func TestMigrationFailureRollsBack(t *testing.T) { forEachBackend(t, testMigrationFailureRollsBack) }

func testMigrationFailureRollsBack(t *testing.T, bk testBackend) {
	dir := bk.fresh(t)
	saved := migrations
	t.Cleanup(func() { migrations = saved })
	const fails = "CREATE TABLE half (x INTEGER); SELECT * FROM no_such_table;"
	migrations = append(saved[:len(saved):len(saved)], migration{"creates then fails", fails, fails})
	if _, err := openLoc(dir, Options{}); err == nil || !strings.Contains(err.Error(), "creates then fails") {
		t.Fatalf("OpenWith = %v, want the failing step named", err)
	}
	migrations = saved
	db := openAt(t, dir)
	if tableExists(t, db, "half") {
		t.Error("table from the failed step exists")
	}
	if !tableExists(t, db, "ownership") {
		t.Error("tableExists does not see the ledger's table")
	}
}

// tableExists reports whether db has a table called name.
func tableExists(t *testing.T, db *DB, name string) bool {
	t.Helper()
	q := `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`
	if db.pg() {
		q = `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?`
	}
	var n int
	if err := db.db.QueryRowContext(context.Background(), q, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}
