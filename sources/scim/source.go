package scim

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/rostersync/rostersync/sources"
)

// Source offers the Users stored by the SCIM endpoint as records.
type Source struct {
	name  string
	store *Store
}

// NewSource returns a source over the store. It does no I/O.
func NewSource(name string, store *Store) sources.Source {
	return &Source{name: name, store: store}
}

// Name implements sources.Source.
func (s *Source) Name() string { return s.name }

// Fetch implements sources.Source: every stored User, active or not, with
// the Groups it is a direct member of, read in one consistent snapshot.
func (s *Source) Fetch(ctx context.Context) (*sources.Snapshot, error) {
	recs := []sources.Record{}
	if err := s.read(ctx, func(r *sources.Record) error { recs = append(recs, *r); return nil }); err != nil {
		return nil, err
	}
	sources.SortRecords(recs)
	return &sources.Snapshot{
		Source:  s.name,
		Records: recs,
		Health:  sources.Health{Complete: true, Count: len(recs)},
	}, nil
}

var _ sources.Streamer = (*Source)(nil)

// Stream implements sources.Streamer: the Users Fetch returns, in one
// consistent snapshot, each handed over as its row is read, so a pass
// never holds every stored document (or every record) at once.
func (s *Source) Stream(ctx context.Context, fn func(*sources.Record) error) (sources.Health, error) {
	n := 0
	err := s.read(ctx, func(r *sources.Record) error { n++; return fn(r) })
	if err != nil {
		return sources.Health{}, err
	}
	return sources.Health{Complete: true, Count: n}, nil
}

// read calls emit for every stored User, in storage order, within one
// read-only transaction.
func (s *Source) read(ctx context.Context, emit func(*sources.Record) error) error {
	tx, err := s.store.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("source %s: %w", s.name, err)
	}
	defer tx.Rollback()
	groups := map[int64][]sources.Group{}
	rows, err := tx.QueryContext(ctx, `SELECT m.member_seq, g.id, g.name FROM members m
		JOIN resources g ON g.seq = m.group_seq`)
	if err != nil {
		return fmt.Errorf("source %s: memberships: %w", s.name, err)
	}
	for rows.Next() {
		var (
			u int64
			g sources.Group
		)
		if err := rows.Scan(&u, &g.Key, &g.Name); err != nil {
			rows.Close()
			return fmt.Errorf("source %s: memberships: %w", s.name, err)
		}
		groups[u] = append(groups[u], g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("source %s: memberships: %w", s.name, err)
	}
	rows, err = tx.QueryContext(ctx, selectStored+` WHERE r.rtype = 'User' ORDER BY r.seq`)
	if err != nil {
		return fmt.Errorf("source %s: users: %w", s.name, err)
	}
	defer rows.Close()
	for rows.Next() {
		st, err := scanStored(rows)
		if err != nil {
			return fmt.Errorf("source %s: users: %w", s.name, err)
		}
		rec := recordOf(st)
		if gs := groups[st.seq]; len(gs) > 0 {
			sort.Slice(gs, func(i, j int) bool {
				if gs[i].Name != gs[j].Name {
					return gs[i].Name < gs[j].Name
				}
				return gs[i].Key < gs[j].Key
			})
			rec.Groups = gs
		}
		if err := emit(&rec); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("source %s: users: %w", s.name, err)
	}
	return nil
}

// recordOf maps a stored User to a record (attribute names in the package
// documentation).
func recordOf(st *stored) sources.Record {
	attrs := map[string][]string{}
	put := func(name string, v any) {
		switch v := v.(type) {
		case string:
			if v != "" {
				attrs[name] = []string{v}
			}
		case bool:
			attrs[name] = []string{strconv.FormatBool(v)}
		case nil:
		default:
			attrs[name] = []string{fmt.Sprint(v)}
		}
	}
	d := st.doc
	for _, k := range []string{"userName", "externalId", "displayName", "nickName", "title", "userType",
		"locale", "preferredLanguage", "timezone"} {
		put(k, d[k])
	}
	if n, ok := d["name"].(map[string]any); ok {
		for _, k := range []string{"givenName", "familyName", "middleName", "formatted"} {
			put("name."+k, n[k])
		}
	}
	active := true
	if b, ok := toBool(d["active"]); ok {
		active = b
	}
	put("active", active)
	var first, work, primary string
	if emails, ok := d["emails"].([]any); ok {
		for _, e := range emails {
			m, _ := e.(map[string]any)
			v, _ := m["value"].(string)
			if v == "" {
				continue
			}
			if first == "" {
				first = v
			}
			t, _ := m["type"].(string)
			t = strings.ToLower(t)
			if t == "work" && work == "" {
				work = v
			}
			if t != "" {
				if _, seen := attrs["emails."+t]; !seen {
					attrs["emails."+t] = []string{v}
				}
			}
			if p, _ := toBool(m["primary"]); p && primary == "" {
				primary = v
			}
		}
	}
	put("email", orElse(primary, orElse(work, first)))
	if ext, ok := d[enterpriseURN].(map[string]any); ok {
		for _, k := range []string{"employeeNumber", "department", "division", "costCenter", "organization"} {
			put(k, ext[k])
		}
		if m, ok := ext["manager"].(map[string]any); ok {
			put("manager", m["value"])
		}
	}
	put("connection", st.connection)
	return sources.Record{Key: st.id, Attrs: attrs, Origin: "scim:Users/" + st.id}
}
