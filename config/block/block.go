// Package block is how an adapter's configuration block reports what is
// wrong with it: each problem names a key relative to the block
// ("delimiter", "max_rows"), so that the file holding the block can give it
// its full key and line ("sources[0].csv.delimiter", line 7). Adapters own
// their blocks; the configuration file only places them.
package block

import (
	"errors"
	"fmt"
	"os"
)

// Problem is one problem with one key of a block.
type Problem struct {
	// Key is relative to the block: "delimiter", "routes.import_users".
	Key string
	// Msg says what is wrong and what to do about it.
	Msg string
	// Err is the cause, when there is one (a file that cannot be read).
	Err error
}

func (p *Problem) Error() string { return p.Key + ": " + p.Msg }

// Unwrap returns the cause.
func (p *Problem) Unwrap() error { return p.Err }

// Problems collects every problem of a block; the zero value is ready.
type Problems struct{ errs []error }

// Add records a problem with key; format may wrap a cause with %w.
func (p *Problems) Add(key, format string, args ...any) {
	err := fmt.Errorf(format, args...)
	p.errs = append(p.errs, &Problem{Key: key, Msg: err.Error(), Err: errors.Unwrap(err)})
}

// Err joins the problems, or is nil when there are none.
func (p *Problems) Err() error { return errors.Join(p.errs...) }

// Validator is a configuration block that can say everything wrong with
// it at once, without I/O. Each part of the error is a *Problem when it
// concerns one key, or any error when it concerns the block as a whole.
type Validator interface {
	Validate() error
}

// Readable says why path cannot be read as a regular file, or nil.
func Readable(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err == nil && fi.IsDir() {
		err = errors.New("is a directory, not a file")
	}
	return err
}
