package flex_test

import (
	"testing"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/flex"
	"github.com/rostersync/rostersync/reconcile/flex/flexsim"
	"github.com/rostersync/rostersync/reconcile/targettest"
)

// TestTargetContract runs the target contract suite against the client over
// the simulator, with pages of five users, provisioning on (the suite
// creates its people) and deprovisioning enforced.
func TestTargetContract(t *testing.T) {
	const page = 5
	targettest.Run(t, targettest.Harness{
		Open: func(t *testing.T) reconcile.Target {
			e := open(t, flexsim.Seed{}, func(c *flex.Config) {
				c.PageSize = page
				c.Provision = flex.ProvisionOn
				c.Deprovision = flex.DeprovisionEnforce
			})
			return e.client
		},
		TeamLevel: "Team",
		Role:      "agent",
		PageSize:  page,
		Attribute: "location",
	})
}
