package state

import (
	"context"
	"errors"
	"time"
)

func (d *DB) isPostgres() bool { return false }

func (d *DB) acquirePGLease(ctx context.Context, holder string, ttl time.Duration) (*Lease, error) {
	return nil, errors.New("state: no PostgreSQL backend")
}

func (d *DB) pgLeaseInfo(ctx context.Context) (LeaseStatus, error) { return pgLeaseStatus(ctx, d.db) }

// Backend names the database's kind: "sqlite" or "postgres".
func (d *DB) Backend() string { return "sqlite" }
