package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/rostersync/rostersync/config"
	"github.com/rostersync/rostersync/mapping"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
	"github.com/rostersync/rostersync/state"
)

func cmdCheck(ctx context.Context, args []string, c *cli) error {
	fs := newFlagSet(c, "check", "[flags]", `Validates the environment and the configuration file, reporting every
problem at once with its file and line; then tests each connection in turn
(the platform's ping with the configured key, the state directory, each
source) and stops at the first that fails. Writes nothing to the platform.
Exit status: 0 all good, 1 a problem.`)
	var common commonFlags
	common.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("check takes no arguments, got %q", fs.Args())
	}
	out := c.stdout

	problems, mappingPath, err := checkConfig(ctx, c, common)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		fmt.Fprintf(out, "FAIL configuration: %d problem(s):\n", len(problems))
		for _, p := range problems {
			fmt.Fprintf(out, "  %v\n", p)
		}
		return &exitError{code: 1, err: errors.New("the configuration is not valid; nothing was connected to")}
	}
	fmt.Fprintf(out, "ok   configuration: the environment and %s\n", mappingPath)

	a, err := loadApp(ctx, c, common)
	if err != nil {
		fmt.Fprintf(out, "FAIL setup: %v\n", err)
		return &exitError{code: 1, err: err}
	}
	defer a.Close()
	if v, err := a.db.SchemaVersion(ctx); err != nil {
		fmt.Fprintf(out, "FAIL state (%s): %s: %v\n", a.db.Backend(), a.db.Path(), err)
		return &exitError{code: 1, err: err}
	} else if a.db.Backend() == state.BackendPostgres {
		fmt.Fprintf(out, "ok   state (postgres): connected to %s, schema version %d\n", a.db.Path(), v)
	} else {
		fmt.Fprintf(out, "ok   state (sqlite): %s, schema version %d\n", a.db.Path(), v)
	}

	for _, t := range a.targets {
		p, ok := t.client.(pinger)
		if !ok {
			continue
		}
		if err := p.Ping(ctx); err != nil {
			fmt.Fprintf(out, "FAIL target %s: ping %s: %v\n", t.name, p.BaseURL(), err)
			if bc, ok := t.client.(bearerClient); ok && bc.AuthMode() == evaluagent.AuthBearer {
				fmt.Fprintf(out, "     key %s: %s\n", bc.KeyID(), describeToken(bc.TokenStatus(), now(c)))
			}
			return &exitError{code: 1, err: fmt.Errorf("target %s is not reachable with the configured key: %w", t.name, err)}
		}
		fmt.Fprintf(out, "ok   target %s (%s): ping %s with the configured key\n", t.name, t.kind, p.BaseURL())
		if bc, ok := t.client.(bearerClient); ok && bc.AuthMode() == evaluagent.AuthBearer {
			s := bc.TokenStatus()
			word := "ok  "
			if !s.ExpiresAt.IsZero() && s.ExpiresAt.Sub(now(c)) < a.env.Evaluagent.TokenWarnBelow {
				word = "WARN" // a refresh is overdue: the token expires soon
			}
			fmt.Fprintf(out, "%s target %s: key %s in bearer mode: %s\n", word, t.name, s.KeyID, describeToken(s, now(c)))
		}
	}
	for _, t := range a.targets {
		problems, err := checkVocabulary(ctx, t)
		if err != nil {
			fmt.Fprintf(out, "FAIL target %s: %v\n", t.name, err)
			return &exitError{code: 1, err: fmt.Errorf("target %s: %w", t.name, err)}
		}
		if len(problems) > 0 {
			fmt.Fprintf(out, "FAIL target %s: the mapping names what the platform does not have:\n", t.name)
			for _, p := range problems {
				fmt.Fprintf(out, "  %s\n", p)
			}
			return &exitError{code: 1, err: fmt.Errorf("target %s: %d level(s), role(s) or group(s) in the mapping that the platform does not have", t.name, len(problems))}
		}
		fmt.Fprintf(out, "ok   target %s (%s): the levels, roles and groups the mapping names exist\n", t.name, t.kind)
	}

	for i, s := range joinedSources(a.sources) {
		kind := a.file.Sources[i].Type
		if ch, ok := s.(checker); ok {
			if err := ch.Check(ctx); err != nil {
				fmt.Fprintf(out, "FAIL source %s (%s): %v\n", s.Name(), kind, err)
				return &exitError{code: 1, err: fmt.Errorf("source %s: %w", s.Name(), err)}
			}
			fmt.Fprintf(out, "ok   source %s (%s): connected\n", s.Name(), kind)
			continue
		}
		snap, err := s.Fetch(ctx)
		if err != nil {
			fmt.Fprintf(out, "FAIL source %s (%s): %v\n", s.Name(), kind, err)
			return &exitError{code: 1, err: fmt.Errorf("source %s cannot be read: %w", s.Name(), err)}
		}
		health := "complete"
		if !snap.Health.Complete {
			health = "incomplete: " + snap.Health.Reason
		}
		fmt.Fprintf(out, "ok   source %s (%s): %d records, %s\n", s.Name(), kind, snap.Health.Count, health)
	}
	return nil
}

// checkConfig collects every problem with the environment, the file
// (syntax, keys, mapping), the files it names, and each configured
// target's own settings and key file, without stopping at the first. err is
// for what prevents checking at all.
func checkConfig(ctx context.Context, c *cli, flags commonFlags) (problems []error, mappingPath string, err error) {
	env, err := loadEnv(ctx, c, flags)
	switch {
	case env == nil:
		return nil, "", err
	case err != nil:
		// A variable that does not parse: its problems (with the rest of
		// the environment's) are listed, and the file is checked all the
		// same.
		problems = append(problems, unjoin(err)...)
	default:
		problems = append(problems, unjoin(env.ValidateCommon())...)
	}
	if cert, key := env.Serve.TLSCertFile, env.Serve.TLSKeyFile; cert != "" && key != "" {
		if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
			problems = append(problems, fmt.Errorf("%sTLS_CERT_FILE, %sTLS_KEY_FILE: %w", config.EnvPrefix, config.EnvPrefix, err))
		}
	}
	if env.Mapping == "" {
		return problems, env.Mapping, nil
	}
	file, err := config.LoadFile(env.Mapping)
	if err == nil {
		err = file.Validate()
	}
	if err != nil {
		problems = append(problems, unjoin(err)...)
		if file == nil || len(file.Targets) == 0 {
			// The environment's Evaluagent target, as far as it can be
			// checked without the file.
			problems = append(problems, unjoin(env.Evaluagent.Validate(env.SecretInEnv()))...)
			if f := env.Evaluagent.KeySecretFile; f != "" && env.Evaluagent.Auth != config.AuthBearer {
				if _, err := config.ReadSecret(f); err != nil {
					problems = append(problems, fmt.Errorf("%sEVALUAGENT_KEY_SECRET_FILE: %w", config.EnvPrefix, err))
				}
			}
		}
		return problems, env.Mapping, nil
	}
	problems = append(problems, unjoin(file.CheckFiles(env.Credential("")))...)
	// What "serve" would refuse at start: listeners that expose too much,
	// an admin token file that cannot be read.
	_, _, hasSCIM := file.SCIM()
	problems = append(problems, unjoin(checkListeners(env.Serve, hasSCIM))...)
	if f := env.Serve.AdminTokenFile; f != "" {
		if _, err := config.ReadSecret(f); err != nil {
			problems = append(problems, fmt.Errorf("%sADMIN_TOKEN_FILE: %w", config.EnvPrefix, err))
		}
	}
	// Each target's own settings only: an Agent IQ target needs no
	// ROSTERSYNC_EVALUAGENT_* variables.
	quiet := slog.New(slog.DiscardHandler)
	// The state directory only locates the tokens of keys in bearer mode;
	// nothing is written to it here. A PostgreSQL state is not connected to
	// yet: its tokens are checked when the state is opened, below.
	hooks := appHooks{tokens: func(keyID string) (state.TokenStore, error) { return state.NewTokenStore(env.StateDir, keyID) }, now: c.now}
	if env.StatePostgres() {
		hooks.tokens = func(string) (state.TokenStore, error) { return unconnectedTokens{}, nil }
		if _, err := env.StatePassword(nil); err != nil {
			problems = append(problems, err)
		}
	}
	if hooks.now == nil {
		hooks.now = time.Now
	}
	if _, err := buildTargets(env, file, c.lookupEnv, quiet, hooks); err != nil {
		problems = append(problems, unjoin(err)...)
	}
	return problems, env.Mapping, nil
}

// checkVocabulary compares what t's mapping names (levels, roles, the roles
// and groups its exclusions name) with what the platform has, listing them
// with the target's own list endpoints. Every mismatch is a problem: a
// level or role the platform lacks fails every write that uses it, and an
// exclusion naming nothing protects nothing.
func checkVocabulary(ctx context.Context, t *target) ([]string, error) {
	v := t.rules.Vocabulary()
	current, err := t.client.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	var problems []string
	missing := func(n mapping.Name, what string, have []string) {
		slices.Sort(have)
		problems = append(problems, fmt.Sprintf("%s names %s %q, which %s does not have (it has: %s)",
			n.Where, what, n.Value, t.name, strings.Join(slices.Compact(have), ", ")))
	}
	has := func(have []string, name string) bool {
		return slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, name) })
	}
	groups := make([]string, 0, len(current.Teams))
	for _, g := range current.Teams {
		groups = append(groups, g.Name)
	}
	for _, n := range v.ExcludedGroups {
		if !has(groups, n.Value) {
			missing(n, "group", groups)
		}
	}
	if vl, ok := t.client.(vocabularyLister); ok {
		levelNames, roleNames, err := vl.Vocabulary(ctx)
		if err != nil {
			return nil, err
		}
		want := v.Levels
		if t.policy.AgentLevel != "" {
			want = append(want, mapping.Name{Value: t.policy.AgentLevel, Where: config.EnvPrefix + "EVALUAGENT_AGENT_LEVEL"})
		}
		for _, n := range want {
			if !has(levelNames, n.Value) {
				missing(n, "level", levelNames)
			}
		}
		for _, n := range append(v.Roles, v.ExcludedRoles...) {
			if !has(roleNames, n.Value) {
				missing(n, "role", roleNames)
			}
		}
	}
	return slices.Compact(problems), nil
}

// unjoin splits an errors.Join into its parts; nil gives none.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// unconnectedTokens stands for a PostgreSQL state's token store while the
// configuration is checked before anything is connected to: it answers
// that a token is stored, so that an operator's token file is not read
// (and judged) until the state says whether it is needed.
type unconnectedTokens struct{}

func (unconnectedTokens) Load() (state.BearerToken, error) {
	return state.BearerToken{Token: "(not read: the state is not connected yet)"}, nil
}
func (unconnectedTokens) Save(state.BearerToken) error {
	return errors.New("the state is not connected")
}
func (unconnectedTokens) Lock(context.Context) (func() error, error) {
	return nil, errors.New("the state is not connected")
}
func (unconnectedTokens) Where() string { return "the state (not connected yet)" }
