package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/reconcile/voki/vokisim"
)

// vokiStructureRig is the Voki demo's configuration alone, with one more
// queues: rule naming a department the tenant lacks, and the voki: block
// changed by edit.
func vokiStructureRig(t *testing.T, edit func(string) string) (*rig, *vokisim.Sim) {
	t.Helper()
	r := newRig(t)
	sim := vokisim.New(vokisim.Config{Tenants: []*vokisim.Tenant{vokisim.DefaultTenant(rigNow)}, Now: func() time.Time { return rigNow }})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo-voki", "voki.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	csv, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo-voki", "people.csv"))
	if err != nil {
		t.Fatal(err)
	}
	cfgText := strings.Replace(string(b), "  queues:\n", "  queues:\n    - name: Onboarding\n      when: {attr: team, in: [Sales]}\n", 1)
	cfgText = edit(cfgText)
	cfg := filepath.Join(r.dir, "voki.yaml")
	pw := filepath.Join(r.dir, "voki-password")
	for p, data := range map[string][]byte{cfg: []byte(cfgText), pw: []byte(vokisim.DemoPassword + "\n"), filepath.Join(r.dir, "people.csv"): csv} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r.env["ROSTERSYNC_MAPPING"] = cfg
	r.env["VOKI_BASE_URL"] = ts.URL
	r.env["VOKI_PASSWORD_FILE"] = pw
	return r, sim
}

// TestVokiStructureMirrorCreatesTheDepartmentThenItsMembers: with
// structure: mirror, plan shows the department's create before the
// additions that wait for it, apply of the saved plan makes both, and the
// next plan has nothing to do for it.
func TestVokiStructureMirrorCreatesTheDepartmentThenItsMembers(t *testing.T) {
	r, sim := vokiStructureRig(t, func(s string) string {
		return strings.Replace(s, "      memberships: exact", "      memberships: exact\n      structure: mirror", 1)
	})
	planFile := filepath.Join(r.dir, "plan.json")
	r.mustRun("plan", "-out", planFile)
	out := r.stdout.String()
	for _, want := range []string{`+ create queue "Onboarding"`, `after: create queue "Onboarding"`} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	r.mustRun("apply", planFile)
	var onboarding *vokisim.Department
	for _, d := range sim.Tenant(vokisim.DemoTenant).Departments {
		if d.Name == "Onboarding" {
			onboarding = d
		}
	}
	if onboarding == nil {
		t.Fatalf("apply created no Onboarding department:\n%s%s", r.stdout.String(), r.stderr.String())
	}
	names := map[string]bool{}
	for _, id := range onboarding.Members {
		for _, u := range sim.Tenant(vokisim.DemoTenant).Users {
			if u.ID == id {
				names[u.Email] = true
			}
		}
	}
	if len(names) != 2 || !names["ana.souza@acme.example"] || !names["bruno.lima@acme.example"] {
		t.Errorf("Onboarding's members are %v, want the two Sales attendants", names)
	}
	r.mustRun("plan")
	if strings.Contains(r.stdout.String(), `queue "Onboarding"`) {
		t.Errorf("the plan after the apply still changes Onboarding:\n%s", r.stdout.String())
	}
}

// TestVokiStructureOffNamesTheSetting: by default the missing department
// is a plan problem that names the setting, and nothing is created.
func TestVokiStructureOffNamesTheSetting(t *testing.T) {
	r, sim := vokiStructureRig(t, func(s string) string { return s })
	r.run("plan")
	if want := "voki.structure is off: create the department in Voki, or set it to mirror"; !strings.Contains(r.stdout.String(), want) {
		t.Errorf("plan does not name the setting %q:\n%s%s", want, r.stdout.String(), r.stderr.String())
	}
	r.run("apply", "-yes")
	for _, d := range sim.Tenant(vokisim.DemoTenant).Departments {
		if d.Name == "Onboarding" {
			t.Fatal("a department was created with structure off")
		}
	}
}

// TestVokiStructureMirrorSavedPlanIsStaleOnceTheDepartmentExists: a saved
// plan that creates a department is refused when one of that name appeared
// since, and nothing is sent.
func TestVokiStructureMirrorSavedPlanIsStaleOnceTheDepartmentExists(t *testing.T) {
	r, sim := vokiStructureRig(t, func(s string) string {
		return strings.Replace(s, "      memberships: exact", "      memberships: exact\n      structure: mirror", 1)
	})
	planFile := filepath.Join(r.dir, "plan.json")
	r.mustRun("plan", "-out", planFile)
	tenant := sim.Tenant(vokisim.DemoTenant)
	tenant.Departments = append(tenant.Departments, &vokisim.Department{ID: "d0000000-0000-4000-8000-0000000000ff", Name: "onboarding", Identifier: "onboarding", Active: true})
	if code := r.run("apply", planFile); code != 1 {
		t.Fatalf("apply of a stale plan: exit %d, want 1\n%s%s", code, r.stdout.String(), r.stderr.String())
	}
	if want := `queue "Onboarding" now exists`; !strings.Contains(r.stderr.String()+r.stdout.String(), want) {
		t.Errorf("the refusal does not say %q:\n%s", want, r.stderr.String())
	}
	if n := len(tenant.Departments); n != 3 {
		t.Errorf("%d departments after a refused apply, want 3 (nothing created)", n)
	}
}
