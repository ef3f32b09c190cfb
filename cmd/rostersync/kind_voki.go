package main

// The wiring of the voki target kind: how its voki: block becomes a client
// and a policy, and how "rostersync simulator" serves its simulator. Its
// entry in registry.go points here.

import (
	"context"
	"fmt"
	"net"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/voki"
	"github.com/rostersync/rostersync/reconcile/voki/vokisim"
)

// voki opens a Voki target from its voki: block; the password is read from
// password_file or the systemd credential voki-password.
func (t *target) voki(o targetOptions) error {
	b := o.tc.Voki
	if b == nil {
		return fmt.Errorf("voki: the target needs a voki: block with tenant and service_email")
	}
	password, err := readTargetSecret("voki", "password_file", b.PasswordPath(o.env.Credential("")), voki.CredentialName, o.log)
	if err != nil {
		return err
	}
	cfg := b.Config(password)
	cfg.Logger = o.log.With("target", t.name)
	cfg.OnRequest = o.hooks.request(t.name)
	client, err := voki.New(cfg)
	if err != nil {
		return err
	}
	mode, err := reconcile.ParseMode(o.tc.Mode)
	if err != nil {
		return err
	}
	t.client = client
	t.policy = reconcile.Policy{Mode: mode, Adopt: o.tc.Adopt != nil && *o.tc.Adopt, AgentRole: "attendant"}
	return nil
}

// serveVokiSim serves the Voki simulator with its demo tenant.
func serveVokiSim(ctx context.Context, c *cli, o simOptions) error {
	if o.seed != "" || o.faults != "" {
		return fmt.Errorf("simulator: -seed and -faults are not offered for voki; it serves its demo tenant")
	}
	sim := vokisim.New(vokisim.DefaultConfig())
	return serveSim(ctx, c, o, sim, func(addr net.Addr) string {
		return fmt.Sprintf("Voki simulator listening\n  base URL:      http://%s\n  tenant:        %s\n  service email: %s\n  password:      %s\n",
			addr, vokisim.DemoTenant, vokisim.DemoEmail, vokisim.DemoPassword)
	})
}
