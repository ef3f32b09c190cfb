package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestPlans(t *testing.T) { forEachBackend(t, testPlans) }

func testPlans(t *testing.T, bk testBackend) {
	ctx := context.Background()
	db, dir := bk.openTest(t)
	if p, at, ok, err := db.LastPlan(ctx, "evaluagent"); p != nil || !at.IsZero() || ok || err != nil {
		t.Errorf("LastPlan before save = %q, %v, %v, %v", p, at, ok, err)
	}
	at1, at2 := t0, t0.Add(5*time.Minute)
	if err := db.SavePlan(ctx, "evaluagent", []byte(`{"ops":[1]}`), at1); err != nil {
		t.Fatal(err)
	}
	if err := db.SavePlan(ctx, "evaluagent", []byte(`{"ops":[2]}`), at2); err != nil {
		t.Fatal(err)
	}
	if err := db.SavePlan(ctx, "agentiq", []byte(`{"ops":[]}`), at1); err != nil {
		t.Fatal(err)
	}
	if err := db.SavePlan(ctx, "evaluagent", []byte(`{"ops":`), at2); err == nil {
		t.Error("invalid JSON accepted")
	}
	db.Close()
	db = openAt(t, dir)
	p, at, ok, err := db.LastPlan(ctx, "evaluagent")
	if string(p) != `{"ops":[2]}` || !at.Equal(at2) || !ok || err != nil {
		t.Errorf("LastPlan = %q, %v, %v, %v; want the second plan", p, at, ok, err)
	}
}

func TestPlansStoredCompressed(t *testing.T) { forEachBackend(t, testPlansStoredCompressed) }

// testPlansStoredCompressed: a plan written by SavePlanFrom is stored
// compressed and read back byte for byte, whole or streamed; a plan stored
// uncompressed (by an earlier version) still reads; a failed write keeps
// the plan before it.
func testPlansStoredCompressed(t *testing.T, bk testBackend) {
	ctx := context.Background()
	db, dir := bk.openTest(t)
	var plan strings.Builder
	plan.WriteString(`{"format_version":1,"ops":[`)
	for i := range 20000 {
		if i > 0 {
			plan.WriteByte(',')
		}
		fmt.Fprintf(&plan, `{"action":"+","kind":"user","key":"E%06d","status":"ready"}`, i)
	}
	plan.WriteString(`]}`)
	want := plan.String()
	if err := db.SavePlanFrom(ctx, "evaluagent", t0, func(w io.Writer) error {
		for s := want; s != ""; s = s[min(len(s), 1000):] { // in pieces, as an encoder writes
			if _, err := io.WriteString(w, s[:min(len(s), 1000)]); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var stored []byte
	if err := db.db.QueryRowContext(ctx, `SELECT plan FROM plans WHERE target = ?`, "evaluagent").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(stored, gzipMagic) || len(stored) > len(want)/5 {
		t.Errorf("stored %d bytes for a %d-byte plan (starting % x); want it compressed", len(stored), len(want), stored[:min(len(stored), 4)])
	}
	db.Close()
	db = openAt(t, dir)
	got, at, ok, err := db.LastPlan(ctx, "evaluagent")
	if string(got) != want || !at.Equal(t0) || !ok || err != nil {
		t.Errorf("LastPlan = %d bytes, %v, %v, %v; want the %d bytes saved", len(got), at, ok, err, len(want))
	}
	r, at, ok, err := db.LastPlanReader(ctx, "evaluagent")
	if err != nil || !ok || !at.Equal(t0) {
		t.Fatalf("LastPlanReader = %v, %v, %v", at, ok, err)
	}
	streamed, err := io.ReadAll(iotest.OneByteReader(r))
	if string(streamed) != want || err != nil {
		t.Errorf("LastPlanReader read %d bytes, %v; want the %d bytes saved", len(streamed), err, len(want))
	}

	// A write that fails stores nothing: the plan before it stays.
	boom := errors.New("boom")
	if err := db.SavePlanFrom(ctx, "evaluagent", t0.Add(time.Hour), func(w io.Writer) error {
		io.WriteString(w, `{"ops":[`)
		return boom
	}); !errors.Is(err, boom) || !strings.Contains(err.Error(), "evaluagent") {
		t.Errorf("SavePlanFrom with a failing write = %v; want boom, naming the target", err)
	}
	if got, at, _, _ := db.LastPlan(ctx, "evaluagent"); string(got) != want || !at.Equal(t0) {
		t.Errorf("after a failed save LastPlan = %d bytes at %v; want the plan before", len(got), at)
	}

	// Stored as it was by an earlier version, and damaged.
	for _, c := range []struct {
		target string
		stored []byte
		want   string
	}{
		{"old", []byte(`{"ops":[3]}`), `{"ops":[3]}`},
		{"damaged", append(append([]byte{}, stored[:len(stored)/2]...), 0, 0, 0), ""},
	} {
		if _, err := db.db.ExecContext(ctx, `INSERT INTO plans (target, plan, at) VALUES (?, ?, ?)`, c.target, c.stored, fmtTime(t0)); err != nil {
			t.Fatal(err)
		}
		got, _, ok, err := db.LastPlan(ctx, c.target)
		if c.want != "" && (string(got) != c.want || !ok || err != nil) {
			t.Errorf("%s: LastPlan = %q, %v, %v; want %q", c.target, got, ok, err, c.want)
		}
		if c.want == "" && (err == nil || !strings.Contains(err.Error(), "last plan for "+c.target)) {
			t.Errorf("%s: LastPlan error = %v; want one naming the target", c.target, err)
		}
	}
}
