package state

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// A plan is stored gzip-compressed: a plan of 100k operations is tens of
// megabytes of JSON and a tenth of that compressed. Plans stored before
// were stored as they were; the two are told apart by gzip's magic bytes,
// which no JSON document starts with.
var gzipMagic = []byte{0x1f, 0x8b}

// SavePlan stores planJSON as target's latest plan, made at time at, so that
// a later apply can be checked against it.
func (d *DB) SavePlan(ctx context.Context, target string, planJSON []byte, at time.Time) error {
	if !json.Valid(planJSON) {
		return fmt.Errorf("state: save plan for %s: plan is not valid JSON", target)
	}
	return d.SavePlanFrom(ctx, target, at, func(w io.Writer) error {
		_, err := w.Write(planJSON)
		return err
	})
}

// SavePlanFrom stores as target's latest plan, made at time at, the JSON
// document that write writes: it is compressed as it is written, so the
// plan's JSON is never held whole. The document is not validated here (it
// is by SavePlan); write must write one JSON value, and a plan that write
// fails on is not stored.
func (d *DB) SavePlanFrom(ctx context.Context, target string, at time.Time, write func(io.Writer) error) error {
	wrap := func(err error) error { return fmt.Errorf("state: save plan for %s: %w", target, err) }
	if target == "" {
		return wrap(errors.New("empty target"))
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return wrap(err)
	}
	if err := write(zw); err != nil {
		return wrap(err)
	}
	if err := zw.Close(); err != nil {
		return wrap(err)
	}
	if _, err := d.db.ExecContext(ctx, `INSERT INTO plans (target, plan, at) VALUES (?, ?, ?)
		ON CONFLICT (target) DO UPDATE SET plan = excluded.plan, at = excluded.at`,
		target, buf.Bytes(), fmtTime(at)); err != nil {
		return wrap(err)
	}
	return nil
}

// LastPlan returns target's latest saved plan and when it was made; ok is
// false if none was saved.
func (d *DB) LastPlan(ctx context.Context, target string) (planJSON []byte, at time.Time, ok bool, err error) {
	r, at, ok, err := d.LastPlanReader(ctx, target)
	if err != nil || !ok {
		return nil, at, ok, err
	}
	if planJSON, err = io.ReadAll(r); err != nil {
		return nil, time.Time{}, false, fmt.Errorf("state: last plan for %s: %w", target, err)
	}
	return planJSON, at, true, nil
}

// LastPlanReader is LastPlan with the plan's JSON read from r as it is
// decompressed, for a reader that streams it (reconcile.EachOpFrom): only
// the compressed plan is held. A read error from r names the target.
func (d *DB) LastPlanReader(ctx context.Context, target string) (r io.Reader, at time.Time, ok bool, err error) {
	var (
		stored []byte
		ats    string
	)
	err = d.db.QueryRowContext(ctx, `SELECT plan, at FROM plans WHERE target = ?`, target).Scan(&stored, &ats)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, time.Time{}, false, nil
	case err != nil:
		return nil, time.Time{}, false, fmt.Errorf("state: last plan for %s: %w", target, err)
	}
	if at, err = parseTime(ats); err != nil {
		return nil, time.Time{}, false, fmt.Errorf("state: last plan for %s: %w", target, err)
	}
	if !bytes.HasPrefix(stored, gzipMagic) {
		return bytes.NewReader(stored), at, true, nil // stored uncompressed by an earlier version
	}
	zr, err := gzip.NewReader(bytes.NewReader(stored))
	if err != nil {
		return nil, time.Time{}, false, fmt.Errorf("state: last plan for %s: %w", target, err)
	}
	return planReader{zr, target}, at, true, nil
}

// planReader names the target in a decompression error.
type planReader struct {
	zr     *gzip.Reader
	target string
}

func (p planReader) Read(b []byte) (int, error) {
	n, err := p.zr.Read(b)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("state: last plan for %s: %w", p.target, err)
	}
	return n, err
}
