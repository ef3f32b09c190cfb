package reconcile

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
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
	desTeams  map[string]*Team // by key
	teamIDs   map[string]string
	teamDepth map[string]int
	// plannedList are the desired users that are created or owned,
	// normalised, in key order; planned indexes them by key, made only when
	// queues are planned.
	plannedList []*User
	planned     map[string]*User
	goneTeams   []*Team // owned groups no source wants
	// blockedTeams are desired team keys that cannot be planned, and why:
	// an excluded platform group, one under it, or an invalid name.
	blockedTeams map[string]string
	// curIdx places platform users by id (the last of equal ids wins);
	// what Diff learns about each platform user is kept in slices by that
	// position rather than in more maps keyed by id: who owns them
	// (owner, or strayOwner for ledger ids the listing does not hold)
	// and which desired user claimed them in this plan (claimedBy, by
	// place in claimers, plus one: 0 is nobody).
	curIdx *IDIndex
	// ledKeys are the owned users' keys, sorted; ledPos is where curIdx
	// places each one's platform id (-1: not listed).
	ledKeys    []string
	ledPos     []int32
	owner      []int32 // the place in ledKeys of the key owning each platform user; -1: none
	strayOwner map[string]string
	claimedBy  []int32
	claimers   []*User // the desired users in key order, as users walks them
	dupIDs     bool    // two platform users share an id: go by id, not position
	// dupOwners is true when two ledger keys name one listed platform
	// user. Without it or dupIDs, an owned platform user some desired user
	// has the key of is exactly one the ledger placed a desired user on.
	dupOwners  bool
	queueNames map[string]*Queue // lower name → queue
}

func newDiffer(desired, current *Snapshot, own Ownership, pol Policy) *differ {
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
			Matches:       make([]Match, 0, len(desired.Users)),
		},
		curTeams:     make(map[string]*Team, len(current.Teams)),
		teamOwner:    invert(own.Teams),
		desTeams:     make(map[string]*Team, len(desired.Teams)),
		teamDepth:    map[string]int{},
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
	d.curIdx = NewIDIndex(current.Users)
	n := len(current.Users)
	d.dupIDs = d.curIdx.Distinct() != n
	d.owner = make([]int32, n)
	for i := range d.owner {
		d.owner[i] = -1
	}
	d.claimedBy = make([]int32, n)
	d.strayOwner = map[string]string{}
	keys, ids := own.sortedUsers()
	d.ledKeys, d.ledPos = keys, make([]int32, len(keys))
	for j, id := range ids {
		key := d.ledKeys[j]
		i, ok := d.curIdx.Find(id)
		if !ok {
			d.strayOwner[id] = key
			d.ledPos[j] = -1
			continue
		}
		d.dupOwners = d.dupOwners || d.owner[i] >= 0
		d.owner[i] = int32(j)
		d.ledPos[j] = i
	}
	for i := range current.Users {
		at := int32(i)
		if d.dupIDs {
			at, _ = d.curIdx.Find(current.Users[i].ID)
		}
		if current.Users[i].Active && d.owner[at] >= 0 {
			d.plan.Population++
		}
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

// curUser returns the platform user with id, nil when the listing has none.
func (d *differ) curUser(id string) *User {
	if i, ok := d.curIdx.Find(id); ok {
		return &d.current.Users[i]
	}
	return nil
}

// userOwner returns the key the ledger owns platform user id by.
func (d *differ) userOwner(id string) (string, bool) {
	if i, ok := d.curIdx.Find(id); ok {
		return d.ownerOf(i)
	}
	key, ok := d.strayOwner[id]
	return key, ok
}

// ownerOf returns the key the ledger owns the platform user at position i by.
func (d *differ) ownerOf(i int32) (string, bool) {
	if j := d.owner[i]; j >= 0 {
		return d.ledKeys[j], true
	}
	return "", false
}

// claimed returns the desired key that claimed platform user id in this plan.
func (d *differ) claimed(id string) (string, bool) {
	if i, ok := d.curIdx.Find(id); ok && d.claimedBy[i] > 0 {
		return d.claimers[d.claimedBy[i]-1].Key, true
	}
	return "", false
}

// claim records that claimers[by] claimed listed platform user id.
func (d *differ) claim(id string, by int) {
	i, _ := d.curIdx.Find(id)
	d.claimAt(i, by)
}

// claimAt records that claimers[by] claimed the platform user at position
// i, which must be where curIdx places its id.
func (d *differ) claimAt(i int32, by int) { d.claimedBy[i] = int32(by) + 1 }

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
