package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/rostersync/rostersync/config/block"
	"github.com/rostersync/rostersync/mapping"
	"github.com/rostersync/rostersync/reconcile/agentiq"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
	"github.com/rostersync/rostersync/reconcile/flex"
	"github.com/rostersync/rostersync/reconcile/voki"
)

// Target types.
const (
	TargetEvaluagent = "evaluagent"
	TargetAgentIQ    = "agentiq"
	TargetFlex       = "flex"
	TargetVoki       = "voki"
)

// AgentIQCredentialName is the systemd credential that holds the Agent IQ API
// key when a target's api_key_file is unset.
const AgentIQCredentialName = agentiq.CredentialName

// TargetConfig is one entry of targets:, a platform that the same people are
// synced into. With no targets: list, the single Evaluagent target of the
// environment (ROSTERSYNC_EVALUAGENT_*) is used, named "evaluagent".
//
//	targets:
//	  - name: evaluagent        # required, unique; names the target in plans, logs and the ledger
//	    type: evaluagent        # evaluagent or agentiq
//	    mode: sync              # sync, upsert-only or create-only; evaluagent default: $ROSTERSYNC_EVALUAGENT_MODE
//	    adopt: false            # evaluagent default: $ROSTERSYNC_EVALUAGENT_ADOPT
//	    evaluagent:             # optional; each key left out comes from ROSTERSYNC_EVALUAGENT_*
//	      region: eu
//	      base_url: ""
//	      key_id: ""
//	      key_secret_file: ""   # default $CREDENTIALS_DIRECTORY/evaluagent-key-secret
//	      agent_level: Team
//	      auth: basic           # or bearer: see README, "Keys in bearer-token mode"
//	      token_file: ""        # bearer: the token of a key already in bearer mode
//	  - name: agentiq
//	    type: agentiq
//	    agentiq:
//	      base_url: https://api-v2.<fi-domain>.agentiq.co   # required
//	      api_key_file: /etc/rostersync/agentiq-api-key      # default $CREDENTIALS_DIRECTORY/agentiq-api-key
//	      max_rows: 500         # rows per CSV upload
//	      epoch: 2015-01-01T00:00:00Z   # where the export walk starts
//	      window: 720h          # creation-time span of one export request
//	      routes:               # overrides of the inferred paths
//	        import_users: POST /api/ingestion/users
//	    mapping:                # sections that replace the top-level mapping's for this target
//	      scope: […]
//	  - name: flex
//	    type: flex
//	    adopt: true             # Flex users arrive through SSO: adopt them to keep their attributes
//	    flex:                   # see reconcile/flex.Block for every key
//	      account_sid: AC…
//	      api_key_sid: SK…
//	      secret_file: /etc/rostersync/flex-secret   # default $CREDENTIALS_DIRECTORY/flex-secret
//	      deprovision: report   # off, report or enforce
//
// Connection settings (the evaluagent: and agentiq: blocks) may refer to
// environment variables as ${NAME}; an unset variable is an error. Secrets
// are only ever read from files.
//
// A target's mapping: holds any of the top-level mapping's sections (user,
// scope, exclude, roles, team, queues). Each section given replaces the
// top-level one as a whole; sections left out are the top-level ones. So
// "scope: […]" under one target narrows who that platform gets, and the rest
// of the mapping is shared.
type TargetConfig struct {
	Name       string                  `yaml:"name"`
	Type       string                  `yaml:"type"`
	Mode       string                  `yaml:"mode"`
	Adopt      *bool                   `yaml:"adopt"`
	Evaluagent *EvaluagentTargetConfig `yaml:"evaluagent"`
	AgentIQ    *AgentIQTargetConfig    `yaml:"agentiq"`
	Flex       *FlexTargetConfig       `yaml:"flex"`
	Voki       *VokiTargetConfig       `yaml:"voki"`
	Mapping    *MappingOverride        `yaml:"mapping"`
}

// blocks maps each target type to its block in t (a nil pointer when
// unset). Each kind's package owns its block; a new kind adds its field to
// TargetConfig and its line here.
func (t TargetConfig) blocks() map[string]block.Validator {
	return map[string]block.Validator{
		TargetEvaluagent: t.Evaluagent,
		TargetAgentIQ:    t.AgentIQ,
		TargetFlex:       t.Flex,
		TargetVoki:       t.Voki,
	}
}

// TargetTypes lists the target types a file may name, sorted: one per
// block of TargetConfig.
func TargetTypes() []string { return sortedKeys(TargetConfig{}.blocks()) }

// EvaluagentTargetConfig is the evaluagent: block of a target. Empty values
// fall back to the environment.
type EvaluagentTargetConfig = evaluagent.Block

// AgentIQTargetConfig is the agentiq: block of a target.
type AgentIQTargetConfig = agentiq.Block

// FlexTargetConfig is the flex: block of a target.
type FlexTargetConfig = flex.Block

// VokiTargetConfig is the voki: block of a target (see voki.Block).
type VokiTargetConfig = voki.Block

// MappingOverride is a target's mapping: section. Each field set replaces the
// top-level mapping's section of the same name.
type MappingOverride struct {
	User    *mapping.UserSpec    `yaml:"user"`
	Scope   *[]mapping.Condition `yaml:"scope"`
	Exclude *mapping.ExcludeSpec `yaml:"exclude"`
	Roles   *mapping.RolesSpec   `yaml:"roles"`
	Team    *mapping.TeamSpec    `yaml:"team"`
	Queues  *[]mapping.QueueSpec `yaml:"queues"`
}

// Over returns base with the sections o sets replaced.
func (o *MappingOverride) Over(base mapping.Spec) mapping.Spec {
	if o == nil {
		return base
	}
	if o.User != nil {
		base.User = *o.User
	}
	if o.Scope != nil {
		base.Scope = *o.Scope
	}
	if o.Exclude != nil {
		base.Exclude = *o.Exclude
	}
	if o.Roles != nil {
		base.Roles = *o.Roles
	}
	if o.Team != nil {
		base.Team = *o.Team
	}
	if o.Queues != nil {
		base.Queues = *o.Queues
	}
	return base
}

// sets reports whether the override replaces the section a spec path
// (as roles.values["Agent"]) lies in.
func (o *MappingOverride) sets(path string) bool {
	section := path
	if i := strings.IndexAny(path, ".["); i >= 0 {
		section = path[:i]
	}
	switch section {
	case "user":
		return o.User != nil
	case "scope":
		return o.Scope != nil
	case "exclude":
		return o.Exclude != nil
	case "roles":
		return o.Roles != nil
	case "team":
		return o.Team != nil
	case "queues":
		return o.Queues != nil
	}
	return true
}

// AllTargets returns the configured targets, or, without a targets: list,
// the single Evaluagent target configured by the environment.
func (f *File) AllTargets() []TargetConfig {
	if len(f.Targets) == 0 {
		return []TargetConfig{{Name: TargetEvaluagent, Type: TargetEvaluagent}}
	}
	return f.Targets
}

// TargetSpec returns the mapping of target i: the top-level mapping with the
// target's sections in place.
func (f *File) TargetSpec(i int) mapping.Spec {
	ts := f.AllTargets()
	return ts[i].Mapping.Over(f.Mapping)
}

// TargetRules compiles the mapping of target i.
func (f *File) TargetRules(i int) (*mapping.Rules, error) {
	r, err := mapping.Compile(f.TargetSpec(i))
	if err != nil {
		return nil, fmt.Errorf("%s: mapping of target %s: %w", f.path, f.AllTargets()[i].Name, err)
	}
	return r, nil
}

var targetName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// validateTargets reports every problem of targets: through bad.
func (f *File) validateTargets(bad func(key, format string, args ...any)) {
	names := map[string]int{}
	sharing := map[string][]string{} // default credential → the kinds of the targets reading it
	for i, t := range f.Targets {
		p := fmt.Sprintf("targets[%d]", i)
		switch {
		case t.Name == "":
			bad(p+".name", "required")
		case !targetName.MatchString(t.Name):
			bad(p+".name", "%q: use lower-case letters, digits, - and _", t.Name)
		case names[t.Name] > 0:
			bad(p+".name", "%q is already targets[%d]", t.Name, names[t.Name]-1)
		default:
			names[t.Name] = i + 1
		}
		blocks := t.blocks()
		if _, known := blocks[t.Type]; !known {
			if t.Type == "" {
				bad(p+".type", "required (%s)", strings.Join(sortedKeys(blocks), " or "))
			} else {
				bad(p+".type", "unknown type %q (known: %s)", t.Type, strings.Join(sortedKeys(blocks), ", "))
			}
		}
		for _, kind := range sortedKeys(blocks) {
			b := blocks[kind]
			switch {
			case kind == t.Type:
				// A nil block is validated as an empty one.
				f.blockProblems(bad, p+"."+kind, b.Validate())
				if dc, ok := b.(interface{ DefaultCredential() string }); ok {
					if name := dc.DefaultCredential(); name != "" {
						sharing[name] = append(sharing[name], kind)
					}
				}
			case !isNil(b):
				bad(p+"."+kind, "only for type %s", kind)
			}
		}
		switch t.Mode {
		case "", ModeSync, ModeUpsertOnly, ModeCreateOnly:
		default:
			bad(p+".mode", "%q is not one of sync, upsert-only, create-only", t.Mode)
		}
		if t.Mapping != nil {
			if _, err := mapping.Compile(f.TargetSpec(i)); err != nil {
				for _, e := range unjoin(err) {
					var se *mapping.SpecError
					switch {
					case errors.As(e, &se) && !t.Mapping.sets(se.Path):
						// An inherited section: reported once, at the top level.
					case se != nil:
						bad(p+".mapping."+se.Path, "%s", se.Msg)
					default:
						bad(p+".mapping", "%v", e)
					}
				}
			}
		}
	}
	for _, name := range sortedKeys(sharing) {
		if kinds := sharing[name]; len(kinds) > 1 {
			bad("targets", "%d %s targets leave their key file unset and would share $CREDENTIALS_DIRECTORY/%s: give each its own file", len(kinds), kinds[0], name)
		}
	}
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// Expand replaces ${NAME} references in the connection settings (the
// evaluagent: and agentiq: blocks) with environment values from lookup. An
// unset variable is an error naming it and the key.
func (t *TargetConfig) Expand(lookup func(string) (string, bool)) error {
	var errs []error
	expand := func(key string, v *string) {
		*v = envRef.ReplaceAllStringFunc(*v, func(ref string) string {
			name := envRef.FindStringSubmatch(ref)[1]
			val, ok := lookup(name)
			if !ok {
				errs = append(errs, fmt.Errorf("target %s: %s: environment variable %s is not set", t.Name, key, name))
			}
			return val
		})
	}
	blocks := t.blocks()
	for _, name := range sortedKeys(blocks) {
		if isNil(blocks[name]) {
			continue
		}
		rv := reflect.ValueOf(blocks[name]).Elem()
		for i := range rv.NumField() {
			fv, ft := rv.Field(i), rv.Type().Field(i)
			key := name + "." + yamlName(ft)
			switch fv.Kind() {
			case reflect.String:
				expand(key, fv.Addr().Interface().(*string))
			case reflect.Map:
				if fv.Type().Elem().Kind() != reflect.String {
					continue // only strings carry ${VAR} references
				}
				for _, k := range fv.MapKeys() {
					s := fv.MapIndex(k).String()
					expand(key+"."+k.String(), &s)
					fv.SetMapIndex(k, reflect.ValueOf(s))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// EvaluagentSettings returns the Evaluagent settings of target t: the keys set
// in its evaluagent: block over those of the environment, then its mode and
// adopt.
func (t TargetConfig) EvaluagentSettings(env Evaluagent) Evaluagent {
	env = t.Evaluagent.Over(env)
	if t.Mode != "" {
		env.Mode = t.Mode
	}
	if t.Adopt != nil {
		env.Adopt = *t.Adopt
	}
	return env
}

// AgentIQKeyFile returns the file holding target t's API key: api_key_file,
// else the systemd credential agentiq-api-key.
func (t TargetConfig) AgentIQKeyFile(env *Env) string {
	return t.AgentIQ.KeyFile(env.Credential(""))
}

// FlexSecretFile returns the file holding target t's Flex secret:
// secret_file, else the systemd credential flex-secret.
func (t TargetConfig) FlexSecretFile(env *Env) string {
	return t.Flex.KeyFile(env.Credential(""))
}

// resolvePaths makes relative key files relative to the configuration file.
func (t *TargetConfig) resolvePaths(dir string) {
	for _, b := range t.blocks() {
		if r, ok := b.(interface{ ResolvePaths(dir string) }); ok && !isNil(b) {
			r.ResolvePaths(dir)
		}
	}
}
