package state

import (
	"context"
	"fmt"
)

// HeldWithdraw forgets holds whose operation is no longer planned (the
// person came back, the source changed): pending, approved and rejected
// ones alike, so that a decision made about one situation is never applied
// to a later one. Done holds are history and stay. Unknown ids are ignored.
func (d *DB) HeldWithdraw(ctx context.Context, ids ...int64) error {
	if len(ids) == 0 {
		return nil
	}
	err := d.tx(ctx, func(tx dbtx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `DELETE FROM held WHERE id = ? AND status IN ('pending', 'approved', 'rejected')`, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("state: withdraw held %s: %w", joinIDs(ids), err)
	}
	return nil
}
