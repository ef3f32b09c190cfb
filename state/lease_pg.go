package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// The lease's statements. Times come from the database's clock
// (clock_timestamp, not the transaction's start), so hosts whose clocks
// disagree still agree on when the row expires.
const (
	// pgTakeSQL takes the lease when the row is missing, free or expired;
	// every takeover increases the epoch. No row back: another holds it.
	pgTakeSQL = `INSERT INTO lease AS l (name, holder, epoch, acquired_at, expires_at)
	VALUES ('leader', $1, 1, clock_timestamp(), clock_timestamp() + $2::bigint * interval '1 millisecond')
	ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, epoch = l.epoch + 1,
		acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
	WHERE l.expires_at <= clock_timestamp()
	RETURNING epoch`
	// pgRenewSQL extends a lease that is still this holder's and not yet
	// expired: an expired one may already be another's.
	pgRenewSQL = `UPDATE lease SET expires_at = clock_timestamp() + $3::bigint * interval '1 millisecond'
	WHERE name = 'leader' AND holder = $1 AND epoch = $2 AND expires_at > clock_timestamp()
	RETURNING expires_at`
	// pgReleaseSQL lets the row expire now, so a standby need not wait.
	pgReleaseSQL = `UPDATE lease SET expires_at = clock_timestamp()
	WHERE name = 'leader' AND holder = $1 AND epoch = $2 AND expires_at > clock_timestamp()`
	pgInfoSQL = `SELECT holder, epoch, acquired_at, expires_at, expires_at > clock_timestamp() FROM lease WHERE name = 'leader'`
	// pgFenceSQL reads the current epoch and locks the row until the
	// journal write's transaction ends, so no takeover lands between the
	// check and the commit.
	pgFenceSQL = `SELECT epoch, expires_at > clock_timestamp() FROM lease WHERE name = 'leader' FOR SHARE`
)

// leaseMargin is how long before the row's expiry the holder stops trusting
// its lease: room for a renewal's answer delayed in flight and for the
// standby's clock reading.
func leaseMargin(ttl time.Duration) time.Duration { return ttl / 5 }

// leaseRenewEvery is the renewal interval: two renewals may fail to arrive
// before the local deadline passes.
func leaseRenewEvery(ttl time.Duration) time.Duration { return ttl / 3 }

// acquirePG takes the lease over a connection of its own (from connect),
// which then keeps it renewed until it is lost or released.
func acquirePG(ctx context.Context, connect func(context.Context) (*pgx.Conn, error), holder string, ttl time.Duration, now func() time.Time) (*Lease, error) {
	start := time.Now()
	conn, err := connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("state: acquire lease: %w", err)
	}
	fail := func(err error) (*Lease, error) {
		conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	var epoch int64
	err = conn.QueryRow(ctx, pgTakeSQL, holder, ttl.Milliseconds()).Scan(&epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		held := &LeaseHeldError{}
		var live bool
		if err := conn.QueryRow(ctx, pgInfoSQL).Scan(&held.Holder, &held.Epoch, &held.Acquired, &held.Expires, &live); err != nil {
			return fail(fmt.Errorf("state: acquire lease: %w", err))
		}
		return fail(held)
	}
	if err != nil {
		return fail(fmt.Errorf("state: acquire lease: %w", err))
	}
	l := &Lease{holder: holder, epoch: epoch, ttl: ttl, acquired: now(), lost: make(chan struct{}), pg: true,
		deadline: start.Add(ttl - leaseMargin(ttl))}
	stop, done := make(chan struct{}), make(chan struct{})
	var releaseErr error
	l.release = func(ctx context.Context) error {
		close(stop)
		<-done
		return releaseErr
	}
	go func() {
		defer close(done)
		releaseErr = l.keep(conn, stop)
	}()
	return l, nil
}

// keep renews the lease every leaseRenewEvery until it is lost or stop is
// closed, and then closes the connection. It returns the release's error.
func (l *Lease) keep(conn *pgx.Conn, stop <-chan struct{}) error {
	bg := context.Background()
	defer conn.Close(bg)
	expire := time.AfterFunc(time.Until(l.Deadline()), func() {
		l.lose(fmt.Errorf("not renewed before the local deadline (ttl %s)", l.ttl))
	})
	defer expire.Stop()
	tick := time.NewTicker(leaseRenewEvery(l.ttl))
	defer tick.Stop()
	for {
		select {
		case <-stop:
			if !l.held() {
				return nil
			}
			ctx, cancel := context.WithTimeout(bg, l.ttl)
			defer cancel()
			if _, err := conn.Exec(ctx, pgReleaseSQL, l.holder, l.epoch); err != nil {
				return fmt.Errorf("state: release lease (it expires by itself within %s): %w", l.ttl, err)
			}
			return nil
		case <-l.lost:
			return nil
		case <-tick.C:
		}
		start := time.Now()
		ctx, cancel := context.WithDeadline(bg, l.Deadline())
		var expires time.Time
		err := conn.QueryRow(ctx, pgRenewSQL, l.holder, l.epoch, l.ttl.Milliseconds()).Scan(&expires)
		cancel()
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			l.lose(errors.New("the lease expired or was taken over before it was renewed"))
			return nil
		case err != nil:
			l.lose(fmt.Errorf("renewing the lease: %w", err))
			return nil
		}
		l.mu.Lock()
		if l.why == nil {
			l.deadline = start.Add(l.ttl - leaseMargin(l.ttl))
			expire.Reset(time.Until(l.deadline))
		}
		l.mu.Unlock()
	}
}

// fencedTx is tx for a journal write: refused at once under a lost lease
// (without waiting for a database that may be unreachable), and inside the
// transaction when the lease row carries another epoch.
func (d *DB) fencedTx(ctx context.Context, fn func(dbtx) error) error {
	if err := fenceLocal(d.currentLease()); err != nil {
		return err
	}
	return d.tx(ctx, func(tx dbtx) error {
		if err := d.fenceTx(ctx, tx); err != nil {
			return err
		}
		return fn(tx)
	})
}

// fenceTx refuses, inside tx, a journal write under a lease whose epoch is
// no longer the row's (PostgreSQL), or that is lost (both backends).
func (d *DB) fenceTx(ctx context.Context, tx dbtx) error {
	l := d.currentLease()
	if err := fenceLocal(l); err != nil || l == nil || !l.pg {
		return err
	}
	var epoch int64
	var live bool
	err := tx.QueryRowContext(ctx, pgFenceSQL).Scan(&epoch, &live)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w (no lease row)", ErrFenced)
	case err != nil:
		return err
	case epoch != l.epoch:
		return fmt.Errorf("%w (epoch %d, now %d)", ErrFenced, l.epoch, epoch)
	case !live:
		return fmt.Errorf("%w (epoch %d expired)", ErrFenced, l.epoch)
	}
	return nil
}

// pgLeaseStatus reads the lease row.
func pgLeaseStatus(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (LeaseStatus, error) {
	st := LeaseStatus{Backend: BackendPostgres}
	err := q.QueryRowContext(ctx, pgInfoSQL).Scan(&st.Holder, &st.Epoch, &st.Acquired, &st.Expires, &st.Held)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil // never taken
	}
	if err != nil {
		return st, fmt.Errorf("state: lease: %w", err)
	}
	return st, nil
}

// pgConnect opens the lease's own connection.
func (d *DB) pgConnect(ctx context.Context) (*pgx.Conn, error) {
	if d.pgConfig == nil {
		return nil, errors.New("no PostgreSQL connection settings")
	}
	return pgx.ConnectConfig(ctx, d.pgConfig)
}
