package state

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLedger(t *testing.T) { forEachBackend(t, testLedger) }

func testLedger(t *testing.T, bk testBackend) {
	ctx := context.Background()
	db, dir := bk.openTest(t)

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.Own(ctx, "evaluagent", "user", "E1001", "u-1", HowCreated))
	must(db.Own(ctx, "evaluagent", "user", "E1002", "u-2", HowAdopted))
	must(db.Own(ctx, "evaluagent", "team", "sales", "g-9", HowCreated))
	must(db.Own(ctx, "agentiq", "user", "E1001", "aiq-1", HowCreated))

	got, err := db.Ledger(ctx, "evaluagent")
	must(err)
	want := map[string]map[string]string{
		"user": {"E1001": "u-1", "E1002": "u-2"},
		"team": {"sales": "g-9"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Ledger (-want +got):\n%s", diff)
	}
	counts, err := db.LedgerCounts(ctx, "evaluagent")
	must(err)
	if diff := cmp.Diff(map[string]int{"user": 2, "team": 1}, counts); diff != "" {
		t.Errorf("LedgerCounts (-want +got):\n%s", diff)
	}

	// Upsert: same id keeps its since; a new id resets it.
	first, ok, err := db.LookupByID(ctx, "evaluagent", "user", "u-2")
	must(err)
	wantOwned := Owned{Target: "evaluagent", Kind: "user", Key: "E1002", ID: "u-2", How: HowAdopted, Since: first.Since}
	if diff := cmp.Diff(wantOwned, first); !ok || diff != "" || first.Since.Before(t0) {
		t.Errorf("LookupByID(u-2) ok=%v (-want +got):\n%s", ok, diff)
	}
	must(db.Own(ctx, "evaluagent", "user", "E1002", "u-2", HowCreated))
	o, ok, err := db.LookupByID(ctx, "evaluagent", "user", "u-2")
	must(err)
	if !ok || o.Key != "E1002" || o.How != HowCreated || !o.Since.Equal(first.Since) {
		t.Errorf("LookupByID(u-2) after re-own = %+v, %v; want since %v kept", o, ok, first.Since)
	}
	must(db.Own(ctx, "evaluagent", "user", "E1002", "u-22", HowAdopted))
	o, ok, err = db.LookupByID(ctx, "evaluagent", "user", "u-22")
	must(err)
	if !ok || o.Key != "E1002" || !o.Since.After(first.Since) {
		t.Errorf("LookupByID(u-22) = %+v, %v; want a since after %v", o, ok, first.Since)
	}
	if _, ok, err := db.LookupByID(ctx, "evaluagent", "user", "u-2"); ok || err != nil {
		t.Errorf("old id u-2 still owned (%v, %v)", ok, err)
	}
	if _, ok, err := db.LookupByID(ctx, "evaluagent", "team", "u-1"); ok || err != nil {
		t.Errorf("LookupByID matched across kinds (%v, %v)", ok, err)
	}

	// One platform object, one owner.
	err = db.Own(ctx, "evaluagent", "user", "E2000", "u-1", HowAdopted)
	if !errors.Is(err, ErrConflict) {
		t.Errorf("owning u-1 twice: %v, want ErrConflict", err)
	}
	if err == nil || err.Error() != `state: own user "E2000": id "u-1" is owned by "E1001": conflict` {
		t.Errorf("error text = %q", err)
	}

	for _, bad := range []struct{ target, kind, key, id, how string }{
		{"", "user", "k", "i", HowCreated},
		{"t", "", "k", "i", HowCreated},
		{"t", "user", "", "i", HowCreated},
		{"t", "user", "k", "", HowCreated},
		{"t", "user", "k", "i", "stolen"},
	} {
		if err := db.Own(ctx, bad.target, bad.kind, bad.key, bad.id, bad.how); err == nil {
			t.Errorf("Own(%+v) succeeded", bad)
		}
	}

	must(db.Disown(ctx, "evaluagent", "user", "E1001"))
	must(db.Disown(ctx, "evaluagent", "user", "never-owned"))

	entries, err := db.LedgerEntries(ctx, "evaluagent")
	must(err)
	var keys []string
	for _, e := range entries {
		keys = append(keys, e.Kind+"/"+e.Key+"="+e.ID)
	}
	if diff := cmp.Diff([]string{"team/sales=g-9", "user/E1002=u-22"}, keys); diff != "" {
		t.Errorf("LedgerEntries (-want +got):\n%s", diff)
	}

	// The other target is untouched, and everything survives a reopen.
	db.Close()
	db = openAt(t, dir)
	got, err = db.Ledger(ctx, "agentiq")
	must(err)
	if diff := cmp.Diff(map[string]map[string]string{"user": {"E1001": "aiq-1"}}, got); diff != "" {
		t.Errorf("agentiq Ledger after reopen (-want +got):\n%s", diff)
	}
	got, err = db.Ledger(ctx, "nobody")
	must(err)
	if len(got) != 0 {
		t.Errorf("Ledger(nobody) = %v", got)
	}
}

func TestLedgerSorted(t *testing.T) { forEachBackend(t, testLedgerSorted) }

// LedgerSorted holds the same rows as Ledger, each kind sorted by key whatever order the rows
// were owned in, whatever the counts say.
func testLedgerSorted(t *testing.T, bk testBackend) {
	ctx := context.Background()
	db, _ := bk.openTest(t)
	for _, r := range [][3]string{
		{"user", "E1003", "u-3"}, {"user", "E1001", "u-1"}, {"team", "sales", "g-9"},
		{"user", "E1010", "u-10"}, {"user", "E1002", "u-2"}, {"team", "ops", "g-1"},
	} {
		if err := db.Own(ctx, "evaluagent", r[0], r[1], r[2], HowCreated); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Own(ctx, "agentiq", "user", "E1000", "aiq-0", HowCreated); err != nil {
		t.Fatal(err)
	}
	want := map[string]*Keyed{
		"user": {Keys: []string{"E1001", "E1002", "E1003", "E1010"}, IDs: []string{"u-1", "u-2", "u-3", "u-10"}},
		"team": {Keys: []string{"ops", "sales"}, IDs: []string{"g-1", "g-9"}},
	}
	// Counts gone stale (a kind since emptied, another since added) change nothing read.
	for _, counts := range []map[string]int{nil, {}, {"user": 1}, {"user": 9, "team": 0, "queue": 3}} {
		got, err := db.LedgerSorted(ctx, "evaluagent", counts)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("LedgerSorted with counts %v (-want +got):\n%s", counts, diff)
		}
	}
	if got, err := db.LedgerSorted(ctx, "nobody", map[string]int{"user": 2}); err != nil || len(got) != 0 {
		t.Errorf("LedgerSorted of a target owning nothing = %v, %v", got, err)
	}
}
