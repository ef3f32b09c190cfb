package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/samber/lo"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
)

// resign writes plans to path with a MAC made with the state directory's
// own key, as someone who can read the state directory could: what the
// MAC cannot stop, re-judging must.
func (r *rig) resign(path string, plans []*reconcile.Plan) {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.env["ROSTERSYNC_STATE_DIR"], planKeyFile))
	if err != nil {
		r.t.Fatal(err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		r.t.Fatal(err)
	}
	out, err := reconcile.SignPlans(plans, key)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		r.t.Fatal(err)
	}
}

func readPlanFile(t *testing.T, path string) *reconcile.Plan {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := reconcile.DecodePlans(b)
	if err != nil || len(ps) != 1 {
		t.Fatalf("%s: %v", path, err)
	}
	return ps[0]
}

// TestEditedSavedPlanIsRefused: flipping "status": "held" to "" in a saved
// plan, or adding by hand the deactivation of a user rostersync does not
// own, is refused, whether the file's MAC was left alone or forged with the
// state directory's key; nothing is written.
func TestEditedSavedPlanIsRefused(t *testing.T) {
	r := newRig(t)
	r.env["ROSTERSYNC_HOLD_DEACTIVATIONS_OVER"] = "0" // every removal is held
	r.mustRun("apply", "-yes")
	r.leave("E1002")
	planFile := filepath.Join(r.dir, "plan.json")
	r.mustRun("plan", "-format", "json", "-out", planFile)
	if fi, err := os.Stat(filepath.Join(r.env["ROSTERSYNC_STATE_DIR"], planKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("plan key: %v, %v; want a 0600 file", fi, err)
	}
	orig, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(orig, []byte(`"status": "held"`)) || !bytes.Contains(orig, []byte(`"mac": "`)) {
		t.Fatalf("the saved plan holds nothing or carries no MAC:\n%s", orig)
	}

	refused := func(name, want string) {
		t.Helper()
		r.sim.ResetCounts()
		if code := r.run("apply", planFile); code != 1 {
			t.Errorf("%s: apply exit %d, want 1\n%s", name, code, r.stderr.String())
		}
		if !strings.Contains(r.stderr.String(), want) || !strings.Contains(r.stderr.String(), "nothing was written") {
			t.Errorf("%s: stderr does not say %q and that nothing was written:\n%s", name, want, r.stderr.String())
		}
		if w := r.sim.Writes(); w != 0 {
			t.Errorf("%s: %d writes reached the platform", name, w)
		}
		if act := r.active(); !act["ben.carter@example.com"] || !act["someone.else@example.com"] && name != "held flipped" && name != "held flipped, MAC forged" {
			t.Errorf("%s: someone was deactivated: %v", name, act)
		}
	}

	// 1. The status flipped by hand: the MAC no longer matches.
	if err := os.WriteFile(planFile, bytes.Replace(orig, []byte(`"status": "held"`), []byte(`"status": ""`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	refused("held flipped", "was edited")

	// 2. The same with a MAC forged from the state directory's key: the
	// current pass holds it, and approval never comes from the file.
	p := readPlanFile(t, planFile)
	for i := range p.Ops {
		p.Ops[i].Status = reconcile.StatusReady
	}
	r.resign(planFile, []*reconcile.Plan{p})
	refused("held flipped, MAC forged", "held in the current pass")

	// 3. A deactivation of a platform user rostersync never owned, added
	// by hand (MAC forged).
	c, err := evaluagent.New(evaluagent.Config{BaseURL: r.url, KeyID: evaluagentsim.DemoKeyID, KeySecret: evaluagentsim.DemoKeySecret})
	if err != nil {
		t.Fatal(err)
	}
	qa := reconcile.User{Username: "someone.else@example.com", Forename: "Some", Surname: "One", Active: true, Roles: reconcile.NamesOf("quality_analyst")}
	if qa.ID, err = c.CreateUser(t.Context(), qa); err != nil {
		t.Fatal(err)
	}
	cur, err := c.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	fp := ""
	for i := range cur.Users {
		if cur.Users[i].ID == qa.ID {
			fp = reconcile.Fingerprint(&cur.Users[i]) // as fresh as a plan would make it
		}
	}
	p = readPlanFile(t, planFile)
	p.Ops = []reconcile.Op{{Action: reconcile.ActionDeactivate, Kind: reconcile.KindUser, Key: "QA", ID: qa.ID, Name: qa.Username,
		Fields: []reconcile.Field{reconcile.FieldActive}, Reason: "no longer in source", Fingerprint: fp}}
	r.resign(planFile, []*reconcile.Plan{p})
	refused("unowned deactivation added", "does not plan it")

	// 4. A file with no MAC at all.
	p.MAC = ""
	b, _ := json.Marshal(p)
	if err := os.WriteFile(planFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	refused("no MAC", "carries no MAC")
}

// TestSavedPlanIsAPass: 'plan -out' then 'apply FILE' counts towards the
// absence debounce and records holds, as 'apply -yes' does.
func TestSavedPlanIsAPass(t *testing.T) {
	r := newRig(t)
	r.env["ROSTERSYNC_ABSENT_PASSES"] = "2"
	r.mustRunAt(rigStart, "apply", "-yes")
	r.leave("E1002")
	planFile := filepath.Join(r.dir, "plan.json")
	at := func(h int) time.Time { return rigStart.Add(time.Duration(h) * time.Hour) }

	r.mustRunAt(at(1), "plan", "-out", planFile)
	if !strings.Contains(r.stdout.String(), "missing from 1 of the 2") {
		t.Fatalf("first pass: Ben's deactivation should wait:\n%s", r.stdout.String())
	}
	r.mustRunAt(at(1), "apply", planFile)
	r.mustRunAt(at(2), "plan", "-out", planFile)
	if !strings.Contains(r.stdout.String(), `- deactivate user "ben.carter@example.com"`) {
		t.Fatalf("after one applied saved plan, the second pass should deactivate Ben:\n%s", r.stdout.String())
	}
	r.mustRunAt(at(2), "apply", planFile)
	if r.active()["ben.carter@example.com"] {
		t.Error("Ben is still active after two saved plans were applied")
	}

	// Holds: a saved plan applied records what the pass holds.
	r.env["ROSTERSYNC_HOLD_DEACTIVATIONS_OVER"] = "0"
	r.env["ROSTERSYNC_ABSENT_PASSES"] = "1"
	r.leave("E1003")
	r.mustRunAt(at(3), "plan", "-out", planFile)
	if len(r.heldIDs()) != 0 {
		t.Fatal("a dry run recorded a hold")
	}
	r.mustRunAt(at(3), "apply", planFile)
	if h := r.heldIDs(); len(h) != 1 || !strings.Contains(h["E1003"], "pending") {
		t.Errorf("holds after applying the saved plan: %v, want E1003 pending", h)
	}
	if !r.active()["chloe.davies@example.com"] {
		t.Error("a held deactivation was applied")
	}
}

// TestDetailedExitCode: 0 only when nothing is pending at all; 2 when
// anything is held (or to do, waiting, suppressed, unmappable), saying
// which; a usage error is never 2.
func TestDetailedExitCode(t *testing.T) {
	r := newRig(t)
	r.env["ROSTERSYNC_HOLD_DEACTIVATIONS_OVER"] = "0"
	if code := r.run("plan", "-detailed-exitcode"); code != exitChanges || !strings.Contains(r.stderr.String(), "Pending: 21 to do") {
		t.Errorf("changes: exit %d, stderr %q", code, r.stderr.String())
	}
	r.mustRun("apply", "-yes")
	r.mustRun("plan", "-detailed-exitcode")
	r.leave("E1002")
	r.mustRun("apply", "-yes") // holds Ben's deactivation
	if code := r.run("plan", "-detailed-exitcode"); code != exitChanges || !strings.Contains(r.stderr.String(), "1 held for approval") ||
		strings.Contains(r.stderr.String(), "to do") {
		t.Errorf("only a hold pending: exit %d, stderr %q; want 2 naming the hold", code, r.stderr.String())
	}
	r.leave("E1003")
	r.editRow("E1003", func(f []string) []string { f[1] = ""; f[5] = "active"; return f }) // no forename: unmappable
	if code := r.run("plan", "-detailed-exitcode"); code != exitChanges || !strings.Contains(r.stderr.String(), "unmappable") {
		t.Errorf("an unmappable person: exit %d, stderr %q", code, r.stderr.String())
	}
	if code := r.run("plan", "-detailed-exitcod"); code == exitChanges || code != exitUsage {
		t.Errorf("a mistyped flag: exit %d, want %d", code, exitUsage)
	}
}

// TestFailedReactivationSkipsItsQueueAddition: with every licence seat
// taken, Ben's reactivation is refused; the queue addition that needs it is
// skipped, never sent (no 422 "only active users can be assigned"), and a
// removal from the same template in the same pass still goes.
func TestFailedReactivationSkipsItsQueueAddition(t *testing.T) {
	r := newRig(t, func(c *evaluagentsim.Config) { c.Seats = 11 })
	r.mustRun("apply", "-yes")
	r.leave("E1002")
	r.mustRun("apply", "-yes")
	r.addRow("E1013,Mo,Nash,mo.nash@example.com,2026-11-20,active,Agent,Leeds,Sales,Outbound")
	r.mustRun("apply", "-yes") // every seat is taken again

	r.editRow("E1002", func(f []string) []string { f[5] = "active"; return f })
	r.editRow("E1003", func(f []string) []string { f[8], f[9] = "Sales", "Outbound"; return f })
	r.sim.ResetCounts()
	if code := r.run("apply", "-yes"); code != 1 {
		t.Fatalf("apply with no seat for Ben: exit %d, want 1\n%s", code, r.stderr.String())
	}
	if !strings.Contains(r.stdout.String(), "1 failed, 1 skipped") || !strings.Contains(r.stderr.String(), "Licence limit") {
		t.Errorf("the apply does not report the refused reactivation and the skipped addition:\n%s\n%s", r.stdout.String(), r.stderr.String())
	}
	for ep, by := range r.sim.StatusCounts() {
		if n := by[422]; n > 0 && ep != "PATCH /org/users/{id}" {
			t.Errorf("%d x 422 from %s: an op was sent before what it needs", n, ep)
		}
	}
	users := map[string]string{}
	for _, u := range r.sim.Users() {
		users[u.ID] = u.Username
	}
	for _, q := range r.sim.WorkQueueTemplates() {
		if q.Name != "Inbound Calls" {
			continue
		}
		names := lo.Map(q.AgentIDs, func(id string, _ int) string { return users[id] })
		if slices.Contains(names, "chloe.davies@example.com") {
			t.Errorf("Chloe's removal from Inbound Calls did not go with Ben's failure: %v", names)
		}
	}
}

// TestEmptiedBranchConvergesInOneApply: everyone in Glasgow leaves; the
// site, its department and its team go in the one apply, each after what
// it needs, with no refusal from the platform, and nothing is left.
func TestEmptiedBranchConvergesInOneApply(t *testing.T) {
	r := newRig(t)
	r.mustRun("apply", "-yes")
	r.env["ROSTERSYNC_MAX_DROP"] = "1" // a third of the export goes at once
	r.editMapping("min_rows: 10", "min_rows: 0")
	r.dropRows("E1009", "E1010", "E1011", "E1012")
	r.sim.ResetCounts()
	r.mustRun("apply", "-yes")
	for ep, by := range r.sim.StatusCounts() {
		for st, n := range by {
			if st >= 400 {
				t.Errorf("%d x %d from %s", n, st, ep)
			}
		}
	}
	for _, g := range r.sim.Groups() {
		if (g.Name == "Glasgow" || g.Name == "Retentions" || g.Name == "Saves") && g.Active {
			t.Errorf("group %s is still active after the apply", g.Name)
		}
	}
	if code := r.run("plan", "-detailed-exitcode"); code != 0 {
		t.Errorf("plan after emptying the branch: exit %d\n%s", code, r.stdout.String())
	}
}
