package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"
)

// Batch carries the ledger and journal writes of one apply into few transactions, keeping the
// guarantees the one-write-one-transaction calls give:
//
//   - A journal entry begun as durable (a write about to be sent to a platform) is committed
//     before JournalBegin returns, together with everything buffered before it.
//   - Everything else (ownership, outcomes, entries of operations that send nothing) is
//     buffered and committed with the next durable entry, when the buffer holds MaxOps
//     operations or is older than MaxAge, or on Flush.
//
// A crash loses at most the buffered writes, and each of those is recovered as before: an entry
// whose outcome was lost is pending, and the next pass checks it against the platform; an
// ownership lost with it is found again by that check; an operation that sent nothing is simply
// planned again. Conflicts (an id owned by another key, an entry finished twice) are reported by
// the call that causes them, as the unbatched calls report them.
//
// A Batch is safe for concurrent use. Call Flush when the apply ends.
type Batch struct {
	d      *DB
	maxOps int
	maxAge time.Duration

	mu       sync.Mutex
	owns     []ownRow
	entries  []*batchEntry // begun in the buffer, not yet in the database
	finishes map[int64]finishRow
	order    []int64 // finishes in call order
	oldest   time.Time
	nextTemp int64           // provisional ids of buffered entries are negative
	landed   map[int64]int64 // provisional id → database id, of entries committed unfinished

	ownerStmt *sql.Stmt // ownerSQL, prepared once: Own runs it for every operation
}

const ownerSQL = `SELECT key FROM ownership WHERE target = ? AND kind = ? AND id = ? AND key <> ?`

type ownRow struct {
	target, kind, key, id, how, at string
}

type finishRow struct {
	outcome, resultID, errText, at string
}

type batchEntry struct {
	id     int64 // provisional, negative
	e      Entry
	begun  string
	finish *finishRow
}

// Batch defaults: a buffer is committed at 1,000 operations or after 2 seconds.
const (
	DefaultBatchOps = 1000
	DefaultBatchAge = 2 * time.Second
)

// NewBatch returns a Batch over d; maxOps or maxAge <= 0 take the defaults.
func (d *DB) NewBatch(maxOps int, maxAge time.Duration) *Batch {
	if maxOps <= 0 {
		maxOps = DefaultBatchOps
	}
	if maxAge <= 0 {
		maxAge = DefaultBatchAge
	}
	return &Batch{d: d, maxOps: maxOps, maxAge: maxAge, finishes: map[int64]finishRow{}, landed: map[int64]int64{}}
}

func (b *Batch) buffered() int { return len(b.owns) + len(b.entries) + len(b.order) }

func (b *Batch) touch() {
	if b.buffered() == 0 {
		b.oldest = b.d.now()
	}
}

// due commits the buffer when it is full or old; b.mu is held.
func (b *Batch) due(ctx context.Context) error {
	if b.buffered() >= b.maxOps || b.buffered() > 0 && b.d.now().Sub(b.oldest) >= b.maxAge {
		return b.flushLocked(ctx, nil)
	}
	return nil
}

// Own is DB.Own, buffered.
func (b *Batch) Own(ctx context.Context, target, kind, key, id, how string) error {
	wrap := func(err error) error { return fmt.Errorf("state: own %s %q: %w", kind, key, err) }
	if err := need("target", target, "kind", kind, "key", key, "id", id); err != nil {
		return wrap(err)
	}
	if how != HowCreated && how != HowAdopted {
		return wrap(fmt.Errorf("how %q is neither %q nor %q", how, HowCreated, HowAdopted))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// The id's owner as the buffer leaves it, else as the database has it.
	owner, inBuffer := "", false
	for i := len(b.owns) - 1; i >= 0; i-- {
		o := b.owns[i]
		if o.target != target || o.kind != kind {
			continue
		}
		if o.id == id && !inBuffer {
			owner, inBuffer = o.key, true
		}
	}
	if inBuffer && b.movedLocked(target, kind, owner, id) {
		owner = "" // that key was given another id after
	}
	if !inBuffer {
		if b.ownerStmt == nil {
			st, err := b.d.db.PrepareContext(ctx, ownerSQL)
			if err != nil {
				return wrap(err)
			}
			b.ownerStmt = st
		}
		var other string
		err := b.ownerStmt.QueryRowContext(ctx, target, kind, id, key).Scan(&other)
		switch {
		case err == nil:
			// Owned in the database by another key, unless the buffer moved that key elsewhere.
			if !b.movedLocked(target, kind, other, id) {
				owner = other
			}
		case !errors.Is(err, sql.ErrNoRows):
			return wrap(err)
		}
	}
	if owner != "" && owner != key {
		return wrap(fmt.Errorf("id %q is owned by %q: %w", id, owner, ErrConflict))
	}
	b.touch()
	b.owns = append(b.owns, ownRow{target, kind, key, id, how, b.d.stamp()})
	return b.due(ctx)
}

// movedLocked reports whether the buffer gives key another id than id.
func (b *Batch) movedLocked(target, kind, key, id string) bool {
	for i := len(b.owns) - 1; i >= 0; i-- {
		if o := b.owns[i]; o.target == target && o.kind == kind && o.key == key {
			return o.id != id
		}
	}
	return false
}

// JournalBegin is DB.JournalBegin. With durable (a write is about to be sent), the entry and
// everything buffered are committed before it returns; otherwise the entry is buffered and its
// id is provisional, good for JournalFinish on this Batch.
func (b *Batch) JournalBegin(ctx context.Context, e Entry, durable bool) (int64, error) {
	wrap := func(err error) error { return fmt.Errorf("state: journal %s %s %q: %w", e.Action, e.Kind, e.Key, err) }
	if err := need("target", e.Target, "op id", e.OpID, "kind", e.Kind, "key", e.Key, "action", e.Action); err != nil {
		return 0, wrap(err)
	}
	e.Epoch = b.d.leaseEpoch()
	b.mu.Lock()
	defer b.mu.Unlock()
	if durable {
		var id int64
		err := b.flushLocked(ctx, func(tx dbtx) error {
			var err error
			id, err = insertEntry(ctx, tx, e, b.d.stamp(), nil)
			return err
		})
		if err != nil {
			return 0, wrap(err)
		}
		return id, nil
	}
	b.touch()
	b.nextTemp--
	b.entries = append(b.entries, &batchEntry{id: b.nextTemp, e: e, begun: b.d.stamp()})
	return b.nextTemp, b.due(ctx)
}

// JournalFinish is DB.JournalFinish, buffered.
func (b *Batch) JournalFinish(ctx context.Context, id int64, outcome, resultID, errText string) error {
	wrap := func(err error) error { return fmt.Errorf("state: finish journal entry %d: %w", id, err) }
	switch outcome {
	case OutcomeOK, OutcomeFailed, OutcomeUnknown:
	default:
		return wrap(fmt.Errorf("unknown outcome %q", outcome))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	row := finishRow{outcome, resultID, errText, b.d.stamp()}
	if real, ok := b.landed[id]; ok {
		delete(b.landed, id)
		id = real
	}
	if id < 0 {
		for _, be := range b.entries {
			if be.id != id {
				continue
			}
			if be.finish != nil && be.finish.outcome != OutcomeUnknown {
				return wrap(fmt.Errorf("already finished %s: %w", be.finish.outcome, ErrConflict))
			}
			be.finish = &row
			return b.due(ctx)
		}
		return wrap(ErrNotFound)
	}
	if was, ok := b.finishes[id]; ok && was.outcome != OutcomeUnknown {
		return wrap(fmt.Errorf("already finished %s: %w", was.outcome, ErrConflict))
	}
	b.touch()
	if _, ok := b.finishes[id]; !ok {
		b.order = append(b.order, id)
	}
	b.finishes[id] = row
	return b.due(ctx)
}

// Flush commits everything buffered. The Batch may be used again after.
func (b *Batch) Flush(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ownerStmt != nil {
		b.ownerStmt.Close()
		b.ownerStmt = nil
	}
	if b.buffered() == 0 {
		return nil
	}
	return b.flushLocked(ctx, nil)
}

// flushLocked commits the buffer, and then runs also (if set), in one transaction. The buffer
// is emptied only when the transaction commits.
func (b *Batch) flushLocked(ctx context.Context, also func(dbtx) error) error {
	if b.buffered() == 0 && also == nil {
		return nil
	}
	landed := map[int64]int64{}
	err := b.d.fencedTx(ctx, func(tx dbtx) error {
		if len(b.owns) > 0 {
			st, err := tx.PrepareContext(ctx, ownSQL)
			if err != nil {
				return err
			}
			defer st.Close()
			for _, o := range b.owns {
				if _, err := st.ExecContext(ctx, o.target, o.kind, o.key, o.id, o.how, o.at, o.at); err != nil {
					return fmt.Errorf("state: own %s %q: %w", o.kind, o.key, err)
				}
			}
		}
		ins := &entryInserter{tx: tx}
		defer ins.close()
		for _, be := range b.entries {
			id, err := ins.insert(ctx, be.e, be.begun, be.finish)
			if err != nil {
				return fmt.Errorf("state: journal %s %s %q: %w", be.e.Action, be.e.Kind, be.e.Key, err)
			}
			if be.finish == nil || be.finish.outcome == OutcomeUnknown {
				landed[be.id] = id // still to be finished, under its provisional id
			}
		}
		for _, id := range b.order {
			f := b.finishes[id]
			if err := finishEntry(ctx, tx, id, f); err != nil {
				return fmt.Errorf("state: finish journal entry %d: %w", id, err)
			}
		}
		if also != nil {
			return also(tx)
		}
		return nil
	})
	if err != nil {
		return err
	}
	b.owns, b.entries, b.order = b.owns[:0], b.entries[:0], b.order[:0]
	clear(b.finishes)
	maps.Copy(b.landed, landed)
	return nil
}

const ownSQL = `INSERT INTO ownership (target, kind, key, id, how, since, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (target, kind, key) DO UPDATE SET
		id = excluded.id, how = excluded.how, updated_at = excluded.updated_at,
		since = CASE WHEN ownership.id = excluded.id THEN ownership.since ELSE excluded.since END`

// insertEntry adds a journal entry, finished already when f is set.
func insertEntry(ctx context.Context, tx dbtx, e Entry, begun string, f *finishRow) (int64, error) {
	ins := &entryInserter{tx: tx}
	defer ins.close()
	return ins.insert(ctx, e, begun, f)
}

// entryInserter inserts journal entries in one transaction, each statement prepared once.
type entryInserter struct {
	tx              dbtx
	begun, finished *sql.Stmt
}

func (in *entryInserter) insert(ctx context.Context, e Entry, begun string, f *finishRow) (int64, error) {
	var runID sql.NullInt64
	if e.RunID != 0 {
		runID = sql.NullInt64{Int64: e.RunID, Valid: true}
	}
	prep := func(st **sql.Stmt, q string) error {
		if *st != nil {
			return nil
		}
		var err error
		*st, err = in.tx.PrepareContext(ctx, q)
		return err
	}
	var id int64
	if f == nil {
		if err := prep(&in.begun, `INSERT INTO journal (run_id, target, op_id, kind, key, action, payload, epoch, begun_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`); err != nil {
			return 0, err
		}
		err := in.begun.QueryRowContext(ctx, runID, e.Target, e.OpID, e.Kind, e.Key, e.Action, e.Payload, e.Epoch, begun).Scan(&id)
		return id, err
	}
	if err := prep(&in.finished, `INSERT INTO journal (run_id, target, op_id, kind, key, action, payload, epoch, begun_at,
		finished_at, outcome, result_id, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`); err != nil {
		return 0, err
	}
	err := in.finished.QueryRowContext(ctx, runID, e.Target, e.OpID, e.Kind, e.Key, e.Action, e.Payload, e.Epoch, begun,
		f.at, f.outcome, f.resultID, f.errText).Scan(&id)
	return id, err
}

func (in *entryInserter) close() {
	for _, st := range []*sql.Stmt{in.begun, in.finished} {
		if st != nil {
			st.Close()
		}
	}
}

// finishEntry records the outcome of an entry in the database, refusing one finished already.
func finishEntry(ctx context.Context, tx dbtx, id int64, f finishRow) error {
	var was string
	err := tx.QueryRowContext(ctx, `SELECT outcome FROM journal WHERE id = ?`, id).Scan(&was)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ErrNotFound
	case err != nil:
		return err
	case was != "" && was != OutcomeUnknown:
		return fmt.Errorf("already finished %s: %w", was, ErrConflict)
	}
	_, err = tx.ExecContext(ctx, `UPDATE journal SET finished_at = ?, outcome = ?, result_id = ?, error = ? WHERE id = ?`,
		f.at, f.outcome, f.resultID, f.errText, id)
	return err
}
