package evaluagent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/rostersync/rostersync/reconcile"
)

// ResultsOf implements reconcile.ResultsReader: one walk of the completed
// evaluations (E1) published from the start of day from to the end of day
// to (UTC), credited to people by the agent relationship's user id, never
// by agent_name.
func (c *Client) ResultsOf(ctx context.Context, userIDs []string, from, to time.Time) (map[string]reconcile.PersonResults, error) {
	want := make(map[string]bool, len(userIDs))
	for _, id := range userIDs {
		want[id] = true
	}
	start := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	end := time.Date(to.Year(), to.Month(), to.Day(), 23, 59, 59, 0, time.UTC)
	q := url.Values{"filter[published_at;between]": {start.Format(time.RFC3339) + "," + end.Format(time.RFC3339)}, "sort": {"published_at"}}
	rs, err := c.list(ctx, call{route: c.routes.ListEvaluations, query: q, op: "list", object: "evaluations"})
	if err != nil {
		return nil, err
	}
	sums := map[string]float64{}
	out := map[string]reconcile.PersonResults{}
	for _, r := range rs {
		var a struct {
			Score float64 `json:"score"`
		}
		if err := r.attrs(&a); err != nil {
			return nil, fmt.Errorf("evaluagent: list evaluations: %w", err)
		}
		var agent identifier
		if rel, ok := r.Relationships["agent"]; ok && !isNull(rel.Data) {
			if err := json.Unmarshal(rel.Data, &agent); err != nil {
				return nil, fmt.Errorf("evaluagent: list evaluations: evaluation %q: agent: %w", r.ID, err)
			}
		}
		id := string(agent.ID)
		if !want[id] {
			continue
		}
		res := out[id]
		res.What, res.Count = "QA evaluations", res.Count+1
		sums[id] += a.Score
		res.Average = sums[id] / float64(res.Count)
		out[id] = res
	}
	return out, nil
}
