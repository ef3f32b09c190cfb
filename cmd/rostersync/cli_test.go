package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/samber/lo"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
)

// rig is a simulator over HTTP plus a private copy of the demo input.
type rig struct {
	t      *testing.T
	sim    *evaluagentsim.Server
	url    string
	dir    string
	env    map[string]string
	stdout bytes.Buffer
	stderr bytes.Buffer
	// sleep, when set, replaces the client's real sleep (see runAt).
	sleep func(ctx context.Context, d time.Duration) error
}

// newRig starts a simulator built from DefaultConfig, changed by edits.
func newRig(t *testing.T, edits ...func(*evaluagentsim.Config)) *rig {
	t.Helper()
	cfg := evaluagentsim.DefaultConfig()
	for _, e := range edits {
		e(&cfg)
	}
	sim, err := evaluagentsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	dir := t.TempDir()
	for _, name := range []string{"mapping.yaml", "people.csv"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(evaluagentsim.DemoKeySecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, sim: sim, url: ts.URL + "/v1", dir: dir, env: map[string]string{
		"ROSTERSYNC_MAPPING":                    filepath.Join(dir, "mapping.yaml"),
		"ROSTERSYNC_STATE_DIR":                  filepath.Join(dir, "state"),
		"ROSTERSYNC_EVALUAGENT_BASE_URL":        ts.URL + "/v1",
		"ROSTERSYNC_EVALUAGENT_KEY_ID":          evaluagentsim.DemoKeyID,
		"ROSTERSYNC_EVALUAGENT_KEY_SECRET_FILE": secret,
		"ROSTERSYNC_LOG_FORMAT":                 "text",
		// The rig's organisations are tiny and most tests take one pass: a
		// leaver is deactivated at once and not held for being over 5%.
		// The safety tests set the limits they exercise.
		"ROSTERSYNC_ABSENT_PASSES":              "1",
		"ROSTERSYNC_HOLD_DEACTIVATIONS_PERCENT": "-1",
	}}
}

// run runs the CLI in-process and returns its exit code.
func (r *rig) run(args ...string) int {
	r.t.Helper()
	r.stdout.Reset()
	r.stderr.Reset()
	return run(context.Background(), args, &cli{
		stdin: strings.NewReader(""), stdout: &r.stdout, stderr: &r.stderr,
		lookupEnv: func(k string) (string, bool) { v, ok := r.env[k]; return v, ok },
		now:       func() time.Time { return time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC) },
	})
}

func (r *rig) mustRun(args ...string) {
	r.t.Helper()
	if code := r.run(args...); code != 0 {
		r.t.Fatalf("rostersync %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, r.stdout.String(), r.stderr.String())
	}
}

func (r *rig) editCSV(old, new string) {
	r.t.Helper()
	p := filepath.Join(r.dir, "people.csv")
	b, err := os.ReadFile(p)
	if err != nil {
		r.t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		r.t.Fatalf("people.csv has no %q", old)
	}
	if err := os.WriteFile(p, bytes.Replace(b, []byte(old), []byte(new), 1), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) planJSON() *reconcile.Plan {
	r.t.Helper()
	r.mustRun("plan", "-format", "json")
	p, err := reconcile.DecodePlan(r.stdout.Bytes())
	if err != nil {
		r.t.Fatalf("%v\n%s", err, r.stdout.String())
	}
	return p
}

func TestPlanWritesNothing(t *testing.T) {
	r := newRig(t)
	p := r.planJSON()
	if r.sim.Writes() != 0 {
		t.Fatalf("plan wrote %d times to the platform", r.sim.Writes())
	}
	// The demo CSV: 9 groups, 11 people in scope, one queue.
	want := reconcile.Summary{Create: 20, Update: 1}
	if p.Summary != want {
		t.Errorf("summary = %+v, want %+v", p.Summary, want)
	}
	for _, op := range p.Ops {
		if op.Reason == "" {
			t.Errorf("op %s %s has no reason", op.Action, op.Name)
		}
	}
	// The JSON is the documented schema: ops[] with action, kind, key, changes, reason.
	var raw struct {
		Ops []map[string]json.RawMessage `json:"ops"`
	}
	r.mustRun("plan", "-format", "json")
	if err := json.Unmarshal(r.stdout.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"action", "kind", "key", "changes", "reason"} {
		if _, ok := raw.Ops[0][k]; !ok {
			t.Errorf("ops[0] has no %q member", k)
		}
	}
	if code := r.run("plan", "-detailed-exitcode"); code != 2 {
		t.Errorf("plan -detailed-exitcode with changes: exit %d, want 2", code)
	}
	if r.sim.Writes() != 0 {
		t.Fatalf("plan wrote %d times", r.sim.Writes())
	}
}

func TestApplyMakesThePromisedCallsAndConverges(t *testing.T) {
	r := newRig(t)
	p := r.planJSON()
	promised := lo.Sum(lo.Values(p.Requests))
	r.mustRun("apply", "-yes")
	if got := r.sim.Writes(); got != promised {
		t.Errorf("apply made %d writes, the plan promised %d (%v)", got, promised, p.Requests)
	}
	r.sim.ResetCounts()
	if code := r.run("plan", "-detailed-exitcode"); code != 0 {
		t.Fatalf("second plan: exit %d, want 0 (no changes)\n%s", code, r.stdout.String())
	}
	r.mustRun("apply", "-yes")
	if r.sim.Writes() != 0 {
		t.Errorf("a second apply wrote %d times", r.sim.Writes())
	}

	// One changed attribute is one PATCH.
	r.editCSV("ben.carter@example.com", "ben.carter2@example.com")
	r.sim.ResetCounts()
	r.mustRun("apply", "-yes")
	if got := r.sim.Counts()["PATCH /org/users/{id}"]; got != 1 || r.sim.Writes() != 1 {
		t.Errorf("a changed email took %d PATCHes and %d writes, want 1", got, r.sim.Writes())
	}
}

func TestSavedPlanIsAppliedExactly(t *testing.T) {
	r := newRig(t)
	planFile := filepath.Join(r.dir, "plan.json")
	r.mustRun("plan", "-out", planFile)
	// The source changes after the plan was saved: the saved plan is still
	// what gets applied, and the change waits for the next plan.
	r.editCSV("Ben,Carter", "Benjamin,Carter")
	r.mustRun("apply", planFile)
	for _, u := range r.sim.Users() {
		if u.Forename == "Benjamin" {
			t.Error("apply of a saved plan applied a change made after the plan")
		}
	}
	p := r.planJSON()
	if s := p.Summary; s.Changes() != 1 || s.Update != 1 {
		t.Errorf("after the saved plan, the next plan is %+v, want one update", p.Summary)
	}
}

func TestStaleSavedPlanIsRefused(t *testing.T) {
	r := newRig(t)
	r.mustRun("apply", "-yes")
	r.editCSV("ben.carter@example.com", "ben.c@example.com")
	planFile := filepath.Join(r.dir, "plan.json")
	r.mustRun("plan", "-out", planFile)

	// Someone changes Ben on the platform after the plan was made.
	c, err := evaluagent.New(evaluagent.Config{BaseURL: r.url, KeyID: evaluagentsim.DemoKeyID, KeySecret: evaluagentsim.DemoKeySecret})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cur, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range cur.Users {
		if u.Username == "ben.carter@example.com" {
			u.Surname = "Carter-Smith"
			if err := c.UpdateUser(ctx, u.ID, u, []reconcile.Field{reconcile.FieldSurname}); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.sim.ResetCounts()
	if code := r.run("apply", planFile); code != 1 {
		t.Fatalf("stale plan: exit %d, want 1", code)
	}
	if !strings.Contains(r.stderr.String(), "stale") || !strings.Contains(r.stderr.String(), "ben.c@example.com") {
		t.Errorf("stale plan error does not say what changed:\n%s", r.stderr.String())
	}
	if r.sim.Writes() != 0 {
		t.Errorf("a stale plan wrote %d times", r.sim.Writes())
	}
}

func TestBadCSVIsRejectedWithFileAndLine(t *testing.T) {
	r := newRig(t)
	r.editCSV("E1003,Chloe", "E1003,\"Chloe")
	if code := r.run("plan"); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(r.stderr.String(), "people.csv:4") {
		t.Errorf("error does not name people.csv:4:\n%s", r.stderr.String())
	}
	if r.stdout.Len() != 0 {
		t.Errorf("a plan was printed from a bad CSV:\n%s", r.stdout.String())
	}
}

func TestApplyWithoutConfirmationIsRefused(t *testing.T) {
	r := newRig(t)
	if code := r.run("apply"); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(r.stderr.String(), "-yes") {
		t.Errorf("refusal does not say how to confirm:\n%s", r.stderr.String())
	}
	if r.sim.Writes() != 0 {
		t.Errorf("unconfirmed apply wrote %d times", r.sim.Writes())
	}
}

func TestUsage(t *testing.T) {
	r := newRig(t)
	if code := r.run("frobnicate"); code != exitUsage || !strings.Contains(r.stderr.String(), "unknown command") {
		t.Errorf("unknown command: exit %d, stderr %q", code, r.stderr.String())
	}
	if code := r.run("plan", "-h"); code != 0 || !strings.Contains(r.stderr.String(), "-detailed-exitcode") {
		t.Errorf("plan -h: exit %d, stderr %q", code, r.stderr.String())
	}
	if code := r.run("plan", "-format", "yaml"); code != exitUsage || !strings.Contains(r.stderr.String(), "want text, json or markdown") {
		t.Errorf("bad format: exit %d, stderr %q", code, r.stderr.String())
	}
}

func TestDemoScenarios(t *testing.T) {
	for _, tc := range []struct {
		scenario string
		want     []string
	}{
		{"basic", []string{"Plan: 20 to create, 1 to update", "No changes. The platform matches the sources."}},
		{"reorg", []string{
			`parent: "Glasgow" → "Leeds"`, `name: "North" → "North Star"`,
			"Calls made for the reorganisation: 7.",
			"would have made at least 21",
			"No changes. The platform matches the sources.",
		}},
	} {
		t.Run(tc.scenario, func(t *testing.T) {
			r := newRig(t)
			r.mustRun("demo", "-scenario", tc.scenario, "-testdata", filepath.Join("..", "..", "testdata"))
			for _, w := range tc.want {
				if !strings.Contains(r.stdout.String(), w) {
					t.Errorf("demo output lacks %q:\n%s", w, r.stdout.String())
				}
			}
		})
	}
}
