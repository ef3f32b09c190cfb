package main

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
)

var rigStart = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// runAt runs the CLI in-process with the clock at t.
func (r *rig) runAt(t time.Time, args ...string) int {
	r.t.Helper()
	r.stdout.Reset()
	r.stderr.Reset()
	return run(context.Background(), args, &cli{
		stdin: strings.NewReader(""), stdout: &r.stdout, stderr: &r.stderr,
		lookupEnv: func(k string) (string, bool) { v, ok := r.env[k]; return v, ok },
		now:       func() time.Time { return t },
		sleep:     r.sleep,
	})
}

func (r *rig) mustRunAt(t time.Time, args ...string) {
	r.t.Helper()
	if code := r.runAt(t, args...); code != 0 {
		r.t.Fatalf("rostersync %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, r.stdout.String(), r.stderr.String())
	}
}

// active reports the simulator's users by username: active or not.
func (r *rig) active() map[string]bool {
	out := map[string]bool{}
	for _, u := range r.sim.Users() {
		out[u.Username] = u.Active
	}
	return out
}

// leave marks people as leavers in the CSV: out of scope, so absent.
func (r *rig) leave(ids ...string) {
	r.t.Helper()
	for _, id := range ids {
		r.editRow(id, func(f []string) []string { f[5] = "leaver"; return f })
	}
}

func (r *rig) editRow(id string, fn func([]string) []string) {
	r.t.Helper()
	p := filepath.Join(r.dir, "people.csv")
	b, err := os.ReadFile(p)
	if err != nil {
		r.t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	found := false
	for i, l := range lines {
		if strings.HasPrefix(l, id+",") {
			f := strings.Split(l, ",")
			lines[i] = strings.Join(fn(f), ",")
			found = true
		}
	}
	if !found {
		r.t.Fatalf("people.csv has no row %s", id)
	}
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) dropRows(ids ...string) {
	r.t.Helper()
	p := filepath.Join(r.dir, "people.csv")
	b, err := os.ReadFile(p)
	if err != nil {
		r.t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		drop := false
		for _, id := range ids {
			drop = drop || strings.HasPrefix(l, id+",")
		}
		if !drop {
			keep = append(keep, l)
		}
	}
	if err := os.WriteFile(p, []byte(strings.Join(keep, "\n")), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rig) addRow(row string) {
	r.t.Helper()
	p := filepath.Join(r.dir, "people.csv")
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		r.t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(row + "\n"); err != nil {
		r.t.Fatal(err)
	}
}

// heldIDs reads 'held list' and returns the hold ids by source key.
func (r *rig) heldIDs(args ...string) map[string]string {
	r.t.Helper()
	r.mustRun(append([]string{"held", "list"}, args...)...)
	out := map[string]string{}
	re := regexp.MustCompile(`^(\d+)\s+(\w+)\s+\S+\s+\S+\s+\S+\s+(\S+)`)
	sc := bufio.NewScanner(strings.NewReader(r.stdout.String()))
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			out[m[3]] = m[1] + " " + m[2]
		}
	}
	return out
}

func TestThresholdHoldsRemovalsAndApproveRejectWork(t *testing.T) {
	r := newRig(t)
	r.env["ROSTERSYNC_ABSENT_PASSES"] = "1"
	r.env["ROSTERSYNC_HOLD_DEACTIVATIONS_OVER"] = "2"
	r.env["ROSTERSYNC_HOLD_DEACTIVATIONS_PERCENT"] = "-1"
	r.mustRun("apply", "-yes")

	r.leave("E1002", "E1003", "E1007")
	r.addRow("E1013,Mo,Nash,mo.nash@example.com,2026-11-20,active,Agent,Leeds,Support,North")
	r.mustRun("apply", "-yes")
	if !strings.Contains(r.stdout.String(), "held for approval") {
		t.Errorf("the plan does not say what is held and why:\n%s", r.stdout.String())
	}
	act := r.active()
	if !act["mo.nash@example.com"] {
		t.Error("the new hire was not created while removals were held")
	}
	for _, u := range []string{"ben.carter@example.com", "chloe.davies@example.com", "grace.hughes@example.com"} {
		if !act[u] {
			t.Errorf("%s was deactivated though the removals were over the limit", u)
		}
	}
	held := r.heldIDs()
	if len(held) != 3 {
		t.Fatalf("held list: %v, want 3 holds\n%s", held, r.stdout.String())
	}
	id := func(key string) string { return strings.Fields(held[key])[0] }
	r.mustRun("held", "approve", id("E1002"))
	r.mustRun("held", "reject", id("E1003"))

	r.mustRun("apply", "-yes")
	act = r.active()
	if act["ben.carter@example.com"] {
		t.Error("the approved deactivation was not applied")
	}
	if !act["chloe.davies@example.com"] || !act["grace.hughes@example.com"] {
		t.Errorf("a rejected or pending hold was applied: %v", act)
	}
	all := r.heldIDs("-all")
	want := map[string]string{"E1002": "done", "E1003": "rejected", "E1007": "pending"}
	for k, st := range want {
		if f := strings.Fields(all[k]); len(f) != 2 || f[1] != st {
			t.Errorf("hold of %s = %q, want %s\n%s", k, all[k], st, r.stdout.String())
		}
	}

	r.mustRun("held", "approve", "-all")
	r.mustRun("apply", "-yes")
	act = r.active()
	if act["grace.hughes@example.com"] || !act["chloe.davies@example.com"] {
		t.Errorf("after approve -all: grace active=%v (want false), chloe active=%v (want true)",
			act["grace.hughes@example.com"], act["chloe.davies@example.com"])
	}

	// Chloe comes back: her rejected hold is withdrawn.
	r.editRow("E1003", func(f []string) []string { f[5] = "active"; return f })
	r.mustRun("apply", "-yes")
	if _, ok := r.heldIDs("-all")["E1003"]; ok {
		t.Errorf("a hold for someone back in the source was kept:\n%s", r.stdout.String())
	}
	if code := r.run("held", "approve", "999"); code != 1 || !strings.Contains(r.stderr.String(), "999") {
		t.Errorf("approving an unknown id: exit %d, stderr %q", code, r.stderr.String())
	}
}

// TestDefaultPercentHoldHasAFloor: with the default limits, one or two
// leavers in the eleven-person demo go through (each is over 5%, but not
// over the floor of 2); three are held.
func TestDefaultPercentHoldHasAFloor(t *testing.T) {
	r := newRig(t)
	delete(r.env, "ROSTERSYNC_HOLD_DEACTIVATIONS_PERCENT") // the defaults: 5% over a floor of 2
	r.mustRun("apply", "-yes")

	r.leave("E1002", "E1003")
	r.mustRun("apply", "-yes")
	if act := r.active(); act["ben.carter@example.com"] || act["chloe.davies@example.com"] {
		t.Errorf("two leavers of eleven were held by the default percentage:\n%s", r.stdout.String())
	}
	r.leave("E1004", "E1007", "E1008")
	r.mustRun("apply", "-yes")
	if act := r.active(); !act["daniel.evans@example.com"] || !act["grace.hughes@example.com"] || !act["harry.iqbal@example.com"] {
		t.Errorf("three leavers of nine were not held:\n%s", r.stdout.String())
	}
	if out := r.stdout.String(); !strings.Contains(out, "more than 5% of the 9 active users rostersync owns") {
		t.Errorf("the plan does not say why it holds:\n%s", out)
	}
}

func TestUnhealthySourceDeactivatesNobody(t *testing.T) {
	cases := map[string]func(r *rig){
		"below min_rows": func(r *rig) { r.dropRows("E1002", "E1003", "E1004") },
		"count dropped sharply": func(r *rig) {
			r.editMapping("min_rows: 10", "min_rows: 0")
			r.dropRows("E1002", "E1003", "E1004")
		},
		"everyone gone": func(r *rig) {
			r.editMapping("min_rows: 10", "min_rows: 0")
			r.dropRows("E1001", "E1002", "E1003", "E1004", "E1005", "E1006", "E1007", "E1008", "E1009", "E1010", "E1011", "E1012")
		},
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			r.env["ROSTERSYNC_ABSENT_PASSES"] = "1"
			r.env["ROSTERSYNC_HOLD_DEACTIVATIONS_OVER"] = "-1"
			r.env["ROSTERSYNC_HOLD_DEACTIVATIONS_PERCENT"] = "-1"
			r.mustRunAt(rigStart, "apply", "-yes")
			breakIt(r)
			r.sim.ResetCounts()
			for i := range 3 { // however often it runs
				r.mustRunAt(rigStart.Add(time.Duration(i+1)*time.Hour), "apply", "-yes")
			}
			for u, a := range r.active() {
				if !a && u != "qa.admin@example.com" {
					t.Errorf("%s was deactivated from an unhealthy source", u)
				}
			}
			if n := r.sim.Counts()["DELETE /quality/work-queue-templates/{id}/agents"]; n != 0 {
				t.Errorf("%d queue removals from an unhealthy source", n)
			}
			p := r.planJSON()
			if p.Summary.Suppressed == 0 || len(p.Notes) == 0 {
				t.Errorf("the plan does not say what was suppressed and why: %+v %q", p.Summary, p.Notes)
			}
		})
	}
}

func (r *rig) editMapping(old, new string) {
	r.t.Helper()
	p := filepath.Join(r.dir, "mapping.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		r.t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		r.t.Fatalf("mapping.yaml has no %q", old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

func TestAbsenceDebounce(t *testing.T) {
	r := newRig(t)
	r.env["ROSTERSYNC_ABSENT_PASSES"] = "3"
	r.env["ROSTERSYNC_HOLD_DEACTIVATIONS_PERCENT"] = "-1"
	r.mustRunAt(rigStart, "apply", "-yes")
	const ben = "ben.carter@example.com"
	at := func(h int) time.Time { return rigStart.Add(time.Duration(h) * time.Hour) }

	r.leave("E1002")
	r.mustRunAt(at(1), "apply", "-yes")
	r.mustRunAt(at(1), "apply", "-yes") // the same pass again counts once
	r.mustRunAt(at(2), "apply", "-yes")
	if !r.active()[ben] {
		t.Fatal("deactivated after two of three passes")
	}
	// A dry run records nothing.
	r.mustRunAt(at(3), "plan")
	r.mustRunAt(at(3), "plan")
	if !strings.Contains(r.stdout.String(), "- deactivate user \"ben.carter@example.com\"") {
		t.Errorf("the third pass's plan should deactivate Ben:\n%s", r.stdout.String())
	}
	// Rejoining cancels it.
	r.editRow("E1002", func(f []string) []string { f[5] = "active"; return f })
	r.mustRunAt(at(4), "apply", "-yes")
	r.leave("E1002")
	r.mustRunAt(at(5), "apply", "-yes")
	r.mustRunAt(at(6), "apply", "-yes")
	if !r.active()[ben] {
		t.Fatal("rejoining did not restart the count")
	}
	r.mustRunAt(at(7), "apply", "-yes")
	if r.active()[ben] {
		t.Fatal("not deactivated after three consecutive passes")
	}
	p := r.planJSON()
	if !p.Empty() {
		t.Errorf("not converged: %+v", p.Summary)
	}
}

// TestExcludedRoleIsNeverTouched: a platform user holding a role that
// exclude.roles names is neither changed nor deactivated, even when
// rostersync owns it and the source drops it.
func TestExcludedRoleIsNeverTouched(t *testing.T) {
	r := newRig(t)
	r.env["ROSTERSYNC_ABSENT_PASSES"] = "1"
	r.env["ROSTERSYNC_HOLD_DEACTIVATIONS_PERCENT"] = "-1"
	r.mustRun("apply", "-yes")
	r.editMapping("usernames: [qa.admin@example.com]", "usernames: [qa.admin@example.com]\n    roles: [administrator]")

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
			u.Roles = reconcile.NamesOf("agent", "administrator")
			if err := c.UpdateUser(ctx, u.ID, u, []reconcile.Field{reconcile.FieldRoles}); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.leave("E1002", "E1003")
	r.sim.ResetCounts()
	r.mustRun("apply", "-yes")
	act := r.active()
	if !act["ben.carter@example.com"] {
		t.Error("a user holding an excluded role was deactivated")
	}
	if act["chloe.davies@example.com"] {
		t.Error("the control case, Chloe, was not deactivated")
	}
	if n := r.sim.Counts()["PATCH /org/users/{id}"]; n != 1 {
		t.Errorf("%d user PATCHes, want only Chloe's deactivation", n)
	}
	r.mustRun("explain", "ben.carter@example.com")
	if !strings.Contains(r.stdout.String(), "never touches them") {
		t.Errorf("explain does not say Ben is excluded:\n%s", r.stdout.String())
	}
}
