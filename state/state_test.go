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

// openTest opens a database in a fresh directory with a fake clock.
func openTest(t *testing.T) (*DB, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "state")
	db := openAt(t, dir)
	return db, dir
}

func openAt(t *testing.T, dir string) *DB {
	t.Helper()
	clk := &fakeClock{t: t0}
	// A generous busy timeout: the concurrent tests share the file between
	// handles, and a loaded test machine must not turn waiting into failure.
	db, err := OpenWith(dir, Options{Now: clk.Now, BusyTimeout: time.Minute})
	if err != nil {
		t.Fatalf("OpenWith(%s): %v", dir, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenCreatesPrivateDirectory(t *testing.T) {
	db, dir := openTest(t)
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
	if err := db.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := db.db.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
	var busy int
	if err := db.db.QueryRow("PRAGMA busy_timeout").Scan(&busy); err != nil || busy != 60000 {
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
		if err := db.db.QueryRow("PRAGMA busy_timeout").Scan(&busy); err != nil || busy != 5000 {
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
	rows, err := db.db.Query(`SELECT version FROM schema_migrations ORDER BY version`)
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
	ctx := context.Background()
	db, dir := openTest(t)
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

func TestMigrateFromOlderSchema(t *testing.T) {
	if len(migrations) < 2 {
		t.Skip("one migration only")
	}
	dir := filepath.Join(t.TempDir(), "state")
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

func TestOpenRefusesFutureSchema(t *testing.T) {
	db, dir := openTest(t)
	future := len(migrations) + 1
	if _, err := db.db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from the future', ?)`,
		future, fmtTime(t0)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err := Open(dir)
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

func TestMigrationFailureRollsBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	saved := migrations
	t.Cleanup(func() { migrations = saved })
	migrations = append(saved[:len(saved):len(saved)],
		migration{"creates then fails", "CREATE TABLE half (x INTEGER); SELECT * FROM no_such_table;"})
	if _, err := OpenWith(dir, Options{}); err == nil || !strings.Contains(err.Error(), "creates then fails") {
		t.Fatalf("OpenWith = %v, want the failing step named", err)
	}
	migrations = saved
	db := openAt(t, dir)
	var n int
	if err := db.db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name = 'half'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("table from the failed step exists (%d, %v)", n, err)
	}
}
