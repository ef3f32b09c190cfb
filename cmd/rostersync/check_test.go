package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckPasses(t *testing.T) {
	r := newRig(t)
	r.mustRun("check")
	out := r.stdout.String()
	for _, want := range []string{"ok   configuration", "ok   state:", "ok   target evaluagent (evaluagent): ping " + r.url, "ok   source hr (csv): 12 records, complete"} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if w := r.sim.Writes(); w != 0 {
		t.Errorf("check wrote %d times to the platform", w)
	}
}

func TestCheckReportsEveryConfigurationProblem(t *testing.T) {
	r := newRig(t)
	mapping := filepath.Join(r.dir, "mapping.yaml")
	b, err := os.ReadFile(mapping)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(b), "key: employee_id", "key: \"\"", 1)
	broken = strings.Replace(broken, "username: email", "username: \"\"", 1)
	if err := os.WriteFile(mapping, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	r.env["ROSTERSYNC_SERVE_MODE"] = "sometimes"
	r.env["ROSTERSYNC_EVALUAGENT_KEY_SECRET_FILE"] = filepath.Join(r.dir, "missing-secret")
	if code := r.run("check"); code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, r.stdout.String(), r.stderr.String())
	}
	out := r.stdout.String()
	for _, want := range []string{
		"ROSTERSYNC_SERVE_MODE",
		"mapping.yaml:7: sources[0].csv.key",
		"mapping.yaml:",
		"mapping.user.username",
		"missing-secret",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "evaluagent: ping") {
		t.Errorf("check connected despite a bad configuration:\n%s", out)
	}
}

func TestCheckStopsAtTheFirstFailingConnection(t *testing.T) {
	r := newRig(t)
	secret := filepath.Join(r.dir, "wrong-secret")
	if err := os.WriteFile(secret, []byte("0000000000000000000000000000000000000000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.env["ROSTERSYNC_EVALUAGENT_KEY_SECRET_FILE"] = secret
	if code := r.run("check"); code != 1 {
		t.Fatalf("exit %d with a wrong key, want 1", code)
	}
	if out := r.stdout.String(); !strings.Contains(out, "FAIL target evaluagent: ping") || strings.Contains(out, "source hr") {
		t.Errorf("check output:\n%s", out)
	}
	if !strings.Contains(r.stderr.String(), "not reachable with the configured key") {
		t.Errorf("stderr does not say what failed:\n%s", r.stderr.String())
	}
	if strings.Contains(r.stdout.String()+r.stderr.String(), "0000000000000000000000000000000000000000") {
		t.Error("the secret appears in the output")
	}

	r = newRig(t)
	if err := os.Remove(filepath.Join(r.dir, "people.csv")); err != nil {
		t.Fatal(err)
	}
	if code := r.run("check"); code != 1 {
		t.Fatalf("exit %d with no CSV, want 1", code)
	}
	if out := r.stdout.String(); !strings.Contains(out, "ok   target evaluagent") || !strings.Contains(out, "FAIL source hr (csv)") {
		t.Errorf("check output:\n%s", out)
	}
}
