package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// copyTable is a table CopyTo copies, with its columns; identity marks a
// table whose id a sequence generates on PostgreSQL.
type copyTable struct {
	name     string
	cols     []string
	identity bool
}

// copyTables is every table of the state, parents first (runs before the
// journal that refers to them). The plan key and the tokens, which SQLite
// keeps in files, are copied apart.
var copyTables = []copyTable{
	{"runs", []string{"id", "kind", "started_at", "finished_at", "result", "summary", "error"}, true},
	{"journal", []string{"id", "run_id", "target", "op_id", "kind", "key", "action", "payload", "epoch", "begun_at",
		"finished_at", "outcome", "result_id", "error"}, true},
	{"ownership", []string{"target", "kind", "key", "id", "how", "since", "updated_at"}, false},
	{"held", []string{"id", "target", "op_id", "kind", "key", "action", "reason", "payload", "status",
		"created_at", "updated_at"}, true},
	{"cursors", []string{"source", "value", "updated_at"}, false},
	{"source_counts", []string{"id", "source", "count", "healthy", "at"}, true},
	{"absences", []string{"target", "key", "consecutive", "first_at", "last_at"}, false},
	{"budgets", []string{"endpoint", "budget_window", "used", "updated_at"}, false},
	{"plans", []string{"target", "plan", "at"}, false},
}

// notCopied are the tables CopyTo leaves alone: the schema's own record,
// the plan key and tokens, which it copies apart, and the lease, which
// belongs to the processes of the database it is in.
var notCopied = []string{"schema_migrations", "secrets", "tokens", "lease"}

// Names CopyTo reports the plan key and the tokens under.
const (
	CopyPlanKey = "plan key"
	CopyTokens  = "tokens"
)

// CopyCount is how many rows of one table CopyTo copied.
type CopyCount struct {
	Table string
	Rows  int
}

// NotEmptyError reports a copy refused because its target holds state.
type NotEmptyError struct {
	Target string      // the target's URL, without its password
	Holds  []CopyCount // the tables that are not empty, with their rows
}

func (e *NotEmptyError) Error() string {
	var b strings.Builder
	for i, c := range e.Holds {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %d", c.Table, c.Rows)
	}
	return fmt.Sprintf("state: copy: %s already holds state (%s); nothing was copied. Copy into an empty database, or replace what it holds (-force)",
		e.Target, b.String())
}

// CopyTo copies everything d holds into the PostgreSQL database to: every
// table, the plan key and the API keys' bearer tokens, in one transaction
// of to's, so that it copies all or nothing. A target that holds any state
// is refused with a *NotEmptyError, unless replace, which empties it first
// (in the same transaction). d is read under its write lock, so a daemon
// writing it waits until the copy has been read; stop it first all the
// same, or it goes on writing to d after the copy.
func (d *DB) CopyTo(ctx context.Context, to *DB, replace bool) ([]CopyCount, error) {
	if !to.pg() {
		return nil, fmt.Errorf("state: copy: the target %s is not PostgreSQL", to.path)
	}
	if to.path == d.path {
		return nil, fmt.Errorf("state: copy: %s is both the source and the target", d.path)
	}
	// The plan key and the tokens first: files on SQLite, read outside
	// the transactions.
	key, err := d.PlanKey(ctx, false)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	tokens, err := d.tokenRecords(ctx)
	if err != nil {
		return nil, err
	}

	var counts []CopyCount
	err = d.tx(ctx, func(src dbtx) error {
		return to.tx(ctx, func(dst dbtx) error {
			if err := to.emptyForCopy(ctx, dst, replace); err != nil {
				return err
			}
			for _, t := range copyTables {
				n, err := copyRows(ctx, src, dst, t)
				if err != nil {
					return fmt.Errorf("table %s: %w", t.name, err)
				}
				counts = append(counts, CopyCount{t.name, n})
			}
			n := 0
			if key != nil {
				if _, err := dst.ExecContext(ctx, `INSERT INTO secrets (name, value, updated_at) VALUES (?, ?, ?)`,
					PlanKeyFile, key, to.stamp()); err != nil {
					return fmt.Errorf("the plan key: %w", err)
				}
				n = 1
			}
			counts = append(counts, CopyCount{CopyPlanKey, n})
			for _, r := range tokens {
				if _, err := dst.ExecContext(ctx, `INSERT INTO tokens (key_id, record, updated_at) VALUES (?, ?, ?)`,
					r.keyID, r.record, to.stamp()); err != nil {
					return fmt.Errorf("the token of key %s: %w", r.keyID, err)
				}
			}
			counts = append(counts, CopyCount{CopyTokens, len(tokens)})
			return nil
		})
	})
	if err != nil {
		if ne := (*NotEmptyError)(nil); errors.As(err, &ne) {
			return nil, err
		}
		return nil, fmt.Errorf("state: copy %s to %s: %w", d.path, to.path, err)
	}
	return counts, nil
}

// emptyForCopy refuses a target holding state, or with replace empties it.
func (d *DB) emptyForCopy(ctx context.Context, tx dbtx, replace bool) error {
	var holds []CopyCount
	names := []string{"secrets", "tokens"}
	for _, t := range slices.Backward(copyTables) {
		names = append(names, t.name) // children first, for the deletes
	}
	for _, name := range names {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			holds = append(holds, CopyCount{name, n})
		}
	}
	if len(holds) == 0 {
		return nil
	}
	if !replace {
		return &NotEmptyError{Target: d.path, Holds: holds}
	}
	for _, name := range names {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+name); err != nil {
			return fmt.Errorf("empty %s: %w", name, err)
		}
	}
	return nil
}

// copyRows copies table t from src to dst, and moves dst's id sequence
// past the ids copied.
func copyRows(ctx context.Context, src, dst dbtx, t copyTable) (int, error) {
	cols := strings.Join(t.cols, ", ")
	order := "1"
	if t.identity {
		order = "id"
	}
	rows, err := src.QueryContext(ctx, `SELECT `+cols+` FROM `+t.name+` ORDER BY `+order)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	ins, err := dst.PrepareContext(ctx, `INSERT INTO `+t.name+` (`+cols+`) VALUES (`+
		strings.TrimSuffix(strings.Repeat("?, ", len(t.cols)), ", ")+`)`)
	if err != nil {
		return 0, err
	}
	defer ins.Close()
	vals := make([]any, len(t.cols))
	ptrs := make([]any, len(t.cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		if _, err := ins.ExecContext(ctx, vals...); err != nil {
			return n, fmt.Errorf("row %d: %w", n+1, err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	if t.identity && dst.pg {
		if _, err := dst.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('`+t.name+`', 'id'),
			(SELECT COALESCE(MAX(id), 0) + 1 FROM `+t.name+`), false)`); err != nil {
			return n, fmt.Errorf("move the id sequence: %w", err)
		}
	}
	return n, nil
}

type tokenRecord struct {
	keyID  string
	record []byte
}

// tokenRecords returns every stored token record, by key id.
func (d *DB) tokenRecords(ctx context.Context) ([]tokenRecord, error) {
	var out []tokenRecord
	if d.pg() {
		rows, err := d.db.QueryContext(ctx, `SELECT key_id, record FROM tokens ORDER BY key_id`)
		if err != nil {
			return nil, fmt.Errorf("state: tokens: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var r tokenRecord
			if err := rows.Scan(&r.keyID, &r.record); err != nil {
				return nil, fmt.Errorf("state: tokens: %w", err)
			}
			out = append(out, r)
		}
		return out, rows.Err()
	}
	files, err := filepath.Glob(filepath.Join(d.dir, TokenFileName("*")))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	for _, f := range files {
		keyID, _ := strings.CutPrefix(filepath.Base(f), tokenFilePrefix)
		keyID, _ = strings.CutSuffix(keyID, tokenFileSuffix)
		if !tokenKeyID.MatchString(keyID) {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("state: token: %w", err)
		}
		if _, err := decodeToken(f, b); err != nil {
			return nil, err // a damaged token is not copied silently
		}
		out = append(out, tokenRecord{keyID, b})
	}
	return out, nil
}
