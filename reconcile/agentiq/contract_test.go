package agentiq_test

import (
	"net/http/httptest"
	"testing"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/agentiq"
	"github.com/rostersync/rostersync/reconcile/agentiq/agentiqsim"
	"github.com/rostersync/rostersync/reconcile/targettest"
)

// TestTargetContract runs the target contract suite against the client
// over the simulator, with uploads of five rows.
func TestTargetContract(t *testing.T) {
	const rows = 5
	targettest.Run(t, targettest.Harness{
		Open: func(t *testing.T) reconcile.Target {
			sim, err := agentiqsim.New(agentiqsim.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(sim)
			t.Cleanup(srv.Close)
			c, err := agentiq.New(agentiq.Config{BaseURL: srv.URL, APIKey: agentiqsim.DemoAPIKey, MaxRows: rows})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		TeamLevel: "Team",
		Role:      "agent",
		PageSize:  rows,
	})
}
