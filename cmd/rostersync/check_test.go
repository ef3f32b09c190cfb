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
	for _, want := range []string{"ok   configuration", "ok   state (sqlite): ", "ok   target evaluagent (evaluagent): ping " + r.url, "ok   source hr (csv): 12 records, complete"} {
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
	// A file the configuration names is checked with the configuration,
	// by the key and line that name it, before anything is connected to.
	if out := r.stdout.String(); !strings.Contains(out, "mapping.yaml:6: sources[0].csv.path: open ") || strings.Contains(out, "ok   target") {
		t.Errorf("check output:\n%s", out)
	}

	// A CSV that is there but cannot be read as one fails at its source.
	r = newRig(t)
	if err := os.WriteFile(filepath.Join(r.dir, "people.csv"), []byte("employee_id,email\n\"E1,\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code := r.run("check"); code != 1 {
		t.Fatalf("exit %d with a broken CSV, want 1", code)
	}
	if out := r.stdout.String(); !strings.Contains(out, "ok   target evaluagent") || !strings.Contains(out, "FAIL source hr (csv)") {
		t.Errorf("check output:\n%s", out)
	}
}

// editConfig rewrites the configuration file ROSTERSYNC_MAPPING names,
// failing if old is not in it.
func (r *rig) editConfig(old, new string) {
	r.t.Helper()
	p := r.env["ROSTERSYNC_MAPPING"]
	b, err := os.ReadFile(p)
	if err != nil {
		r.t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		r.t.Fatalf("%s has no %q", p, old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), old, new, 1)), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

// TestCheckComparesTheMappingWithThePlatform: a level, role, excluded role
// or excluded group the platform does not have fails check, naming the
// mapping key and what the platform has, where apply would fail every time
// (or protect nothing).
func TestCheckComparesTheMappingWithThePlatform(t *testing.T) {
	r := newRig(t)
	r.editConfig("level: Department", "level: Region")
	r.editConfig("Quality Analyst: quality_analyst", "Quality Analyst: qa_lead")
	r.editConfig("usernames: [qa.admin@example.com]", "usernames: [qa.admin@example.com]\n    roles: [superuser]\n    groups: [Escalations]")
	if code := r.run("check"); code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, r.stdout.String(), r.stderr.String())
	}
	out := r.stdout.String()
	for _, want := range []string{
		"ok   target evaluagent (evaluagent): ping",
		`mapping.team.ancestors[1].level names level "Region", which evaluagent does not have (it has: Business, Department, Site, Team)`,
		`mapping.roles names role "qa_lead", which evaluagent does not have (it has: administrator, agent, manager, quality_analyst, system_access, team_leader)`,
		`mapping.exclude.roles names role "superuser"`,
		`mapping.exclude.groups names group "escalations", which evaluagent does not have (it has: `,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "source hr") {
		t.Errorf("check went on to the sources after a failing target:\n%s", out)
	}
	if w := r.sim.Writes(); w != 0 {
		t.Errorf("check wrote %d times to the platform", w)
	}

	// The same names, once the platform has them, pass.
	r = newRig(t)
	r.mustRun("check")
	if out := r.stdout.String(); !strings.Contains(out, "ok   target evaluagent (evaluagent): the levels, roles and groups the mapping names exist") {
		t.Errorf("check output:\n%s", out)
	}
}

// TestCheckReadsEveryFileTheConfigurationNames: a SCIM tokens file or an
// LDAP CA file that is missing fails check (with the key and line naming
// it), where serve or every pass would fail.
func TestCheckReadsEveryFileTheConfigurationNames(t *testing.T) {
	r := newRig(t)
	cfg := filepath.Join(r.dir, "files.yaml")
	if err := os.WriteFile(cfg, []byte(`sources:
  - name: idp
    type: scim
    scim:
      tokens_file: scim-tokens
  - name: corp
    type: ldap
    ldap:
      url: ldaps://127.0.0.1:1
      ca_file: corp-ca.pem
      bind_dn: cn=sync,dc=example,dc=com
      bind_password_file: /nonexistent/ldap-bind-password
      people: {base_dn: "ou=people,dc=example,dc=com"}
mapping:
  user: {username: userName, email: email, forename: name.givenName, surname: name.familyName}
  roles: {default: [agent]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	r.env["ROSTERSYNC_MAPPING"] = cfg
	if code := r.run("check"); code != 1 {
		t.Fatalf("exit %d, want 1\n%s%s", code, r.stdout.String(), r.stderr.String())
	}
	out := r.stdout.String()
	for _, want := range []string{
		"files.yaml:5: sources[0].scim.tokens_file: scim: tokens_file: open " + filepath.Join(r.dir, "scim-tokens"),
		"files.yaml:10: sources[1].ldap.ca_file: ca_file: open " + filepath.Join(r.dir, "corp-ca.pem"),
		"files.yaml:12: sources[1].ldap.bind_password_file: open /nonexistent/ldap-bind-password",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	// So are the admin listener's certificate and key.
	r.env["ROSTERSYNC_TLS_CERT_FILE"] = filepath.Join(r.dir, "tls.crt")
	r.env["ROSTERSYNC_TLS_KEY_FILE"] = filepath.Join(r.dir, "tls.key")
	r.run("check")
	if out := r.stdout.String(); !strings.Contains(out, "ROSTERSYNC_TLS_CERT_FILE, ROSTERSYNC_TLS_KEY_FILE: open "+filepath.Join(r.dir, "tls.crt")) {
		t.Errorf("check output:\n%s", out)
	}
	delete(r.env, "ROSTERSYNC_TLS_CERT_FILE")
	delete(r.env, "ROSTERSYNC_TLS_KEY_FILE")
	// A tokens file with no token is as bad as none.
	os.WriteFile(filepath.Join(r.dir, "scim-tokens"), []byte("# no tokens yet\n"), 0o600)
	r.run("check")
	if out := r.stdout.String(); !strings.Contains(out, "scim-tokens holds no token") {
		t.Errorf("check output:\n%s", out)
	}
}

// TestCheckAgentIQOnly: a configuration whose only target is Agent IQ is
// checked without any ROSTERSYNC_EVALUAGENT_* variable.
func TestCheckAgentIQOnly(t *testing.T) {
	r, _ := newTwoRig(t)
	for k := range r.env {
		if strings.HasPrefix(k, "ROSTERSYNC_EVALUAGENT_") {
			delete(r.env, k)
		}
	}
	r.editConfig(`  - name: evaluagent
    type: evaluagent
`, "")
	r.mustRun("check")
	out := r.stdout.String()
	if strings.Contains(out, "EVALUAGENT") || !strings.Contains(out, "ok   target agentiq (agentiq)") {
		t.Errorf("check output:\n%s", out)
	}
	// And its own settings are still checked.
	r.env["AGENTIQ_API_KEY_FILE"] = filepath.Join(r.dir, "no-such-key")
	if code := r.run("check"); code != 1 || !strings.Contains(r.stdout.String(), "no-such-key") || strings.Contains(r.stdout.String(), "EVALUAGENT") {
		t.Errorf("check with a missing Agent IQ key: exit %d\n%s", code, r.stdout.String())
	}
}

// A delimiter the CSV source cannot use is reported by check with its
// line, as every other key is, before anything is read or connected to;
// plan refuses it the same way.
func TestCheckRefusesAByteOrderMarkDelimiter(t *testing.T) {
	r := newRig(t)
	r.editConfig("key: employee_id", "key: employee_id\n      delimiter: \"\\uFEFF\"")
	if code := r.run("check"); code != 1 {
		t.Fatalf("check: exit %d, want 1\n%s%s", code, r.stdout.String(), r.stderr.String())
	}
	want := `mapping.yaml:8: sources[0].csv.delimiter: "\ufeff" must be one character`
	if out := r.stdout.String(); !strings.Contains(out, want) || strings.Contains(out, ": ping ") {
		t.Errorf("check output lacks %q (or connected):\n%s", want, out)
	}
	if code := r.run("plan"); code != 1 || !strings.Contains(r.stderr.String(), want) {
		t.Errorf("plan: exit %d, want 1 and %q\n%s", code, want, r.stderr.String())
	}
}
