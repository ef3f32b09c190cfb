package config

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/sethvargo/go-envconfig"

	"github.com/rostersync/rostersync/reconcile/evaluagent"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/sources"
	"github.com/rostersync/rostersync/sources/csv"
)

func TestLoadEnvDefaults(t *testing.T) {
	e, err := LoadEnv(context.Background(), envconfig.MapLookuper(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := &Env{
		Mapping:   "/etc/rostersync/mapping.yaml",
		StateDir:  "rostersync-state",
		LogLevel:  "info",
		LogFormat: "auto",
		Safety: Safety{
			MaxDrop: 0.2, AbsentPasses: 2, HoldDeactivationsOver: 10, HoldDeactivationsPercent: 5, HoldDeactivationsPercentFloor: 2,
		},
		Evaluagent: Evaluagent{
			Region:        "eu",
			AgentLevel:    "Team",
			Mode:          "sync",
			RatePerMinute: 100,
			RatePerDay:    10000,
			Auth:          "basic",
			// Refresh at 20h of a token's 24; warn with 3h left.
			TokenRefreshAfter: 20 * time.Hour,
			TokenWarnBelow:    3 * time.Hour,
		},
		Serve: defaultServe,
	}
	if diff := cmp.Diff(want, e, cmp.AllowUnexported(Env{})); diff != "" {
		t.Errorf("LoadEnv (-want +got):\n%s", diff)
	}
}

func TestLoadEnvSystemd(t *testing.T) {
	e, err := LoadEnv(context.Background(), envconfig.MapLookuper(map[string]string{
		"STATE_DIRECTORY":       "/var/lib/rostersync:/var/lib/other",
		"CREDENTIALS_DIRECTORY": "/run/credentials/rostersync.service",
		"ROSTERSYNC_LOG_LEVEL":  "debug",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if e.StateDir != "/var/lib/rostersync" {
		t.Errorf("StateDir = %q", e.StateDir)
	}
	if got, want := e.Evaluagent.KeySecretFile, "/run/credentials/rostersync.service/evaluagent-key-secret"; got != want {
		t.Errorf("KeySecretFile = %q, want %q", got, want)
	}
	if e.LogLevel != "debug" {
		t.Errorf("LogLevel = %q", e.LogLevel)
	}
}

func TestLoadEnvExplicit(t *testing.T) {
	e, err := LoadEnv(context.Background(), envconfig.MapLookuper(map[string]string{
		"ROSTERSYNC_MAPPING":                          "/srv/m.yaml",
		"ROSTERSYNC_STATE_DIR":                        "/srv/state",
		"STATE_DIRECTORY":                             "/ignored",
		"CREDENTIALS_DIRECTORY":                       "/ignored",
		"ROSTERSYNC_LOG_FORMAT":                       "json",
		"ROSTERSYNC_EVALUAGENT_REGION":                "us",
		"ROSTERSYNC_EVALUAGENT_BASE_URL":              "http://127.0.0.1:8080/v1",
		"ROSTERSYNC_EVALUAGENT_KEY_ID":                "kid",
		"ROSTERSYNC_EVALUAGENT_KEY_SECRET_FILE":       "/srv/secret",
		"ROSTERSYNC_EVALUAGENT_AGENT_LEVEL":           "Squad",
		"ROSTERSYNC_EVALUAGENT_ADOPT":                 "true",
		"ROSTERSYNC_EVALUAGENT_MODE":                  "upsert-only",
		"ROSTERSYNC_EVALUAGENT_RATE_PER_MINUTE":       "6000",
		"ROSTERSYNC_EVALUAGENT_RATE_PER_DAY":          "5000",
		"ROSTERSYNC_MAX_DROP":                         "0.1",
		"ROSTERSYNC_ABSENT_PASSES":                    "3",
		"ROSTERSYNC_ABSENT_FOR":                       "36h",
		"ROSTERSYNC_HOLD_DEACTIVATIONS_OVER":          "-1",
		"ROSTERSYNC_HOLD_DEACTIVATIONS_PERCENT":       "2.5",
		"ROSTERSYNC_EVALUAGENT_AUTH":                  "bearer",
		"ROSTERSYNC_EVALUAGENT_TOKEN_FILE":            "/srv/token",
		"ROSTERSYNC_EVALUAGENT_TOKEN_REFRESH_AFTER":   "12h",
		"ROSTERSYNC_EVALUAGENT_TOKEN_WARN_BELOW":      "6h",
		"ROSTERSYNC_HOLD_DEACTIVATIONS_PERCENT_FLOOR": "5",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := &Env{
		Mapping: "/srv/m.yaml", StateDir: "/srv/state", LogLevel: "info", LogFormat: "json",
		Safety: Safety{
			MaxDrop: 0.1, AbsentPasses: 3, AbsentFor: 36 * time.Hour, HoldDeactivationsOver: -1, HoldDeactivationsPercent: 2.5,
			HoldDeactivationsPercentFloor: 5,
		},
		Evaluagent: Evaluagent{
			Region: "us", BaseURL: "http://127.0.0.1:8080/v1", KeyID: "kid", KeySecretFile: "/srv/secret",
			AgentLevel: "Squad", Adopt: true, Mode: "upsert-only", RatePerMinute: 6000, RatePerDay: 5000,
			Auth: "bearer", TokenFile: "/srv/token", TokenRefreshAfter: 12 * time.Hour, TokenWarnBelow: 6 * time.Hour,
		},
		// Kept for other credentials; the explicit secret file wins.
		credentialsDir: "/ignored",
		Serve:          defaultServe,
	}
	if diff := cmp.Diff(want, e, cmp.AllowUnexported(Env{})); diff != "" {
		t.Errorf("LoadEnv (-want +got):\n%s", diff)
	}
	if err := e.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestLoadEnvBadBool(t *testing.T) {
	_, err := LoadEnv(context.Background(), envconfig.MapLookuper(map[string]string{"ROSTERSYNC_EVALUAGENT_ADOPT": "perhaps"}))
	if err == nil || !strings.Contains(err.Error(), `ROSTERSYNC_EVALUAGENT_ADOPT: "perhaps" is not true or false`) {
		t.Errorf("error = %v, want one naming ROSTERSYNC_EVALUAGENT_ADOPT", err)
	}
}

// TestEnvNumbersRangeChecked: NaN, infinities, negatives and percentages
// over 100 are refused, every problem at once, each named by its variable
// and never by a Go field.
func TestEnvNumbersRangeChecked(t *testing.T) {
	_, err := LoadEnv(context.Background(), envconfig.MapLookuper(map[string]string{
		"ROSTERSYNC_ABSENT_PASSES": "two", "ROSTERSYNC_INTERVAL": "soon", "ROSTERSYNC_MAX_DROP": "NaN",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`ROSTERSYNC_ABSENT_PASSES: "two" is not a whole number`,
		`ROSTERSYNC_INTERVAL: "soon" is not a duration`,
		"ROSTERSYNC_MAX_DROP: NaN: give a fraction from 0 to 1",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	for _, field := range []string{"AbsentPasses", "Interval", "MaxDrop", "Safety", "strconv"} {
		if strings.Contains(err.Error(), field) {
			t.Errorf("error names %q:\n%v", field, err)
		}
	}

	for _, c := range []struct{ name, value, want string }{
		{"MAX_DROP", "NaN", "give a fraction from 0 to 1"},
		{"MAX_DROP", "+Inf", "give a fraction from 0 to 1"},
		{"MAX_DROP", "-0.1", "give a fraction from 0 to 1"},
		{"MAX_DROP", "1.5", "give a fraction from 0 to 1"},
		{"HOLD_DEACTIVATIONS_PERCENT", "NaN", "from 0 to 100"},
		{"HOLD_DEACTIVATIONS_PERCENT", "-Inf", "from 0 to 100"},
		{"HOLD_DEACTIVATIONS_PERCENT", "101", "from 0 to 100"},
		{"HOLD_DEACTIVATIONS_PERCENT", "-2", "from 0 to 100"},
		{"HOLD_DEACTIVATIONS_OVER", "-2", "give a count"},
		{"ABSENT_PASSES", "0", "from 1 to 1000"},
		{"ABSENT_PASSES", "1001", "from 1 to 1000"},
		{"ABSENT_FOR", "-1h", "negative"},
		{"EVALUAGENT_RATE_PER_MINUTE", "-5", "positive"},
		{"EVALUAGENT_RATE_PER_DAY", "0", "at least 1"},
		{"DEBOUNCE", "-1s", "negative"},
	} {
		env, err := LoadEnv(context.Background(), envconfig.MapLookuper(map[string]string{"ROSTERSYNC_" + c.name: c.value}))
		if err == nil {
			err = env.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), "ROSTERSYNC_"+c.name+": ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%s: %v, want %q", c.name, c.value, err, c.want)
		}
	}
	// In range: accepted.
	for name, value := range map[string]string{"MAX_DROP": "1", "HOLD_DEACTIVATIONS_PERCENT": "100"} {
		env, err := LoadEnv(context.Background(), envconfig.MapLookuper(map[string]string{"ROSTERSYNC_" + name: value}))
		if err != nil {
			t.Fatal(err)
		}
		if err := env.ValidateCommon(); err != nil {
			t.Errorf("%s=%s: %v", name, value, err)
		}
	}
}

func TestEnvValidateReportsEverything(t *testing.T) {
	e, err := LoadEnv(context.Background(), envconfig.MapLookuper(map[string]string{
		"ROSTERSYNC_MAPPING":                "",
		"ROSTERSYNC_LOG_LEVEL":              "loud",
		"ROSTERSYNC_LOG_FORMAT":             "xml",
		"ROSTERSYNC_EVALUAGENT_REGION":      "EU!",
		"ROSTERSYNC_EVALUAGENT_BASE_URL":    "https://u:p@api.example.com",
		"ROSTERSYNC_EVALUAGENT_KEY_SECRET":  "hunter2",
		"ROSTERSYNC_EVALUAGENT_AGENT_LEVEL": " ",
		"ROSTERSYNC_EVALUAGENT_MODE":        "yolo",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ROSTERSYNC_MAPPING: required: the path of the mapping file",
		`ROSTERSYNC_LOG_LEVEL: "loud" is not a level (debug, info, warn, error)`,
		`ROSTERSYNC_LOG_FORMAT: "xml" is not one of auto, text, json`,
		`ROSTERSYNC_EVALUAGENT_REGION: "EU!" is not a region name (eu, us-east or aus)`,
		"ROSTERSYNC_EVALUAGENT_BASE_URL: must not hold credentials; use EVALUAGENT_KEY_ID and the key secret file",
		"ROSTERSYNC_EVALUAGENT_KEY_ID: required: the Evaluagent API key id",
		"ROSTERSYNC_EVALUAGENT_KEY_SECRET_FILE: required: a file holding the API key secret (or run under systemd with LoadCredential=evaluagent-key-secret:…)",
		"ROSTERSYNC_EVALUAGENT_KEY_SECRET: secrets are not read from the environment; put the secret in a file and set ROSTERSYNC_EVALUAGENT_KEY_SECRET_FILE",
		"ROSTERSYNC_EVALUAGENT_AGENT_LEVEL: is blank",
		`ROSTERSYNC_EVALUAGENT_MODE: "yolo" is not one of sync, upsert-only, create-only`,
	}
	if diff := cmp.Diff(want, strings.Split(e.Validate().Error(), "\n")); diff != "" {
		t.Errorf("Validate (-want +got):\n%s", diff)
	}
	if strings.Contains(e.Validate().Error(), "hunter2") {
		t.Error("a secret value appears in an error")
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tt := range []struct{ data, want string }{
		{"s3cret\n", "s3cret"},
		{"s3cret\r\n", "s3cret"},
		{"s3cret", "s3cret"},
		{"two\nlines\n\n", "two\nlines\n"},
	} {
		got, err := ReadSecret(write("ok", tt.data))
		if err != nil || got != tt.want {
			t.Errorf("ReadSecret(%q) = %q, %v; want %q", tt.data, got, err, tt.want)
		}
	}
	empty := write("empty", "\n")
	if _, err := ReadSecret(empty); err == nil || err.Error() != "secret: "+empty+" is empty" {
		t.Errorf("empty file: error = %v", err)
	}
	missing := filepath.Join(dir, "missing")
	if _, err := ReadSecret(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: error = %v, want it to name the file", err)
	}
}

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mapping.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // with FILE for the path
	}{{
		name: "unknown key in user",
		yaml: "sources: []\nmapping:\n  user:\n    username: email\n    fore_name: first\n",
		want: `FILE:5: field fore_name not found in mapping.user (known: key, username, email, forename, surname, third_party_id, start_date, start_date_layouts, active, attributes)`,
	}, {
		name: "unknown key at top level",
		yaml: "sources: []\nmaping: {}\n",
		want: `FILE:2: field maping not found at the top level (known: sources, mapping, targets, merge)`,
	}, {
		name: "unknown key in a source",
		yaml: "sources:\n  - name: hr\n    type: csv\n    csv: {path: a.csv, keys: id}\n",
		want: `FILE:4: field keys not found in sources[].csv (known: path, delimiter, key, min_rows, max_bytes)`,
	}, {
		name: "unknown key in a flow condition",
		yaml: "mapping:\n  scope:\n    - {attr: status, inn: [active]}\n",
		want: `FILE:3: field inn not found in mapping.scope[] (known: attr, in, not_in, group, role, expr)`,
	}, {
		name: "wrong type",
		yaml: "sources:\n  - name: hr\n    csv:\n      min_rows: many\n",
		want: "FILE:4: cannot unmarshal !!str `many` into int",
	}, {
		name: "syntax error",
		yaml: "sources:\n\t- name: hr\n",
		want: "FILE:2: found character that cannot start any token",
	}, {
		name: "empty",
		yaml: "# nothing\n",
		want: "FILE: empty file: expected the keys sources and mapping",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeConfig(t, tt.yaml)
			f, err := LoadFile(p)
			if f != nil {
				t.Error("a file returned with an error")
			}
			want := strings.ReplaceAll(tt.want, "FILE", p)
			if err == nil || err.Error() != want {
				t.Errorf("error:\n got %v\nwant %s", err, want)
			}
		})
	}
}

func TestFileValidate(t *testing.T) {
	p := writeConfig(t, `sources:
  - name: hr
    type: csv
    csv:
      delimiter: ";;"
      min_rows: -1
  - name: hr
    type: nis
  - type: csv
mapping:
  user:
    username: email
  roles:
    default: [Agent Smith]
  team:
    attr: team
    ancestors:
      - {attr: site}
`)
	f, err := LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"FILE:4: sources[0].csv.path: required",
		"FILE:4: sources[0].csv.key: required: the column holding each person's stable key",
		`FILE:5: sources[0].csv.delimiter: ";;" must be one character other than a quote or line break (or a byte order mark)`,
		"FILE:6: sources[0].csv.min_rows: -1 is negative",
		`FILE:7: sources[1].name: "hr" is already sources[0]`,
		`FILE:8: sources[1].type: unknown type "nis" (known: csv, ldap, scim)`,
		"FILE:9: sources[2].name: required",
		"FILE:9: sources[2].csv: required for type csv",
		"FILE:11: mapping.user.forename: required",
		"FILE:11: mapping.user.surname: required",
		`FILE:14: mapping.roles.default[0]: "Agent Smith" is not a role machine name (lower case letters, digits and _, as team_leader)`,
		"FILE:18: mapping.team.ancestors[0].level: required",
	}
	for i := range want {
		want[i] = strings.ReplaceAll(want[i], "FILE", p)
	}
	err = f.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("Validate (-want +got):\n%s", diff)
	}
}

func TestFileValidateNoSources(t *testing.T) {
	p := writeConfig(t, "mapping:\n  user: {username: e, forename: f, surname: s}\n  roles: {default: [agent]}\n")
	f, err := LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err == nil || err.Error() != p+": sources: required: at least one source" {
		t.Errorf("error = %v", err)
	}
}

func TestDemo(t *testing.T) {
	path := filepath.Join("..", "testdata", "demo", "mapping.yaml")
	f, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.CSV(0)
	if err != nil {
		t.Fatal(err)
	}
	wantCfg := csv.Config{
		Path:      filepath.Join("..", "testdata", "demo", "people.csv"),
		Delimiter: ',',
		Key:       "employee_id",
		Required:  []string{"department", "email", "first_name", "last_name", "role", "site", "start_date", "status", "team"},
		MinRows:   10,
	}
	if diff := cmp.Diff(wantCfg, cfg); diff != "" {
		t.Errorf("csv config (-want +got):\n%s", diff)
	}
	src, err := csv.New(f.Sources[0].Name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srcs := []sources.Source{src}
	rules, err := f.Rules()
	if err != nil {
		t.Fatal(err)
	}
	var snaps []*sources.Snapshot
	for _, s := range srcs {
		snap, err := s.Fetch(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, snap)
	}
	res := rules.Map(snaps)
	if len(res.Problems) > 0 || len(res.Desired.Incomplete) > 0 {
		t.Fatalf("problems %v, incomplete %v", res.Problems, res.Desired.Incomplete)
	}
	if res.OutOfScope != 1 || len(res.Desired.Users) != 11 {
		t.Errorf("out of scope %d, users %d; want 1 and 11", res.OutOfScope, len(res.Desired.Users))
	}
	teamKeys := func(ts []reconcile.Team) []string {
		var ks []string
		for _, t := range ts {
			ks = append(ks, t.Level+": "+t.Key)
		}
		return ks
	}
	wantTeams := []string{
		"Site: Glasgow",
		"Department: Glasgow / Retentions",
		"Team: Glasgow / Retentions / Saves",
		"Site: Leeds",
		"Department: Leeds / Sales",
		"Team: Leeds / Sales / Outbound",
		"Department: Leeds / Support",
		"Team: Leeds / Support / North",
		"Team: Leeds / Support / South",
	}
	if diff := cmp.Diff(wantTeams, teamKeys(res.Desired.Teams)); diff != "" {
		t.Errorf("teams (-want +got):\n%s", diff)
	}
	byKey := map[string]reconcile.User{}
	for _, u := range res.Desired.Users {
		byKey[u.Key] = u
	}
	want := []reconcile.User{{
		Key: "E1005", ThirdPartyID: "E1005", Username: "ella.fraser@example.com", Email: "ella.fraser@example.com",
		Forename: "Ella", Surname: "Fraser", StartDate: 20230220, Active: true, Roles: reconcile.NamesOf("agent"),
		Team: "Leeds / Support / South", Queues: reconcile.NamesOf("Inbound Calls"), Origin: "people.csv:6",
	}, {
		Key: "E1010", ThirdPartyID: "E1010", Username: "jack.oneill@example.com", Email: "jack.oneill@example.com",
		Forename: "Jack", Surname: "O'Neill, Jr", StartDate: 20240115, Active: true, Roles: reconcile.NamesOf("agent"),
		Team: "Glasgow / Retentions / Saves", Origin: "people.csv:11",
	}, {
		Key: "E1012", ThirdPartyID: "E1012", Username: "liam.macleod@example.com", Email: "liam.macleod@example.com",
		Forename: "Liam", Surname: "MacLeod", StartDate: 20211206, Active: true, Roles: reconcile.NamesOf("agent", "quality_analyst"),
		Team: "Glasgow / Retentions / Saves", Origin: "people.csv:13",
	}}
	got := []reconcile.User{byKey["E1005"], byKey["E1010"], byKey["E1012"]}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
}

// TestEnvExampleDocumentsEveryVariable keeps systemd/rostersync.env.example
// in step with Env: every variable, with its default.
func TestEnvExampleDocumentsEveryVariable(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "systemd", "rostersync.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	example := string(data)
	e, err := LoadEnv(context.Background(), envconfig.MapLookuper(nil))
	if err != nil {
		t.Fatal(err)
	}
	for name, def := range map[string]string{
		"MAPPING":                    e.Mapping,
		"STATE_DIR":                  "",
		"LOG_LEVEL":                  e.LogLevel,
		"LOG_FORMAT":                 e.LogFormat,
		"EVALUAGENT_REGION":          e.Evaluagent.Region,
		"EVALUAGENT_BASE_URL":        e.Evaluagent.BaseURL,
		"EVALUAGENT_KEY_ID":          e.Evaluagent.KeyID,
		"EVALUAGENT_KEY_SECRET_FILE": e.Evaluagent.KeySecretFile,
		"EVALUAGENT_AGENT_LEVEL":     e.Evaluagent.AgentLevel,
		"EVALUAGENT_ADOPT":           "false",
		"EVALUAGENT_MODE":            e.Evaluagent.Mode,
		"EVALUAGENT_RATE_PER_MINUTE": "100",
		"EVALUAGENT_RATE_PER_DAY":    "10000",
		"MAX_DROP":                   "0.2",
		"ABSENT_PASSES":              "2",
		"ABSENT_FOR":                 "0s",
		"HOLD_DEACTIVATIONS_OVER":    "10",
		"HOLD_DEACTIVATIONS_PERCENT": "5",
	} {
		line := "#" + EnvPrefix + name + "=" + def + "\n"
		if !strings.Contains(example, line) {
			t.Errorf("the example lacks %q", line)
		}
	}
}

// A delimiter the CSV source cannot use is refused by Validate with its
// line, not later by the source without one.
func TestFileValidateByteOrderMarkDelimiter(t *testing.T) {
	p := writeConfig(t, "sources:\n  - name: hr\n    type: csv\n    csv:\n      path: people.csv\n      key: id\n      delimiter: \"\\uFEFF\"\nmapping:\n  user:\n    username: email\n")
	f, err := LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := p + `:7: sources[0].csv.delimiter: "\ufeff" must be one character other than a quote or line break (or a byte order mark)`
	if err := f.Validate(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Validate = %v\nwant it to contain %s", err, want)
	}
}

// The one place the default state directory is decided.
func TestDefaultStateDir(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_STATE_HOME": "/home/ops/.state", "HOME": "/home/ops"}, "/home/ops/.state/rostersync"},
		{map[string]string{"STATE_DIRECTORY": "/var/lib/rostersync", "XDG_STATE_HOME": "/home/ops/.state"}, "/var/lib/rostersync"},
		{map[string]string{"STATE_DIRECTORY": "/var/lib/rostersync:/var/lib/other"}, "/var/lib/rostersync"},
		{map[string]string{"XDG_STATE_HOME": "relative", "HOME": "/home/ops"}, "/home/ops/.local/state/rostersync"},
		{map[string]string{}, "rostersync-state"},
	} {
		if got := defaultStateDir(envconfig.MapLookuper(tc.env)); got != tc.want {
			t.Errorf("%v: defaultStateDir = %q, want %q", tc.env, got, tc.want)
		}
	}
}

// The Evaluagent settings name their variables themselves; they must be
// the ones LoadEnv reads them from.
func TestEvaluagentVariableNames(t *testing.T) {
	e, err := LoadEnv(context.Background(), envconfig.MapLookuper(map[string]string{evaluagent.EnvPrefix + "KEY_ID": "k-1"}))
	if err != nil {
		t.Fatal(err)
	}
	if e.Evaluagent.KeyID != "k-1" {
		t.Errorf("%sKEY_ID is not read into the Evaluagent settings (got %q)", evaluagent.EnvPrefix, e.Evaluagent.KeyID)
	}
	e.Evaluagent.Region = "Not A Region"
	if err := e.Evaluagent.Validate(false); err == nil || !strings.Contains(err.Error(), EnvPrefix+"EVALUAGENT_REGION") {
		t.Errorf("Validate = %v, want it to name %sEVALUAGENT_REGION", err, EnvPrefix)
	}
}

func TestLoadEnvStateURL(t *testing.T) {
	ctx := context.Background()
	creds := t.TempDir()
	pw := filepath.Join(creds, StatePasswordCredential)
	load := func(vars map[string]string) (*Env, error) {
		t.Helper()
		vars["CREDENTIALS_DIRECTORY"] = creds
		return LoadEnv(ctx, envconfig.MapLookuper(vars))
	}

	// Without the credential, no password file.
	e, err := load(map[string]string{"ROSTERSYNC_STATE_URL": "postgres://rs@db:5432/rs"})
	if err != nil || e.StatePasswordFile != "" || !e.StatePostgres() {
		t.Fatalf("LoadEnv = %+v, %v; want no password file", e, err)
	}
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err = load(map[string]string{"ROSTERSYNC_STATE_URL": "postgres://rs@db:5432/rs"})
	if err != nil || e.StatePasswordFile != pw {
		t.Fatalf("StatePasswordFile = %q, %v; want the credential %s", e.StatePasswordFile, err, pw)
	}
	if got, err := e.StatePassword(nil); got != "s3cret" || err != nil {
		t.Errorf("StatePassword = %q, %v", got, err)
	}
	if e.StateURLHasPassword() {
		t.Error("StateURLHasPassword without one")
	}
	// SQLite: the credential is not the state's concern.
	e, err = load(map[string]string{})
	if err != nil || e.StatePasswordFile != "" || e.StatePostgres() {
		t.Errorf("without a URL: StatePasswordFile = %q, %v", e.StatePasswordFile, err)
	}

	for _, c := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"ROSTERSYNC_STATE_URL": "mysql://rs@db/rs"}, "ROSTERSYNC_STATE_URL: mysql://rs@db/rs: want a postgres:// or postgresql:// URL"},
		{map[string]string{"ROSTERSYNC_STATE_URL": "postgres:///rs"}, "names no host"},
		{map[string]string{"ROSTERSYNC_STATE_PASSWORD_FILE": pw}, "ROSTERSYNC_STATE_PASSWORD_FILE: is set but ROSTERSYNC_STATE_URL is not"},
		{map[string]string{"ROSTERSYNC_STATE_URL": "mysql://rs:hunter2@db/rs"}, "mysql://rs:xxxxx@db/rs"},
	} {
		e, err := load(c.vars)
		if err != nil {
			t.Fatal(err)
		}
		err = e.ValidateCommon()
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%v: ValidateCommon = %v, want %q", c.vars, err, c.want)
		}
	}
	e, _ = load(map[string]string{"ROSTERSYNC_STATE_URL": "postgres://rs:hunter2@db/rs"})
	if err := e.ValidateCommon(); err != nil || !e.StateURLHasPassword() {
		t.Errorf("a password in the URL: ValidateCommon = %v, StateURLHasPassword = %v; want accepted, and known", err, e.StateURLHasPassword())
	}
	e.StatePasswordFile = filepath.Join(creds, "missing")
	if _, err := e.StatePassword(nil); err == nil || !strings.Contains(err.Error(), "ROSTERSYNC_STATE_PASSWORD_FILE") {
		t.Errorf("StatePassword of a missing file = %v", err)
	}
}
