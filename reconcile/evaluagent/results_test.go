package evaluagent_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
)

// TestResultsOfCreditsEvaluationsByAgentID reads completed evaluations over
// HTTP, paged, and credits them by the agent's user id: two agents with
// the same name stay apart, and evaluations outside the days asked for are
// left out.
func TestResultsOfCreditsEvaluationsByAgentID(t *testing.T) {
	seed := evaluagentsim.DefaultSeed()
	seed.Users = []evaluagentsim.SeedUser{
		{ID: "11111111-1111-4111-8111-111111111111", Forename: "Sam", Surname: "Lee", Username: "sam.one", Roles: []string{"agent"}, Team: "Test Team 1"},
		{ID: "22222222-2222-4222-8222-222222222222", Forename: "Sam", Surname: "Lee", Username: "sam.two", Roles: []string{"agent"}, Team: "Test Team 1"},
		{ID: "33333333-3333-4333-8333-333333333333", Forename: "Eve", Surname: "Evaluator", Username: "eve", Roles: []string{"quality_analyst"}},
	}
	for i, e := range []struct {
		agent string
		score float64
		at    string
	}{
		{"sam.one", 80, "2026-03-01T23:59:00Z"}, {"sam.one", 90, "2026-02-10T00:00:00Z"}, {"sam.two", 50, "2026-02-20T12:00:00Z"},
		{"sam.two", 10, "2026-01-01T12:00:00Z"}, // before the period
		{"eve", 70, "2026-02-15T12:00:00Z"},     // not asked for
	} {
		seed.Evaluations = append(seed.Evaluations, evaluagentsim.SeedEvaluation{Reference: "EV" + string(rune('1'+i)), Score: e.score,
			PublishedAt: e.at, Agent: e.agent, Evaluator: "eve"})
	}
	cfg := evaluagentsim.DefaultConfig()
	cfg.Seed, cfg.PageSize = seed, 2
	sim, err := evaluagentsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	c, err := evaluagent.New(evaluagent.Config{BaseURL: srv.URL + "/v1", KeyID: evaluagentsim.DemoKeyID, KeySecret: evaluagentsim.DemoKeySecret})
	if err != nil {
		t.Fatal(err)
	}
	var _ reconcile.ResultsReader = c
	got, err := c.ResultsOf(context.Background(), []string{"11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", "nobody"},
		time.Date(2026, 2, 1, 15, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 1, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]reconcile.PersonResults{
		"11111111-1111-4111-8111-111111111111": {What: "QA evaluations", Count: 2, Average: 85},
		"22222222-2222-4222-8222-222222222222": {What: "QA evaluations", Count: 1, Average: 50},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("results (-want +got):\n%s", d)
	}
}
