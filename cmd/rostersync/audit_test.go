package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"

	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
	"github.com/rostersync/rostersync/reconcile/voki"
	"github.com/rostersync/rostersync/reconcile/voki/vokisim"
)

// rigNow is the rig's clock (see rig.run).
var rigNow = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// newVokiRig is the Voki demo's configuration, plus the rig's Evaluagent
// target, against both simulators over HTTP; the Voki tenant is seeded as
// of the rig's clock.
func newVokiRig(t *testing.T) (*rig, *vokisim.Sim) {
	t.Helper()
	// On Evaluagent, an agent no source knows has a published evaluation.
	r := newRig(t, func(c *evaluagentsim.Config) {
		seed := evaluagentsim.DefaultSeed()
		seed.Users = append(seed.Users, evaluagentsim.SeedUser{ID: "44444444-4444-4444-8444-444444444444", Forename: "Lou", Surname: "Left",
			Username: "lou.left@acme.example", Email: "lou.left@acme.example", Roles: []string{"agent"}, Team: "Test Team 1"})
		seed.Evaluations = []evaluagentsim.SeedEvaluation{{Reference: "EV-1", Score: 72, PublishedAt: rigNow.AddDate(0, 0, -3).Format(time.RFC3339), Agent: "lou.left@acme.example"}}
		c.Seed = seed
	})
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
	// Both platforms: the Evaluagent target from the environment, too.
	cfgText := strings.Replace(string(b), "targets:\n", "targets:\n  - name: evaluagent\n    type: evaluagent\n    adopt: true\n    mapping:\n      roles:\n        attr: role\n        values: {Attendant: agent, Supervisor: team_leader}\n", 1)
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

// TestAuditGolden audits both platforms before and after a sync with a
// leaver, in every format: text, JSON and Markdown are golden.
func TestAuditGolden(t *testing.T) {
	r, _ := newVokiRig(t)
	got := map[string]string{}
	audit := func(name string, args ...string) {
		t.Helper()
		code := r.run(append([]string{"audit"}, args...)...)
		if code != 0 && code != exitChanges {
			t.Fatalf("audit %v: exit %d\n%s", args, code, r.stderr.String())
		}
		got[name] = uuid.ReplaceAllString(r.stdout.String(), "<uuid>")
	}
	audit("before.txt")
	// A sync, then Carla leaves and Sam becomes an attendant, before the
	// next sync: the audit names Carla on both platforms, Sam's role drift,
	// and Gus's ratings on Voki.
	r.mustRun("apply", "-yes")
	r.editCSV("carla.dias@acme.example,active,", "carla.dias@acme.example,leaver,")
	r.editCSV("sam.supervisor@acme.example,active,Supervisor", "sam.supervisor@acme.example,active,Attendant")
	audit("leaver.txt")
	audit("leaver.json", "-format", "json")
	audit("leaver.md", "-format", "markdown")
	names := []string{"before.txt", "leaver.txt", "leaver.json", "leaver.md"}
	path := filepath.Join("testdata", "audit-voki.txtar")
	if *updateGolden {
		a := &txtar.Archive{Comment: []byte("rostersync audit over the Voki demo and the Evaluagent simulator.\nRegenerate with: go test ./cmd/rostersync -run TestAuditGolden -update\n")}
		for _, n := range names {
			a.Files = append(a.Files, txtar.File{Name: n, Data: []byte(got[n])})
		}
		if err := os.WriteFile(path, txtar.Format(a), 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		a, err := txtar.ParseFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range a.Files {
			if d := cmp.Diff(string(f.Data), got[f.Name]); d != "" {
				t.Errorf("%s: section %s (-want +got):\n%s", path, f.Name, d)
			}
		}
	}
	var rep struct {
		Findings int `json:"findings"`
		Targets  []struct {
			Target   string `json:"target"`
			Inactive []struct {
				Email string `json:"email"`
			} `json:"inactive_in_directory"`
			Results []struct {
				Email     string `json:"email"`
				Directory string `json:"directory"`
				Count     int    `json:"count"`
			} `json:"results"`
		} `json:"targets"`
	}
	if err := json.Unmarshal([]byte(got["leaver.json"]), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Targets) != 2 || rep.Targets[1].Target != "voki" {
		t.Fatalf("the audit covers %d targets, want evaluagent and voki", len(rep.Targets))
	}
	v := rep.Targets[1]
	if len(v.Inactive) != 1 || v.Inactive[0].Email != "carla.dias@acme.example" {
		t.Errorf("inactive in the directory, active on Voki: %+v, want carla.dias@acme.example", v.Inactive)
	}
	if len(v.Results) != 1 || v.Results[0].Email != "ghost@acme.example" || v.Results[0].Count != 3 || v.Results[0].Directory != "unknown" {
		t.Errorf("ratings of people the directory does not know: %+v, want ghost@acme.example's 3", v.Results)
	}
}

func TestAuditDetailedExitcodeAndWritesNothing(t *testing.T) {
	r, sim := newVokiRig(t)
	before := len(sim.Tenant(vokisim.DemoTenant).Users)
	if code := r.run("audit", "-detailed-exitcode"); code != exitChanges {
		t.Fatalf("audit -detailed-exitcode with findings: exit %d, want %d\n%s", code, exitChanges, r.stderr.String())
	}
	if !strings.Contains(r.stderr.String(), "Findings: ") {
		t.Errorf("standard error does not count the findings: %s", r.stderr.String())
	}
	if r.sim.Writes() != 0 || len(sim.Tenant(vokisim.DemoTenant).Users) != before {
		t.Error("the audit wrote to a platform")
	}
	if code := r.run("audit", "-format", "yaml"); code != exitUsage {
		t.Errorf("audit -format yaml: exit %d, want %d", code, exitUsage)
	}
}

// TestDemoVoki runs the Voki demo end to end.
func TestDemoVoki(t *testing.T) {
	r := newRig(t)
	r.mustRun("demo", "-scenario", "voki", "-testdata", filepath.Join("..", "..", "testdata"))
	out := r.stdout.String()
	for _, want := range []string{
		"+ create user \"ana.souza@acme.example\"",
		"agents-: \"bruno.lima@acme.example\"",
		"- deactivate user \"carla.dias@acme.example\"",
		"3 customer ratings, average 3.67 credited to ghost@acme.example (Gus Ghost)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q\n%s", want, out)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestSimulatorVoki serves the Voki simulator through the CLI and signs in
// to it with what it prints.
func TestSimulatorVoki(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"simulator", "-platform", "voki", "-listen", "127.0.0.1:0"}, &cli{
			stdin: strings.NewReader(""), stdout: &out, stderr: &errOut,
			lookupEnv: func(string) (string, bool) { return "", false }, now: time.Now,
		})
	}()
	base := regexp.MustCompile(`base URL: +(http://\S+)`)
	deadline := time.Now().Add(30 * time.Second)
	for !base.MatchString(out.String()) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("the simulator printed no base URL:\n%s\n%s", out.String(), errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	c, err := voki.New(voki.Config{BaseURL: base.FindStringSubmatch(out.String())[1], Tenant: vokisim.DemoTenant, Email: vokisim.DemoEmail, Password: vokisim.DemoPassword})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Errorf("signing in with the printed settings: %v", err)
	}
	for _, want := range []string{"tenant:        " + vokisim.DemoTenant, "password:      " + vokisim.DemoPassword} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the simulator does not print %q:\n%s", want, out.String())
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("simulator exit %d after a stop:\n%s", code, errOut.String())
	}
}
