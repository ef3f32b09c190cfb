package voki_test

import (
	"net/http/httptest"
	"testing"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/targettest"
	"github.com/rostersync/rostersync/reconcile/voki"
	"github.com/rostersync/rostersync/reconcile/voki/vokisim"
)

// openSim starts the default simulator over HTTP and a client of it with
// every write enabled and pages of size pageSize.
func openSim(t *testing.T, pageSize int, cfg func(*voki.Config)) (*voki.Client, *vokisim.Sim) {
	t.Helper()
	sim := vokisim.New(vokisim.DefaultConfig())
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c := voki.Config{BaseURL: srv.URL, Tenant: vokisim.DemoTenant, Email: vokisim.DemoEmail, Password: vokisim.DemoPassword,
		CreateUsers: true, Memberships: voki.Exact, Deactivate: voki.Enforce, Roles: voki.Enforce, PageSize: pageSize}
	if cfg != nil {
		cfg(&c)
	}
	client, err := voki.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return client, sim
}

// TestTargetContract runs the target contract suite against the client
// over the simulator, with pages of five and departments created.
func TestTargetContract(t *testing.T) {
	const page = 5
	targettest.Run(t, targettest.Harness{
		Open: func(t *testing.T) reconcile.Target {
			c, _ := openSim(t, page, func(c *voki.Config) { c.Structure = voki.Mirror })
			return c
		},
		Policy:    reconcile.Policy{AgentRole: "attendant"},
		TeamLevel: "Team",
		Role:      "attendant",
		PageSize:  page,
	})
}
