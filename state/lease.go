package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// The lease is the right to write: to run passes and applies, and so to
// record journal entries and send what they announce. One process holds it
// at a time.
//
// On SQLite it is the writer lock (an flock on LockFileName, released by the
// kernel when the process ends), with an epoch counter in the database; it is
// never lost while the process lives, and a second writer is refused at once
// with a *LockedError naming the holder, as before there was a lease.
//
// On PostgreSQL it is a row of the lease table: a holder, an epoch that grows
// by one at every takeover, and an expiry computed with the database's clock.
// It is taken only when free or expired, and renewed every TTL/3 over a
// connection of its own. The holder counts itself the leader only until the
// start of its last successful renewal plus TTL minus a safety margin: as the
// row's expiry was computed after that start, a leader cut off from the
// database stops before the row can expire for anyone else. Every journal
// write made under a lease (DB.UseLease) checks, in its own transaction, that
// the row still carries the lease's epoch, and is refused with ErrFenced
// otherwise, so a former leader that was paused or partitioned cannot record
// work, and since an entry is recorded before every platform write, cannot
// send it either.

// ErrFenced is returned (wrapped) by journal writes made under a lease that
// is no longer the current one: it was lost, or another process took over.
var ErrFenced = errors.New("fenced: this process no longer holds the lease; another may have taken over")

// DefaultLeaseTTL is the lease's default time to live: a standby takes over
// within about TTL plus its retry interval (TTL/4) of the leader's death.
const DefaultLeaseTTL = 10 * time.Second

// MinLeaseTTL is the shortest TTL accepted: renewals every TTL/3 must fit
// in a loaded database's answer time.
const MinLeaseTTL = 3 * time.Second

// LeaseHeldError reports that another process holds the lease.
type LeaseHeldError struct {
	Holder   string
	Epoch    int64
	Expires  time.Time // by the database's clock
	Acquired time.Time // when the holder took it (zero on SQLite)
}

func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("state: the lease is held by %s (epoch %d, renewed until %s); "+
		"only one apply or serve at a time may write: wait for it, or stop it",
		e.Holder, e.Epoch, e.Expires.UTC().Format(time.RFC3339))
}

// LeaseStatus is what the database says of the lease, for status pages.
type LeaseStatus struct {
	Backend  string    `json:"backend"` // "sqlite" or "postgres"
	Holder   string    `json:"holder"`  // the last holder; "" when never taken
	Epoch    int64     `json:"epoch"`
	Acquired time.Time `json:"acquired,omitzero"`
	Expires  time.Time `json:"expires,omitzero"` // zero on SQLite (held while the process lives)
	Held     bool      `json:"held"`             // false when free or expired
}

// Lease is a held lease. Its methods are safe for concurrent use.
type Lease struct {
	holder   string
	epoch    int64
	ttl      time.Duration
	acquired time.Time

	lost     chan struct{}
	lostOnce sync.Once
	mu       sync.Mutex
	why      error
	deadline time.Time // local: the lease is trusted until then (zero: no deadline)

	// release ends the lease's upkeep and gives it up; set by the backend.
	release     func(ctx context.Context) error
	releaseOnce sync.Once
	releaseErr  error
	// pg is set on PostgreSQL: the fence checks its epoch in the database.
	pg bool
}

// Holder is who holds the lease, as given to AcquireLease.
func (l *Lease) Holder() string { return l.holder }

// Epoch is the lease's epoch: larger than every earlier holder's.
func (l *Lease) Epoch() int64 { return l.epoch }

// TTL is the lease's time to live.
func (l *Lease) TTL() time.Duration { return l.ttl }

// Acquired is when the lease was taken (local clock).
func (l *Lease) Acquired() time.Time { return l.acquired }

// Lost is closed when the lease can no longer be trusted: a renewal failed,
// the connection was lost, the local deadline passed, or it was released.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Err says why the lease was lost; nil while it is held.
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.why
}

// Deadline is the local time until which the lease is trusted, renewed with
// it; zero on SQLite, where it lasts as long as the process.
func (l *Lease) Deadline() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.deadline
}

// held reports whether the lease is still trusted.
func (l *Lease) held() bool {
	select {
	case <-l.lost:
		return false
	default:
		return true
	}
}

func (l *Lease) lose(why error) {
	l.lostOnce.Do(func() {
		l.mu.Lock()
		l.why = why
		l.mu.Unlock()
		close(l.lost)
	})
}

// Release gives the lease up: on PostgreSQL the row expires at once, so a
// standby takes over without waiting for the TTL. A nil lease is a no-op;
// releasing twice returns the first result.
func (l *Lease) Release(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.releaseOnce.Do(func() {
		if l.release != nil {
			l.releaseErr = l.release(ctx)
		}
		l.lose(errors.New("released"))
	})
	return l.releaseErr
}

// leaseSlot is the lease a DB's journal writes run under (see UseLease).
type leaseSlot struct {
	leaseMu sync.Mutex
	lease   *Lease
	// pgConfig is how the lease connects on PostgreSQL: a connection of
	// its own, apart from the pool.
	pgConfig *pgx.ConnConfig
}

// UseLease makes every later journal write (DB.JournalBegin, JournalFinish
// and a Batch's commits) run under l: refused with ErrFenced once l is lost
// or, on PostgreSQL, once the lease row carries another epoch. nil writes
// without a lease (the read-only commands and short approvals that do not
// take one).
func (d *DB) UseLease(l *Lease) {
	d.leaseMu.Lock()
	d.lease = l
	d.leaseMu.Unlock()
}

// leaseEpoch is the epoch journal entries are written under: the lease's,
// or 0 without one.
func (d *DB) leaseEpoch() int64 {
	if l := d.currentLease(); l != nil {
		return l.epoch
	}
	return 0
}

func (d *DB) currentLease() *Lease {
	d.leaseMu.Lock()
	defer d.leaseMu.Unlock()
	return d.lease
}

// fenceLocal refuses a write under a lease that is lost. The database's
// check, on PostgreSQL, runs inside the write's transaction (fenceTx).
func fenceLocal(l *Lease) error {
	if l == nil || l.held() {
		return nil
	}
	if why := l.Err(); why != nil {
		return fmt.Errorf("%w (epoch %d: %v)", ErrFenced, l.epoch, why)
	}
	return ErrFenced
}

// AcquireLease tries, without waiting, to take the lease for holder (a name
// that says which host and process: it is shown to the others). When another
// process holds it the error is a *LeaseHeldError on PostgreSQL and a
// *LockedError on SQLite. ttl <= 0 means DefaultLeaseTTL; on SQLite it is
// unused.
func (d *DB) AcquireLease(ctx context.Context, holder string, ttl time.Duration) (*Lease, error) {
	if holder == "" {
		return nil, errors.New("state: acquire lease: empty holder")
	}
	if ttl <= 0 {
		ttl = DefaultLeaseTTL
	}
	if ttl < MinLeaseTTL {
		return nil, fmt.Errorf("state: acquire lease: ttl %s is shorter than %s", ttl, MinLeaseTTL)
	}
	if d.pg() {
		return acquirePG(ctx, d.pgConnect, holder, ttl, d.now)
	}
	return d.acquireSQLiteLease(ctx, holder, ttl)
}

// LeaseInfo reports the lease as the database has it.
func (d *DB) LeaseInfo(ctx context.Context) (LeaseStatus, error) {
	if d.pg() {
		return pgLeaseStatus(ctx, d.db)
	}
	return d.sqliteLeaseInfo(ctx)
}

func (d *DB) acquireSQLiteLease(ctx context.Context, holder string, ttl time.Duration) (*Lease, error) {
	lock, err := lockWriterAs(d.dir, holder, d.now())
	if err != nil {
		return nil, err
	}
	var epoch int64
	err = d.tx(ctx, func(tx dbtx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO lease (name, holder, epoch, acquired_at) VALUES ('leader', ?, 1, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, epoch = lease.epoch + 1, acquired_at = excluded.acquired_at
			RETURNING epoch`, holder, d.stamp()).Scan(&epoch)
	})
	if err != nil {
		lock.Release()
		return nil, fmt.Errorf("state: acquire lease: %w", err)
	}
	l := &Lease{holder: holder, epoch: epoch, ttl: ttl, acquired: d.now(), lost: make(chan struct{})}
	l.release = func(context.Context) error {
		l.lose(errors.New("released")) // no write between the unlock and the next holder
		return lock.Release()
	}
	return l, nil
}

func (d *DB) sqliteLeaseInfo(ctx context.Context) (LeaseStatus, error) {
	st := LeaseStatus{Backend: BackendSQLite}
	var at string
	err := d.db.QueryRowContext(ctx, `SELECT holder, epoch, acquired_at FROM lease WHERE name = 'leader'`).Scan(&st.Holder, &st.Epoch, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return st, nil
	case err != nil:
		return st, fmt.Errorf("state: lease: %w", err)
	}
	st.Acquired, _ = parseTime(at)
	st.Held = lockHeld(d.dir)
	return st, nil
}
