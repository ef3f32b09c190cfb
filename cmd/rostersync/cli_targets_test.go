package main

import (
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/agentiq/agentiqsim"
)

// newTwoRig is the demo's two-platforms configuration against both
// simulators over HTTP.
func newTwoRig(t *testing.T) (*rig, *agentiqsim.Server) {
	t.Helper()
	r := newRig(t)
	aiq, err := agentiqsim.New(agentiqsim.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(aiq)
	t.Cleanup(ts.Close)
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo", "two-platforms.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(r.dir, "two-platforms.yaml")
	key := filepath.Join(r.dir, "aiq-key")
	for p, data := range map[string][]byte{cfg: b, key: []byte(agentiqsim.DemoAPIKey + "\n")} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r.env["ROSTERSYNC_MAPPING"] = cfg
	r.env["AGENTIQ_BASE_URL"] = ts.URL
	r.env["AGENTIQ_API_KEY_FILE"] = key
	return r, aiq
}

func (r *rig) plansJSON() []*reconcile.Plan {
	r.t.Helper()
	r.mustRun("plan", "-format", "json")
	ps, err := reconcile.DecodePlans(r.stdout.Bytes())
	if err != nil {
		r.t.Fatalf("%v\n%s", err, r.stdout.String())
	}
	if len(ps) != 2 || ps[0].Target != "evaluagent" || ps[1].Target != "agentiq" {
		r.t.Fatalf("plans for %d targets, want evaluagent then agentiq", len(ps))
	}
	if !strings.HasPrefix(r.stdout.String(), "{\n  \"format_version\": 1,\n  \"targets\": [") {
		r.t.Errorf("JSON for two targets is not a plan set:\n%.200s", r.stdout.String())
	}
	return ps
}

func TestTwoTargetsConverge(t *testing.T) {
	r, aiq := newTwoRig(t)
	ps := r.plansJSON()
	if r.sim.Writes()+aiq.Writes() != 0 {
		t.Fatal("plan wrote to a platform")
	}
	if s := ps[1].Summary; s.Create != 9 || s.Changes() != 9 || ps[1].Requests["import users"] != 1 {
		t.Errorf("agentiq plan %+v requests %v, want 9 creates in one upload", s, ps[1].Requests)
	}
	for _, op := range ps[1].Ops {
		if op.Kind != reconcile.KindUser {
			t.Errorf("a %s op for Agent IQ", op.Kind)
		}
	}
	r.mustRun("plan")
	for _, h := range []string{"rostersync plan for evaluagent,", "rostersync plan for agentiq,"} {
		if !strings.Contains(r.stdout.String(), h) {
			t.Errorf("text plan lacks the heading %q", h)
		}
	}
	r.mustRun("apply", "-yes")
	if aiq.Writes() != 1 || aiq.RowsReceived() != 9 {
		t.Errorf("Agent IQ got %d uploads with %d rows, want one with 9", aiq.Writes(), aiq.RowsReceived())
	}
	if !strings.Contains(r.stdout.String(), "Apply complete for agentiq: 9 applied") {
		t.Errorf("apply output:\n%s", r.stdout.String())
	}
	teams := map[string]bool{}
	for _, a := range aiq.Agents() {
		teams[strings.Join(a.Teams, ",")] = true
		if a.Email == "grace.hughes@example.com" {
			t.Error("Sales is out of the agentiq target's scope but was synced")
		}
	}
	if !teams["North"] || !teams["Saves"] || len(teams) != 3 {
		t.Errorf("Agent IQ teams %v, want the leaf team names North, South, Saves", teams)
	}
	r.sim.ResetCounts()
	aiq.ResetCounts()
	if code := r.run("plan", "-detailed-exitcode"); code != 0 {
		t.Fatalf("second plan: exit %d, want 0\n%s", code, r.stdout.String())
	}
	if r.sim.Writes()+aiq.Writes() != 0 {
		t.Error("the second plan wrote")
	}
}

func TestTwoTargetsLeaver(t *testing.T) {
	r, aiq := newTwoRig(t)
	r.mustRun("apply", "-yes")
	uploads, rows := aiq.Writes(), aiq.RowsReceived()
	r.editCSV("ben.carter@example.com,2021-06-14,active", "ben.carter@example.com,2021-06-14,leaver")
	ps := r.plansJSON()
	ea, iq := ps[0], ps[1]
	// Evaluagent takes Ben off his work queue, then deactivates him.
	if ea.Summary.Deactivate != 1 {
		t.Errorf("evaluagent plan %+v, want one deactivation", ea.Summary)
	}
	for _, op := range ea.Ops {
		if op.Action != reconcile.ActionDeactivate && op.Kind != reconcile.KindQueue {
			t.Errorf("evaluagent plans %s %s %q for a leaver", op.Action, op.Kind, op.Name)
		}
	}
	if iq.Summary.Unsupported != 1 || iq.Summary.Changes() != 0 || len(iq.Ops) != 1 {
		t.Fatalf("agentiq plan %+v, want one unsupported op and nothing to apply", iq.Summary)
	}
	op := iq.Ops[0]
	if op.Action != reconcile.ActionDeactivate || op.Status != reconcile.StatusUnsupported || op.Name != "ben.carter@example.com" ||
		!strings.Contains(op.Reason, "cannot be applied on Agent IQ: Agent IQ API offers no deactivation") {
		t.Errorf("agentiq op %+v", op)
	}
	r.mustRun("plan")
	if !strings.Contains(r.stdout.String(), "# deactivate user \"ben.carter@example.com\"") ||
		!strings.Contains(r.stdout.String(), "1 not supported by the target") {
		t.Errorf("text plan does not show the unsupported op:\n%s", r.stdout.String())
	}
	if !strings.Contains(r.stderr.String(), "unsupported=1") {
		t.Errorf("no warning counts the unsupported op:\n%s", r.stderr.String())
	}
	r.mustRun("apply", "-yes")
	if aiq.Writes() != uploads || aiq.RowsReceived() != rows {
		t.Errorf("something was sent to Agent IQ for the leaver: %d uploads, %d rows", aiq.Writes()-uploads, aiq.RowsReceived()-rows)
	}
	for _, u := range r.sim.Users() {
		if u.Username == "ben.carter@example.com" && u.Active {
			t.Error("Ben is still active on Evaluagent")
		}
	}
	for _, a := range aiq.Agents() {
		if a.Email == "ben.carter@example.com" && a.DeactivatedAt != nil {
			t.Error("Ben was deactivated on Agent IQ, which its API cannot do")
		}
	}
	if code := r.run("plan", "-detailed-exitcode"); code != 0 {
		t.Errorf("plan after the leaver: exit %d, want 0 (the unsupported op is not a change)\n%s", code, r.stdout.String())
	}
}

func TestTwoTargetsSavedPlan(t *testing.T) {
	r, aiq := newTwoRig(t)
	planFile := filepath.Join(r.dir, "plan.json")
	r.mustRun("plan", "-out", planFile)
	r.mustRun("apply", planFile)
	if aiq.Writes() != 1 || r.sim.Writes() == 0 {
		t.Fatalf("the saved plan was not applied to both: %d uploads, %d Evaluagent writes", aiq.Writes(), r.sim.Writes())
	}
	// A plan that changes Ben's surname on both, then Agent IQ deactivates
	// Ben in its own interface: the whole saved plan is refused.
	r.editCSV("Ben,Carter", "Ben,Carter-Jones")
	r.mustRun("plan", "-out", planFile)
	for _, a := range aiq.Agents() {
		if a.Email == "ben.carter@example.com" {
			now := time.Now()
			if err := aiq.SetDeactivated(a.ID, &now); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.sim.ResetCounts()
	aiq.ResetCounts()
	if code := r.run("apply", planFile); code != 1 {
		t.Fatalf("stale saved plan: exit %d, want 1", code)
	}
	if !strings.Contains(r.stderr.String(), "target agentiq") || !strings.Contains(r.stderr.String(), "stale") {
		t.Errorf("the refusal does not name the stale target:\n%s", r.stderr.String())
	}
	if r.sim.Writes()+aiq.Writes() != 0 {
		t.Error("a stale saved plan wrote to a platform")
	}
	// A saved plan for a target this configuration lacks is refused.
	r.env["ROSTERSYNC_MAPPING"] = filepath.Join(r.dir, "mapping.yaml")
	if code := r.run("apply", planFile); code != 1 || !strings.Contains(r.stderr.String(), `target "agentiq"`) {
		t.Errorf("a plan for an unknown target: exit %d\n%s", code, r.stderr.String())
	}
}

func TestDemoTwoPlatforms(t *testing.T) {
	r := newRig(t)
	r.mustRun("demo", "-scenario", "two-platforms", "-testdata", filepath.Join("..", "..", "testdata"))
	out := r.stdout.String()
	for _, want := range []string{
		"Apply complete for agentiq: 9 applied",
		"Agent IQ 1 uploads (9 rows)",
		"- deactivate user \"ben.carter@example.com\"",
		"# deactivate user \"ben.carter@example.com\"",
		"Apply complete for agentiq: 0 applied, 0 failed, 0 skipped, 1 not applicable.",
		"POST /api/imports/users",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if i := strings.Index(out, "== 3."); i < 0 || strings.Count(out[i:strings.Index(out, "== 4.")], "No changes.") != 2 {
		t.Error("the second plan is not empty for both platforms")
	}
	if code := r.run("demo", "-scenario", "three"); code != 1 || !slices.ContainsFunc(strings.Split(r.stderr.String(), "\n"), func(l string) bool { return strings.Contains(l, "unknown scenario") }) {
		t.Errorf("unknown scenario: exit %d, %s", code, r.stderr.String())
	}
}

func TestExplainWithTwoTargets(t *testing.T) {
	r, _ := newTwoRig(t)
	if code := r.run("explain", "ben.carter@example.com"); code != 1 || !strings.Contains(r.stderr.String(), "name one with -target") {
		t.Fatalf("explain without -target: exit %d, stderr %q", code, r.stderr.String())
	}
	if code := r.run("explain", "-target", "nowhere", "ben.carter@example.com"); code != 1 || !strings.Contains(r.stderr.String(), `no target "nowhere"`) {
		t.Fatalf("explain -target nowhere: exit %d, stderr %q", code, r.stderr.String())
	}
	for _, name := range []string{"evaluagent", "agentiq"} {
		r.mustRun("explain", "-target", name, "ben.carter@example.com")
		if out := r.stdout.String(); !strings.Contains(out, "E1002") || !strings.Contains(out, "create") {
			t.Errorf("explain -target %s:\n%s", name, out)
		}
	}
	if r.sim.Writes() != 0 {
		t.Errorf("explain wrote %d times to Evaluagent", r.sim.Writes())
	}
}

// TestTargetSecretRequired: a target whose secret file is neither set nor
// given as a systemd credential is refused, naming the setting and the
// credential; a set file is read.
func TestTargetSecretRequired(t *testing.T) {
	for _, c := range []struct{ kind, setting, credential string }{
		{"agentiq", "api_key_file", "agentiq-api-key"},
		{"flex", "secret_file", "flex-secret"},
		{"voki", "password_file", "voki-password"},
	} {
		_, err := readTargetSecret(c.kind, c.setting, "", c.credential, slog.New(slog.DiscardHandler))
		want := c.kind + ": " + c.setting + " is required (or run under systemd with LoadCredential=" + c.credential + ":…)"
		if err == nil || err.Error() != want {
			t.Errorf("%s without a secret: %v, want %q", c.kind, err, want)
		}
	}
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := readTargetSecret("flex", "secret_file", path, "flex-secret", slog.New(slog.DiscardHandler)); err != nil || got != "s3cret" {
		t.Errorf("read %q, %v; want s3cret", got, err)
	}
}
