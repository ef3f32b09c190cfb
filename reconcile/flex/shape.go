package flex

import (
	"maps"
	"slices"
	"strings"

	"github.com/rostersync/rostersync/reconcile"
)

// ShapeDesired returns desired with every user's Attributes made into the
// worker keys rostersync owns: team_id, team_name and
// team_name_in_hierarchy from the user's team in the mapped tree (the id is
// the team's stable key, never its name), department_name_in_hierarchy
// from department_name when the mapping gives no hierarchy, and the
// mapping's user.attributes. A key other active people have but this one
// does not (their directory value became empty) is set to
// reconcile.AttributeRemoved, so the plan removes it. Keys the configuration does not give
// rostersync (owned_keys), or that the IdP owns, are dropped: they are
// never written. Users without attributes keep none, so a tenant whose
// mapping names none is planned exactly as before. desired is not changed.
//
// Under teams: mirror, the teams are then named by team_name_template (the
// attributes keep the directory's names).
func (c *Client) ShapeDesired(desired *reconcile.Snapshot) *reconcile.Snapshot {
	out := c.shapeAttributes(desired)
	if c.mirror() {
		if out == desired {
			cp := *desired
			out = &cp
		}
		c.shapeTeams(out)
	}
	return out
}

func (c *Client) shapeAttributes(desired *reconcile.Snapshot) *reconcile.Snapshot {
	if c.cfg.Attributes == AttributesOff {
		return desired
	}
	teams := map[string]reconcile.Team{}
	for _, t := range desired.Teams {
		teams[t.Key] = t
	}
	path := func(key string) string {
		var names []string
		seen := map[string]bool{}
		for k := key; k != "" && !seen[k]; k = teams[k].Parent {
			seen[k] = true
			t, ok := teams[k]
			if !ok {
				break
			}
			names = append(names, t.Name)
		}
		slices.Reverse(names)
		return strings.Join(names, c.cfg.Separator)
	}
	out := *desired
	out.Users = slices.Clone(desired.Users)
	for i := range out.Users {
		u := &out.Users[i]
		attrs := maps.Clone(u.Attributes)
		if t, ok := teams[u.Team]; ok && u.Team != "" && u.Active {
			if attrs == nil {
				attrs = map[string]string{}
			}
			attrs["team_id"] = t.Key
			attrs["team_name"] = t.Name
			attrs["team_name_in_hierarchy"] = path(t.Key)
		}
		if d := attrs["department_name"]; d != "" && attrs["department_name_in_hierarchy"] == "" {
			attrs["department_name_in_hierarchy"] = d
		}
		for k := range attrs {
			if !slices.Contains(c.cfg.OwnedKeys, k) || slices.Contains(c.cfg.IdPOwnedKeys, k) || neverWritten(k) {
				delete(attrs, k)
			}
		}
		if len(attrs) == 0 {
			attrs = nil
		}
		u.Attributes = attrs
	}
	// A key the directory gives someone but no longer gives this person
	// (their value became empty) is removed from their worker: the owned
	// keys are rostersync's alone (§8.1). A key nobody has is not mapped
	// and is left alone.
	given := map[string]bool{}
	for _, u := range out.Users {
		for k := range u.Attributes {
			if u.Active {
				given[k] = true
			}
		}
	}
	for i := range out.Users {
		u := &out.Users[i]
		if !u.Active {
			continue
		}
		for k := range given {
			if _, ok := u.Attributes[k]; !ok {
				if u.Attributes == nil {
					u.Attributes = map[string]string{}
				}
				u.Attributes[k] = reconcile.AttributeRemoved
			}
		}
	}
	return &out
}
