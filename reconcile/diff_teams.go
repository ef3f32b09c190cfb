package reconcile

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

func (d *differ) teams() {
	keys := make([]string, 0, len(d.desTeams))
	for k := range d.desTeams {
		if d.depth(k) < 0 {
			d.problem(KindTeam, k, "team %q has a missing or cyclic parent %q", d.desTeams[k].Name, d.desTeams[k].Parent)
			continue
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(d.teamDepth[a], d.teamDepth[b]), cmp.Compare(a, b))
	})
	if d.rootID == "" && len(keys) > 0 {
		d.problem(KindTeam, "", "the platform has no root group; teams cannot be placed")
		return
	}
	claimed := map[string]bool{}
	for _, k := range keys {
		want := d.desTeams[k]
		if why := d.blockedTeams[want.Parent]; why != "" {
			d.blockedTeams[k] = "its parent group " + why
			d.problem(KindTeam, k, "group %q is left alone: its parent %s", want.Name, why)
			continue
		}
		if why := d.badName("group name", want.Name, d.pol.Target.groupNameLen()); why != "" {
			d.blockedTeams[k] = "has an invalid name"
			d.problem(KindTeam, k, "%s", why)
			continue
		}
		parentID, parentKnown := d.teamIDs[want.Parent]
		var cur *Team
		if id, ok := d.own.Teams[k]; ok && d.curTeams[id] != nil {
			cur = d.curTeams[id]
		} else if parentKnown {
			if ex := d.findExcludedTeam(want.Name, parentID); ex != nil {
				d.blockedTeams[k] = "is excluded"
				d.problem(KindTeam, k, "group %q is excluded; rostersync never touches it, nor the agents mapped into it", ex.Name)
				continue
			}
			cur = d.findTeam(want.Name, parentID, claimed)
		}
		if cur != nil && d.protectedTeam(cur) {
			d.blockedTeams[k] = "is excluded"
			d.teamIDs[k] = cur.ID
			d.problem(KindTeam, k, "group %q is excluded; rostersync never touches it, nor the agents mapped into it", cur.Name)
			continue
		}
		if cur == nil {
			t := *want
			t.Active = true
			d.add(Op{Action: ActionCreate, Kind: KindTeam, Key: k, Name: want.Name, Team: &t,
				Changes: teamCreateChanges(want, d.teamName(want.Parent)),
				Why:     Reason{Code: ReasonNew, Origin: want.Origin}})
			continue
		}
		claimed[cur.ID] = true
		d.teamIDs[k] = cur.ID
		_, owned := d.teamOwner[cur.ID]
		var ch []Change
		var fields []Field
		if cur.Name != want.Name {
			ch = append(ch, Change{FieldName, cur.Name, want.Name})
			fields = append(fields, FieldName)
		}
		if parentKnown && cur.Parent != parentID || !parentKnown {
			ch = append(ch, Change{FieldParent, d.curTeamName(cur.Parent), d.teamName(want.Parent)})
			fields = append(fields, FieldParent)
		}
		if !cur.Active {
			ch = append(ch, Change{FieldActive, "false", "true"})
			fields = append(fields, FieldActive)
		}
		if !strings.EqualFold(cur.Level, want.Level) {
			d.problem(KindTeam, k, "group %q is at level %q on the platform but the mapping puts it at %q; levels cannot be changed in place", want.Name, cur.Level, want.Level)
		}
		t := *want
		t.Active = true
		op := Op{Kind: KindTeam, Key: k, ID: cur.ID, Name: want.Name, Team: &t, Changes: ch, Fields: fields,
			Fingerprint: Fingerprint(cur)}
		switch {
		case !owned:
			op.Action = ActionAdopt
			op.Why = Reason{Code: ReasonAdoptGroup, Existing: cur.Name}
		case len(ch) > 0:
			op.Action = ActionUpdate
			op.Why = Reason{Code: ReasonChanged, Origin: want.Origin}
		default:
			d.plan.Summary.Unchanged++
			continue
		}
		d.add(op)
	}
	// Owned teams that are no longer desired.
	var gone []*Team
	for key, id := range d.own.Teams {
		if _, ok := d.desTeams[key]; ok {
			continue
		}
		if t := d.curTeams[id]; t != nil && t.Active && t.ID != d.rootID && !d.protectedTeam(t) {
			gone = append(gone, t)
		}
	}
	d.goneTeams = gone
}

// flatTeams resolves each desired team key to its name, for a target whose
// teams are bare names: there is nothing to create, move or deactivate.
func (d *differ) flatTeams() {
	for k, t := range d.desTeams {
		d.teamIDs[k] = strings.TrimSpace(t.Name)
	}
}

// deactivateTeams plans the deactivation of owned groups no source wants,
// once the users' operations are known: a group that would still hold an
// active agent or an active child group is left active, with a problem.
func (d *differ) deactivateTeams() {
	gone := d.goneTeams
	going := map[string]bool{}
	for _, t := range gone {
		going[t.ID] = true
	}
	// Where every agent is once the plan is through: an op that moves or
	// deactivates them counts whatever its status, because the group's
	// deactivation needs that op (an edge) and waits with it when it waits.
	final := map[string]string{} // platform user id → group id after the plan
	for _, o := range d.plan.Ops {
		if o.Kind != KindUser || o.ID == "" || o.Status == StatusUnsupported {
			continue
		}
		switch {
		case o.Action == ActionDeactivate:
			final[o.ID] = ""
		case slices.Contains(o.Fields, FieldTeam):
			final[o.ID] = d.teamIDs[o.User.Team]
		}
	}
	agents := map[string]int{}
	for _, u := range d.current.Users {
		team, changed := final[u.ID]
		if !changed {
			team = u.Team
		}
		if u.Active && team != "" {
			agents[team]++
		}
	}
	slices.SortFunc(gone, func(a, b *Team) int { return cmp.Compare(d.teamOwner[a.ID], d.teamOwner[b.ID]) })
	for _, t := range gone {
		if n := agents[t.ID]; n > 0 {
			d.problem(KindTeam, d.teamOwner[t.ID], "group %q is no longer in the source but still has %d active agent(s); it stays active until they move", t.Name, n)
			continue
		}
		if c := d.activeChild(t.ID, going); c != "" {
			d.problem(KindTeam, d.teamOwner[t.ID], "group %q is no longer in the source but still has the active child group %q; it stays active", t.Name, c)
			continue
		}
		op := Op{Action: ActionDeactivate, Kind: KindTeam, Key: d.teamOwner[t.ID], ID: t.ID, Name: t.Name,
			Changes: []Change{{FieldActive, "true", "false"}}, Fields: []Field{FieldActive},
			Why: Reason{Code: ReasonGone}, Fingerprint: Fingerprint(t)}
		d.suppressIfIncomplete(&op)
		d.add(op)
	}
}

func (d *differ) activeChild(id string, going map[string]bool) string {
	moving := map[string]bool{} // groups an op moves to another parent
	for _, o := range d.plan.Ops {
		if o.Kind == KindTeam && o.ID != "" && o.Team != nil && slices.Contains(o.Fields, FieldParent) && d.teamIDs[o.Team.Parent] != id {
			moving[o.ID] = true
		}
	}
	for _, c := range d.current.Teams {
		if c.Parent == id && c.Active && !going[c.ID] && !moving[c.ID] {
			return c.Name
		}
	}
	for _, o := range d.plan.Ops {
		if o.Kind == KindTeam && o.Team != nil && o.Action != ActionDeactivate && d.teamIDs[o.Team.Parent] == id {
			return o.Name
		}
	}
	return ""
}

// badName says why a name is outside the platform's limit, or "".
func (d *differ) badName(what, name string, l Limit) string {
	n := utf8.RuneCountInString(name)
	if l == (Limit{}) || n >= l.Min && n <= l.Max {
		return ""
	}
	return fmt.Sprintf("%s %q has %d characters; %s accepts %d to %d", what, name, n, d.pol.Target.platform(), l.Min, l.Max)
}

func (d *differ) protectedTeam(t *Team) bool {
	return d.pol.ProtectedTeam != nil && d.pol.ProtectedTeam(*t)
}

// findExcludedTeam returns the excluded platform group named name under
// parentID, if any: a desired group must not be created or adopted in its
// place.
func (d *differ) findExcludedTeam(name, parentID string) *Team {
	for i := range d.current.Teams {
		t := &d.current.Teams[i]
		if t.Parent == parentID && strings.EqualFold(t.Name, name) && d.protectedTeam(t) {
			return t
		}
	}
	return nil
}

func (d *differ) findTeam(name, parentID string, claimed map[string]bool) *Team {
	var best *Team
	for i := range d.current.Teams {
		t := &d.current.Teams[i]
		if t.Parent != parentID || claimed[t.ID] || !strings.EqualFold(t.Name, name) {
			continue
		}
		if _, owned := d.teamOwner[t.ID]; owned {
			continue // owned by another key
		}
		if best == nil || t.Active && !best.Active {
			best = t
		}
	}
	return best
}

func (d *differ) teamName(key string) string {
	if key == "" {
		if r := d.curTeams[d.rootID]; r != nil {
			return r.Name
		}
		return "(root)"
	}
	if t := d.desTeams[key]; t != nil {
		return t.Name
	}
	return key
}

func (d *differ) curTeamName(id string) string {
	if t := d.curTeams[id]; t != nil {
		return t.Name
	}
	return id
}

func teamCreateChanges(t *Team, parent string) []Change {
	return []Change{{FieldName, "", t.Name}, {FieldParent, "", parent}, {FieldLevel, "", t.Level}}
}
