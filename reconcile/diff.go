package reconcile

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Diff computes the plan that brings current in line with desired. It is
// pure: the same inputs give the same plan, byte for byte.
//
// Matching a desired user to a platform user goes by the ledger, then
// third_party_id, then username, then email. Only owned platform objects are
// ever updated or deactivated; an unowned match is adopted first (a visible
// op), and only when the policy allows it unless the match is by
// third_party_id.
func Diff(desired, current *Snapshot, own Ownership, pol Policy, now time.Time) *Plan {
	d := newDiffer(desired, current, own, pol.withDefaults())
	d.plan.CreatedAt = now.UTC().Truncate(time.Second)
	caps := d.pol.Target
	if caps.FlatTeams {
		d.flatTeams()
	} else {
		d.teams()
	}
	d.users()
	if !caps.NoQueues {
		d.queues()
	}
	if !caps.FlatTeams {
		d.deactivateTeams()
	}
	d.finish()
	return d.plan
}

type differ struct {
	desired, current *Snapshot
	own              Ownership
	pol              Policy
	plan             *Plan

	rootID    string
	curTeams  map[string]*Team // by id
	teamOwner map[string]string
	userOwner map[string]string
	desTeams  map[string]*Team // by key
	teamIDs   map[string]string
	teamDepth map[string]int
	claimed   map[string]string // platform user id → desired key
	planned   map[string]*User  // desired users that are created or owned, normalised
	goneTeams []*Team           // owned groups no source wants
	// blockedTeams are desired team keys that cannot be planned, and why:
	// an excluded platform group, one under it, or an invalid name.
	blockedTeams map[string]string
	curUsers     map[string]*User  // platform users by id
	queueNames   map[string]*Queue // lower name → queue
}

func newDiffer(desired, current *Snapshot, own Ownership, pol Policy) *differ {
	if own.Users == nil {
		own.Users = map[string]string{}
	}
	if own.Teams == nil {
		own.Teams = map[string]string{}
	}
	d := &differ{
		desired: desired, current: current, own: own, pol: pol,
		plan: &Plan{
			FormatVersion: PlanFormatVersion,
			Ops:           []Op{},
			TeamIDs:       map[string]string{},
			UserIDs:       map[string]string{},
			QueueIDs:      map[string]string{},
			Matches:       map[string]Match{},
		},
		curTeams:     make(map[string]*Team, len(current.Teams)),
		teamOwner:    invert(own.Teams),
		userOwner:    invert(own.Users),
		desTeams:     make(map[string]*Team, len(desired.Teams)),
		teamDepth:    map[string]int{},
		claimed:      make(map[string]string, len(desired.Users)),
		planned:      make(map[string]*User, len(desired.Users)),
		blockedTeams: map[string]string{},
		queueNames:   map[string]*Queue{},
	}
	d.teamIDs = d.plan.TeamIDs
	for i := range current.Teams {
		t := &current.Teams[i]
		d.curTeams[t.ID] = t
		if t.Parent == "" && d.rootID == "" {
			d.rootID = t.ID
		}
	}
	for i := range desired.Teams {
		d.desTeams[desired.Teams[i].Key] = &desired.Teams[i]
	}
	d.curUsers = make(map[string]*User, len(current.Users))
	for i := range current.Users {
		d.curUsers[current.Users[i].ID] = &current.Users[i]
	}
	for i := range current.Queues {
		q := &current.Queues[i]
		d.queueNames[strings.ToLower(q.Name)] = q
	}
	if d.rootID != "" {
		d.teamIDs[""] = d.rootID
	}
	return d
}

func invert(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

func (d *differ) add(op Op) {
	if !d.pol.Mode.allows(op.Action) {
		return
	}
	d.plan.Ops = append(d.plan.Ops, op)
}

func (d *differ) problem(k Kind, key, format string, args ...any) {
	d.plan.Problems = append(d.plan.Problems, Problem{Kind: k, Key: key, Message: fmt.Sprintf(format, args...)})
}

// depth returns how far below the root a desired team sits (1 for a child of
// the root), or -1 when its ancestry is broken or cyclic.
func (d *differ) depth(key string) int {
	if v, ok := d.teamDepth[key]; ok {
		return v
	}
	d.teamDepth[key] = -1 // cycle guard
	t, ok := d.desTeams[key]
	if !ok {
		return -1
	}
	v := 1
	if t.Parent != "" {
		p := d.depth(t.Parent)
		if p < 0 {
			return -1
		}
		v = p + 1
	}
	d.teamDepth[key] = v
	return v
}

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

type userIndex struct {
	byID, byTPID, byUsername, byEmail map[string]*User
}

func indexUsers(us []User) userIndex {
	ix := userIndex{
		byID:       make(map[string]*User, len(us)),
		byTPID:     make(map[string]*User, len(us)),
		byUsername: make(map[string]*User, len(us)),
		byEmail:    make(map[string]*User, len(us)),
	}
	for i := range us {
		u := &us[i]
		ix.byID[u.ID] = u
		if u.ThirdPartyID != "" {
			ix.byTPID[u.ThirdPartyID] = u
		}
		ix.byUsername[strings.ToLower(u.Username)] = u
		if u.Email != "" {
			ix.byEmail[strings.ToLower(u.Email)] = u
		}
	}
	return ix
}

// match finds the platform user for a desired one and says how it matched.
func (d *differ) match(ix userIndex, want *User) (*User, string) {
	if id, ok := d.own.Users[want.Key]; ok {
		if u := ix.byID[id]; u != nil {
			return u, "ledger"
		}
	}
	free := func(u *User) bool {
		if u == nil {
			return false
		}
		if _, taken := d.claimed[u.ID]; taken {
			return false
		}
		owner, owned := d.userOwner[u.ID]
		return !owned || owner == want.Key
	}
	if u := ix.byTPID[want.ThirdPartyID]; want.ThirdPartyID != "" && free(u) {
		return u, "third_party_id"
	}
	if u := ix.byUsername[strings.ToLower(want.Username)]; d.pol.Target.holds(FieldUsername) && free(u) {
		return u, "username"
	}
	if u := ix.byEmail[strings.ToLower(want.Email)]; want.Email != "" && free(u) {
		return u, "email"
	}
	return nil, ""
}

func (d *differ) protected(u *User) bool { return d.pol.Protected != nil && d.pol.Protected(*u) }

func (d *differ) users() {
	ix := indexUsers(d.current.Users)
	desired := make([]*User, len(d.desired.Users))
	for i := range d.desired.Users {
		desired[i] = &d.desired.Users[i]
	}
	slices.SortFunc(desired, func(a, b *User) int { return cmp.Compare(a.Key, b.Key) })
	seen := make(map[string]bool, len(desired))
	for _, want := range desired {
		if seen[want.Key] {
			d.problem(KindUser, want.Key, "user key %q appears twice in the desired state", want.Key)
			continue
		}
		seen[want.Key] = true
		w := d.effective(want)
		if w == nil {
			continue
		}
		cur, how := d.match(ix, w)
		if cur != nil {
			d.plan.Matches[w.Key] = Match{ID: cur.ID, How: how}
		}
		if cur != nil && d.protected(cur) || d.protected(w) {
			continue
		}
		if cur == nil {
			if !w.Active {
				continue // a leaver the platform never had
			}
			d.planned[w.Key] = w
			d.add(Op{Action: ActionCreate, Kind: KindUser, Key: w.Key, Name: w.Username, User: w,
				Changes: d.userChanges(&User{}, w, true), Why: Reason{Code: ReasonNew, Origin: w.Origin}})
			continue
		}
		d.claimed[cur.ID] = w.Key
		d.plan.UserIDs[w.Key] = cur.ID
		_, owned := d.userOwner[cur.ID]
		if !owned && how != "third_party_id" && how != "ledger" && !d.pol.Adopt {
			d.problem(KindUser, w.Key, "platform user %q matches by %s but is not owned by rostersync; it is left alone (enable adoption to take it over)", cur.Username, how)
			continue
		}
		d.planned[w.Key] = w
		ch := d.userChanges(cur, w, false)
		if owned && len(ch) == 0 {
			d.plan.Summary.Unchanged++
			continue
		}
		op := Op{Kind: KindUser, Key: w.Key, ID: cur.ID, Name: w.Username, User: w, Changes: ch,
			Fields: fieldsOf(ch), Fingerprint: Fingerprint(cur)}
		switch {
		case !owned:
			op.Action = ActionAdopt
			op.Why = Reason{Code: ReasonAdoptUser, Existing: cur.Username, MatchBy: how}
		case !w.Active && cur.Active:
			op.Action = ActionDeactivate
			op.Why = Reason{Code: ReasonInactive, Origin: w.Origin}
			op.Changes = []Change{{FieldActive, "true", "false"}}
			op.Fields = []Field{FieldActive}
		case w.Active && !cur.Active:
			op.Action = ActionUpdate
			op.Why = Reason{Code: ReasonBack, Origin: w.Origin}
		default:
			op.Action = ActionUpdate
			op.Why = Reason{Code: ReasonChanged, Origin: w.Origin}
		}
		if op.Action == ActionDeactivate {
			d.suppressIfIncomplete(&op)
		}
		d.addUserOp(op, cur)
	}
	// Owned, active platform users that no source wants any more.
	var gone []*User
	for i := range d.current.Users {
		u := &d.current.Users[i]
		key, owned := d.userOwner[u.ID]
		if !owned || !u.Active || seen[key] || d.protected(u) {
			continue
		}
		gone = append(gone, u)
	}
	slices.SortFunc(gone, func(a, b *User) int { return cmp.Compare(d.userOwner[a.ID], d.userOwner[b.ID]) })
	for _, u := range gone {
		d.plan.Matches[d.userOwner[u.ID]] = Match{ID: u.ID, How: "ledger"}
		op := Op{Action: ActionDeactivate, Kind: KindUser, Key: d.userOwner[u.ID], ID: u.ID, Name: u.Username,
			Changes: []Change{{FieldActive, "true", "false"}}, Fields: []Field{FieldActive},
			Why: Reason{Code: ReasonGone}, Fingerprint: Fingerprint(u)}
		d.plan.UserIDs[op.Key] = u.ID
		d.suppressIfIncomplete(&op)
		d.addUserOp(op, u)
	}
}

// addUserOp adds a user operation, marking what the target cannot do as
// unsupported: a deactivation or reactivation it has no way to make becomes
// an unsupported op as a whole; fields it cannot clear move to a separate
// unsupported op, and the rest of the update goes ahead.
func (d *differ) addUserOp(op Op, cur *User) {
	caps := d.pol.Target
	switch {
	case op.Action == ActionDeactivate && caps.NoDeactivate:
		op.Status = StatusReady // unsupported wins over suppressed: it is never applied either way
		op.Why.Incomplete = nil
		caps.unsupported(&op, caps.noDeactivation())
	case op.Action != ActionDeactivate && caps.NoReactivate && op.User != nil && op.User.Active && !cur.Active:
		caps.unsupported(&op, caps.noReactivation())
	case op.Action != ActionDeactivate && caps.NoClear:
		var keep, cleared []Change
		for _, c := range op.Changes {
			if c.New == "" && c.Old != "" {
				cleared = append(cleared, c)
			} else {
				keep = append(keep, c)
			}
		}
		if len(cleared) == 0 {
			break
		}
		un := op
		un.Action = ActionUpdate
		un.Changes, un.Fields = cleared, fieldsOf(cleared)
		caps.unsupported(&un, caps.noClearing(un.Fields))
		op.Changes, op.Fields = keep, fieldsOf(keep)
		if len(keep) > 0 || op.Action != ActionUpdate {
			d.add(op)
		}
		d.add(un)
		return
	}
	d.add(op)
}

// effective normalises a desired user for comparison: sorted roles, and the
// team only for agents. It returns nil (with a problem) when the user cannot
// be planned.
func (d *differ) effective(want *User) *User {
	w := *want
	w.Roles = normRoles(w.Roles)
	if w.ThirdPartyID == "" {
		w.ThirdPartyID = w.Key
	}
	w.Queues = slices.Compact(slices.Sorted(slices.Values(w.Queues)))
	caps := d.pol.Target
	if caps.NoQueues {
		w.Queues = nil
	}
	if !w.Active {
		w.Team, w.Roles, w.Queues = "", []string{}, nil
		return &w
	}
	if why := d.refused(&w); why != "" {
		d.problem(KindUser, w.Key, "%s", why)
		d.plan.Problems[len(d.plan.Problems)-1].Origin = w.Origin
		return nil
	}
	if !caps.holds(FieldRoles) {
		// Roles are not the platform's to hold: any user may sit in a team.
		w.Roles = []string{}
		if _, ok := d.desTeams[w.Team]; w.Team != "" && !ok {
			d.problem(KindUser, w.Key, "user %q is mapped to team %q, which the mapping does not define", w.Username, w.Team)
			return nil
		}
		return &w
	}
	if !slices.Contains(w.Roles, d.pol.AgentRole) {
		w.Team = ""
		w.Queues = nil
		return &w
	}
	if why := d.badName("username", w.Username, d.pol.Target.usernameLen()); why != "" {
		d.problem(KindUser, w.Key, "%s", why)
		return nil
	}
	if w.Team == "" {
		d.problem(KindUser, w.Key, "agent %q has no team; agents must sit in a %s-level group", w.Username, d.pol.AgentLevel)
		return nil
	}
	if why := d.blockedTeams[w.Team]; why != "" {
		d.problem(KindUser, w.Key, "agent %q is left alone: the group they are mapped to %s", w.Username, why)
		return nil
	}
	t, ok := d.desTeams[w.Team]
	if !ok {
		d.problem(KindUser, w.Key, "agent %q is mapped to team %q, which the mapping does not define", w.Username, w.Team)
		return nil
	}
	if !caps.FlatTeams && !strings.EqualFold(t.Level, d.pol.AgentLevel) {
		d.problem(KindUser, w.Key, "agent %q is mapped to group %q at level %q; agents can only sit in %s-level groups", w.Username, t.Name, t.Level, d.pol.AgentLevel)
		return nil
	}
	return &w
}

// userChanges lists the differences between a platform user and a desired
// one. Empty optional source values (email, start date) leave the platform's
// value alone: rostersync never clears what the source does not say.
func (d *differ) userChanges(cur, w *User, create bool) []Change {
	var ch []Change
	if !w.Active {
		// A leaver's attributes are not kept in line; only the deactivation matters.
		if cur.Active {
			ch = append(ch, Change{FieldActive, "true", "false"})
		}
		return ch
	}
	caps := d.pol.Target
	str := func(f Field, old, new string, optional bool) {
		if optional && new == "" || old == new || !caps.holds(f) {
			return
		}
		ch = append(ch, Change{f, old, new})
	}
	str(FieldUsername, cur.Username, w.Username, false)
	str(FieldForename, cur.Forename, w.Forename, false)
	str(FieldSurname, cur.Surname, w.Surname, false)
	str(FieldEmail, cur.Email, w.Email, true)
	str(FieldThirdPartyID, cur.ThirdPartyID, w.ThirdPartyID, true)
	str(FieldStartDate, cur.StartDate, w.StartDate, true)
	if !create && cur.Active != w.Active {
		ch = append(ch, Change{FieldActive, fmt.Sprint(cur.Active), fmt.Sprint(w.Active)})
	}
	// A platform that strips roles and team on deactivation has them
	// restored on reactivation; one that cannot reactivate has nothing to restore.
	reactivate := !create && !cur.Active && !caps.NoReactivate
	curRoles := normRoles(cur.Roles)
	if caps.holds(FieldRoles) && (reactivate || !slices.Equal(curRoles, w.Roles)) {
		ch = append(ch, Change{FieldRoles, strings.Join(curRoles, ", "), strings.Join(w.Roles, ", ")})
	}
	wantTeam := d.teamIDs[w.Team]
	if w.Team == "" {
		wantTeam = ""
	}
	if !caps.holds(FieldTeam) {
		return ch
	}
	if reactivate || w.Team != "" && wantTeam == "" || cur.Team != wantTeam {
		newName := ""
		if w.Team != "" {
			newName = d.teamName(w.Team)
		}
		if reactivate || cur.Team != "" || newName != "" {
			ch = append(ch, Change{FieldTeam, d.curTeamName(cur.Team), newName})
		}
	}
	return ch
}

func fieldsOf(ch []Change) []Field {
	fs := make([]Field, 0, len(ch))
	for _, c := range ch {
		fs = append(fs, c.Field)
	}
	return fs
}

func (d *differ) suppressIfIncomplete(op *Op) {
	if len(d.desired.Incomplete) > 0 && op.Status == StatusReady {
		op.Status = StatusSuppressed
		op.Why.Incomplete = slices.Clone(d.desired.Incomplete)
	}
}

// queues plans work-queue template membership: for each template the
// mapping manages (desired.Queues, by name) or a desired user names, add the owned agents who should be on it and remove the owned
// agents who should not. Agents rostersync does not own are never touched.
func (d *differ) queues() {
	want := map[string]map[string]bool{} // lower queue name → user keys
	display := map[string]string{}       // lower queue name → name as written
	whole := map[string]bool{}           // lower queue name → rostersync owns its whole membership
	for _, q := range d.desired.Queues {
		display[strings.ToLower(q.Name)] = q.Name
		whole[strings.ToLower(q.Name)] = q.WholeMembership
	}
	for _, u := range d.planned {
		for _, q := range u.Queues {
			lq := strings.ToLower(q)
			if _, ok := display[lq]; !ok {
				display[lq] = q
			}
			if want[lq] == nil {
				want[lq] = map[string]bool{}
			}
			want[lq][u.Key] = true
		}
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	// Only templates the mapping manages (desired.Queues) are touched.
	for _, q := range d.desired.Queues {
		names = append(names, strings.ToLower(q.Name))
	}
	slices.Sort(names)
	names = slices.Compact(names)
	// Agents being deactivated come off their templates first, explicitly,
	// rather than trusting the platform to do it.
	leaving := map[string]bool{}
	for _, o := range d.plan.Ops {
		if o.Kind == KindUser && o.Action == ActionDeactivate && o.Ready() {
			leaving[o.Key] = true
		}
	}
	for _, n := range names {
		q := d.queueNames[n]
		if q == nil {
			d.problem(KindQueue, display[n], "work-queue template %q does not exist on the platform; rostersync never creates templates", display[n])
			continue
		}
		d.plan.QueueIDs[q.Name] = q.ID
		on := map[string]bool{}
		for _, id := range q.Agents {
			on[id] = true
		}
		var add, remove []string
		for key := range want[n] {
			id, known := d.plan.UserIDs[key]
			if !known || !on[id] {
				add = append(add, key)
			}
		}
		for _, id := range q.Agents {
			// Only owned users the sources still want are taken off; a
			// deactivated user leaves every queue on the platform anyway.
			key, owned := d.userOwner[id]
			if k, adopted := d.claimed[id]; !owned && adopted && d.planned[k] != nil {
				key, owned = k, true // adopted in this plan: theirs to keep in line from now
			}
			_, planned := d.planned[key]
			if owned && (planned && !want[n][key] || leaving[key]) {
				remove = append(remove, key)
				d.plan.UserIDs[key] = id
			}
		}
		if len(add) == 0 && len(remove) == 0 {
			continue
		}
		slices.Sort(add)
		slices.Sort(remove)
		base := Op{Action: ActionUpdate, Kind: KindQueue, Key: q.Name, ID: q.ID, Name: q.Name,
			Why: Reason{Code: ReasonQueueRules}}
		if d.pol.ReplaceQueues && whole[n] && len(add) > 0 && len(remove) > 0 {
			op := base
			op.Add, op.Remove = add, remove
			if op.Replace = d.replacement(q, add, remove); op.Replace != nil {
				op.Why.Replace = true
				op.Changes = []Change{{Field: "agents+", New: d.usernames(add)}, {Field: "agents-", Old: d.usernames(remove)}}
				d.add(op)
				continue
			}
		}
		// Additions and removals are separate operations: each is one
		// request, additions wait for the people they add to be active,
		// and a removal does not fail with an addition.
		if len(add) > 0 {
			op := base
			op.Add = add
			op.Changes = []Change{{Field: "agents+", New: d.usernames(add)}}
			d.add(op)
		}
		if len(remove) > 0 {
			op := base
			op.Remove = remove
			op.Changes = []Change{{Field: "agents-", Old: d.usernames(remove)}}
			d.add(op)
		}
	}
}

// replacement returns the queue's membership after adding and removing, as
// user keys, or nil when a replace could drop someone the rules did not mean
// to: an agent rostersync does not own.
func (d *differ) replacement(q *Queue, add, remove []string) []string {
	drop := map[string]bool{}
	for _, k := range remove {
		drop[k] = true
	}
	final := slices.Clone(add)
	for _, id := range q.Agents {
		key, owned := d.userOwner[id]
		if !owned {
			return nil
		}
		if !drop[key] {
			final = append(final, key)
			d.plan.UserIDs[key] = id // kept as they are, so Apply can name them
		}
	}
	slices.Sort(final)
	return slices.Compact(final)
}

func (d *differ) usernames(keys []string) string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k
		if u := d.planned[k]; u != nil {
			out[i] = u.Username
		} else if u := d.curUsers[d.plan.UserIDs[k]]; u != nil {
			out[i] = u.Username
		}
	}
	return strings.Join(out, ", ")
}

// phase orders operations: groups before users (parents first), creates
// before updates, queue changes after users exist, deactivations last
// (users before the groups they sit in, deepest groups first).
func (d *differ) phase(o *Op) int {
	switch {
	case o.Kind == KindTeam && o.Action != ActionDeactivate:
		return 0
	case o.Kind == KindUser && o.Action == ActionCreate:
		return 1
	case o.Kind == KindUser && o.Action != ActionDeactivate:
		return 2
	case o.Kind == KindQueue:
		return 3
	case o.Kind == KindUser:
		return 4
	}
	return 5
}

func (d *differ) finish() {
	slices.SortStableFunc(d.plan.Ops, func(a, b Op) int {
		pa, pb := d.phase(&a), d.phase(&b)
		if pa != pb {
			return cmp.Compare(pa, pb)
		}
		if pa == 0 {
			if c := cmp.Compare(d.teamDepth[a.Key], d.teamDepth[b.Key]); c != 0 {
				return c
			}
		}
		if pa == 5 { // deepest first
			if c := cmp.Compare(d.curDepth(b.ID), d.curDepth(a.ID)); c != 0 {
				return c
			}
		}
		return cmp.Compare(a.Key, b.Key)
	})
	d.edges()
	Settle(d.plan.Ops)
	if len(d.desired.Incomplete) > 0 {
		d.plan.Notes = append(d.plan.Notes, "deactivations suppressed: "+strings.Join(d.desired.Incomplete, "; "))
	}
	slices.SortStableFunc(d.plan.Problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Key, b.Key))
	})
	d.plan.Summary = Summarize(d.plan.Ops, d.plan.Summary.Unchanged)
	d.plan.Requests = requestsFor(d.plan.Ops)
	if n := d.pol.Target.BatchRows; n > 0 {
		d.plan.Requests = batchRequests(d.plan.Ops, n)
	}
}

// Summarize counts operations by action and status.
func Summarize(ops []Op, unchanged int) Summary {
	s := Summary{Unchanged: unchanged}
	for _, o := range ops {
		switch o.Status {
		case StatusHeld:
			s.Held++
			continue
		case StatusSuppressed:
			s.Suppressed++
			continue
		case StatusUnsupported:
			s.Unsupported++
			continue
		case StatusWaiting:
			s.Waiting++
			continue
		}
		switch o.Action {
		case ActionCreate:
			s.Create++
		case ActionUpdate:
			s.Update++
		case ActionAdopt:
			s.Adopt++
		case ActionDeactivate:
			s.Deactivate++
		}
	}
	return s
}

// RequestsFor counts the write calls the ready ops need, by endpoint name
// (Plan.Requests).
func RequestsFor(ops []Op) map[string]int { return requestsFor(ops) }

// requestsFor counts the write calls each ready op needs, by endpoint name.
func requestsFor(ops []Op) map[string]int {
	out := map[string]int{}
	for _, o := range ops {
		if !o.Ready() {
			continue
		}
		switch {
		case o.Kind == KindQueue && o.Replace != nil:
			out["replace queue agents"]++
		case o.Kind == KindQueue:
			if len(o.Add) > 0 {
				out["add queue agents"]++
			}
			if len(o.Remove) > 0 {
				out["remove queue agents"]++
			}
		case o.Action == ActionCreate:
			out["create "+string(o.Kind)]++
		case len(o.Fields) > 0:
			out["update "+string(o.Kind)]++
		}
	}
	return out
}

// batchRequests counts the uploads a batching target needs: every ready user
// create, and every other ready user op that writes a field, is one row, and rows travel rowsPer to an upload.
func batchRequests(ops []Op, rowsPer int) map[string]int {
	rows := 0
	for _, o := range ops {
		if o.Ready() && o.Kind == KindUser && (o.Action == ActionCreate || len(o.Fields) > 0) {
			rows++
		}
	}
	out := map[string]int{}
	if rows > 0 {
		out["import users"] = (rows + rowsPer - 1) / rowsPer
	}
	return out
}

// Fingerprint is a short digest of a platform object's state, used to refuse
// a saved plan when the object changed after the plan was made.
func Fingerprint(v any) string {
	switch x := v.(type) {
	case *User:
		c := *x
		c.Roles = normRoles(c.Roles)
		c.Queues = nil
		v = c
	case *Team:
		v = *x
	}
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
