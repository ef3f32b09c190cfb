package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Held operation statuses. A hold starts pending; an operator approves or
// rejects it; the applier marks an approved one done once it has been
// applied.
const (
	HeldPending  = "pending"
	HeldApproved = "approved"
	HeldRejected = "rejected"
	HeldDone     = "done"
)

// HeldOp is a dangerous operation (a deactivation beyond the limits, say)
// waiting for a person's decision.
//
// The caller fills Target, OpID, Kind, Key, Action, Reason and Payload for
// Hold; the rest is recorded by the database.
type HeldOp struct {
	ID      int64
	Target  string
	OpID    string // stable identity of the operation, computed by the caller
	Kind    string
	Key     string
	Action  string
	Reason  string
	Payload []byte

	Status    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Hold records op as waiting for approval and returns its id. Holding the
// same operation (Target, OpID) again while it is pending or approved
// returns the existing id; a pending hold takes the newer Reason and
// Payload. Once rejected or done, the operation may be held afresh.
func (d *DB) Hold(ctx context.Context, op HeldOp) (int64, error) {
	wrap := func(err error) error { return fmt.Errorf("state: hold %s %s %q: %w", op.Action, op.Kind, op.Key, err) }
	if err := need("target", op.Target, "op id", op.OpID, "kind", op.Kind, "key", op.Key, "action", op.Action); err != nil {
		return 0, wrap(err)
	}
	var id int64
	err := d.tx(ctx, func(tx dbtx) error {
		now := d.stamp()
		var status string
		err := tx.QueryRowContext(ctx, `SELECT id, status FROM held WHERE target = ? AND op_id = ? AND status IN ('pending', 'approved')`,
			op.Target, op.OpID).Scan(&id, &status)
		switch {
		case err == nil && status == HeldPending:
			_, err = tx.ExecContext(ctx, `UPDATE held SET reason = ?, payload = ?, updated_at = ? WHERE id = ?`,
				op.Reason, op.Payload, now, id)
			return err
		case err == nil:
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		return tx.QueryRowContext(ctx, `INSERT INTO held (target, op_id, kind, key, action, reason, payload, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?) RETURNING id`,
			op.Target, op.OpID, op.Kind, op.Key, op.Action, op.Reason, op.Payload, now, now).Scan(&id)
	})
	if err != nil {
		return 0, wrap(err)
	}
	return id, nil
}

// HeldList returns held operations oldest first. An empty target means every
// target; an empty status means every status.
func (d *DB) HeldList(ctx context.Context, target, status string) ([]HeldOp, error) {
	wrap := func(err error) error { return fmt.Errorf("state: list held %s %s: %w", target, status, err) }
	if status != "" && !validHeldStatus(status) {
		return nil, wrap(fmt.Errorf("unknown status %q", status))
	}
	rows, err := d.db.QueryContext(ctx, `SELECT id, target, op_id, kind, key, action, reason, payload, status, created_at, updated_at
		FROM held WHERE (? = '' OR target = ?) AND (? = '' OR status = ?) ORDER BY id`,
		target, target, status, status)
	if err != nil {
		return nil, wrap(err)
	}
	defer rows.Close()
	var out []HeldOp
	for rows.Next() {
		var h HeldOp
		var created, updated string
		if err := rows.Scan(&h.ID, &h.Target, &h.OpID, &h.Kind, &h.Key, &h.Action, &h.Reason, &h.Payload,
			&h.Status, &created, &updated); err != nil {
			return nil, wrap(err)
		}
		if h.CreatedAt, err = parseTime(created); err != nil {
			return nil, wrap(err)
		}
		if h.UpdatedAt, err = parseTime(updated); err != nil {
			return nil, wrap(err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err)
	}
	return out, nil
}

// HeldApproved returns target's approved operations, oldest first: what the
// applier should now carry out (and then mark HeldDone).
func (d *DB) HeldApproved(ctx context.Context, target string) ([]HeldOp, error) {
	return d.HeldList(ctx, target, HeldApproved)
}

// HeldApprove approves pending operations. Approving an approved one again
// is harmless; all ids must exist and none may be rejected or done, or
// nothing changes and the error names the offenders.
func (d *DB) HeldApprove(ctx context.Context, ids ...int64) error {
	return d.heldMove(ctx, "approve", HeldApproved, []string{HeldPending}, ids)
}

// HeldReject rejects pending or approved operations, with the same rules as
// HeldApprove; a done operation cannot be rejected.
func (d *DB) HeldReject(ctx context.Context, ids ...int64) error {
	return d.heldMove(ctx, "reject", HeldRejected, []string{HeldPending, HeldApproved}, ids)
}

// HeldDone records that approved operation id has been applied.
func (d *DB) HeldDone(ctx context.Context, id int64) error {
	return d.heldMove(ctx, "finish", HeldDone, []string{HeldApproved}, []int64{id})
}

// HeldApproveAll approves every pending operation of target and returns how
// many it approved.
func (d *DB) HeldApproveAll(ctx context.Context, target string) (int, error) {
	if target == "" {
		return 0, errors.New("state: approve all held: empty target")
	}
	res, err := d.db.ExecContext(ctx, `UPDATE held SET status = 'approved', updated_at = ? WHERE target = ? AND status = 'pending'`,
		d.stamp(), target)
	if err != nil {
		return 0, fmt.Errorf("state: approve all held %s: %w", target, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("state: approve all held %s: %w", target, err)
	}
	return int(n), nil
}

// heldMove moves ids to status to, all or none. Ids already at to are left
// alone; ids whose status is not in from are a conflict.
func (d *DB) heldMove(ctx context.Context, verb, to string, from []string, ids []int64) error {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) == 0 {
		return fmt.Errorf("state: %s held: no ids given", verb)
	}
	err := d.tx(ctx, func(tx dbtx) error {
		var missing []int64
		var wrong []string
		var move []int64
		for _, id := range ids {
			var status string
			err := tx.QueryRowContext(ctx, `SELECT status FROM held WHERE id = ?`, id).Scan(&status)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				missing = append(missing, id)
			case err != nil:
				return err
			case status == to:
			case slices.Contains(from, status):
				move = append(move, id)
			default:
				wrong = append(wrong, fmt.Sprintf("%d is %s", id, status))
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("no held operation %s: %w", joinIDs(missing), ErrNotFound)
		}
		if len(wrong) > 0 {
			return fmt.Errorf("%s: %w", strings.Join(wrong, ", "), ErrConflict)
		}
		now := d.stamp()
		for _, id := range move {
			if _, err := tx.ExecContext(ctx, `UPDATE held SET status = ?, updated_at = ? WHERE id = ?`, to, now, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("state: %s held %s: %w", verb, joinIDs(ids), err)
	}
	return nil
}

func validHeldStatus(s string) bool {
	switch s {
	case HeldPending, HeldApproved, HeldRejected, HeldDone:
		return true
	}
	return false
}

func joinIDs(ids []int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ", ")
}
