package state

import (
	"context"
	"crypto/rand"
	"fmt"
	"sort"
	"testing"
)

// BenchmarkLedgerRead reads a ledger of 100k owned users whose platform
// ids are random, as an adopted platform's UUIDs are: "table" is the read
// a pass makes (LedgerSorted); "by-id index", the baseline, does the same
// work with the plan SQLite chose for the query before it was told to read
// the table straight through. Compare their ns/op.
func BenchmarkLedgerRead(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	db, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	tx, err := db.raw.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO ownership (target, kind, key, id, how, since, updated_at)
		VALUES ('t', 'user', ?, ?, 'adopted', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')`)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		if _, err := ins.ExecContext(ctx, fmt.Sprintf("E%07d", i), rand.Text()); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	b.Run("table", func(b *testing.B) {
		for b.Loop() {
			l, err := db.LedgerSorted(ctx, "t", map[string]int{"user": n})
			if err != nil || len(l["user"].Keys) != n {
				b.Fatalf("read %v, %v", l, err)
			}
		}
	})
	b.Run("by-id index", func(b *testing.B) {
		for b.Loop() {
			rows, err := db.raw.QueryContext(ctx, `SELECT kind, key, id FROM ownership WHERE target = ?`, "t")
			if err != nil {
				b.Fatal(err)
			}
			k := &Keyed{Keys: make([]string, 0, n), IDs: make([]string, 0, n)}
			for rows.Next() {
				var kind, key, id string
				if err := rows.Scan(&kind, &key, &id); err != nil {
					b.Fatal(err)
				}
				k.Keys, k.IDs = append(k.Keys, key), append(k.IDs, id)
			}
			rows.Close()
			if !sort.IsSorted((*byKey)(k)) {
				sort.Sort((*byKey)(k))
			}
			if len(k.Keys) != n {
				b.Fatalf("read %d owned users", len(k.Keys))
			}
		}
	})
}
