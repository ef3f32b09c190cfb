package reconcile

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

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

// lookupTPID is the third-party id a desired user is looked up by: its own,
// or its key when it has none (as effective makes it).
func lookupTPID(u *User) string {
	if u.ThirdPartyID != "" {
		return u.ThirdPartyID
	}
	return u.Key
}

// wanted are the values a few users look platform users up by: third-party
// ids, lower-cased usernames, and lower-cased emails when emails is made.
type wanted struct{ tpids, names, emails map[string]bool }

func (w *wanted) add(u *User) {
	if tp := lookupTPID(u); tp != "" {
		w.tpids[tp] = true
	}
	w.names[strings.ToLower(u.Username)] = true
	if w.emails != nil && u.Email != "" {
		w.emails[strings.ToLower(u.Email)] = true
	}
}

// index indexes the users of us holding one of the wanted values; equal
// values resolve as in an index of every user (the last one wins). Every
// user is probed, a few are indexed: the lower-cased probe is made in a
// buffer, and a string only for what is kept.
func (w *wanted) index(us []User) userIndex {
	ix := userIndex{byTPID: map[string]*User{}, byUsername: map[string]*User{}, byEmail: map[string]*User{}}
	if len(w.tpids) == 0 && len(w.names) == 0 && len(w.emails) == 0 {
		return ix
	}
	var buf []byte
	for i := range us {
		u := &us[i]
		if u.ThirdPartyID != "" && w.tpids[u.ThirdPartyID] {
			ix.byTPID[u.ThirdPartyID] = u
		}
		if buf = appendLower(buf[:0], u.Username); w.names[string(buf)] {
			ix.byUsername[string(buf)] = u
		}
		if u.Email != "" && w.emails != nil {
			if buf = appendLower(buf[:0], u.Email); w.emails[string(buf)] {
				ix.byEmail[string(buf)] = u
			}
		}
	}
	return ix
}

// match finds the platform user for a desired one and says how it matched;
// placed is the position in current.Users where the ledger places them (see
// matchIndex), -1 for nowhere.
func (d *differ) match(ix userIndex, want *User, placed int32) (*User, MatchHow) {
	if placed >= 0 {
		return &d.current.Users[placed], ByLedger
	}
	free := func(u *User) bool {
		if u == nil {
			return false
		}
		if _, taken := d.claimed(u.ID); taken {
			return false
		}
		owner, owned := d.userOwner(u.ID)
		return !owned || owner == want.Key
	}
	if u := ix.byTPID[want.ThirdPartyID]; want.ThirdPartyID != "" && free(u) {
		return u, ByThirdPartyID
	}
	if u := ix.byUsername[strings.ToLower(want.Username)]; d.pol.Target.holds(FieldUsername) && free(u) {
		return u, ByUsername
	}
	if u := ix.byEmail[strings.ToLower(want.Email)]; want.Email != "" && free(u) {
		return u, ByEmail
	}
	return nil, ByLedger
}

func (d *differ) protected(u *User) bool { return d.pol.Protected != nil && d.pol.Protected(*u) }

// matchIndex indexes the platform users that a desired user could match
// other than by the ledger. Only desired users the ledger does not place
// look users up by third-party id, username or email, so only platform
// users holding one of their values are indexed; equal values resolve as
// in an index of every user (the last one wins). A pass where the ledger
// places nearly everybody indexes a handful of users, not all of them.
//
// It also returns, for each desired user, the platform user the ledger
// places them on (nil when none), the first step of match.
//
// desired must be sorted by key: it is merged with the ledger, also sorted
// by key, whose entries newDiffer has placed already.
func (d *differ) matchIndex(desired []*User) (userIndex, []int32) {
	want := wanted{tpids: map[string]bool{}, names: map[string]bool{}, emails: map[string]bool{}}
	placed := make([]int32, len(desired))
	j := 0
	for i, w := range desired {
		placed[i] = -1
		for j < len(d.ledKeys) && d.ledKeys[j] < w.Key {
			j++
		}
		if j < len(d.ledKeys) && d.ledKeys[j] == w.Key && d.ledPos[j] >= 0 {
			placed[i] = d.ledPos[j]
			continue
		}
		want.add(w)
	}
	return want.index(d.current.Users), placed
}

// appendLower appends strings.ToLower(s) to b, without a string of its own
// when s is ASCII.
func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return append(b, strings.ToLower(s)...)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

func (d *differ) users() {
	desired := make([]*User, len(d.desired.Users))
	for i := range d.desired.Users {
		desired[i] = &d.desired.Users[i]
	}
	slices.SortFunc(desired, func(a, b *User) int { return cmp.Compare(a.Key, b.Key) })
	d.claimers = desired
	// Nearly everybody is planned: room for all, not a doubling at a time
	// (4.3 MB allocated at 100k people for 0.8 MB kept).
	d.plannedList = make([]*User, 0, len(desired))
	ix, placed := d.matchIndex(desired)
	// A key is seen when a desired user has it: desired is sorted by key.
	// Without duplicate ids or owners, the owned platform user at position
	// i is seen when a desired user was placed on it, which needs no search.
	placedAt := make([]bool, len(d.current.Users))
	for _, pos := range placed {
		if pos >= 0 {
			placedAt[pos] = true
		}
	}
	seen := func(i int, key string) bool {
		if !d.dupIDs && !d.dupOwners {
			return placedAt[i]
		}
		_, found := slices.BinarySearchFunc(desired, key, func(u *User, k string) int { return strings.Compare(u.Key, k) })
		return found
	}
	for i, want := range desired {
		if i > 0 && desired[i-1].Key == want.Key { // sorted: a repeat follows its first
			d.problem(KindUser, want.Key, "user key %q appears twice in the desired state", want.Key)
			continue
		}
		w := d.effective(want)
		if w == nil {
			continue
		}
		cur, how := d.match(ix, w, placed[i])
		if cur != nil {
			d.plan.Matches = append(d.plan.Matches, Match{Key: w.Key, ID: cur.ID, How: how})
		}
		if cur != nil && d.protected(cur) || d.protected(w) {
			continue
		}
		if cur == nil {
			if !w.Active {
				continue // a leaver the platform never had
			}
			op := Op{Action: ActionCreate, Kind: KindUser, Key: w.Key, Name: w.Username, User: detached(w, want),
				Changes: d.userChanges(&User{}, w, true), Why: Reason{Code: ReasonNew, Origin: w.Origin}}
			if d.pol.Target.NoCreate {
				d.pol.Target.unsupported(&op, d.pol.Target.noCreation())
				d.add(op)
				continue
			}
			d.plannedList = append(d.plannedList, w)
			if caps := d.pol.Target; caps.CreateOff != "" {
				caps.unsupported(&op, caps.turnedOff("creation", caps.CreateOff))
			}
			d.add(op)
			continue
		}
		if how == ByLedger {
			d.claimAt(placed[i], i) // the position is known: no probe by id
		} else {
			d.claim(cur.ID, i)
		}
		d.plan.Matches[len(d.plan.Matches)-1].Claimed = true
		owned := how == ByLedger // the ledger names cur.ID: it is owned
		if !owned {
			_, owned = d.userOwner(cur.ID)
		}
		if !owned && how != ByThirdPartyID && how != ByLedger && !d.pol.Adopt {
			d.problem(KindUser, w.Key, "platform user %q matches by %s but is not owned by rostersync; it is left alone (enable adoption to take it over)", cur.Username, how.String())
			continue
		}
		d.plannedList = append(d.plannedList, w)
		ch := d.userChanges(cur, w, false)
		if owned && len(ch) == 0 {
			d.plan.Summary.Unchanged++
			continue
		}
		op := Op{Kind: KindUser, Key: w.Key, ID: cur.ID, Name: w.Username, User: detached(w, want), Changes: ch,
			Fields: fieldsOf(ch), Fingerprint: Fingerprint(cur)}
		switch {
		case !owned:
			op.Action = ActionAdopt
			op.Why = Reason{Code: ReasonAdoptUser, Existing: cur.Username, MatchBy: how.String()}
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
		key, owned := d.ownerOf(int32(i))
		if d.dupIDs {
			key, owned = d.userOwner(u.ID)
		}
		if !owned || !u.Active || seen(i, key) || d.protected(u) {
			continue
		}
		gone = append(gone, u)
	}
	ownerKey := func(u *User) string { k, _ := d.userOwner(u.ID); return k }
	slices.SortFunc(gone, func(a, b *User) int { return cmp.Compare(ownerKey(a), ownerKey(b)) })
	for _, u := range gone {
		key := ownerKey(u)
		d.plan.Matches = append(d.plan.Matches, Match{Key: key, ID: u.ID, How: ByLedger, Claimed: true})
		op := Op{Action: ActionDeactivate, Kind: KindUser, Key: key, ID: u.ID, Name: u.Username,
			Changes: []Change{{FieldActive, "true", "false"}}, Fields: []Field{FieldActive},
			Why: Reason{Code: ReasonGone}, Fingerprint: Fingerprint(u)}
		d.suppressIfIncomplete(&op)
		d.addUserOp(op, u)
	}
	// Desired users' matches came in key order, departures' after them,
	// also in key order.
	mergeTail(d.plan.Matches, len(d.plan.Matches)-len(gone))
}

// mergeTail merges ms[:m] and ms[m:], each sorted by key, into one sorted
// run in place, moving only what follows the first departure's place: a
// sort of the whole, nearly sorted, moved a million matches.
func mergeTail(ms []Match, m int) {
	if m == len(ms) {
		return
	}
	tail := slices.Clone(ms[m:])
	i, j := m-1, len(tail)-1
	for k := len(ms) - 1; j >= 0; k-- {
		if i >= 0 && ms[i].Key > tail[j].Key {
			ms[k] = ms[i]
			i--
		} else {
			ms[k] = tail[j]
			j--
		}
	}
}

// detached returns w for an operation: a copy when w is want itself, one
// of the desired users. An operation pointing into the desired state would
// keep all of it (every person the sources gave) alive as long as the plan,
// for the few people who change.
func detached(w, want *User) *User {
	if w != want {
		return w // effective made it
	}
	c := *w
	return &c
}

// userID returns the platform id of the user desired key claimed in this
// plan (kept in line, adopted, or deactivated as gone).
func (d *differ) userID(key string) (string, bool) {
	if i, ok := findMatch(d.plan.Matches, key); ok && d.plan.Matches[i].Claimed {
		return d.plan.Matches[i].ID, true
	}
	return "", false
}

// addUserOp adds a user operation, marking what the target cannot do as
// unsupported: a deactivation or reactivation it has no way to make becomes
// an unsupported op as a whole; fields it cannot clear, or does not write
// by its settings, move to a separate unsupported op, and the rest of the
// update goes ahead.
func (d *differ) addUserOp(op Op, cur *User) {
	caps := d.pol.Target
	if caps.AttributesOff != "" && op.Action != ActionDeactivate {
		var keep, attrs []Change
		for _, c := range op.Changes {
			if _, ok := c.Field.Attribute(); ok {
				attrs = append(attrs, c)
			} else {
				keep = append(keep, c)
			}
		}
		if len(attrs) > 0 {
			un := op
			un.Action = ActionUpdate
			un.Changes, un.Fields = attrs, fieldsOf(attrs)
			if op.Action == ActionAdopt && op.User != nil {
				un.Why = Reason{Code: ReasonChanged, Origin: op.User.Origin}
			}
			caps.unsupported(&un, caps.turnedOff("writing attributes", caps.AttributesOff))
			op.Changes, op.Fields = keep, fieldsOf(keep)
			if len(keep) > 0 || op.Action != ActionUpdate {
				d.addUserOp(op, cur)
			}
			d.add(un)
			return
		}
	}
	if op.Action != ActionCreate && op.Action != ActionDeactivate && len(caps.NoWrite) > 0 {
		// Fields the settings keep from being written: shown, not applied.
		var keep, held []Change
		for _, c := range op.Changes {
			if slices.Contains(caps.NoWrite, c.Field) {
				held = append(held, c)
			} else {
				keep = append(keep, c)
			}
		}
		if len(held) > 0 {
			un := op
			un.Action = ActionUpdate
			un.Changes, un.Fields = held, fieldsOf(held)
			if op.Action == ActionAdopt {
				un.Why = Reason{Code: ReasonChanged, Origin: op.Why.Origin}
			}
			caps.unsupported(&un, caps.noWriting(un.Fields))
			defer d.add(un)
			op.Changes, op.Fields = keep, fieldsOf(keep)
			if len(keep) == 0 && op.Action == ActionUpdate {
				return
			}
		}
	}
	switch {
	case op.Action == ActionDeactivate && caps.DeactivateOff != "" && !caps.NoDeactivate:
		op.Status = StatusReady // turned off wins over suppressed: it is never applied either way
		op.Why.Incomplete = nil
		caps.unsupported(&op, caps.turnedOff("deactivation", caps.DeactivateOff))
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
// be planned. A user already in normal form (most of them) is returned as it
// is, not copied: a pass holds one copy of each person.
func (d *differ) effective(want *User) *User {
	w, ok := d.effectiveValue(want)
	switch {
	case !ok:
		return nil
	case w.ThirdPartyID == want.ThirdPartyID && w.Team == want.Team &&
		w.Roles == want.Roles && w.Queues == want.Queues:
		return want
	}
	// A copy made only here: returning &w would move w to the heap on every
	// call, one user's worth of garbage per person even when want is kept.
	out := new(User)
	*out = w
	return out
}

func (d *differ) effectiveValue(want *User) (User, bool) {
	w := *want
	if !rolesNormal(w.Roles.List()) {
		w.Roles = normRoles(w.Roles.List())
	}
	if w.ThirdPartyID == "" {
		w.ThirdPartyID = w.Key
	}
	caps := d.pol.Target
	if caps.NoQueues {
		w.Queues = Names{}
	}
	if !w.Active {
		w.Team, w.Roles, w.Queues = "", Names{}, Names{}
		return w, true
	}
	if why := d.refused(&w); why != "" {
		d.problem(KindUser, w.Key, "%s", why)
		d.plan.Problems[len(d.plan.Problems)-1].Origin = w.Origin
		return User{}, false
	}
	if !caps.holds(FieldRoles) {
		// Roles are not the platform's to hold: any user may sit in a team.
		w.Roles = Names{}
		if _, ok := d.desTeams[w.Team]; w.Team != "" && !ok {
			d.problem(KindUser, w.Key, "user %q is mapped to team %q, which the mapping does not define", w.Username, w.Team)
			return User{}, false
		}
		return w, true
	}
	if !w.Roles.Has(d.pol.AgentRole) {
		w.Team = ""
		w.Queues = Names{}
		return w, true
	}
	if why := d.badName("username", w.Username, d.pol.Target.usernameLen()); why != "" {
		d.problem(KindUser, w.Key, "%s", why)
		return User{}, false
	}
	if w.Team == "" {
		d.problem(KindUser, w.Key, "agent %q has no team; agents must sit in a %s-level group", w.Username, d.pol.AgentLevel)
		return User{}, false
	}
	if why := d.blockedTeams[w.Team]; why != "" {
		d.problem(KindUser, w.Key, "agent %q is left alone: the group they are mapped to %s", w.Username, why)
		return User{}, false
	}
	t, ok := d.desTeams[w.Team]
	if !ok {
		d.problem(KindUser, w.Key, "agent %q is mapped to team %q, which the mapping does not define", w.Username, w.Team)
		return User{}, false
	}
	if !caps.FlatTeams && !strings.EqualFold(t.Level, d.pol.AgentLevel) {
		d.problem(KindUser, w.Key, "agent %q is mapped to group %q at level %q; agents can only sit in %s-level groups", w.Username, t.Name, t.Level, d.pol.AgentLevel)
		return User{}, false
	}
	return w, true
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
	joined := func(u *User) string { return strings.Join(strings.Fields(u.Forename+" "+u.Surname), " ") }
	if !caps.OneName || joined(cur) != joined(w) {
		str(FieldForename, cur.Forename, w.Forename, false)
		str(FieldSurname, cur.Surname, w.Surname, false)
	}
	str(FieldEmail, cur.Email, w.Email, true)
	str(FieldThirdPartyID, cur.ThirdPartyID, w.ThirdPartyID, true)
	if cur.StartDate != w.StartDate { // formatted only when they differ
		str(FieldStartDate, cur.StartDate.String(), w.StartDate.String(), true)
	}
	if !create && cur.Active != w.Active {
		ch = append(ch, Change{FieldActive, fmt.Sprint(cur.Active), fmt.Sprint(w.Active)})
	}
	// A platform that strips roles and team on deactivation has them
	// restored on reactivation; one that cannot reactivate has nothing to restore.
	reactivate := !create && !cur.Active && !caps.NoReactivate
	curRoles := cur.Roles
	if !rolesNormal(curRoles.List()) {
		curRoles = normRoles(curRoles.List())
	}
	if caps.holds(FieldRoles) && (reactivate || !curRoles.Equal(w.Roles)) {
		ch = append(ch, Change{FieldRoles, strings.Join(curRoles.List(), ", "), strings.Join(w.Roles.List(), ", ")})
	}
	if caps.holdsAttributes() {
		ch = append(ch, d.attributeChanges(cur, w, create)...)
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

// attributeChanges lists w's attribute changes against cur. When the
// platform bounds its attribute document, an update whose merged document
// would be too large, or whose current document is not a JSON object, is a
// plan problem and its attributes are left out: nothing is sent that would
// fail or overwrite what cannot be read.
func (d *differ) attributeChanges(cur, w *User, create bool) []Change {
	ch := attributeChanges(cur, w)
	limit := d.pol.Target.AttributeBytes
	if create || limit <= 0 || len(ch) == 0 {
		return ch
	}
	set := make(map[string]string, len(ch))
	for _, c := range ch {
		k, _ := c.Field.Attribute()
		set[k] = w.Attributes[k] // the new value, or AttributeRemoved
	}
	merged, err := MergeAttributes(d.current.RawAttributes[cur.ID], set)
	switch {
	case err != nil:
		d.problem(KindUser, w.Key, "the attributes of %q on %s cannot be updated: %v; they are left as they are", w.Username, d.pol.Target.platform(), err)
		return nil
	case len(merged) > limit:
		d.problem(KindUser, w.Key, "the attributes of %q would be %d bytes after the update, over %s's limit of %d; shorten the mapped values (or free room in the other keys)", w.Username, len(merged), d.pol.Target.platform(), limit)
		return nil
	}
	return ch
}
