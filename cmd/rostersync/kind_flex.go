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

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/flex"
	"github.com/rostersync/rostersync/reconcile/flex/flexsim"
)

func (t *target) flex(o targetOptions) error {
	env, tc, log, hooks := o.env, o.tc, o.log, o.hooks
	b := tc.Flex
	if b == nil {
		return errors.New("flex: the flex: block is required (account_sid, api_key_sid)")
	}
	secret, err := readTargetSecret("flex", "secret_file", tc.FlexSecretFile(env), flex.CredentialName, log)
	if err != nil {
		return err
	}
	cfg, err := b.Config(secret)
	if err != nil {
		return err
	}
	cfg.Logger, cfg.OnRequest = log.With("target", t.name), hooks.request(t.name)
	client, err := flex.New(cfg)
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

// serveFlexSim serves the Twilio Flex simulator: discovery, the Flex Users
// API and TaskRouter Workers on one listener.
func serveFlexSim(ctx context.Context, c *cli, o simOptions) error {
	cfg := flexsim.DefaultConfig()
	if err := decodeSeed(o.seed, &cfg.Seed); err != nil {
		return err
	}
	cfg.Logger = o.log
	sim, err := flexsim.New(cfg)
	if err != nil {
		return err
	}
	return serveSim(ctx, c, o, sim, func(addr net.Addr) string {
		return fmt.Sprintf("Twilio Flex simulator listening\n  flex_url and taskrouter_url: http://%s\n  account_sid: %s\n  api_key_sid: %s\n  secret:      %s\n  instance:    %s\n  workspace:   %s\n",
			addr, flexsim.DemoAccountSID, flexsim.DemoKeySID, flexsim.DemoSecret, flexsim.DemoInstanceSID, flexsim.DemoWorkspaceSID)
	})
}
