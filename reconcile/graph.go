package reconcile

import (
	"fmt"
	"slices"
	"strings"
)

// This file holds the plan's dependency graph: Diff gives every op the ops
// it needs (Op.Needs, by OpID), from the platform's domain rules; Settle
// marks the ops whose prerequisites will not be sent as waiting; Apply
// walks the graph.

// curDepth is how far below the root a platform group sits (0 for the root
// or an unknown id).
func (d *differ) curDepth(id string) int {
	n := 0
	for seen := map[string]bool{}; id != "" && !seen[id]; n++ {
		seen[id] = true
		t := d.curTeams[id]
		if t == nil {
			break
		}
		id = t.Parent
	}
	return n
}

// edges fills every op's Needs:
//
//   - a group's create, move or reactivation needs the create or
//     reactivation of its parent;
//   - a user's create, or an update that places them in a team, needs the
//     create or reactivation of that team;
//   - a queue's membership change needs the queue's create;
//   - a queue addition needs the create, reactivation, role change or
//     adoption that makes each member an active agent rostersync owns,
//     and a removal needs the adoption of each member adopted this pass;
//   - a user's deactivation needs the queue removals that take them off;
//   - a group's deactivation needs the deactivation of each child group,
//     the moves of child groups elsewhere, and the op that moves or
//     deactivates each agent in it.
func (d *differ) edges() {
	ops := d.plan.Ops
	// teamBorn: team key → OpID of the op that makes it an active group
	// (its create or reactivation); a rename, move or adoption changes
	// nothing a child or an agent placed in it needs.
	teamBorn := map[string]string{}
	userUp := map[string]*Op{}   // user key → its create/update/adopt
	userOff := map[string]bool{} // user keys deactivated
	qRemove := map[string][]string{}
	queueBorn := map[string]string{} // queue key → OpID of its create
	for i := range ops {
		o := &ops[i]
		switch {
		case o.Kind == KindQueue && o.Action == ActionCreate:
			queueBorn[o.Key] = OpID(o)
		case o.Kind == KindTeam && o.Action != ActionDeactivate:
			if o.Action == ActionCreate || slices.Contains(o.Fields, FieldActive) {
				teamBorn[o.Key] = OpID(o)
			}
		case o.Kind == KindUser && o.Action != ActionDeactivate && o.Status != StatusUnsupported:
			if userUp[o.Key] == nil {
				userUp[o.Key] = o
			}
		case o.Kind == KindUser:
			userOff[o.Key] = true
		case o.Kind == KindQueue:
			for _, k := range o.Remove {
				qRemove[k] = append(qRemove[k], OpID(o))
			}
		}
	}
	for i := range ops {
		o := &ops[i]
		var needs []string
		need := func(id string) {
			if id != "" && id != OpID(o) {
				needs = append(needs, id)
			}
		}
		switch {
		case o.Kind == KindTeam && o.Action != ActionDeactivate && o.Team != nil:
			if o.Action == ActionCreate || slices.Contains(o.Fields, FieldParent) || slices.Contains(o.Fields, FieldActive) {
				need(teamBorn[o.Team.Parent])
			}
		case o.Kind == KindUser && o.Action != ActionDeactivate && o.User != nil:
			if o.User.Team != "" && (o.Action == ActionCreate || slices.Contains(o.Fields, FieldTeam)) {
				need(teamBorn[o.User.Team])
			}
		case o.Kind == KindUser:
			for _, id := range qRemove[o.Key] {
				need(id)
			}
		case o.Kind == KindQueue && o.Action == ActionCreate:
		case o.Kind == KindQueue:
			need(queueBorn[o.Key])
			members := append(slices.Clone(o.Add), o.Replace...)
			for _, k := range members {
				u := userUp[k]
				if u != nil && (u.Action == ActionCreate || u.Action == ActionAdopt ||
					slices.Contains(u.Fields, FieldActive) || slices.Contains(u.Fields, FieldRoles)) {
					need(OpID(u))
				}
			}
			for _, k := range o.Remove {
				if u := userUp[k]; u != nil && u.Action == ActionAdopt {
					need(OpID(u))
				}
			}
		case o.Kind == KindTeam && o.Action == ActionDeactivate:
			for j := range ops {
				p := &ops[j]
				if p.ID == "" || p.Status == StatusUnsupported {
					continue
				}
				switch {
				case p.Kind == KindTeam && p.Action == ActionDeactivate:
					if c := d.curTeams[p.ID]; c != nil && c.Parent == o.ID {
						need(OpID(p))
					}
				case p.Kind == KindTeam && slices.Contains(p.Fields, FieldParent):
					if c := d.curTeams[p.ID]; c != nil && c.Parent == o.ID {
						need(OpID(p))
					}
				case p.Kind == KindUser && (p.Action == ActionDeactivate || slices.Contains(p.Fields, FieldTeam)):
					if u := d.curUser(p.ID); u != nil && u.Team == o.ID {
						need(OpID(p))
					}
				}
			}
		}
		slices.Sort(needs)
		o.Needs = slices.Compact(needs)
	}
}

// Settle marks as waiting every ready op that needs an op that will not be
// sent (held, suppressed, unsupported or waiting itself), naming what it
// waits for, and returns how many it marked. Needs that name no op of the
// plan are ignored. Diff and Guard call it; it is exported for callers
// that change statuses themselves.
func Settle(ops []Op) int {
	byID := map[string][]int{}
	for i := range ops {
		id := OpID(&ops[i])
		byID[id] = append(byID[id], i)
	}
	marked := 0
	for changed := true; changed; {
		changed = false
		for i := range ops {
			o := &ops[i]
			if !o.Ready() || len(o.Needs) == 0 {
				continue
			}
			var waits []Wait
			for _, n := range o.Needs {
				for _, j := range byID[n] {
					if p := &ops[j]; !p.Ready() {
						if p.Status == StatusUnsupported && len(byID[n]) > 1 {
							continue // a part split off an op that is sent: its sibling is the one needed
						}
						waits = append(waits, Wait{Op: n, Name: opLabel(p), Status: p.Status})
						break
					}
				}
			}
			if len(waits) == 0 {
				continue
			}
			o.Status = StatusWaiting
			o.Waits = waits
			changed = true
			marked++
		}
	}
	return marked
}

// relink points needs at the ops a queue op was split into (by the guard):
// a need of an OpID that no longer exists is replaced with the pieces that
// share a member with the user op that needs it (every piece for other
// ops).
func relink(ops []Op, pieces map[string][]string) {
	if len(pieces) == 0 {
		return
	}
	byID := map[string]*Op{}
	for i := range ops {
		byID[OpID(&ops[i])] = &ops[i]
	}
	var expand func(id string, seen map[string]bool) []string
	expand = func(id string, seen map[string]bool) []string {
		if byID[id] != nil || seen[id] {
			return []string{id}
		}
		seen[id] = true
		var out []string
		for _, p := range pieces[id] {
			out = append(out, expand(p, seen)...)
		}
		return out
	}
	for i := range ops {
		o := &ops[i]
		var out []string
		for _, n := range o.Needs {
			for _, id := range expand(n, map[string]bool{}) {
				p := byID[id]
				if p == nil {
					if pieces[n] == nil {
						out = append(out, id) // not ours to resolve
					}
					continue
				}
				if o.Kind != KindUser || p.Kind != KindQueue || slices.Contains(p.Remove, o.Key) || slices.Contains(p.Add, o.Key) {
					out = append(out, id)
				}
			}
		}
		slices.Sort(out)
		o.Needs = slices.Compact(out)
	}
}

// Lane names the endpoint an op's first request goes to, as Plan.Requests
// names them ("create user", "add queue agents"). Apply runs ops of
// different lanes side by side.
func Lane(o *Op) string {
	switch {
	case o.Kind == KindQueue && o.Action == ActionCreate:
		return "create queue"
	case o.Kind == KindQueue && o.Replace != nil:
		return "replace queue agents"
	case o.Kind == KindQueue && len(o.Add) > 0:
		return "add queue agents"
	case o.Kind == KindQueue:
		return "remove queue agents"
	case o.Action == ActionCreate:
		return "create " + string(o.Kind)
	}
	return "update " + string(o.Kind)
}

// waitWords renders what a waiting op waits for.
func waitWords(ws []Wait) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = fmt.Sprintf("%s (%s)", w.Name, w.Status)
	}
	return "waits for " + strings.Join(parts, ", ")
}
