package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriterLock(t *testing.T) {
	dir := t.TempDir()
	since := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	first, err := LockWriter(dir, "apply", since)
	if err != nil {
		t.Fatal(err)
	}
	// A second writer (a second open file, as another process would have)
	// is refused at once, with the holder named.
	_, err = LockWriter(dir, "apply", since.Add(time.Minute))
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second lock: %v, want a *LockedError", err)
	}
	if le.Holder.PID != os.Getpid() || le.Holder.Command != "rostersync apply" || !le.Holder.Since.Equal(since) {
		t.Fatalf("holder %+v", le.Holder)
	}
	if !strings.Contains(err.Error(), "in use by process") || !strings.Contains(err.Error(), "rostersync apply") {
		t.Fatalf("message: %v", err)
	}
	// The database stays usable by readers meanwhile.
	db, err := Open(dir)
	if err != nil {
		t.Fatalf("open while locked: %v", err)
	}
	db.Close()
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	again, err := LockWriter(dir, "serve", since)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	defer again.Release()
	if fi, err := os.Stat(filepath.Join(dir, LockFileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("lock file: %v %v", fi, err)
	}
}
