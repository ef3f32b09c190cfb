package state

import (
	"context"
	"fmt"
	"time"
)

// JournalList returns journal entries oldest first: target's (every
// target's when empty), begun at or after since and before until (either
// zero: unbounded).
func (d *DB) JournalList(ctx context.Context, target string, since, until time.Time) ([]Entry, error) {
	lo, hi := "", "9999"
	if !since.IsZero() {
		lo = fmtTime(since)
	}
	if !until.IsZero() {
		hi = fmtTime(until)
	}
	es, err := d.journalQuery(ctx, `WHERE (? = '' OR target = ?) AND begun_at >= ? AND begun_at < ? ORDER BY id`,
		target, target, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("state: journal: %w", err)
	}
	return es, nil
}
