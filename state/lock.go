package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// LockFileName is the writer lock inside the state directory.
const LockFileName = "writer.lock"

// Holder describes the process holding the writer lock.
type Holder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

// LockedError reports that another process holds the writer lock.
type LockedError struct {
	Dir    string
	Holder Holder // zero when the holder could not be read
}

func (e *LockedError) Error() string {
	who := "another process"
	if e.Holder.PID != 0 {
		who = fmt.Sprintf("process %d (%s), since %s", e.Holder.PID, e.Holder.Command,
			e.Holder.Since.Local().Format("2006-01-02 15:04:05 MST"))
	}
	return fmt.Sprintf("state: %s is in use by %s: only one apply or serve at a time may write it; "+
		"wait for it to finish or stop it (for the service: systemctl stop rostersync)", e.Dir, who)
}

// WriterLock is the exclusive right to write the state directory: held by
// "rostersync apply" and "rostersync serve" for as long as they run.
// Read-only commands (plan, explain, check, held list) and the short
// approvals of "held approve|reject" do not take it: SQLite serialises
// their transactions, and they must work while the daemon runs.
//
// It is an flock(2) on LockFileName, so the kernel releases it when the
// process ends, however it ends.
type WriterLock struct {
	f *os.File
}

// LockWriter takes the writer lock of dir for command (as "apply"), or
// fails at once with a *LockedError naming the holder.
func LockWriter(dir, command string, now time.Time) (*WriterLock, error) {
	return lockWriterAs(dir, "rostersync "+command, now)
}

// lockWriterAs is LockWriter with the holder's description given whole.
func lockWriterAs(dir, holder string, now time.Time) (*WriterLock, error) {
	if err := prepareDir(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			le := &LockedError{Dir: dir}
			if data, rerr := os.ReadFile(path); rerr == nil {
				json.Unmarshal(data, &le.Holder)
			}
			return nil, le
		}
		return nil, fmt.Errorf("state: lock %s: %w", path, err)
	}
	h := Holder{PID: os.Getpid(), Command: holder, Since: now.UTC()}
	data, _ := json.Marshal(h)
	if err := f.Truncate(0); err == nil {
		f.WriteAt(append(data, '\n'), 0)
	}
	return &WriterLock{f: f}, nil
}

// Release gives the lock up. A nil lock is a no-op.
func (l *WriterLock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	l.f.Truncate(0)
	err := l.f.Close() // closing releases the flock
	l.f = nil
	return err
}

// lockHeld reports whether a process (this one included) holds dir's
// writer lock.
func lockHeld(dir string) bool {
	f, err := os.Open(filepath.Join(dir, LockFileName))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}
