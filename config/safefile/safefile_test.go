package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
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
