package evaluagent

import (
	"context"
	"fmt"
)

// RequestEndpoints maps the request names of a plan (reconcile.Plan's
// Requests) to the endpoints they are budgeted against: what an apply
// needs of each day's per-endpoint budget.
func (c *Client) RequestEndpoints() map[string]string {
	r := c.routes
	return map[string]string{
		"create user":          r.CreateUser.Endpoint(),
		"update user":          r.UpdateUser.Endpoint(),
		"create team":          r.CreateGroup.Endpoint(),
		"update team":          r.UpdateGroup.Endpoint(),
		"add queue agents":     r.AddQueueAgents.Endpoint(),
		"remove queue agents":  r.RemoveQueueAgents.Endpoint(),
		"replace queue agents": r.ReplaceQueueAgents.Endpoint(),
	}
}

// Vocabulary lists the names of the account's levels and roles, as a
// mapping may name them.
func (c *Client) Vocabulary(ctx context.Context) (levels, roles []string, err error) {
	ls, err := c.Levels(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list levels: %w", err)
	}
	rs, err := c.Roles(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("list roles: %w", err)
	}
	for _, l := range ls {
		levels = append(levels, l.Name)
	}
	for _, r := range rs {
		roles = append(roles, r.Name)
	}
	return levels, roles, nil
}
