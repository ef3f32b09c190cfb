package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"maps"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/state"
)

// journal is reconcile.Journal over the state store, through a batch: an entry is made durable
// before its operation writes to the platform; the rest waits for the batch's next commit.
type journal struct {
	batch  *state.Batch
	target string
}

func (j journal) Begin(ctx context.Context, op *reconcile.Op) (int64, error) {
	payload, err := json.Marshal(op)
	if err != nil {
		return 0, err
	}
	return j.batch.JournalBegin(ctx, state.Entry{Target: j.target, OpID: reconcile.OpID(op), Kind: string(op.Kind),
		Key: op.Key, Action: op.Action.String(), Payload: payload}, sendsWrite(op))
}

// sendsWrite reports whether applying op writes to the platform. An adoption that changes no
// attribute only records ownership: it has nothing in flight to recover after a crash.
func sendsWrite(op *reconcile.Op) bool {
	return op.Action != reconcile.ActionAdopt || len(op.Fields) > 0
}

func (j journal) Finish(ctx context.Context, entry int64, outcome reconcile.Outcome, resultID string, opErr error) error {
	msg := ""
	if opErr != nil {
		msg = opErr.Error()
	}
	return j.batch.JournalFinish(ctx, entry, string(outcome), resultID, msg)
}

// recovery is what the journal's unresolved entries turned out to be,
// against a fresh listing: creates that took effect (to be owned, never
// sent again) and entries that are settled otherwise.
type recovery struct {
	found   []reconcile.Recovered
	settled []reconcile.Interrupted // did not take effect, or need no check
}

// recover reads the journal's pending and unknown entries (a crash or a
// lost response in an earlier apply) and resolves the creates among them
// against current. It writes nothing; the caller adds found to the
// ownership it plans with, and an applying pass records it (settle).
func (a *app) recover(ctx context.Context, t *target, current *reconcile.Snapshot) (*recovery, error) {
	target := t.name
	pending, err := a.db.JournalPending(ctx, target)
	if err != nil {
		return nil, err
	}
	unknown, err := a.db.JournalUnknown(ctx, target)
	if err != nil {
		return nil, err
	}
	rec := &recovery{}
	var creates []reconcile.Interrupted
	for _, e := range append(pending, unknown...) {
		var op reconcile.Op
		if err := json.Unmarshal(e.Payload, &op); err != nil {
			return nil, fmt.Errorf("journal entry %d: %w", e.ID, err)
		}
		in := reconcile.Interrupted{Entry: e.ID, Op: op}
		if op.Action == reconcile.ActionCreate {
			creates = append(creates, in)
		} else {
			// Updates set values and queue changes add or remove given
			// members: the fresh plan redoes whatever did not happen.
			rec.settled = append(rec.settled, in)
		}
	}
	found, missing := reconcile.Recover(creates, current)
	rec.found = found
	rec.settled = append(rec.settled, missing...)
	for _, f := range found {
		a.log.Warn("recovered an interrupted create: it took effect on the platform and will not be sent again",
			"kind", f.Op.Kind, "key", f.Op.Key, "name", f.Op.Name, "id", f.ID, "found_by", f.How, "journal_entry", f.Entry)
	}
	for _, m := range missing {
		a.log.Warn("an interrupted create did not take effect; it is planned again", "kind", m.Op.Kind, "key", m.Op.Key,
			"name", m.Op.Name, "journal_entry", m.Entry)
	}
	return rec, nil
}

// own adds what recovery found to the ownership a plan is made with.
func (r *recovery) own(own *reconcile.Ownership) {
	for _, f := range r.found {
		switch f.Op.Kind {
		case reconcile.KindQueue:
			continue // queues are matched by name, not through the ledger
		case reconcile.KindTeam:
			if _, taken := own.Teams[f.Op.Key]; !taken && !ownedByOther(maps.All(own.Teams), f.Op.Key, f.ID) {
				own.Teams[f.Op.Key] = f.ID
			}
		default:
			if _, taken := own.UserID(f.Op.Key); !taken && !ownedByOther(own.AllUsers(), f.Op.Key, f.ID) {
				own.SetUser(f.Op.Key, f.ID)
			}
		}
	}
}

func ownedByOther(owned iter.Seq2[string, string], key, id string) bool {
	for k, v := range owned {
		if v == id && k != key {
			return true
		}
	}
	return false
}

// settle records a recovery: found creates become owned, and every
// resolved entry is finished.
func (a *app) settle(ctx context.Context, t *target, r *recovery) error {
	if r == nil {
		return nil
	}
	target := t.name
	for _, f := range r.found {
		err := a.db.Own(ctx, target, string(f.Op.Kind), f.Op.Key, f.ID, state.HowCreated)
		switch {
		case errors.Is(err, state.ErrConflict):
			a.log.Warn("an interrupted create matched a platform object owned under another key; left to the plan",
				"key", f.Op.Key, "id", f.ID, "err", err)
			if err := a.db.JournalFinish(ctx, f.Entry, state.OutcomeFailed, "", "recovered object owned by another key"); err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		}
		if err := a.db.JournalFinish(ctx, f.Entry, state.OutcomeOK, f.ID, "recovered after an interruption (found by "+f.How+")"); err != nil {
			return err
		}
	}
	for _, s := range r.settled {
		if err := a.db.JournalFinish(ctx, s.Entry, state.OutcomeFailed, "", "interrupted; planned afresh from a new listing"); err != nil {
			return err
		}
	}
	return nil
}
