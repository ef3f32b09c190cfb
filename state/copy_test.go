package state

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rostersync/rostersync/state/pgtest"
)

// dump reads every row of every copied table, in order.
func dump(t *testing.T, db *DB) map[string][][]any {
	t.Helper()
	out := map[string][][]any{}
	for _, tb := range copyTables {
		rows, err := db.db.QueryContext(context.Background(), `SELECT `+strings.Join(tb.cols, ", ")+` FROM `+tb.name+` ORDER BY 1, 2`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals := make([]any, len(tb.cols))
			ptrs := make([]any, len(vals))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out[tb.name] = append(out[tb.name], vals)
		}
		rows.Close()
	}
	return out
}

// fill writes something into every table of db.
func fill(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	run, err := db.RunStart(ctx, RunApply)
	must(err)
	id, err := db.JournalBegin(ctx, Entry{RunID: run, Target: "ea", OpID: "create user E1", Kind: "user", Key: "E1", Action: "create", Payload: []byte(`{"a":1}`)})
	must(err)
	must(db.JournalFinish(ctx, id, OutcomeOK, "u-1", ""))
	_, err = db.JournalBegin(ctx, Entry{Target: "ea", OpID: "create user E2", Kind: "user", Key: "E2", Action: "create"})
	must(err)
	must(db.RunFinish(ctx, run, "ok", []byte(`{"created":1}`), ""))
	must(db.Own(ctx, "ea", "user", "E1", "u-1", HowCreated))
	_, err = db.Hold(ctx, HeldOp{Target: "ea", OpID: "deactivate user E9", Kind: "user", Key: "E9", Action: "deactivate", Reason: "over 10"})
	must(err)
	must(db.CursorPut(ctx, "hr", []byte("cookie")))
	must(db.RecordSourceCount(ctx, "hr", 12, true, t0))
	must(db.RecordSourceCount(ctx, "hr", 3, false, t0.Add(time.Hour)))
	_, _, err = db.MarkAbsent(ctx, "ea", "E9", t0)
	must(err)
	_, err = db.BudgetUse(ctx, "/v1/users", MinuteWindow(db.now()), 7)
	must(err)
	must(db.SavePlan(ctx, "ea", []byte(`{"ops":[]}`), t0))
}

// Every table of the schema is copied, or named as not copied.
func TestCopyTablesAreEveryTable(t *testing.T) { forEachBackend(t, testCopyTablesAreEveryTable) }

func testCopyTablesAreEveryTable(t *testing.T, bk testBackend) {
	db, _ := bk.openTest(t)
	q := `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1`
	if db.pg() {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1`
	}
	rows, err := db.raw.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var have []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		have = append(have, n)
	}
	for _, tb := range copyTables {
		if !slices.Contains(have, tb.name) {
			t.Errorf("copyTables names %s, which the schema lacks", tb.name)
			continue
		}
		// Every column, or a copy would lose one.
		q := `SELECT name FROM pragma_table_info(?) ORDER BY name`
		if db.pg() {
			q = `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY 1`
		}
		rows, err := db.db.QueryContext(context.Background(), q, tb.name)
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		for rows.Next() {
			var c string
			rows.Scan(&c)
			cols = append(cols, c)
		}
		rows.Close()
		want := slices.Sorted(slices.Values(tb.cols))
		if diff := cmp.Diff(want, cols); diff != "" {
			t.Errorf("columns of %s: copyTables vs the schema (-copyTables +schema):\n%s", tb.name, diff)
		}
	}
	for _, name := range have {
		if !slices.Contains(notCopied, name) && !slices.ContainsFunc(copyTables, func(tb copyTable) bool { return tb.name == name }) {
			t.Errorf("table %s is neither in copyTables nor in notCopied", name)
		}
	}
}

func TestCopyToPostgres(t *testing.T) {
	ctx := context.Background()
	src, _ := testBackend{BackendSQLite}.openTest(t)
	fill(t, src)
	key, err := src.PlanKey(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := src.TokenStore("k1")
	tok := BearerToken{KeyID: "k1", Token: "tok", Origin: "created", UpdatedAt: t0}
	if err := ts.Save(tok); err != nil {
		t.Fatal(err)
	}
	want := dump(t, src)

	dst := openAt(t, pgtest.Shared(t).Database(t))
	counts, err := src.CopyTo(ctx, dst, false)
	if err != nil {
		t.Fatal(err)
	}
	wantCounts := []CopyCount{{"runs", 1}, {"journal", 2}, {"ownership", 1}, {"held", 1}, {"cursors", 1},
		{"source_counts", 2}, {"absences", 1}, {"budgets", 1}, {"plans", 1}, {CopyPlanKey, 1}, {CopyTokens, 1}}
	if diff := cmp.Diff(wantCounts, counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, dump(t, dst)); diff != "" {
		t.Errorf("PostgreSQL after the copy (-SQLite +PostgreSQL):\n%s", diff)
	}
	if got, err := dst.PlanKey(ctx, false); err != nil || string(got) != string(key) {
		t.Errorf("plan key after the copy = %x, %v; want %x", got, err, key)
	}
	pts, _ := dst.TokenStore("k1")
	if got, err := pts.Load(); err != nil || got.Token != "tok" {
		t.Errorf("token after the copy = %+v, %v", got, err)
	}
	// New rows take ids after the copied ones; the pending entry is still pending.
	if run, err := dst.RunStart(ctx, RunPass); err != nil || run != 2 {
		t.Errorf("RunStart after the copy = %d, %v; want 2", run, err)
	}
	if p, err := dst.JournalPending(ctx, "ea"); err != nil || len(p) != 1 || p[0].Key != "E2" {
		t.Errorf("pending after the copy = %+v, %v", p, err)
	}

	// Again: the target is not empty.
	_, err = src.CopyTo(ctx, dst, false)
	var ne *NotEmptyError
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "runs: 2") || !strings.Contains(err.Error(), "-force") {
		t.Fatalf("copy into a non-empty database = %v, want *NotEmptyError naming the tables", err)
	}
	if _, err := dst.RunStart(ctx, RunPass); err != nil {
		t.Fatal(err)
	}
	// Replacing it leaves exactly the source.
	if _, err := src.CopyTo(ctx, dst, true); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, dump(t, dst)); diff != "" {
		t.Errorf("PostgreSQL after a replacing copy (-SQLite +PostgreSQL):\n%s", diff)
	}
}

// A copy that fails half-way leaves the target as it was.
func TestCopyToIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	src, _ := testBackend{BackendSQLite}.openTest(t)
	fill(t, src)
	dst := openAt(t, pgtest.Shared(t).Database(t))
	// A plans row PostgreSQL refuses (NUL is no text there) fails the copy
	// after every table before it was copied.
	if _, err := src.db.ExecContext(ctx, `INSERT INTO plans (target, plan, at) VALUES (?, X'7B7D', ?)`, "bad\x00target", fmtTime(t0)); err != nil {
		t.Fatal(err)
	}
	if _, err := src.CopyTo(ctx, dst, false); err == nil || !strings.Contains(err.Error(), "table plans") {
		t.Fatalf("CopyTo = %v, want the plans table's failure", err)
	}
	for tb, rows := range dump(t, dst) {
		t.Errorf("table %s holds %d rows after a failed copy", tb, len(rows))
	}
	if _, err := dst.CopyTo(ctx, src, false); err == nil {
		t.Error("a copy into SQLite was accepted")
	}
}
