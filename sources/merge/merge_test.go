package merge_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rostersync/rostersync/sources"
	"github.com/rostersync/rostersync/sources/merge"
)

// fake is a source holding fixed records, or failing.
type fake struct {
	name   string
	recs   []sources.Record
	health sources.Health
	err    error
}

func (f *fake) Name() string { return f.name }
func (f *fake) Fetch(context.Context) (*sources.Snapshot, error) {
	if f.err != nil {
		return nil, f.err
	}
	h := f.health
	if h == (sources.Health{}) {
		h = sources.Health{Complete: true, Count: len(f.recs)}
	}
	return &sources.Snapshot{Source: f.name, Records: f.recs, Health: h}, nil
}

func rec(key, origin string, kv ...string) sources.Record {
	r := sources.Record{Key: key, Origin: origin, Attrs: map[string][]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Attrs[kv[i]] = []string{kv[i+1]}
	}
	return r
}

func three() (ad, wfm, hr *fake) {
	ad = &fake{name: "ad", recs: []sources.Record{
		rec("g1", "CN=Ann,OU=People", "employeeID", "E1", "mail", "ann@x", "department", "Support"),
		rec("g2", "CN=Bob,OU=People", "employeeID", "E2", "mail", "bob@x", "department", "Sales"),
	}}
	wfm = &fake{name: "wfm", recs: []sources.Record{
		rec("W1", "wfm.csv:2", "employee_id", "E1", "team", "North", "department", "Inbound"),
		rec("W2", "wfm.csv:3", "employee_id", "E2", "team", ""),
		rec("W9", "wfm.csv:4", "employee_id", "E9", "team", "Ghosts"),
	}}
	hr = &fake{name: "hr", recs: []sources.Record{
		rec("E1", "hr.csv:2", "start_date", "2020-01-01", "department", "Finance"),
	}}
	return
}

func newMerge(t *testing.T, cfg merge.Config, srcs ...sources.Source) *merge.Source {
	t.Helper()
	m, err := merge.New("merged", cfg, srcs)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func byKey(snap *sources.Snapshot) map[string]sources.Record {
	out := map[string]sources.Record{}
	for _, r := range snap.Records {
		out[r.Key] = r
	}
	return out
}

func TestPrecedenceAndProvenance(t *testing.T) {
	ad, wfm, hr := three()
	m := newMerge(t, merge.Config{
		Authority: "ad",
		Join:      map[string]string{"ad": "employeeID", "wfm": "employee_id"},
		Fields:    map[string][]string{"team": {"wfm.team", "ad.department"}},
	}, ad, wfm, hr)
	snap, err := m.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Health.Complete || snap.Health.Count != 2 {
		t.Errorf("health = %+v, want complete with 2 people", snap.Health)
	}
	got := byKey(snap)
	ann, bob := got["g1"], got["g2"]
	for _, c := range []struct {
		r          sources.Record
		attr, want string
		from       string
	}{
		{ann, "team", "North", "wfm wfm.csv:2"},
		{bob, "team", "Sales", "ad CN=Bob,OU=People"}, // WFM's team is empty: the next in line
		{ann, "department", "Support", "ad CN=Ann,OU=People"},
		{ann, "start_date", "2020-01-01", "hr hr.csv:2"},
		{ann, "wfm.department", "Inbound", "wfm wfm.csv:2"},
		{ann, "hr.department", "Finance", "hr hr.csv:2"},
	} {
		if v := c.r.Get(c.attr); v != c.want {
			t.Errorf("%s %s = %q, want %q", c.r.Key, c.attr, v, c.want)
		}
		if p := c.r.Provenance[strings.ToLower(c.attr)]; p != c.from {
			t.Errorf("%s %s from %q, want %q", c.r.Key, c.attr, p, c.from)
		}
	}
	if bob.Get("start_date") != "" {
		t.Errorf("bob has a start date from nowhere: %q", bob.Get("start_date"))
	}
	if o := ann.Origin; o != "CN=Ann,OU=People" {
		t.Errorf("origin = %q, want the authority's", o)
	}
	prob, ok := got["W9"]
	if !ok || !strings.Contains(prob.Problem, `joins nobody in ad on "E9"`) || prob.Origin != "wfm wfm.csv:4" {
		t.Errorf("the WFM row that joins nobody = %+v, want a problem at wfm wfm.csv:4", prob)
	}
}

func TestUnjoinedPerson(t *testing.T) {
	ad, wfm, _ := three()
	m := newMerge(t, merge.Config{Authority: "ad", Join: map[string]string{"ad": "employeeID", "wfm": "employee_id"}, Unjoined: merge.UnjoinedPerson}, ad, wfm)
	snap, err := m.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ghost, ok := byKey(snap)["wfm:W9"]
	if !ok || ghost.Problem != "" || ghost.Get("team") != "Ghosts" || ghost.Origin != "wfm.csv:4" {
		t.Fatalf("unjoined: person: record = %+v, want a person of its own", ghost)
	}
	if snap.Health.Count != 3 {
		t.Errorf("count = %d, want 3", snap.Health.Count)
	}
}

func TestDuplicateJoinValue(t *testing.T) {
	ad, wfm, _ := three()
	wfm.recs = append(wfm.recs, rec("W3", "wfm.csv:5", "employee_id", "E1", "team", "South"))
	m := newMerge(t, merge.Config{Authority: "ad", Join: map[string]string{"ad": "employeeID", "wfm": "employee_id"}}, ad, wfm)
	snap, _ := m.Fetch(context.Background())
	got := byKey(snap)
	if ann := got["g1"]; ann.Get("team") != "North" {
		t.Errorf("team = %q, want the first row's", ann.Get("team"))
	}
	if p := got["W3"].Problem; !strings.Contains(p, `join value "E1" is also at wfm.csv:2`) {
		t.Errorf("duplicate problem = %q", p)
	}
}

func TestAuthorityHealth(t *testing.T) {
	ad, wfm, _ := three()
	ad.err = errors.New("source ad: connection refused")
	m := newMerge(t, merge.Config{Authority: "ad"}, ad, wfm)
	if _, err := m.Fetch(context.Background()); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("authority failing: err = %v, want it", err)
	}
	ad.err = nil
	ad.health = sources.Health{Reason: "size limit exceeded", Count: 2}
	snap, err := m.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Health.Complete || !strings.Contains(snap.Health.Reason, "source ad: size limit exceeded") {
		t.Errorf("authority incomplete: health = %+v, want incomplete naming ad", snap.Health)
	}
}

func TestSickContributorMakesItsAttributesStale(t *testing.T) {
	ad, wfm, hr := three()
	wfm.err = errors.New("source wfm: open wfm.csv: no such file or directory")
	m := newMerge(t, merge.Config{
		Authority: "ad",
		Join:      map[string]string{"ad": "employeeID", "wfm": "employee_id"},
		Fields:    map[string][]string{"team": {"wfm.team", "ad.department"}, "start_date": {"hr.start_date"}},
	}, ad, wfm, hr)
	snap, err := m.Fetch(context.Background())
	if err != nil {
		t.Fatalf("a sick contributor failed the pass: %v", err)
	}
	if !snap.Health.Complete {
		t.Errorf("a sick contributor made the merged snapshot incomplete: %+v", snap.Health)
	}
	ann := byKey(snap)["g1"]
	stale := map[string]string{}
	for _, a := range []string{"team", "wfm.team", "wfm.anything", "qa_role", "mail", "start_date", "department"} {
		stale[a] = ann.StaleOf(a)
	}
	const why = "source wfm: open wfm.csv: no such file or directory"
	want := map[string]string{
		"team": why, "wfm.team": why, "wfm.anything": why, "qa_role": why, // WFM ranks first or might hold it
		"mail": "", "department": "", // the directory ranks first and has a value
		"start_date": "", // only HR feeds it
	}
	if d := cmp.Diff(want, stale); d != "" {
		t.Errorf("stale (-want +got):\n%s", d)
	}
	if h := m.Health()["wfm"]; h.Complete || !strings.Contains(h.Reason, "no such file") {
		t.Errorf("wfm health = %+v", h)
	}
}

func TestConfigValidate(t *testing.T) {
	c := merge.Config{
		Join:     map[string]string{"nope": "x", "wfm": " "},
		Fields:   map[string][]string{"wfm.team": {"wfm.team"}, "team": {"team", "ldap.team"}, "site": nil},
		Unjoined: "drop",
	}
	var got []string
	for _, e := range c.Validate([]string{"ad", "wfm"}) {
		got = append(got, e.Error())
	}
	want := []string{
		"authority: required: the source that decides who exists (one of ad, wfm)",
		`join["nope"]: "nope" is not a configured source (sources: ad, wfm)`,
		`join["wfm"]: is blank: give the attribute holding the join value, or leave the source out to join on its record key`,
		`fields["site"]: give at least one source.attribute`,
		`fields["team"][0]: "team": write source.attribute, as wfm.team`,
		`fields["team"][1]: "ldap.team": "ldap" is not a configured source (sources: ad, wfm)`,
		`fields["wfm.team"]: must be a plain attribute name (no source prefix)`,
		`unjoined: "drop": must be problem or person`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("errors (-want +got):\n%s", d)
	}
}

// TestIncompleteContributor: a contributor read only in part still gives
// what it has, but every attribute it feeds is stale.
func TestIncompleteContributor(t *testing.T) {
	ad, wfm, _ := three()
	wfm.health = sources.Health{Reason: "2 rows, fewer than min_rows 10", Count: 2}
	m := newMerge(t, merge.Config{Authority: "ad", Join: map[string]string{"ad": "employeeID", "wfm": "employee_id"}}, ad, wfm)
	snap, err := m.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ann := byKey(snap)["g1"]
	if ann.Get("team") != "North" {
		t.Errorf("team = %q, want the incomplete WFM's value", ann.Get("team"))
	}
	if why := ann.StaleOf("team"); why != "source wfm: 2 rows, fewer than min_rows 10" {
		t.Errorf("team stale = %q", why)
	}
	if !snap.Health.Complete {
		t.Errorf("an incomplete contributor made the merge incomplete: %+v", snap.Health)
	}
}
