package main

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/rostersync/rostersync/config"
	"github.com/rostersync/rostersync/mapping"
	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/agentiq"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
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
			_, byRole := rules.ExcludesRoles(u.Roles)
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

func (t *target) evaluagent(o targetOptions) error {
	env, tc, fromEnvOnly, log, hooks := o.env, o.tc, o.fromEnvOnly, o.log, o.hooks
	ea := tc.EvaluagentSettings(env.Evaluagent)
	if err := ea.Validate(env.SecretInEnv()); err != nil {
		if fromEnvOnly {
			return fmt.Errorf("configuration from the environment:\n%w", err)
		}
		return fmt.Errorf("settings (the target's evaluagent: block over the environment):\n%w", err)
	}
	var secret string
	var bearer *evaluagent.Bearer
	if ea.Auth == config.AuthBearer {
		// The secret is needed only to create the first token; "auth
		// create" says so when it is missing.
		if ea.KeySecretFile != "" {
			secret, _ = config.ReadSecretWarn(ea.KeySecretFile, log)
		}
		var err error
		if bearer, err = bearerSettings(ea, hooks); err != nil {
			return err
		}
	} else {
		var err error
		if secret, err = config.ReadSecretWarn(ea.KeySecretFile, log); err != nil {
			return err
		}
	}
	cfg := evaluagent.Config{
		Region: ea.Region, BaseURL: ea.BaseURL, KeyID: ea.KeyID, KeySecret: secret,
		AgentLevel: ea.AgentLevel, RatePerMinute: ea.RatePerMinute, Logger: log.With("target", t.name),
		OnRequest: hooks.request(t.name), OnRateLimitWait: hooks.rateLimitWait(t.name),
		Sleep: hooks.sleep, Bearer: bearer,
	}
	if hooks.budget != nil {
		cfg.Budget = hooks.budget(t.name, ea.RatePerMinute, ea.RatePerDay)
	}
	client, err := evaluagent.New(cfg)
	if err != nil {
		return err
	}
	mode, err := reconcile.ParseMode(ea.Mode)
	if err != nil {
		return err
	}
	t.client = client
	t.perMinute, t.perDay = ea.RatePerMinute, ea.RatePerDay
	t.policy = reconcile.Policy{Mode: mode, Adopt: ea.Adopt, AgentLevel: ea.AgentLevel, ReplaceQueues: canReplaceQueues(client)}
	return nil
}

func (t *target) agentIQ(o targetOptions) error {
	env, tc, log, hooks := o.env, o.tc, o.log, o.hooks
	a := tc.AgentIQ
	if a == nil {
		return errors.New("agentiq: base_url is required")
	}
	keyFile := tc.AgentIQKeyFile(env)
	if keyFile == "" {
		return fmt.Errorf("agentiq: api_key_file is required (or run under systemd with LoadCredential=%s:…)", config.AgentIQCredentialName)
	}
	key, err := config.ReadSecretWarn(keyFile, log)
	if err != nil {
		return err
	}
	routes, err := agentiq.ParseRoutes(a.Routes)
	if err != nil {
		return err
	}
	epoch, err := a.EpochTime()
	if err != nil {
		return err
	}
	window, err := a.WindowDuration()
	if err != nil {
		return err
	}
	client, err := agentiq.New(agentiq.Config{
		BaseURL: a.BaseURL, APIKey: key, Routes: routes, MaxRows: a.MaxRows, Epoch: epoch, Window: window,
		Logger: log.With("target", t.name), OnRequest: hooks.request(t.name),
	})
	if err != nil {
		return err
	}
	mode, err := reconcile.ParseMode(tc.Mode)
	if err != nil {
		return err
	}
	t.client = client
	t.policy = reconcile.Policy{Mode: mode, Adopt: tc.Adopt != nil && *tc.Adopt}
	return nil
}
