package state

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL advisory locks of the state, in the two-key form
// pg_advisory_lock(lockClass, object).
const (
	// lockClass is the state's first key ("rs" and 1).
	lockClass int32 = 0x72730001
	// lockWrite, taken per transaction by tx and migrate, serialises writers.
	lockWrite int32 = 1
	// tokenLockClass is the first key of the token stores' locks; the
	// second is hashtext(key id).
	tokenLockClass int32 = 0x72730002
)

// PostgreSQL pool sizes: a daemon's passes, its SCIM server and its
// status page share the pool, and a token refresh holds one connection for
// its lock.
const (
	pgMaxConns     = 8
	pgConnectAfter = 10 * time.Second // connect timeout, when the URL sets none
)

// IsPostgresURL reports whether s is a URL OpenURL opens on PostgreSQL.
func IsPostgresURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// URLHasPassword reports whether the URL s carries a password.
func URLHasPassword(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return strings.Contains(s, "@") // unparseable: assume the worst
	}
	_, set := u.User.Password()
	return set || u.Query().Has("password")
}

// RedactURL returns s with any password replaced by "xxxxx", for messages
// and logs.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		if i := strings.LastIndex(s, "@"); i >= 0 {
			if j := strings.Index(s, "://"); j >= 0 && j < i {
				return s[:j+3] + "xxxxx" + s[i:]
			}
		}
		return s
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

func openPostgres(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	where := RedactURL(rawURL)
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("state: URL %s: %w", where, redactErr(err, rawURL))
	}
	if !URLHasPassword(rawURL) && opts.Password != "" {
		cfg.Password = opts.Password
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = pgConnectAfter
	}
	sdb := stdlib.OpenDB(*cfg)
	sdb.SetMaxOpenConns(pgMaxConns)
	sdb.SetMaxIdleConns(pgMaxConns)
	sdb.SetConnMaxIdleTime(5 * time.Minute)
	d := newDB(sdb, where, "", true, opts)
	d.pgConfig = cfg.Copy() // the lease's own connection
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("state: connect to %s: %w", where, redactErr(err, rawURL))
	}
	if err := d.migrate(ctx); err != nil {
		sdb.Close()
		return nil, err
	}
	return d, nil
}

// IsAuthFailure reports whether err is PostgreSQL refusing the login (a
// wrong or missing password, a user it does not know).
func IsAuthFailure(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "28P01" || pe.Code == "28000")
}

// redactErr keeps a password that an error might quote out of it.
func redactErr(err error, rawURL string) error {
	u, perr := url.Parse(rawURL)
	if perr != nil {
		return err
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
}
