package safefile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	os.WriteFile(small, []byte("hello"), 0o600)
	if b, err := Read(small, 5); err != nil || string(b) != "hello" {
		t.Fatalf("small: %q %v", b, err)
	}
	if _, err := Read(small, 4); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "limit of 4") {
		t.Fatalf("over the limit: %v", err)
	}
	// /dev/zero never ends: refused before a byte is read.
	if _, err := Read("/dev/zero", 1<<20); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "character device") {
		t.Fatalf("/dev/zero: %v", err)
	}
	if _, err := Read(dir, 1<<20); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "directory") {
		t.Fatalf("directory: %v", err)
	}
	// A FIFO with no writer would block a plain open forever.
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(fifo, 1<<20); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "named pipe") {
		t.Fatalf("fifo: %v", err)
	}
	// A symlink to a regular file is followed.
	link := filepath.Join(dir, "link")
	os.Symlink(small, link)
	if b, err := Read(link, 5); err != nil || string(b) != "hello" {
		t.Fatalf("symlink: %q %v", b, err)
	}
}

// LimitReader hands over a file of up to limit bytes whole, and fails on the byte past the limit
// having handed over only what is within it.
func TestLimitReader(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		limit int64
		want  string
		err   bool
	}{{0, "0123456789", false}, {10, "0123456789", false}, {11, "0123456789", false}, {9, "012345678", true}, {1, "0", true}} {
		f, _, err := Open(p, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(iotest.OneByteReader(LimitReader(f, tc.limit)))
		f.Close()
		if string(got) != tc.want || (err != nil) != tc.err || tc.err && !errors.Is(err, ErrTooLarge) {
			t.Errorf("limit %d: read %q, %v; want %q (error: %v)", tc.limit, got, err, tc.want, tc.err)
		}
	}
}
