package state

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
)

// Backend names, as (*DB).Backend returns them.
const (
	BackendSQLite   = "sqlite"
	BackendPostgres = "postgres"
)

// queryer is what both *sql.DB and *sql.Tx offer.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// dbtx runs statements on the database or in a transaction. Statements are
// written once, in the SQL both backends share, with ? placeholders (or ?N
// for the N-th argument); on PostgreSQL they are rebound to $N before they
// are sent. Its methods are database/sql's, under the same names.
type dbtx struct {
	q  queryer
	pg bool
}

func (r dbtx) bind(query string) string {
	if !r.pg {
		return query
	}
	return rebind(query)
}

func (r dbtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return r.q.ExecContext(ctx, r.bind(query), args...)
}

func (r dbtx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return r.q.QueryContext(ctx, r.bind(query), args...)
}

func (r dbtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return r.q.QueryRowContext(ctx, r.bind(query), args...)
}

func (r dbtx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return r.q.PrepareContext(ctx, r.bind(query))
}

// rebound caches rebind's answers: the statements are a fixed set.
var rebound sync.Map // string → string

// rebind turns ? and ?N placeholders into PostgreSQL's $N, leaving quoted
// strings, quoted identifiers and comments alone.
func rebind(query string) string {
	if v, ok := rebound.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(query[i+1:], c)
			if j < 0 {
				b.WriteString(query[i:])
				i = len(query)
				continue
			}
			b.WriteString(query[i : i+j+2])
			i += j + 1
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = len(query) - i
			}
			b.WriteString(query[i : i+j])
			i += j - 1
		case c == '?':
			j := i + 1
			for j < len(query) && query[j] >= '0' && query[j] <= '9' {
				j++
			}
			b.WriteByte('$')
			if j > i+1 {
				b.WriteString(query[i+1 : j])
			} else {
				n++
				b.WriteString(strconv.Itoa(n))
			}
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	out := b.String()
	rebound.Store(query, out)
	return out
}

// b2i is a boolean as both backends' integer columns hold it.
func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
