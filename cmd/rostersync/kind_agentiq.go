package main

// The wiring of one target kind: how its configured block becomes a client
// and a policy, and how "rostersync simulator" serves its simulator. Its
// entry in registry.go points here; nothing else in the composition root
// names the kind.

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/rostersync/rostersync/config"
	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/agentiq"
	"github.com/rostersync/rostersync/reconcile/agentiq/agentiqsim"
)

func (t *target) agentIQ(o targetOptions) error {
	env, tc, log, hooks := o.env, o.tc, o.log, o.hooks
	a := tc.AgentIQ
	if a == nil {
		return errors.New("agentiq: base_url is required")
	}
	key, err := readTargetSecret("agentiq", "api_key_file", tc.AgentIQKeyFile(env), config.AgentIQCredentialName, log)
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

// serveAgentIQSim serves the Agent IQ simulator.
func serveAgentIQSim(ctx context.Context, c *cli, o simOptions) error {
	cfg := agentiqsim.DefaultConfig()
	if err := decodeSeed(o.seed, &cfg.Seed); err != nil {
		return err
	}
	sim, err := agentiqsim.New(cfg)
	if err != nil {
		return err
	}
	return serveSim(ctx, c, o, sim, func(addr net.Addr) string {
		return fmt.Sprintf("Agent IQ simulator listening\n  base URL:  http://%s\n  x-api-key: %s\n  counts:    http://%s/_sim/counts\n",
			addr, agentiqsim.DemoAPIKey, addr)
	})
}
