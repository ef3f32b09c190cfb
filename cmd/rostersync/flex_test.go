package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/reconcile/flex/flexsim"
)

// TestDemoFlex runs the Flex demo through the CLI: adoption with Insights
// attributes, a reorganisation written as minimal attribute changes, a
// leaver reported (nothing sent) and then deprovisioned, the team tree
// mirrored into Flex Teams, and an empty plan after every apply.
func TestDemoFlex(t *testing.T) {
	r := newRig(t)
	r.mustRun("demo", "-scenario", "flex", "-testdata", filepath.Join("..", "..", "testdata"))
	out := r.stdout.String()
	for _, want := range []string{
		"Apply complete for flex: 20 applied", // 11 people and 9 Flex Teams
		`+ create team "Support" [Leeds / Support]`,
		"Flex Teams: Chloe in North; Amira, a team leader, in North (owner of North)",
		"Flex Teams: Harry in Saves, Chloe in South",
		`attributes.team_name: "North (set by hand)" → "North"`,
		`attributes.manager: "Amira Khan" → "Daniel Evans"`,
		`attributes.team_name_in_hierarchy: "Leeds ▸ Sales ▸ Outbound" → "Glasgow ▸ Retentions ▸ Saves"`,
		"Harry's worker now: team_name_in_hierarchy=Glasgow ▸ Retentions ▸ Saves, department_name=Retentions, location=Glasgow, manager=Isla Johnston, channel.voice.capacity=1",
		`deactivation is turned off (deprovision: report)`,
		"Apply complete for flex: 0 applied, 0 failed, 0 skipped, 1 not applicable.",
		"ben.carter@example.com is deactivated in Flex",
		"Insights QM calls: 0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	for _, step := range []string{"== 1.", "== 2.", "== 4."} {
		i := strings.Index(out, step)
		rest := out[i:]
		end := strings.Index(rest[1:], "\n== ")
		if end < 0 {
			end = len(rest) - 1
		}
		again := rest[strings.Index(rest, "-- plan again:"):end]
		if strings.Count(again, "No changes.") != 2 {
			t.Errorf("after step %s the plan is not empty for both platforms:\n%s", step, again)
		}
	}
	if !strings.Contains(out, `note: audit: Flex user "contractor@example.com" (roles agent) is known to no source`) {
		t.Error("the audit does not name the Flex user no source knows")
	}
	if regexp.MustCompile(`(create|update|adopt|deactivate) user "contractor@`).MatchString(out) {
		t.Error("an operation was planned for the Flex user no source knows")
	}
	if !strings.Contains(out, `note: audit: "liam.macleod@example.com" has Insights roles []; the directory's QA roles call for [wfo.quality_manager]`) {
		t.Error("the audit does not report the missing Insights role")
	}
}

// flexRig is the rig with the Flex demo's configuration: Evaluagent from
// the environment and a flex target over a Flex simulator seeded with the
// demo's SSO users.
func flexRig(t *testing.T) (*rig, *flexsim.Sim) {
	r := newRig(t)
	var seed flexsim.Seed
	if err := loadJSONFile(filepath.Join("..", "..", "testdata", "demo-flex", "flex-seed.json"), &seed); err != nil {
		t.Fatal(err)
	}
	cfg := flexsim.DefaultConfig()
	cfg.Seed = seed
	sim, err := flexsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	for _, name := range []string{"flex.yaml", "people.csv"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo-flex", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(r.dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	secret := filepath.Join(r.dir, "flex-secret")
	if err := os.WriteFile(secret, []byte(flexsim.DemoSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.env["ROSTERSYNC_MAPPING"] = filepath.Join(r.dir, "flex.yaml")
	r.env["FLEX_URL"] = srv.URL
	r.env["FLEX_SECRET_FILE"] = secret
	return r, sim
}

// TestFlexThroughTheCLI: check, plan, apply and explain with a flex target
// over the simulator on HTTP, and a configuration pinned to another
// account refused before anything is read.
func TestFlexThroughTheCLI(t *testing.T) {
	r, sim := flexRig(t)
	r.mustRun("check")
	if code := r.run("plan", "-detailed-exitcode"); code != 2 {
		t.Fatalf("plan -detailed-exitcode: exit %d, want 2 (changes)\n%s", code, r.stderr.String())
	}
	if !strings.Contains(r.stdout.String(), `& adopt user "chloe.davies@example.com"`) {
		t.Errorf("the plan does not adopt Chloe:\n%s", r.stdout.String())
	}
	r.mustRun("apply", "-yes")
	if doc, _ := sim.Attributes("chloe.davies@example.com"); doc["team_name"] != "North" || doc["manager"] != "Amira Khan" || doc["routing"] == nil {
		t.Errorf("Chloe's worker after apply: %v", doc)
	}
	if code := r.run("plan", "-detailed-exitcode"); code != 0 {
		t.Errorf("plan after apply: exit %d, want 0\n%s", code, r.stdout.String())
	}
	r.mustRun("explain", "-target", "flex", "harry.iqbal@example.com")
	for _, want := range []string{`attributes.manager: "Grace Hughes"`, `attributes.team_name_in_hierarchy: "Leeds ▸ Sales ▸ Outbound"`} {
		if !strings.Contains(r.stdout.String(), want) {
			t.Errorf("explain lacks %q:\n%s", want, r.stdout.String())
		}
	}
	if n := sim.InsightsCalls(); n != 0 {
		t.Errorf("%d Insights QM calls", n)
	}

	// Another account: refused, nothing read beyond discovery.
	p := filepath.Join(r.dir, "flex.yaml")
	b, _ := os.ReadFile(p)
	b = []byte(strings.Replace(string(b), "account_sid: AC00000000000000000000000000000001", "account_sid: AC00000000000000000000000000000009", 1))
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if code := r.run("plan"); code != 1 || !strings.Contains(r.stderr.String(), "refusing to run against another account") {
		t.Errorf("plan against another account: exit %d\n%s", code, r.stderr.String())
	}
}
