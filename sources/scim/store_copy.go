package scim

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrStoreNotEmpty is returned by CopyTo when the destination holds resources.
var ErrStoreNotEmpty = errors.New("the destination SCIM store is not empty")

// CopyTo copies every resource of s (Users, Groups, their emails and
// memberships) into dst, which must be empty unless replace (then what dst
// holds is deleted in the same transaction), keeping ids, versions, times
// and the creation order, so that identity providers see the same
// resources behind the same ETags. It reads s in one snapshot and writes
// dst in one transaction: on an error dst is left as it was. It returns the
// number of resources copied. Moving the state from SQLite to PostgreSQL
// calls it with the SQLite store as s.
func (s *Store) CopyTo(ctx context.Context, dst *Store, replace bool) (int, error) {
	rs, emails, members, err := s.snapshot(ctx)
	if err != nil {
		return 0, fmt.Errorf("scim store %s: read: %w", s.path, err)
	}
	err = dst.write(ctx, func(tx wtx) error {
		var n int
		if err := tx.queryRow(ctx, `SELECT count(*) FROM resources`).Scan(&n); err != nil {
			return err
		}
		if n > 0 && !replace {
			return fmt.Errorf("%w (%d resources)", ErrStoreNotEmpty, n)
		}
		if n > 0 {
			// Emails and memberships go with their resources (ON DELETE CASCADE).
			if _, err := tx.exec(ctx, `DELETE FROM resources`); err != nil {
				return err
			}
		}
		seqs := make(map[int64]int64, len(rs)) // source seq → destination seq
		for _, r := range rs {
			var seq int64
			if err := tx.queryRow(ctx, `INSERT INTO resources
				(rtype, id, name, name_lc, display_lc, external_id, active, employee_number, created_ms, modified_ms, version, connection, doc)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`, r.cols...).Scan(&seq); err != nil {
				return fmt.Errorf("resource %v: %w", r.cols[1], err)
			}
			seqs[r.seq] = seq
		}
		for _, e := range emails {
			if _, err := tx.exec(ctx, `INSERT INTO emails(seq, value_lc, type_lc, is_primary) VALUES (?, ?, ?, ?)`,
				seqs[e.seq], e.valueLC, e.typeLC, e.primary); err != nil {
				return err
			}
		}
		for _, m := range members {
			if _, err := tx.exec(ctx, `INSERT INTO members(group_seq, member_seq, display) VALUES (?, ?, ?)`,
				seqs[m.group], seqs[m.member], m.display); err != nil {
				return err
			}
		}
		if len(rs) > 0 {
			tx.touch()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("scim store %s: copy: %w", dst.path, err)
	}
	return len(rs), nil
}

// copiedResource is a resources row: seq, then the columns in the order
// of the INSERT in CopyTo.
type copiedResource struct {
	seq  int64
	cols []any
}

type copiedEmail struct {
	seq             int64
	valueLC, typeLC string
	primary         int64
}

type copiedMember struct {
	group, member int64
	display       string
}

// snapshot reads every row of the store in one read-only transaction, in
// creation order.
func (s *Store) snapshot(ctx context.Context) ([]copiedResource, []copiedEmail, []copiedMember, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, nil, nil, err
	}
	defer tx.Rollback()
	q := func(query string) (*sql.Rows, error) {
		if s.pg != nil {
			query = rebind(query)
		}
		return tx.QueryContext(ctx, query)
	}
	rows, err := q(`SELECT rtype, id, name, name_lc, display_lc, external_id, active, employee_number,
		created_ms, modified_ms, version, connection, doc, seq FROM resources ORDER BY seq`)
	if err != nil {
		return nil, nil, nil, err
	}
	var rs []copiedResource
	for rows.Next() {
		var (
			rtype, id, name, nameLC, conn, doc string
			display, external, employee        sql.NullString
			active                             sql.NullInt64
			created, modified, version, seq    int64
		)
		if err := rows.Scan(&rtype, &id, &name, &nameLC, &display, &external, &active, &employee,
			&created, &modified, &version, &conn, &doc, &seq); err != nil {
			rows.Close()
			return nil, nil, nil, err
		}
		rs = append(rs, copiedResource{seq, []any{rtype, id, name, nameLC, display, external, active, employee,
			created, modified, version, conn, doc}})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, nil, err
	}
	rows, err = q(`SELECT seq, value_lc, type_lc, is_primary FROM emails ORDER BY rowid`)
	if err != nil {
		return nil, nil, nil, err
	}
	var es []copiedEmail
	for rows.Next() {
		var e copiedEmail
		if err := rows.Scan(&e.seq, &e.valueLC, &e.typeLC, &e.primary); err != nil {
			rows.Close()
			return nil, nil, nil, err
		}
		es = append(es, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, nil, err
	}
	rows, err = q(`SELECT group_seq, member_seq, display FROM members ORDER BY rowid`)
	if err != nil {
		return nil, nil, nil, err
	}
	defer rows.Close()
	var ms []copiedMember
	for rows.Next() {
		var m copiedMember
		if err := rows.Scan(&m.group, &m.member, &m.display); err != nil {
			return nil, nil, nil, err
		}
		ms = append(ms, m)
	}
	return rs, es, ms, rows.Err()
}
