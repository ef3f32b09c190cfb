package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/rostersync/rostersync/config"
	"github.com/rostersync/rostersync/mapping"
	"github.com/rostersync/rostersync/reconcile"
)

// target is one configured platform: its client, its mapping and the policy
// Diff plans it with. Its name keys its plans and its ledger.
type target struct {
	name   string
	kind   string
	client reconcile.Target
	rules  *mapping.Rules
	policy reconcile.Policy
	// perMinute and perDay are the requests a minute and a day each
	// endpoint allows, for a client that is budgeted; 0 when the platform
	// counts none.
	perMinute, perDay int
}

// buildTargets makes a client, mapping and policy for every configured
// target (the environment's Evaluagent one when the file lists none). It
// reads key files but does no network I/O; every problem is reported at once.
func buildTargets(env *config.Env, file *config.File, lookupEnv func(string) (string, bool), log *slog.Logger, hooks appHooks) ([]*target, error) {
	var out []*target
	var errs []error
	for i, tc := range file.AllTargets() {
		if err := tc.Expand(lookupEnv); err != nil {
			errs = append(errs, err)
			continue
		}
		rules, err := file.TargetRules(i)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t := &target{name: tc.Name, kind: tc.Type, rules: rules}
		var build error
		if kind, ok := targetKinds[tc.Type]; ok {
			build = kind.open(t, targetOptions{env: env, tc: tc, fromEnvOnly: len(file.Targets) == 0, log: log, hooks: hooks})
		} else {
			build = fmt.Errorf("unknown type %q (known: %s)", tc.Type, kindNames(targetKinds))
		}
		if build != nil {
			errs = append(errs, fmt.Errorf("target %s: %w", tc.Name, build))
			continue
		}
		prot, _ := t.client.(protector)
		t.policy.Protected = func(u reconcile.User) bool {
			_, byRole := rules.ExcludesRoles(u.Roles.List())
			return byRole || rules.Excludes(u.Username) || prot != nil && prot.Protects(u)
		}
		t.policy.ProtectedTeam = func(g reconcile.Team) bool { return rules.ExcludesGroup(g.Name) }
		t.policy.Target = t.client.Capabilities()
		out = append(out, t)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// readTargetSecret reads a target's secret from path, the file its setting
// names or else the systemd credential of that name; an empty path is an
// error that names both ways to give it.
func readTargetSecret(kind, setting, path, credential string, log *slog.Logger) (string, error) {
	if path == "" {
		return "", fmt.Errorf("%s: %s is required (or run under systemd with LoadCredential=%s:…)", kind, setting, credential)
	}
	return config.ReadSecretWarn(path, log)
}
