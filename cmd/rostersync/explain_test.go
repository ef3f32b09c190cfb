package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
)

func TestExplainWritesNothing(t *testing.T) {
	r := newRig(t)
	r.mustRun("apply", "-yes")
	r.editCSV("ben.carter@example.com", "ben.c@example.com")
	r.sim.ResetCounts()

	for _, who := range []string{"E1002", "ben.c@example.com", "BEN.C@example.com"} {
		r.mustRun("explain", who)
		out := r.stdout.String()
		for _, want := range []string{
			"people.csv:3", "first_name: \"Ben\"", "scope: in scope",
			"email:          \"ben.c@example.com\"", "team:           \"Leeds / Support / North\"",
			"matched by the ledger (rostersync owns it)", "email:          \"ben.carter@example.com\"",
			"~ update user \"ben.c@example.com\" (ready)", "email: \"ben.carter@example.com\" → \"ben.c@example.com\"",
			"reason: changed in source (people.csv:3)",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("explain %s lacks %q:\n%s", who, want, out)
			}
		}
	}
	// Out of scope in the source, deactivated on the platform: Finn is a leaver.
	r.mustRun("explain", "finn.gallagher@example.com")
	if out := r.stdout.String(); !strings.Contains(out, "out of scope: scope[0]: status \"leaver\" is not in [active]") ||
		!strings.Contains(out, "no platform user matches") {
		t.Errorf("explain of a leaver:\n%s", out)
	}
	// Excluded by name.
	r.mustRun("explain", "qa.admin@example.com")
	if out := r.stdout.String(); !strings.Contains(out, "exclude rules protect this person") {
		t.Errorf("explain of an excluded person:\n%s", out)
	}
	if code := r.run("explain", "nobody@example.com"); code != 1 {
		t.Errorf("explain of nobody: exit %d", code)
	}
	// An unknown person is an error, and nothing claims the platform matches.
	if out := r.stdout.String(); strings.Contains(out, "already matches") || strings.Contains(out, "Explaining") {
		t.Errorf("explain of nobody printed an explanation:\n%s", out)
	}
	if e := r.stderr.String(); !strings.Contains(e, `no source record (sources: hr) and no evaluagent user matches "nobody@example.com"`) {
		t.Errorf("explain of nobody: stderr does not say who is unknown:\n%s", e)
	}
	if w := r.sim.Writes(); w != 0 {
		t.Errorf("explain wrote %d times to the platform", w)
	}
}

// TestExplainNamesThePlansMatch: explain shows the platform user the plan
// matched (by third_party_id, before username and email), not another one
// that also looks like the person.
func TestExplainNamesThePlansMatch(t *testing.T) {
	r := newRig(t)
	r.mustRun("apply", "-yes")
	c, err := evaluagent.New(evaluagent.Config{BaseURL: r.url, KeyID: evaluagentsim.DemoKeyID, KeySecret: evaluagentsim.DemoKeySecret})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []reconcile.User{
		{Username: "a.mo@example.com", Email: "mo.nash@example.com", Forename: "Mo", Surname: "Email", Active: true, Roles: reconcile.NamesOf("quality_analyst")},
		{Username: "z.mo@example.com", ThirdPartyID: "E1013", Forename: "Mo", Surname: "Tpid", Active: true, Roles: reconcile.NamesOf("quality_analyst")},
	} {
		if _, err := c.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
	}
	r.addRow("E1013,Mo,Nash,mo.nash@example.com,2026-11-20,active,Quality Analyst,Leeds,Sales,Outbound")
	r.mustRun("explain", "E1013")
	out := r.stdout.String()
	if !strings.Contains(out, "matched by third_party_id") || !strings.Contains(out, `username:       "z.mo@example.com"`) {
		t.Errorf("explain does not name the plan's match (third_party_id, z.mo):\n%s", out)
	}
	if !strings.Contains(out, `& adopt user "mo.nash@example.com"`) {
		t.Errorf("explain does not show the adoption the plan makes:\n%s", out)
	}
}

// TestExplainCannotBeMadeToLie: a CSV column whose name carries a newline,
// a terminal escape and a right-to-left override cannot add a line to the
// explanation or reach the terminal raw.
func TestExplainCannotBeMadeToLie(t *testing.T) {
	r := newRig(t)
	p := filepath.Join(r.dir, "people.csv")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\r\n"), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], "\r")
		if i == 0 {
			lines[i] += `,"note` + "\n" + `  + create user ""ceo@example.com""` + "\x1b[2J\u202e" + `"`
		} else {
			lines[i] += ",x"
		}
	}
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.mustRun("explain", "E1002")
	out := r.stdout.String()
	if strings.ContainsAny(out, "\x1b\u202e") {
		t.Errorf("explain printed a raw escape or bidi override:\n%q", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "+") && strings.Contains(l, "ceo@example.com") {
			t.Errorf("a source value forged an operation line %q in:\n%s", l, out)
		}
	}
	if !strings.Contains(out, `\x1b[2J\u202e`) {
		t.Errorf("explain does not show the escapes:\n%s", out)
	}
}
