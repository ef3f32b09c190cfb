package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"
)

// How an object came to be owned.
const (
	HowCreated = "created" // rostersync created it
	HowAdopted = "adopted" // it existed and a plan step adopted it
)

// Owned is one ledger row: platform object ID of Kind, owned under Key.
type Owned struct {
	Target string
	Kind   string // "user", "team", …
	Key    string // the stable source key
	ID     string // the platform id
	How    string // HowCreated or HowAdopted
	Since  time.Time
}

// Own records that target's object id of kind is owned under key, replacing
// whatever key owned before. An id already owned by a different key of the
// same kind is refused with ErrConflict: one platform object has one owner.
func (d *DB) Own(ctx context.Context, target, kind, key, id, how string) error {
	wrap := func(err error) error { return fmt.Errorf("state: own %s %q: %w", kind, key, err) }
	if err := need("target", target, "kind", kind, "key", key, "id", id); err != nil {
		return wrap(err)
	}
	if how != HowCreated && how != HowAdopted {
		return wrap(fmt.Errorf("how %q is neither %q nor %q", how, HowCreated, HowAdopted))
	}
	err := d.tx(ctx, func(tx dbtx) error {
		var other string
		err := tx.QueryRowContext(ctx, `SELECT key FROM ownership WHERE target = ? AND kind = ? AND id = ? AND key <> ?`,
			target, kind, id, key).Scan(&other)
		switch {
		case err == nil:
			return fmt.Errorf("id %q is owned by %q: %w", id, other, ErrConflict)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		now := d.stamp()
		_, err = tx.ExecContext(ctx, ownSQL, target, kind, key, id, how, now, now)
		return err
	})
	if err != nil {
		return wrap(err)
	}
	return nil
}

// Disown forgets target's ownership of key of kind. Forgetting what is not
// owned is not an error.
func (d *DB) Disown(ctx context.Context, target, kind, key string) error {
	if _, err := d.db.ExecContext(ctx, `DELETE FROM ownership WHERE target = ? AND kind = ? AND key = ?`,
		target, kind, key); err != nil {
		return fmt.Errorf("state: disown %s %q: %w", kind, key, err)
	}
	return nil
}

// LedgerCounts returns how many objects of each kind target owns. Kinds
// with nothing owned are absent.
func (d *DB) LedgerCounts(ctx context.Context, target string) (map[string]int, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT kind, COUNT(*) FROM ownership WHERE target = ? GROUP BY kind`, target)
	if err != nil {
		return nil, fmt.Errorf("state: ledger %s: %w", target, err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var kind string
		var n int
		if err := rows.Scan(&kind, &n); err != nil {
			return nil, fmt.Errorf("state: ledger %s: %w", target, err)
		}
		out[kind] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: ledger %s: %w", target, err)
	}
	return out, nil
}

// Ledger returns what target owns: kind → key → platform id. Kinds with
// nothing owned are absent. A pass reads the ledger with LedgerSorted.
func (d *DB) Ledger(ctx context.Context, target string) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	err := d.ledgerRows(ctx, target, func(kind, key, id string) {
		m := out[kind]
		if m == nil {
			m = map[string]string{}
			out[kind] = m
		}
		m[key] = id
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ledgerUser is the kind of owned users, as the ledger writes it (and
// reconcile.KindUser, which this package does not import, names it).
const ledgerUser = "user"

// ledgerRows calls row for each of target's ledger rows.
func (d *DB) ledgerRows(ctx context.Context, target string, row func(kind, key, id string)) error {
	// SQLite would walk ownership_by_id and fetch each row's key from the
	// table in id order, which is random against the order rows were
	// written when ids are random, as a platform's UUIDs are. Reading the
	// table straight through is about 4 times faster (BenchmarkLedgerRead:
	// 100k owned users, 58-59 ms against 248-251 ms), and 1.0 s against
	// 1.2 s in the benchmark's 1M plan, whose ids follow the rows. A state
	// holding several targets reads the others' rows too, still in order.
	// PostgreSQL plans this itself.
	//
	// A row costs what the driver allocates for each value it hands over:
	// a user's kind comes as NULL, which costs nothing, rather than as
	// "user" once more for each of 100k rows; and the values are scanned
	// into variables made once, not once a row.
	q := `SELECT NULLIF(kind, ?), key, id FROM ownership NOT INDEXED WHERE target = ?`
	if d.pg() {
		q = `SELECT NULLIF(kind, ?), key, id FROM ownership WHERE target = ?`
	}
	rows, err := d.db.QueryContext(ctx, q, ledgerUser, target)
	if err != nil {
		return fmt.Errorf("state: ledger %s: %w", target, err)
	}
	defer rows.Close()
	var kind sql.NullString
	var key, id string
	for rows.Next() {
		if err := rows.Scan(&kind, &key, &id); err != nil {
			return fmt.Errorf("state: ledger %s: %w", target, err)
		}
		if kind.Valid {
			row(kind.String, key, id)
		} else {
			row(ledgerUser, key, id)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("state: ledger %s: %w", target, err)
	}
	return nil
}

// Keyed is one kind's owned objects: Keys sorted bytewise, each once, and
// IDs[i] the platform id of Keys[i].
type Keyed struct {
	Keys, IDs []string
}

// byKey sorts both slices of a Keyed by key.
type byKey Keyed

func (k *byKey) Len() int           { return len(k.Keys) }
func (k *byKey) Less(i, j int) bool { return k.Keys[i] < k.Keys[j] }
func (k *byKey) Swap(i, j int) {
	k.Keys[i], k.Keys[j] = k.Keys[j], k.Keys[i]
	k.IDs[i], k.IDs[j] = k.IDs[j], k.IDs[i]
}

// LedgerSorted is Ledger with each kind's objects in two slices
// sorted by key (reconcile.Ownership's UserKeys and UserIDs) rather than a
// map: nothing to hash, no table to grow, and a merge with the desired
// people in place of a lookup each. counts (from LedgerCounts a moment
// ago; nil: unknown) size the slices; counts gone stale only cost growth. Rows are read in the table's order,
// which is the order they were owned in and often key order already; they
// are sorted only when not.
func (d *DB) LedgerSorted(ctx context.Context, target string, counts map[string]int) (map[string]*Keyed, error) {
	out := map[string]*Keyed{}
	for kind, n := range counts {
		out[kind] = &Keyed{Keys: make([]string, 0, n), IDs: make([]string, 0, n)}
	}
	err := d.ledgerRows(ctx, target, func(kind, key, id string) {
		k := out[kind]
		if k == nil { // added since the count
			k = &Keyed{}
			out[kind] = k
		}
		k.Keys = append(k.Keys, key)
		k.IDs = append(k.IDs, id)
	})
	if err != nil {
		return nil, err
	}
	for kind, k := range out {
		if len(k.Keys) == 0 { // emptied since the count
			delete(out, kind)
			continue
		}
		if !sort.IsSorted((*byKey)(k)) {
			sort.Sort((*byKey)(k))
		}
	}
	return out, nil
}

// LedgerEntries returns target's ledger rows sorted by kind and key.
func (d *DB) LedgerEntries(ctx context.Context, target string) ([]Owned, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT target, kind, key, id, how, since FROM ownership
		WHERE target = ? ORDER BY kind, key`, target)
	if err != nil {
		return nil, fmt.Errorf("state: ledger %s: %w", target, err)
	}
	defer rows.Close()
	var out []Owned
	for rows.Next() {
		o, err := scanOwned(rows)
		if err != nil {
			return nil, fmt.Errorf("state: ledger %s: %w", target, err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: ledger %s: %w", target, err)
	}
	return out, nil
}

// LookupByID returns the ledger row owning target's platform object id of
// kind; ok is false when nobody owns it.
func (d *DB) LookupByID(ctx context.Context, target, kind, id string) (o Owned, ok bool, err error) {
	row := d.db.QueryRowContext(ctx, `SELECT target, kind, key, id, how, since FROM ownership
		WHERE target = ? AND kind = ? AND id = ?`, target, kind, id)
	o, err = scanOwned(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Owned{}, false, nil
	case err != nil:
		return Owned{}, false, fmt.Errorf("state: look up %s id %q: %w", kind, id, err)
	}
	return o, true, nil
}

type scanner interface{ Scan(...any) error }

func scanOwned(s scanner) (Owned, error) {
	var o Owned
	var since string
	if err := s.Scan(&o.Target, &o.Kind, &o.Key, &o.ID, &o.How, &since); err != nil {
		return Owned{}, err
	}
	t, err := parseTime(since)
	if err != nil {
		return Owned{}, err
	}
	o.Since = t
	return o, nil
}
