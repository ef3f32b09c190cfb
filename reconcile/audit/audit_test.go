package audit_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/audit"
)

var now = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// results is a target that reports results by person and records who was
// asked about.
type results struct {
	reconcile.Target
	asked []string
	have  map[string]reconcile.PersonResults
}

func (r *results) ResultsOf(_ context.Context, ids []string, _, _ time.Time) (map[string]reconcile.PersonResults, error) {
	r.asked = append(r.asked, ids...)
	return r.have, nil
}

func TestBuildMatchesAsPlansDoAndReadsResultsOfTheFlagged(t *testing.T) {
	desired := &reconcile.Snapshot{Users: []reconcile.User{
		{Key: "E1", Email: "ann@x.example", Active: true, Roles: reconcile.NamesOf("agent")},
		{Key: "E2", Email: "bob@x.example", Active: false, Roles: reconcile.NamesOf("agent")},
		{Key: "E3", Email: "cy@x.example", Active: true, Roles: reconcile.NamesOf("agent")},
	}}
	current := &reconcile.Snapshot{Users: []reconcile.User{
		{ID: "1", Email: "ANN@x.example", Active: true, Roles: reconcile.NamesOf("agent")},
		{ID: "2", Email: "bob@x.example", Active: true, Roles: reconcile.NamesOf("agent")},
		{ID: "3", Email: "cy@x.example", Active: true, Roles: reconcile.NamesOf("manager")},
		{ID: "4", Email: "ghost@x.example", Forename: "Gus", Surname: "Ghost", Active: true, Roles: reconcile.NamesOf("agent")},
		{ID: "5", Email: "gone@x.example", Active: false},
	}}
	pol := reconcile.Policy{Target: reconcile.Capabilities{Platform: "Test"}, Protected: func(u reconcile.User) bool { return u.ID == "3" }}
	tg := audit.Build("t", desired, current, reconcile.NewOwnership(), pol)
	ids := func(ps []audit.Person) (out []string) {
		for _, p := range ps {
			out = append(out, p.ID)
		}
		return out
	}
	if d := cmp.Diff([]string{"4"}, ids(tg.Unknown)); d != "" {
		t.Errorf("unknown (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"2"}, ids(tg.Inactive)); d != "" {
		t.Errorf("inactive in the directory (-want +got):\n%s", d)
	}
	if len(tg.Drift) != 1 || tg.Drift[0].ID != "3" || !tg.Drift[0].Protected || !cmp.Equal(tg.Drift[0].Directory, []string{"agent"}) {
		t.Errorf("role drift: %+v", tg.Drift)
	}
	r := &results{have: map[string]reconcile.PersonResults{"4": {What: "ratings", Count: 2, Average: 4.5}, "5": {What: "ratings"}}}
	if err := tg.ReadResults(context.Background(), r, now.AddDate(0, 0, -30), now); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"2", "4", "5"}, r.asked); d != "" {
		t.Errorf("results asked for (-want +got): unknown or inactive in the directory, sorted by email\n%s", d)
	}
	if len(tg.Results) != 1 || tg.Results[0].ID != "4" || tg.Results[0].Directory != audit.StatusUnknown {
		t.Errorf("results kept: %+v, want only the person with some", tg.Results)
	}
	var b bytes.Buffer
	if err := audit.Render(&b, &audit.Report{Targets: []audit.Target{tg}}, reconcile.FormatText); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "2 ratings, average 4.50 credited to ghost@x.example (Gus Ghost)") || !strings.Contains(b.String(), "4 finding(s).") {
		t.Errorf("text report:\n%s", b.String())
	}
}

func TestATargetWithoutResultsSaysSo(t *testing.T) {
	tg := audit.Build("t", &reconcile.Snapshot{}, &reconcile.Snapshot{}, reconcile.NewOwnership(), reconcile.Policy{Target: reconcile.Capabilities{Platform: "Plain"}})
	if err := tg.ReadResults(context.Background(), nil, now, now); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := audit.Render(&b, &audit.Report{Targets: []audit.Target{tg}}, reconcile.FormatMarkdown); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "QA results by person: not read on Plain.") || !strings.Contains(b.String(), "Findings: 0.") {
		t.Errorf("markdown report:\n%s", b.String())
	}
}

// TestReportsCannotBeMadeToLie: a platform user's name with a line break,
// a terminal escape and a right-to-left override cannot add a line to the
// report or reach the terminal raw, in text or Markdown.
func TestReportsCannotBeMadeToLie(t *testing.T) {
	evil := "Evil\x1b[31m X\n    ! deactivate user \"boss@example.com\"\u202e"
	tg := audit.Target{Target: "t", Platform: "Plain", Unknown: []audit.Person{{ID: "9", Email: "evil@example.com", Name: evil, Active: true}}}
	for _, f := range []reconcile.Format{reconcile.FormatText, reconcile.FormatMarkdown} {
		var b bytes.Buffer
		if err := audit.Render(&b, &audit.Report{Targets: []audit.Target{tg}}, f); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if strings.ContainsAny(out, "\x1b\u202e") || strings.Contains(out, "\n    ! deactivate") {
			t.Errorf("%s report carries the name raw:\n%q", f, out)
		}
		if !strings.Contains(out, `\x1b[31m`) {
			t.Errorf("%s report does not show the escape:\n%s", f, out)
		}
	}
}
