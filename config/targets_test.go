package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rostersync/rostersync/mapping"
)

const twoTargets = `sources:
  - name: hr
    type: csv
    csv: {path: people.csv, key: id}
mapping:
  user: {username: email, email: email, forename: first, surname: last}
  scope:
    - {attr: status, in: [active]}
  team: {attr: team, level: Team}
  roles: {default: [agent]}
targets:
  - name: evaluagent
    type: evaluagent
    mode: upsert-only
    evaluagent:
      key_id: ${EA_KEY_ID}
  - name: agentiq
    type: agentiq
    agentiq:
      base_url: ${AIQ_URL}
      api_key_file: secrets/aiq-key
      max_rows: 100
      window: 240h
      routes: {import_users: "POST /api/ingestion/users"}
    mapping:
      scope:
        - {attr: status, in: [active]}
        - {attr: department, in: [Support]}
`

func writeTargetsConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rostersync.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTargets(t *testing.T) {
	p := writeTargetsConfig(t, twoTargets)
	f, err := LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	ts := f.AllTargets()
	if len(ts) != 2 || ts[0].Name != "evaluagent" || ts[1].Type != TargetAgentIQ {
		t.Fatalf("targets %+v", ts)
	}
	// The Agent IQ target's scope replaces the top-level one; the rest is shared.
	ea, aiq := f.TargetSpec(0), f.TargetSpec(1)
	if len(ea.Scope) != 1 || len(aiq.Scope) != 2 || !cmp.Equal(ea.User, aiq.User) || !cmp.Equal(ea.Team, aiq.Team) {
		t.Errorf("specs: evaluagent %+v, agentiq %+v", ea, aiq)
	}
	if _, err := f.TargetRules(1); err != nil {
		t.Error(err)
	}
	// The CSV must have every column any target reads.
	cfg, err := f.CSV(0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"department", "email", "first", "last", "status", "team"}; !cmp.Equal(cfg.Required, want) {
		t.Errorf("required columns %v, want %v", cfg.Required, want)
	}
	// Key files are relative to the configuration file.
	if got, want := ts[1].AgentIQ.APIKeyFile, filepath.Join(filepath.Dir(p), "secrets", "aiq-key"); got != want {
		t.Errorf("api_key_file %q, want %q", got, want)
	}
	// ${NAME} references in connection settings come from the environment.
	env := map[string]string{"EA_KEY_ID": "kid", "AIQ_URL": "https://api-v2.bank.agentiq.co"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for i := range ts {
		if err := ts[i].Expand(lookup); err != nil {
			t.Fatal(err)
		}
	}
	if ts[1].AgentIQ.BaseURL != "https://api-v2.bank.agentiq.co" || ts[1].AgentIQ.Routes["import_users"] != "POST /api/ingestion/users" {
		t.Errorf("agentiq after Expand: %+v", ts[1].AgentIQ)
	}
	// The file's Evaluagent keys win over the environment's; the rest is the environment's.
	got := ts[0].EvaluagentSettings(Evaluagent{Region: "eu", KeyID: "env-kid", KeySecretFile: "/run/s", AgentLevel: "Team", Mode: "sync"})
	want := Evaluagent{Region: "eu", KeyID: "kid", KeySecretFile: "/run/s", AgentLevel: "Team", Mode: "upsert-only"}
	if got != want {
		t.Errorf("evaluagent settings %+v, want %+v", got, want)
	}
	var missing TargetConfig = TargetConfig{Name: "x", AgentIQ: &AgentIQTargetConfig{BaseURL: "${NOPE}"}}
	if err := missing.Expand(lookup); err == nil || !strings.Contains(err.Error(), "NOPE") {
		t.Errorf("an unset variable: %v", err)
	}
}

func TestNoTargetsIsTheEnvironmentsEvaluagent(t *testing.T) {
	f := &File{Mapping: mapping.Spec{}}
	if got := f.AllTargets(); len(got) != 1 || got[0].Name != "evaluagent" || got[0].Type != TargetEvaluagent {
		t.Errorf("default targets %+v", got)
	}
}

func TestTargetsValidate(t *testing.T) {
	body := strings.Replace(twoTargets, "targets:\n", `targets:
  - name: Bad Name
    type: zendesk
  - name: agentiq
    type: agentiq
    mode: mirror
    agentiq: {window: forever, epoch: "2015", api_key_file: k}
    mapping:
      team: {attr: "", level: Team, key_attr: x, group_pattern: "("}
`, 1)
	f, err := LoadFile(writeTargetsConfig(t, body))
	if err != nil {
		t.Fatal(err)
	}
	err = f.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"targets[0].name: \"Bad Name\"", "targets[0].type: unknown type \"zendesk\"",
		"targets[1].mode", "targets[1].agentiq.base_url: required", "targets[1].agentiq.window",
		"targets[1].agentiq.epoch", "targets[1].mapping.team", "targets[3].name: \"agentiq\" is already targets[1]",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := LoadFile(writeTargetsConfig(t, strings.Replace(twoTargets, "max_rows: 100", "max_rows: 100\n      api_key: secret", 1))); err == nil ||
		!strings.Contains(err.Error(), "field api_key not found in targets[].agentiq") {
		t.Errorf("an API key in the file: %v", err)
	}
}
