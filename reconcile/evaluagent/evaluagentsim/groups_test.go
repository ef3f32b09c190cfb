package evaluagentsim

import (
	"strings"
	"testing"
)

func TestCreateGroupShapes(t *testing.T) {
	h := newHarness(t, nil)
	root := h.rootID()
	// §7.3 relationships.
	g := h.do("POST", "/org/groups", groupBody("", obj{"name": "North"}, obj{
		"parent": obj{"data": ref("groups", root)}, "level": obj{"data": ref("levels", h.levelID("Site"))},
	})).want(t, 201).one(t)
	want := map[string]string{
		"name": `"North"`, "level": `"Site"`, "parent": `"` + root + `"`, "active": "true",
		"has_children": "false", "is_custom_reporting_group": "false",
	}
	for k, v := range want {
		if g.attr(k) != v {
			t.Errorf("attribute %s = %s, want %s", k, g.attr(k), v)
		}
	}
	if len(g.Attributes) != len(want) || g.Relationships != nil {
		t.Errorf("group %+v: want exactly %d attributes and no relationships", g, len(want))
	}
	// The attribute spellings parent_id and level_id.
	team := h.do("POST", "/org/groups", groupBody("", obj{"name": "Team North", "parent_id": g.ID, "level_id": h.levelID("Team")}, nil)).want(t, 201).one(t)
	if team.attr("parent") != `"`+g.ID+`"` || team.attr("level") != `"Team"` {
		t.Errorf("created with attributes: %+v", team.Attributes)
	}
	h.unchanged(func() {
		h.do("POST", "/org/groups", groupBody("", obj{"name": "Other", "parent_id": root},
			obj{"parent": obj{"data": ref("groups", g.ID)}, "level": obj{"data": ref("levels", h.levelID("Site"))}})).
			wantError(t, 422, "/data/attributes/parent_id", "")
		h.do("POST", "/org/groups", groupBody("", obj{"name": "Other"}, obj{"parent": obj{"data": ref("groups", root)}})).
			wantError(t, 422, "/data/relationships/level", "The level field is required.")
		h.do("POST", "/org/groups", groupBody("", obj{"name": "Other", "level_id": "no-such-level", "parent_id": root}, nil)).
			wantError(t, 422, "/data/attributes/level_id", "The selected level is invalid.")
		h.do("POST", "/org/groups", groupBody("", obj{"name": "Other", "level": "Site", "parent_id": root, "level_id": h.levelID("Site")}, nil)).
			wantError(t, 422, "/data/attributes/level", "The level attribute is read-only.")
	})
	if got := h.do("GET", "/org/groups", nil).want(t, 200).many(t); len(got) != 4 || got[2].attr("has_children") != "true" {
		t.Errorf("listing %d groups (want 4), North has_children %s", len(got), got[2].attr("has_children"))
	}
}

func TestUpdateGroup(t *testing.T) {
	h := newHarness(t, nil)
	root := h.rootID()
	north := h.createGroup("North", "Site", root)
	south := h.createGroup("South", "Site", root)
	team := h.createGroup("Team A", "Team", north)
	// Rename.
	h.do("PATCH", "/org/groups/"+team, groupBody(team, obj{"name": "Team North"}, nil)).want(t, 200)
	// Move via relationships.parent, with PUT.
	g := h.do("PUT", "/org/groups/"+team, groupBody(team, nil, obj{"parent": obj{"data": ref("groups", south)}})).want(t, 200).one(t)
	if g.attr("parent") != `"`+south+`"` || g.attr("name") != `"Team North"` {
		t.Errorf("after move %+v", g.Attributes)
	}
	// Deactivate, then it is listed only with show_inactive.
	h.do("PATCH", "/org/groups/"+team, groupBody(team, obj{"active": false}, nil)).want(t, 200)
	if got := h.do("GET", "/org/groups", nil).want(t, 200).many(t); len(got) != 4 {
		t.Errorf("default listing has %d groups, want 4 active", len(got))
	}
	for _, q := range []string{"?show_inactive=true", "?show_inactive=1"} {
		if got := h.do("GET", "/org/groups"+q, nil).want(t, 200).many(t); len(got) != 5 {
			t.Errorf("%s: %d groups, want 5", q, len(got))
		}
	}
	const missing = "5f0c7c7e-0000-4000-8000-000000000000"
	h.do("PATCH", "/org/groups/"+missing, groupBody(missing, obj{"name": "Nothing"}, nil)).wantError(t, 404, "", "Group not found")
	h.do("DELETE", "/org/groups/"+missing, nil).wantError(t, 404, "", "Group not found")
}

// D9
func TestRootGroupRules(t *testing.T) {
	h := newHarness(t, nil)
	root := h.rootID()
	site := h.createGroup("North", "Site", root)
	h.unchanged(func() {
		h.do("PATCH", "/org/groups/"+root, groupBody(root, obj{"active": false}, nil)).
			wantError(t, 422, "/data/attributes/active", "The root group cannot be deactivated.")
		h.do("PATCH", "/org/groups/"+root, groupBody(root, nil, obj{"parent": obj{"data": ref("groups", site)}})).
			wantError(t, 422, "/data/relationships/parent", "The root group cannot be moved.")
		h.do("DELETE", "/org/groups/"+root, nil).wantError(t, 422, "/data", "")
		// A second root is refused, whether parent is null or left out.
		h.do("POST", "/org/groups", groupBody("", obj{"name": "Another Root"}, obj{"parent": obj{"data": nil}, "level": obj{"data": ref("levels", h.levelID("Business"))}})).
			wantError(t, 422, "/data/relationships/parent", "")
		h.do("POST", "/org/groups", groupBody("", obj{"name": "Another Root", "level_id": h.levelID("Business")}, nil)).
			wantError(t, 422, "/data/relationships/parent", "")
		// Nor can another group become a root.
		h.do("PATCH", "/org/groups/"+site, groupBody(site, obj{"parent_id": nil}, nil)).
			wantError(t, 422, "/data/attributes/parent_id", "")
	})
	h.do("PATCH", "/org/groups/"+root, groupBody(root, obj{"name": "Renamed Centre"}, nil)).want(t, 200)
}

// D10
func TestGroupNameRules(t *testing.T) {
	h := newHarness(t, nil)
	root := h.rootID()
	north := h.createGroup("North", "Site", root)
	h.createGroup("Team A", "Team", north)
	h.createGroup("Team A", "Team", h.createGroup("South", "Site", root)) // same name, other parent
	h.createGroup(strings.Repeat("n", 255), "Site", root)
	site := h.levelID("Site")
	for name, tc := range map[string]string{
		"too short":        "ab",
		"too long":         strings.Repeat("n", 256),
		"blank":            "   ",
		"sibling":          "north",
		"test team, upper": "TEST TEAM 1",
	} {
		t.Run(name, func(t *testing.T) {
			h.unchanged(func() {
				h.do("POST", "/org/groups", groupBody("", obj{"name": tc, "parent_id": root, "level_id": site}, nil)).
					wantError(t, 422, "/data/attributes/name", "")
			})
		})
	}
	south := h.groupID("South")
	h.unchanged(func() {
		h.do("PATCH", "/org/groups/"+south, groupBody(south, obj{"name": "NORTH"}, nil)).wantError(t, 422, "/data/attributes/name", "")
		// Moving under a parent that already has that name is refused as well.
		teamA := ""
		for _, g := range h.sim.Groups() {
			if g.Name == "Team A" && g.ParentID == south {
				teamA = g.ID
			}
		}
		h.do("PATCH", "/org/groups/"+teamA, groupBody(teamA, obj{"parent_id": north}, nil)).wantError(t, 422, "/data/attributes/name", "")
	})
	h.do("PATCH", "/org/groups/"+south, groupBody(south, obj{"name": "SOUTH"}, nil)).want(t, 200)
}

// D11
func TestGroupParentRules(t *testing.T) {
	h := newHarness(t, nil)
	root, team := h.rootID(), h.groupID("Test Team 1")
	// A chain of 7 levels: root and six below.
	chain := []string{root}
	for i := 1; i < 7; i++ {
		chain = append(chain, h.createGroup("Level "+string(rune('0'+i)), "Department", chain[i-1]))
	}
	idle := h.createGroup("Idle", "Site", root)
	h.do("PATCH", "/org/groups/"+idle, groupBody(idle, obj{"active": false}, nil)).want(t, 200)
	dept := h.levelID("Department")
	for name, tc := range map[string]struct{ parent, detail string }{
		"unknown parent":    {"no-such-group", "The parent group does not exist."},
		"inactive parent":   {idle, "The parent group is inactive."},
		"Team-level parent": {team, "A Team-level group cannot have child groups."},
		"eighth level":      {chain[6], "The group hierarchy is at most 7 levels deep."},
	} {
		t.Run(name, func(t *testing.T) {
			h.unchanged(func() {
				h.do("POST", "/org/groups", groupBody("", obj{"name": "New Group"}, obj{
					"parent": obj{"data": ref("groups", tc.parent)}, "level": obj{"data": ref("levels", dept)},
				})).wantError(t, 422, "/data/relationships/parent", tc.detail)
			})
		})
	}
	move := func(id, parent string) result {
		return h.do("PATCH", "/org/groups/"+id, groupBody(id, nil, obj{"parent": obj{"data": ref("groups", parent)}}))
	}
	h.unchanged(func() {
		move(chain[2], chain[5]).wantError(t, 422, "/data/relationships/parent", "A group cannot be moved under itself or one of its descendants.")
		move(chain[2], chain[2]).wantError(t, 422, "/data/relationships/parent", "A group cannot be moved under itself or one of its descendants.")
		// chain[5] has two levels under it (5 and 6); under chain[5]'s depth-6 sibling it would reach 8.
		other := h.createGroup("Side", "Department", chain[4]) // depth 6
		move(chain[5], other).wantError(t, 422, "/data/relationships/parent", "The group hierarchy is at most 7 levels deep.")
		h.do("DELETE", "/org/groups/"+other, nil).want(t, 204)
		move(team, idle).wantError(t, 422, "/data/relationships/parent", "The parent group is inactive.")
	})
	// A Team with children, and a Team's level changed away while it has agents, are refused.
	h.createAgent("ann", team)
	h.unchanged(func() {
		h.do("PATCH", "/org/groups/"+chain[5], groupBody(chain[5], obj{"level_id": h.levelID("Team")}, nil)).
			wantError(t, 422, "/data/attributes/level_id", "A Team-level group cannot have child groups.")
		h.do("PATCH", "/org/groups/"+team, groupBody(team, nil, obj{"level": obj{"data": ref("levels", dept)}})).
			wantError(t, 422, "/data/relationships/level", "The group has agents, who can only sit in a Team-level group.")
	})
	// A leaf without agents may change level.
	h.do("PATCH", "/org/groups/"+chain[6], groupBody(chain[6], obj{"level_id": h.levelID("Team")}, nil)).want(t, 200)
}

// D12
func TestDeleteGroupRules(t *testing.T) {
	h := newHarness(t, nil)
	root, team := h.rootID(), h.groupID("Test Team 1")
	site := h.createGroup("North", "Site", root)
	child := h.createGroup("Team North", "Team", site)
	h.do("PATCH", "/org/groups/"+child, groupBody(child, obj{"active": false}, nil)).want(t, 200)
	agent := h.createAgent("ann", team)
	h.unchanged(func() {
		h.do("DELETE", "/org/groups/"+site, nil).wantError(t, 422, "/data", "The group has child groups.") // inactive child counts
		h.do("DELETE", "/org/groups/"+team, nil).wantError(t, 422, "/data", "The group has agents.")
	})
	res := h.do("DELETE", "/org/groups/"+child, nil).want(t, 204)
	if len(res.body) != 0 {
		t.Errorf("204 with body %q", res.body)
	}
	h.do("DELETE", "/org/groups/"+site, nil).want(t, 204)
	h.do("PATCH", "/org/groups/"+site, groupBody(site, obj{"name": "Back"}, nil)).wantError(t, 404, "", "Group not found")
	h.do("PATCH", "/org/users/"+agent, userBody(agent, nil, obj{"roles": rolesRel(h.roleID("manager"))})).want(t, 200)
	h.do("DELETE", "/org/groups/"+team, nil).want(t, 204)
}

// D13
func TestDeactivateGroupRules(t *testing.T) {
	h := newHarness(t, nil)
	root, team := h.rootID(), h.groupID("Test Team 1")
	site := h.createGroup("North", "Site", root)
	child := h.createGroup("Team North", "Team", site)
	agent := h.createAgent("ann", team)
	deactivate := func(id string) result {
		return h.do("PATCH", "/org/groups/"+id, groupBody(id, obj{"active": false}, nil))
	}
	h.unchanged(func() {
		deactivate(site).wantError(t, 422, "/data/attributes/active", "The group has active child groups.")
		deactivate(team).wantError(t, 422, "/data/attributes/active", "The group has agents.")
	})
	deactivate(child).want(t, 200)
	deactivate(site).want(t, 200) // only inactive children left
	// An inactive group can be neither a team nor a parent.
	h.unchanged(func() {
		h.do("PATCH", "/org/users/"+agent, userBody(agent, nil, obj{"agent-team": teamRel(child)})).
			wantError(t, 422, "/data/relationships/agent-team", "The agent team is inactive.")
		h.do("POST", "/org/groups", groupBody("", obj{"name": "Below", "parent_id": site, "level_id": h.levelID("Team")}, nil)).
			wantError(t, 422, "/data/attributes/parent_id", "The parent group is inactive.")
		h.do("PATCH", "/org/groups/"+child, groupBody(child, obj{"active": true}, nil)).
			wantError(t, 422, "/data/attributes/active", "The parent group is inactive.")
	})
	h.do("PATCH", "/org/groups/"+site, groupBody(site, obj{"active": true}, nil)).want(t, 200)
	h.do("PATCH", "/org/groups/"+child, groupBody(child, obj{"active": true}, nil)).want(t, 200)
	if g := h.group(child); !g.Active {
		t.Errorf("child %+v, want active again", g)
	}
}
