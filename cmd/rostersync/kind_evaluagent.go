package main

// The wiring of one target kind: how its configured block becomes a client
// and a policy, and how "rostersync simulator" serves its simulator. Its
// entry in registry.go points here; nothing else in the composition root
// names the kind.

import (
	"context"
	"fmt"
	"net"

	"github.com/rostersync/rostersync/config"
	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
)

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

// serveEvaluagentSim serves the Evaluagent simulator.
func serveEvaluagentSim(ctx context.Context, c *cli, o simOptions) error {
	cfg := evaluagentsim.DefaultConfig()
	if o.perMinute > 0 {
		cfg.RatePerMinute = o.perMinute
	}
	if o.perDay > 0 {
		cfg.RatePerDay = o.perDay
	}
	f, err := evaluagentsim.ParseFaults(o.faults)
	if err != nil {
		return err
	}
	cfg.Faults = f
	if o.seed != "" {
		s, err := evaluagentsim.LoadSeed(o.seed)
		if err != nil {
			return err
		}
		cfg.Seed = s
	}
	sim, err := evaluagentsim.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	fmt.Fprintf(c.stdout, "Evaluagent simulator listening\n  base URL:   http://%s/v1\n  key id:     %s\n  key secret: %s\n  counts:     http://%s/_sim/counts\n",
		ln.Addr(), evaluagentsim.DemoKeyID, evaluagentsim.DemoKeySecret, ln.Addr())
	if f != (evaluagentsim.Faults{}) {
		fmt.Fprintf(c.stdout, "  faults:     %s (injected counts at http://%s/_sim/faults)\n", f, ln.Addr())
	}
	err = serveUntilDone(ctx, ln, sim, o.log)
	if f != (evaluagentsim.Faults{}) {
		fmt.Fprintf(c.stdout, "Faults injected: %v\n", sim.FaultCounts())
	}
	return err
}
