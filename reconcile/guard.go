package reconcile

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// SourceFacts is what the guard knows about one source's read this pass.
type SourceFacts struct {
	Name string `json:"name"`
	// Complete and Reason are the source's own verdict on the read (no size
	// or time limit hit, no partial page, no read error, a stable file).
	Complete bool   `json:"complete"`
	Reason   string `json:"reason,omitempty"`
	// Count is the number of records read.
	Count int `json:"count"`
	// LastHealthy is the count of the source's last healthy read; nil before
	// the first.
	LastHealthy *int `json:"last_healthy,omitempty"`
}

// Absence is how long a person has been missing from healthy reads, this
// pass included.
type Absence struct {
	Passes int       `json:"passes"`
	Since  time.Time `json:"since"`
}

// Limits are the operator's safety settings.
type Limits struct {
	// MaxDrop is the largest fraction by which a source's count may fall
	// below its last healthy count (0.2: a fifth) before the read is
	// treated as unhealthy. 0 allows no drop at all; 1 or more disables
	// the check.
	MaxDrop float64 `json:"max_drop"`
	// AbsentPasses is how many consecutive healthy passes a person must be
	// missing from before being deactivated (at least 1).
	AbsentPasses int `json:"absent_passes"`
	// AbsentFor, when positive, is also how long they must have been
	// missing.
	AbsentFor time.Duration `json:"-"`
	// HoldOver holds every removal once there are more than this many in
	// one plan; negative disables the count limit.
	HoldOver int `json:"hold_over"`
	// HoldPercent holds every removal once they are more than this
	// percentage of Population; negative disables the percentage limit.
	HoldPercent float64 `json:"hold_percent"`
	// HoldPercentFloor is the count of removals the percentage limit
	// always lets through: it holds only plans with more removals than
	// this, so that one leaver in a team of twelve is not a 5% event.
	HoldPercentFloor int `json:"hold_percent_floor"`
}

// GuardInput is everything Guard needs beyond the plan. The caller gathers
// it from the sources and the state store.
type GuardInput struct {
	Limits Limits
	// Sources are this pass's reads.
	Sources []SourceFacts
	// Desired is the desired state the plan was made from: a deactivation
	// of a user it does not hold is an absence (debounced); one of a user
	// it holds as inactive is the source's explicit word.
	Desired *Snapshot
	// Absences are the recorded absences by user key, this pass included.
	Absences map[string]Absence
	// Population is the number of active platform users rostersync owns,
	// the base of Limits.HoldPercent.
	Population int
	// Holds are the recorded holds by OpID: a pending one stays held
	// whatever the counts, an approved one goes ahead uncounted, a rejected
	// one is never applied while it is planned.
	Holds map[string]HoldState
	// Now is the pass's time, for Limits.AbsentFor.
	Now time.Time
	// BatchRows is the policy's Target.BatchRows: when above zero, the
	// plan's requests are counted as batch uploads of that many rows.
	BatchRows int
}

// Hold statuses, as GuardInput.Holds records them.
const (
	HoldPending  = "pending"
	HoldApproved = "approved"
	HoldRejected = "rejected"
)

// HoldState is a recorded hold of an operation and what a person decided.
type HoldState struct {
	ID     int64  `json:"id"`
	Status string `json:"status"`
}

// OpID is an operation's stable identity across passes: held operations
// and journal entries are keyed by it. A queue operation's identity names
// the members it removes, or failing that those it adds.
func OpID(o *Op) string {
	id := fmt.Sprintf("%s %s %s", o.Action, o.Kind, o.Key)
	if o.Kind == KindQueue {
		// A hold is on the removal: the removal alone and the whole
		// operation it was split from share one identity.
		if len(o.Remove) > 0 {
			return id + " -" + strings.Join(o.Remove, ",")
		}
		if len(o.Add) > 0 {
			return id + " +" + strings.Join(o.Add, ",")
		}
	}
	return id
}

// HoldKeys are the identities under which an operation is held for
// approval: its OpID, except for a removal from a work queue (not a
// whole-membership replace), which is held per member, so that a decision
// on one person's removal stands whoever else joins or leaves the set.
func HoldKeys(o *Op) []string {
	if o.Kind != KindQueue || len(o.Remove) == 0 || o.Replace != nil {
		return []string{OpID(o)}
	}
	out := make([]string, len(o.Remove))
	for i, k := range o.Remove {
		out[i] = fmt.Sprintf("%s %s %s -%s", o.Action, o.Kind, o.Key, k)
	}
	return out
}

// HoldOps returns the op as it is held, one per HoldKeys key: a queue
// removal as one removal per member, anything else as itself.
func HoldOps(o *Op) []Op {
	keys := HoldKeys(o)
	if len(keys) == 1 && (o.Kind != KindQueue || len(o.Remove) <= 1) {
		return []Op{*o}
	}
	names := queueNames(*o, len(o.Remove))
	out := make([]Op, len(o.Remove))
	for i, k := range o.Remove {
		p := *o
		p.Remove = []string{k}
		p.Changes = []Change{{Field: "agents-", Old: names[i]}}
		out[i] = p
	}
	return out
}

// splitByHolds splits each ready queue removal whose members' holds differ
// (approved, rejected, pending, none) into one op per decision.
func splitByHolds(ops []Op, holds map[string]HoldState, pieces map[string][]string) []Op {
	// Only a ready queue removal of two members or more may split (HoldKeys
	// gives anything else one key): without one, no copy of a plan's worth of ops.
	some := false
	for i := range ops {
		o := &ops[i]
		some = some || o.Ready() && o.Kind == KindQueue && len(o.Add) == 0 && len(o.Remove) >= 2 && o.Replace == nil
	}
	if !some {
		return ops
	}
	out := make([]Op, 0, len(ops))
	for _, o := range ops {
		keys := HoldKeys(&o)
		if !o.Ready() || o.Kind != KindQueue || len(keys) < 2 || len(o.Add) > 0 {
			out = append(out, o)
			continue
		}
		names := queueNames(o, len(o.Remove))
		var order []string
		group := map[string][]int{}
		for i, k := range keys {
			st := holds[k].Status
			if _, ok := group[st]; !ok {
				order = append(order, st)
			}
			group[st] = append(group[st], i)
		}
		if len(order) < 2 {
			out = append(out, o)
			continue
		}
		old := OpID(&o)
		for _, st := range order {
			p := o
			p.Remove = nil
			var n []string
			for _, i := range group[st] {
				p.Remove = append(p.Remove, o.Remove[i])
				n = append(n, names[i])
			}
			p.Changes = []Change{{Field: "agents-", Old: strings.Join(n, ", ")}}
			out = append(out, p)
			pieces[old] = append(pieces[old], OpID(&p))
		}
	}
	return out
}

// Removes reports whether an operation takes someone or something away:
// a deactivation, or a queue operation that removes members.
func Removes(o *Op) bool {
	return o.Action == ActionDeactivate || o.Kind == KindQueue && len(o.Remove) > 0
}

// SourceProblems returns why this pass's reads cannot be trusted to be
// whole: a source that says it is incomplete, or whose count fell by more
// than maxDrop since its last healthy read. Empty means healthy.
func SourceProblems(srcs []SourceFacts, maxDrop float64) []string {
	var out []string
	for _, s := range srcs {
		if !s.Complete {
			r := s.Reason
			if r == "" {
				r = "incomplete"
			}
			out = append(out, fmt.Sprintf("source %s: %s", s.Name, r))
			continue
		}
		if s.LastHealthy == nil || *s.LastHealthy <= 0 || maxDrop >= 1 || s.Count >= *s.LastHealthy {
			continue
		}
		last := *s.LastHealthy
		drop := float64(last-s.Count) / float64(last)
		if drop > maxDrop {
			out = append(out, fmt.Sprintf("source %s: %d records, down %.0f%% from %d at the last healthy read (more than the %.0f%% allowed)",
				s.Name, s.Count, drop*100, last, maxDrop*100))
		}
	}
	return out
}

// AbsentKeys returns the keys of the users the plan deactivates because no
// source holds them any more, sorted.
//
// Only the deactivated keys are indexed, and every desired user looked up
// among them: at a million people an index of everyone costs a cache miss
// a person, twice a pass, where the few deactivations fit in cache.
func AbsentKeys(p *Plan, desired *Snapshot) []string {
	gone := map[string]bool{}
	for _, o := range p.Ops {
		if o.Kind == KindUser && o.Action == ActionDeactivate {
			gone[o.Key] = true
		}
	}
	for i := 0; i < len(desired.Users) && len(gone) > 0; i++ {
		delete(gone, desired.Users[i].Key)
	}
	if len(gone) == 0 {
		return nil
	}
	return slices.Sorted(maps.Keys(gone))
}

// Guard applies the safety rules to a plan and returns a new plan; p is not
// changed. It is pure. Its steps, in order:
//
//   - An unhealthy pass (SourceProblems) suppresses every removal.
//   - A deactivation for absence waits until the person has been missing
//     for Limits.AbsentPasses healthy passes (and Limits.AbsentFor).
//   - When the removals left are more than Limits.HoldOver, or more than
//     Limits.HoldPercent of Population and more than
//     Limits.HoldPercentFloor, they are all held for approval;
//     creates and updates go on. A removal already held stays held until
//     a person decides; one they approved goes ahead and is not counted;
//     one they rejected is not applied.
//
// A queue operation that both adds and removes members, whose removals are
// suppressed or held, is split so that the additions go on.
func Guard(p *Plan, in GuardInput) *Plan {
	g := newGuard(p, in)
	g.suppressUnhealthy()
	g.waitForAbsence()
	g.splitQueueRemovals()
	g.holdRemovals()
	g.finish(p.Summary.Unchanged)
	return g.out
}

// guard is one Guard call: the plan being guarded, step by step.
type guard struct {
	in  GuardInput
	out *Plan
	// absent are the keys of users deactivated because the sources no
	// longer hold them.
	absent map[string]bool
	// pieces records how queue operations were split, so the pieces can be
	// linked back into the dependency graph.
	pieces map[string][]string
}

func newGuard(p *Plan, in GuardInput) *guard {
	out := *p
	out.Ops = make([]Op, 0, len(p.Ops))
	out.Notes = slices.Clone(p.Notes)
	desired := in.Desired
	if desired == nil {
		desired = &Snapshot{}
	}
	absent := map[string]bool{}
	for _, k := range AbsentKeys(p, desired) {
		absent[k] = true
	}
	out.Ops = append(out.Ops, p.Ops...)
	return &guard{in: in, out: &out, absent: absent, pieces: map[string][]string{}}
}

// suppressUnhealthy: an unhealthy pass (SourceProblems) suppresses every
// removal.
func (g *guard) suppressUnhealthy() {
	problems := SourceProblems(g.in.Sources, g.in.Limits.MaxDrop)
	if len(problems) == 0 {
		return
	}
	n := 0
	for i := range g.out.Ops {
		o := &g.out.Ops[i]
		if o.Ready() && Removes(o) {
			o.Status = StatusSuppressed
			o.Why.Unhealthy = slices.Clone(problems)
			n++
		}
	}
	g.out.Notes = append(g.out.Notes, fmt.Sprintf("no deactivations or removals this pass (%d suppressed): %s", n, strings.Join(problems, "; ")))
}

// waitForAbsence: a deactivation for absence waits until the person has
// been missing for Limits.AbsentPasses healthy passes (and
// Limits.AbsentFor).
func (g *guard) waitForAbsence() {
	in := g.in
	k := max(in.Limits.AbsentPasses, 1)
	waiting := 0
	for i := range g.out.Ops {
		o := &g.out.Ops[i]
		if !o.Ready() || o.Kind != KindUser || o.Action != ActionDeactivate || !g.absent[o.Key] {
			continue
		}
		a := in.Absences[o.Key]
		passes := max(a.Passes, 1)
		var w AbsenceWait
		if passes < k {
			w.Passes, w.Needed = passes, k
		}
		if d := in.Limits.AbsentFor; d > 0 && !a.Since.IsZero() && in.Now.Sub(a.Since) < d {
			w.Since, w.For = a.Since.UTC().Format(time.RFC3339), d.String()
		} else if d > 0 && a.Since.IsZero() {
			w.For = d.String()
		}
		if w != (AbsenceWait{}) {
			o.Status = StatusSuppressed
			o.Why.Absence = &w
			waiting++
		}
	}
	if waiting > 0 {
		note := fmt.Sprintf("%d deactivation(s) wait for the person to be missing from %d consecutive healthy passes", waiting, k)
		if in.Limits.AbsentFor > 0 {
			note += fmt.Sprintf(" and for %s", in.Limits.AbsentFor)
		}
		g.out.Notes = append(g.out.Notes, note)
	}
}

// splitQueueRemovals: a queue removal of someone whose deactivation waits,
// waits too; and a hold on a queue removal is per member, so removals whose
// members were decided differently are split, and approving one person's
// removal survives another joining or leaving the set.
func (g *guard) splitQueueRemovals() {
	g.out.Ops = follow(g.out.Ops, g.pieces)
	g.out.Ops = splitByHolds(g.out.Ops, g.in.Holds, g.pieces)
}

// holdRemovals: when the removals left are more than Limits.HoldOver, or
// more than Limits.HoldPercent of Population and more than
// Limits.HoldPercentFloor, they are all held for approval; creates and
// updates go on. A removal already held stays held until a person decides;
// one they approved goes ahead and is not counted; one they rejected is
// not applied.
func (g *guard) holdRemovals() {
	in, out := g.in, g.out
	leaving := map[string]bool{} // users deactivated by a ready op
	for _, o := range out.Ops {
		if o.Kind == KindUser && o.Action == ActionDeactivate && o.Ready() {
			leaving[o.Key] = true
		}
	}
	removals := 0
	var risky []int
	pending, rejected := 0, 0
	for i := range out.Ops {
		o := &out.Ops[i]
		if !o.Ready() || !Removes(o) {
			continue
		}
		extra := 0 // people this op removes who are not deactivated anyway
		if o.Kind == KindQueue {
			for _, k := range o.Remove {
				if !leaving[k] {
					extra++
				}
			}
			if extra == 0 {
				continue // it goes with deactivations, counted and held there
			}
		}
		h, ok := in.Holds[HoldKeys(o)[0]]
		switch {
		case ok && h.Status == HoldApproved:
			o.Why.Hold = &HoldNote{Decision: HoldApproved, ID: h.ID}
			continue
		case ok && h.Status == HoldRejected:
			o.Status = StatusSuppressed
			o.Why.Hold = &HoldNote{Decision: HoldRejected, ID: h.ID}
			rejected++
			continue
		case ok && h.Status == HoldPending:
			o.Status = StatusHeld
			o.Why.Hold = &HoldNote{Decision: HoldPending, ID: h.ID}
			pending++
		default:
			risky = append(risky, i)
		}
		if o.Kind == KindQueue {
			removals += extra
		} else {
			removals++
		}
	}
	note := HoldNote{Decision: HoldNew, Removals: removals}
	if lim := in.Limits.HoldOver; lim >= 0 && removals > lim {
		note.Over = &lim
	}
	if pct := in.Limits.HoldPercent; pct >= 0 && in.Population > 0 && removals > 0 &&
		removals > in.Limits.HoldPercentFloor && float64(removals)*100/float64(in.Population) > pct {
		note.Percent, note.Population = &pct, in.Population
	}
	if (note.Over != nil || note.Percent != nil) && len(risky) > 0 {
		for _, i := range risky {
			o := &out.Ops[i]
			o.Status = StatusHeld
			n := note
			o.Why.Hold = &n
		}
		out.Notes = append(out.Notes, fmt.Sprintf("%d operation(s) newly held for approval (%s); creates and updates go on. "+
			"See 'rostersync held list'; approve with 'rostersync held approve', reject with 'rostersync held reject'", len(risky), note.why()))
	}
	if pending > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("%d operation(s) still held, waiting for approval (see 'rostersync held list')", pending))
	}
	if rejected > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("%d operation(s) not applied: an operator rejected them", rejected))
	}
}

// finish splits the queue operations whose removals no longer go with
// their additions, links the pieces into the dependency graph, and counts
// the plan again.
func (g *guard) finish(unchanged int) {
	out := g.out
	out.Ops = splitQueues(follow(out.Ops, g.pieces), g.pieces)
	relink(out.Ops, g.pieces)
	Settle(out.Ops)
	out.Summary = Summarize(out.Ops, unchanged)
	out.Requests = requestsFor(out.Ops)
	if g.in.BatchRows > 0 {
		out.Requests = batchRequests(out.Ops, g.in.BatchRows)
	}
}

// follow takes out of each ready queue operation the removals of users
// whose deactivation is not ready (held or suppressed): they wait with it.
func follow(ops []Op, pieces map[string][]string) []Op {
	waiting := map[string]*Op{}
	for i := range ops {
		if o := &ops[i]; o.Kind == KindUser && o.Action == ActionDeactivate && !o.Ready() {
			waiting[o.Key] = o
		}
	}
	if len(waiting) == 0 {
		return ops
	}
	out := make([]Op, 0, len(ops))
	for _, o := range ops {
		if o.Kind != KindQueue || !o.Ready() || len(o.Remove) == 0 {
			out = append(out, o)
			continue
		}
		names := queueNames(o, len(o.Remove))
		var keep, wait, keepN, waitN []string
		for i, k := range o.Remove {
			if waiting[k] != nil {
				wait, waitN = append(wait, k), append(waitN, names[i])
			} else {
				keep, keepN = append(keep, k), append(keepN, names[i])
			}
		}
		if len(wait) == 0 {
			out = append(out, o)
			continue
		}
		old := OpID(&o)
		if len(keep) > 0 || len(o.Add) > 0 {
			rest := o
			rest.Remove, rest.Replace = keep, nil
			rest.Why.Replace = false
			rest.Changes = queueChanges(o.Changes, "agents+")
			if len(keep) > 0 {
				rest.Changes = append(rest.Changes, Change{Field: "agents-", Old: strings.Join(keepN, ", ")})
			}
			out = append(out, rest)
			pieces[old] = append(pieces[old], OpID(&rest))
		}
		w := o
		w.Add, w.Replace, w.Remove = nil, nil, wait
		w.Changes = []Change{{Field: "agents-", Old: strings.Join(waitN, ", ")}}
		w.Status = StatusSuppressed
		w.Why.Replace = false
		w.Why.FollowsDeactivation = true
		out = append(out, w)
		pieces[old] = append(pieces[old], OpID(&w))
	}
	return out
}

// queueNames returns the usernames of a queue operation's removals, in the
// order of Remove, from its "agents-" change (keys when it has none).
func queueNames(o Op, n int) []string {
	for _, c := range o.Changes {
		if c.Field == "agents-" {
			if names := strings.Split(c.Old, ", "); len(names) == n {
				return names
			}
		}
	}
	return slices.Clone(o.Remove)
}

// splitQueues splits each queue operation that adds members but whose
// removals are not ready into a ready addition and the removal alone.
func splitQueues(ops []Op, pieces map[string][]string) []Op {
	split := func(o *Op) bool { return o.Kind == KindQueue && !o.Ready() && len(o.Add) > 0 && len(o.Remove) > 0 }
	some := false
	for i := range ops {
		some = some || split(&ops[i])
	}
	if !some {
		return ops // nothing to split: no copy of a plan's worth of ops
	}
	out := make([]Op, 0, len(ops)+1)
	for _, o := range ops {
		if !split(&o) {
			out = append(out, o)
			continue
		}
		add, rm := o, o
		add.Status, add.Why = StatusReady, o.Why.base()
		add.Remove, add.Replace, rm.Add, rm.Replace = nil, nil, nil, nil
		add.Changes = queueChanges(o.Changes, "agents+")
		rm.Changes = queueChanges(o.Changes, "agents-")
		rm.Why.Replace = false
		out = append(out, add, rm)
		old := OpID(&o)
		pieces[old] = append(pieces[old], OpID(&add), OpID(&rm))
	}
	return out
}

func queueChanges(ch []Change, field Field) []Change {
	var out []Change
	for _, c := range ch {
		if c.Field == field {
			out = append(out, c)
		}
	}
	return out
}

func trimFloat(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", f), "0"), ".")
}
