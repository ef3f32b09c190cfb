package state

import (
	"context"
	"fmt"
	"time"
)

// Prune deletes history older than before that no decision depends on, and
// returns how many rows it deleted: journal entries finished ok or failed,
// finished runs no remaining entry refers to, rejected and done holds, and
// source counts other than each source's latest healthy one. Pending and
// unknown journal entries, open holds, the ledger, cursors, absences and the
// last plans are kept whatever their age. Call it now and then (daily).
func (d *DB) Prune(ctx context.Context, before time.Time) (int, error) {
	cut := fmtTime(before)
	stmts := []string{
		`DELETE FROM journal WHERE outcome IN ('ok', 'failed') AND begun_at < ?1`,
		`DELETE FROM runs WHERE finished_at IS NOT NULL AND started_at < ?1
			AND NOT EXISTS (SELECT 1 FROM journal WHERE journal.run_id = runs.id)`,
		`DELETE FROM held WHERE status IN ('rejected', 'done') AND updated_at < ?1`,
		`DELETE FROM source_counts WHERE at < ?1 AND id NOT IN (
			SELECT l.id FROM source_counts AS l WHERE l.healthy = 1 AND NOT EXISTS (
				SELECT 1 FROM source_counts AS m WHERE m.source = l.source AND m.healthy = 1
					AND (m.at > l.at OR (m.at = l.at AND m.id > l.id))))`,
		`DELETE FROM budgets WHERE updated_at < ?1`,
	}
	var total int64
	err := d.tx(ctx, func(tx dbtx) error {
		for _, s := range stmts {
			res, err := tx.ExecContext(ctx, s, cut)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("state: prune before %s: %w", cut, err)
	}
	return int(total), nil
}
