// Package safefile reads files named by configuration with bounds: only
// regular files (never a device, FIFO, socket or directory, which could
// be read forever or block), and never more than a given size.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Size limits of the files rostersync reads (CSV has its own setting).
const (
	// MaxSecretBytes caps a secret or token file.
	MaxSecretBytes = 64 << 10
	// MaxConfigBytes caps the YAML configuration file (and a CA bundle).
	MaxConfigBytes = 4 << 20
)

// ErrTooLarge is wrapped by the error Read returns for a file over its limit.
var ErrTooLarge = errors.New("file too large")

// ErrNotRegular is wrapped by the error Read returns for what is not a
// regular file.
var ErrNotRegular = errors.New("not a regular file")

// Open opens path for reading if it is a regular file of at most max bytes
// (max <= 0: no size limit) and returns it with its FileInfo. A FIFO is
// opened without blocking so that it can be refused.
func Open(path string, max int64) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w (it is %s); give the path of a file", path, ErrNotRegular, kind(fi.Mode()))
	}
	if max > 0 && fi.Size() > max {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w: %d bytes, over the limit of %d", path, ErrTooLarge, fi.Size(), max)
	}
	// Back to blocking reads: a regular file never blocks, and the flag
	// would only matter for what was refused above.
	if err := syscall.SetNonblock(int(f.Fd()), false); err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// Read returns the content of path, a regular file of at most max bytes.
// A file that grows past max while it is read is refused too.
func Read(path string, max int64) ([]byte, error) {
	f, _, err := Open(path, max)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadAll(f, max)
}

// ReadAll reads f (opened by Open) up to limit bytes (limit <= 0: no
// limit); more is ErrTooLarge.
func ReadAll(f *os.File, limit int64) ([]byte, error) {
	buf, err := io.ReadAll(LimitReader(f, limit))
	if err != nil {
		return nil, err
	}
	return buf, nil
}

// LimitReader reads f (opened by Open) up to limit bytes (limit <= 0: no
// limit), as ReadAll does but as the bytes are wanted: a read past the limit
// fails with ErrTooLarge.
func LimitReader(f *os.File, limit int64) io.Reader {
	if limit <= 0 {
		return f
	}
	return &limitReader{f: f, left: limit + 1, limit: limit}
}

type limitReader struct {
	f     *os.File
	left  int64 // bytes that may still be read, one more than the limit allows
	limit int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, l.tooLarge()
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.f.Read(p)
	l.left -= int64(n)
	if l.left <= 0 {
		// The byte past the limit came: hand over what is within it, then fail.
		return n - 1, l.tooLarge()
	}
	return n, err
}

func (l *limitReader) tooLarge() error {
	return fmt.Errorf("%s: %w: more than the limit of %d bytes", l.f.Name(), ErrTooLarge, l.limit)
}

// LooseMode reports whether fi's permissions let the group or others read
// (or write) the file: a secret kept so should be chmod 0600.
func LooseMode(fi fs.FileInfo) bool { return fi.Mode().Perm()&0o077 != 0 }

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a regular file"
}
