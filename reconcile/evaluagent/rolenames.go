package evaluagent

// RoleNames returns the machine names of the roles the platform has, as the
// last List (or Roles) found them; nil before either. The planner uses them
// to report a role the platform does not have as a plan problem instead of
// sending a request that fails on every pass.
func (c *Client) RoleNames() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	roles := c.cachedRoles()
	if roles == nil {
		return nil
	}
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		out = append(out, r.Name)
	}
	return out
}
