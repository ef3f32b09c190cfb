package evaluagent_test

import (
	"net/http/httptest"
	"testing"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
	"github.com/rostersync/rostersync/reconcile/targettest"
)

// TestTargetContract runs the target contract suite against the client
// over the simulator, with lists paged five to a page.
func TestTargetContract(t *testing.T) {
	const pageSize = 5
	targettest.Run(t, targettest.Harness{
		Open: func(t *testing.T) reconcile.Target {
			cfg := evaluagentsim.DefaultConfig()
			cfg.PageSize = pageSize
			sim, err := evaluagentsim.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(sim)
			t.Cleanup(srv.Close)
			c, err := evaluagent.New(evaluagent.Config{BaseURL: srv.URL + "/v1", KeyID: evaluagentsim.DemoKeyID, KeySecret: evaluagentsim.DemoKeySecret})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		Policy:    reconcile.Policy{AgentLevel: "Team"},
		TeamLevel: "Team",
		Role:      "agent",
		PageSize:  pageSize,
	})
}
