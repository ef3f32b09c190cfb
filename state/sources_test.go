package state

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCursors(t *testing.T) { forEachBackend(t, testCursors) }

func testCursors(t *testing.T, bk testBackend) {
	ctx := context.Background()
	db, dir := bk.openTest(t)
	if v, ok, err := db.CursorGet(ctx, "ldap"); v != nil || ok || err != nil {
		t.Errorf("CursorGet before put = %q, %v, %v", v, ok, err)
	}
	for _, v := range []string{"cookie-1", "cookie-2"} {
		if err := db.CursorPut(ctx, "ldap", []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.CursorPut(ctx, "scim", nil); err != nil {
		t.Fatal(err)
	}
	if err := db.CursorPut(ctx, "", []byte("x")); err == nil {
		t.Error("cursor for empty source accepted")
	}

	db.Close()
	db = openAt(t, dir)
	if v, ok, err := db.CursorGet(ctx, "ldap"); string(v) != "cookie-2" || !ok || err != nil {
		t.Errorf("CursorGet(ldap) = %q, %v, %v; want cookie-2", v, ok, err)
	}
	if v, ok, err := db.CursorGet(ctx, "scim"); v == nil || len(v) != 0 || !ok || err != nil {
		t.Errorf("CursorGet(scim) = %#v, %v, %v; want an empty, present cursor", v, ok, err)
	}
	if err := db.CursorDelete(ctx, "ldap"); err != nil {
		t.Fatal(err)
	}
	if err := db.CursorDelete(ctx, "never"); err != nil {
		t.Errorf("deleting a missing cursor: %v", err)
	}
	if _, ok, err := db.CursorGet(ctx, "ldap"); ok || err != nil {
		t.Errorf("CursorGet after delete = %v, %v", ok, err)
	}
}

func TestSourceCounts(t *testing.T) { forEachBackend(t, testSourceCounts) }

func testSourceCounts(t *testing.T, bk testBackend) {
	ctx := context.Background()
	db, dir := bk.openTest(t)
	if n, ok, err := db.LastHealthyCount(ctx, "hr.csv"); n != 0 || ok || err != nil {
		t.Errorf("LastHealthyCount before any = %d, %v, %v", n, ok, err)
	}
	hour := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	record := []SourceCount{
		{"hr.csv", 1000, true, hour(1)},
		{"hr.csv", 1010, true, hour(3)},
		{"hr.csv", 12, false, hour(4)}, // truncated export
		{"hr.csv", 990, true, hour(2)}, // recorded late, but older
		{"ldap", 500, true, hour(5)},
	}
	for _, c := range record {
		if err := db.RecordSourceCount(ctx, c.Source, c.Count, c.Healthy, c.At); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.RecordSourceCount(ctx, "hr.csv", -1, true, hour(9)); err == nil {
		t.Error("negative count accepted")
	}

	db.Close()
	db = openAt(t, dir)
	if n, ok, err := db.LastHealthyCount(ctx, "hr.csv"); n != 1010 || !ok || err != nil {
		t.Errorf("LastHealthyCount(hr.csv) = %d, %v, %v; want 1010", n, ok, err)
	}
	hist, err := db.SourceHistory(ctx, "hr.csv", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []SourceCount{record[2], record[1], record[3], record[0]}
	if diff := cmp.Diff(want, hist); diff != "" {
		t.Errorf("SourceHistory (-want +got):\n%s", diff)
	}
	if hist, err := db.SourceHistory(ctx, "hr.csv", 1); err != nil || len(hist) != 1 || hist[0].Count != 12 {
		t.Errorf("SourceHistory(limit 1) = %+v, %v", hist, err)
	}
}

func TestAbsences(t *testing.T) { forEachBackend(t, testAbsences) }

func testAbsences(t *testing.T, bk testBackend) {
	ctx := context.Background()
	db, dir := bk.openTest(t)
	pass := func(n int) time.Time { return t0.Add(time.Duration(n) * 5 * time.Minute) }
	mark := func(key string, at time.Time, wantN int, wantFirst time.Time) {
		t.Helper()
		n, first, err := db.MarkAbsent(ctx, "evaluagent", key, at)
		if err != nil || n != wantN || !first.Equal(wantFirst) {
			t.Errorf("MarkAbsent(%s, %v) = %d, %v, %v; want %d, %v", key, at, n, first, err, wantN, wantFirst)
		}
	}
	mark("E1", pass(1), 1, pass(1))
	mark("E1", pass(2), 2, pass(1))
	mark("E1", pass(2), 2, pass(1)) // the same pass retried
	mark("E1", pass(1), 2, pass(1)) // out of order
	mark("E1", pass(3), 3, pass(1))
	mark("E2", pass(3), 1, pass(3))
	if _, _, err := db.MarkAbsent(ctx, "evaluagent", "", pass(1)); err == nil {
		t.Error("empty key accepted")
	}
	if _, _, err := db.MarkAbsent(ctx, "agentiq", "E1", pass(3)); err != nil {
		t.Fatal(err)
	}

	db.Close()
	db = openAt(t, dir)
	got, err := db.Absences(ctx, "evaluagent")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Absence{
		"E1": {Consecutive: 3, First: pass(1), Last: pass(3)},
		"E2": {Consecutive: 1, First: pass(3), Last: pass(3)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Absences (-want +got):\n%s", diff)
	}

	if err := db.ClearAbsent(ctx, "evaluagent", "E1", "never-absent"); err != nil {
		t.Fatal(err)
	}
	if err := db.ClearAbsent(ctx, "evaluagent"); err != nil {
		t.Errorf("ClearAbsent with no keys: %v", err)
	}
	// A key that comes back and leaves again starts counting afresh.
	mark("E1", pass(4), 1, pass(4))
	got, _ = db.Absences(ctx, "agentiq")
	if diff := cmp.Diff(map[string]Absence{"E1": {1, pass(3), pass(3)}}, got); diff != "" {
		t.Errorf("other target (-want +got):\n%s", diff)
	}
}
