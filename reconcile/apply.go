package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
)

// Ledger records what rostersync owns. Apply records every create and
// adoption as soon as the platform confirms it.
type Ledger interface {
	Own(ctx context.Context, kind Kind, key, id, how string) error
}

// ApplyOptions tune Apply.
type ApplyOptions struct {
	Ledger Ledger
	Logger *slog.Logger
	// MaxFailures stops the apply after this many failed operations
	// (default 25); the rest are reported as not attempted.
	MaxFailures int
	// OnOp is called after each operation with its position, for progress.
	OnOp func(done, total int, op *Op, err error)
	// Journal, when set, records each operation before it is sent and its
	// outcome after. An operation whose Begin fails is not sent, and the
	// apply stops.
	Journal Journal
	// Stop, once closed, starts no further operation: those in flight on
	// every endpoint finish (their context lives on) and the rest are
	// counted as skipped. A daemon asked to stop closes it; cancelling
	// ctx instead also cuts off the writes in flight.
	Stop <-chan struct{}
}

// OpError is a failed operation.
type OpError struct {
	Op  Op
	Err error
}

func (e *OpError) Error() string {
	return fmt.Sprintf("%s %s %q: %v", e.Op.Action, e.Op.Kind, e.Op.Name, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }

// Fatal is implemented by errors after which no further request can succeed
// (bad credentials, a rate-limit wait beyond the ceiling).
type Fatal interface{ Fatal() bool }

// Result is what Apply did.
type Result struct {
	Applied   int
	Failed    []*OpError
	Skipped   int // not attempted: a dependency failed, or the apply stopped
	Skips     []*SkipError
	CreatedID map[string]string
}

// Err joins the failures, or returns nil.
func (r *Result) Err() error {
	if len(r.Failed) == 0 {
		return nil
	}
	errs := make([]error, len(r.Failed))
	for i, f := range r.Failed {
		errs[i] = f
	}
	return errors.Join(errs...)
}

// ErrDependency marks an operation skipped because one it depends on failed.
var ErrDependency = errors.New("skipped: an operation it depends on did not succeed")

// Apply executes the plan's ready operations against the target. It is the
// only caller of the target's write methods.
//
// It walks the plan's dependency graph (Op.Needs): an op is sent only once
// every op it needs has succeeded; one whose prerequisite failed, was
// skipped or is not ready is skipped with that reason and never sent. Ops
// on different endpoints (Lane) run side by side, one at a time per
// endpoint, each endpoint paced by the target's own budget; within an
// endpoint, ops go in plan order. It goes on past a failed operation (up to
// MaxFailures) and reports every failure; it stops sending at once on a
// Fatal error or a cancelled context.
func Apply(ctx context.Context, plan *Plan, t Target, opt ApplyOptions) *Result {
	if opt.MaxFailures <= 0 {
		opt.MaxFailures = 25
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	ops := plan.ReadyOps()
	res := &Result{CreatedID: map[string]string{}}
	if b, ok := t.(Batcher); ok {
		// A batching target's ops travel in one upload: the batch is one
		// node of the graph, and Diff gives it no edges to walk.
		applyBatch(ctx, b, plan, ops, opt, res)
		return res
	}
	a := &applier{t: t, opt: opt, plan: plan,
		teamIDs: copyMap(plan.TeamIDs), userIDs: copyMap(plan.UserIDs), res: res}
	newWalk(a, plan, ops).run(ctx)
	return res
}

// walk is one apply's traversal of the dependency graph.
type walk struct {
	a   *applier
	ops []Op

	mu      sync.Mutex
	cond    *sync.Cond
	waiting []int            // per op: needs not yet done
	users   [][]int          // per op: the ops that need it
	lanes   map[string][]int // per lane: ops ready to send, in plan order
	order   []string         // lanes in first-use order
	state   []opState
	busy    int // ops being sent
	done    int // ops finished (applied, failed or skipped)
	stopped bool
}

type opState int

const (
	opPending opState = iota
	opQueued
	opRunning
	opApplied
	opFailed
	opSkipped
)

func newWalk(a *applier, plan *Plan, ops []Op) *walk {
	w := &walk{a: a, ops: ops, waiting: make([]int, len(ops)), users: make([][]int, len(ops)),
		lanes: map[string][]int{}, state: make([]opState, len(ops))}
	w.cond = sync.NewCond(&w.mu)
	ready := map[string][]int{}
	for i := range ops {
		id := OpID(&ops[i])
		ready[id] = append(ready[id], i)
	}
	notReady := map[string]*Op{}
	for i := range plan.Ops {
		if o := &plan.Ops[i]; !o.Ready() {
			notReady[OpID(o)] = o
		}
	}
	var blocked []int
	blockedBy := map[int]string{}
	for i := range ops {
		for _, n := range ops[i].Needs {
			if js, ok := ready[n]; ok {
				for _, j := range js {
					if j != i {
						w.users[j] = append(w.users[j], i)
						w.waiting[i]++
					}
				}
			} else if o := notReady[n]; o != nil && blockedBy[i] == "" {
				blocked = append(blocked, i)
				blockedBy[i] = fmt.Sprintf("%s %s %q is %s", o.Action, o.Kind, o.Name, o.Status)
			}
		}
	}
	w.mu.Lock()
	for _, i := range blocked {
		w.skip(i, blockedBy[i])
	}
	for i := range ops {
		if w.state[i] == opPending && w.waiting[i] == 0 {
			w.queue(i)
		}
	}
	w.mu.Unlock()
	return w
}

// queue makes op i ready to send on its lane. w.mu is held.
func (w *walk) queue(i int) {
	w.state[i] = opQueued
	l := Lane(&w.ops[i])
	if _, ok := w.lanes[l]; !ok {
		w.order = append(w.order, l)
	}
	w.lanes[l] = append(w.lanes[l], i)
}

// skip marks op i and, transitively, every op that needs it as skipped,
// never sent. w.mu is held.
func (w *walk) skip(i int, why string) {
	if w.state[i] >= opApplied {
		return
	}
	if w.state[i] == opQueued {
		l := Lane(&w.ops[i])
		w.lanes[l] = slices.DeleteFunc(w.lanes[l], func(j int) bool { return j == i })
	}
	w.state[i] = opSkipped
	op := &w.ops[i]
	err := &SkipError{Op: *op, Why: why}
	w.a.res.Skipped++
	w.a.res.Skips = append(w.a.res.Skips, err)
	w.a.opt.Logger.Warn("operation skipped", "action", op.Action.String(), "kind", op.Kind, "name", op.Name, "why", err.Error())
	w.finished(i, err)
	for _, u := range w.users[i] {
		w.skip(u, fmt.Sprintf("%s %s %q was not applied", op.Action, op.Kind, op.Name))
	}
}

// finished counts op i as done and reports it. w.mu is held.
func (w *walk) finished(i int, err error) {
	w.done++
	if f := w.a.opt.OnOp; f != nil {
		f(w.done, len(w.ops), &w.ops[i], err)
	}
}

// halted reports that no further op may start: the context ended or a stop
// was asked for.
func (w *walk) halted(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	select {
	case <-w.a.opt.Stop:
		return true
	default:
		return false
	}
}

func (w *walk) run(ctx context.Context) {
	var wg sync.WaitGroup
	if stop := w.a.opt.Stop; stop != nil {
		over := make(chan struct{})
		defer close(over)
		go func() {
			select {
			case <-stop:
				w.mu.Lock()
				w.cond.Broadcast()
				w.mu.Unlock()
			case <-over:
			}
		}()
	}
	w.mu.Lock()
	started := map[string]bool{}
	startLanes := func() {
		for _, l := range w.order {
			if !started[l] {
				started[l] = true
				wg.Add(1)
				go func() { defer wg.Done(); w.lane(ctx, l) }()
			}
		}
	}
	// New lanes appear as ops become ready; the coordinator starts their
	// workers until every op is done, the walk stopped, or nothing is
	// queued or running (what is left needs an op that was never sent).
	for {
		startLanes()
		if w.halted(ctx) && !w.stopped {
			w.stopped, w.a.stopped = true, true
		}
		if w.done == len(w.ops) || w.stopped && w.busy == 0 || w.idle() {
			break
		}
		w.cond.Wait()
	}
	w.stopped = true
	w.cond.Broadcast()
	w.mu.Unlock()
	wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range w.ops {
		if w.state[i] >= opApplied {
			continue
		}
		if w.a.stopped {
			// The apply stopped (a fatal error, too many failures, a
			// cancelled context): what was not sent is counted, not
			// reported one by one.
			w.state[i] = opSkipped
			w.a.res.Skipped++
			w.a.res.Skips = append(w.a.res.Skips, &SkipError{Op: w.ops[i], Why: "the apply stopped before it was sent"})
			continue
		}
		w.skip(i, "an operation it needs was never sent (a dependency cycle)")
	}
}

// idle reports that nothing is queued or being sent. w.mu is held.
func (w *walk) idle() bool {
	if w.busy > 0 {
		return false
	}
	for _, q := range w.lanes {
		if len(q) > 0 {
			return false
		}
	}
	return true
}

// lane sends the ops of one endpoint, one at a time, as they become ready.
func (w *walk) lane(ctx context.Context, l string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		for len(w.lanes[l]) == 0 && !w.stopped {
			w.cond.Wait()
		}
		if w.stopped {
			return
		}
		if len(w.a.res.Failed) >= w.a.opt.MaxFailures || w.halted(ctx) {
			w.stopped = true
			w.a.stopped = true
			w.cond.Broadcast()
			return
		}
		i := w.lanes[l][0]
		w.lanes[l] = w.lanes[l][1:]
		w.state[i] = opRunning
		w.busy++
		w.mu.Unlock()
		op := &w.ops[i]
		err := w.a.journalled(ctx, op)
		w.mu.Lock()
		w.busy--
		switch {
		case errors.Is(err, errStopped):
			// Another lane's op was the last one the caller let through:
			// this one was never sent, and is counted with the rest.
			w.state[i] = opPending
			w.stopped = true
			w.a.stopped = true
		case errors.Is(err, ErrDependency):
			w.skip(i, err.Error())
		case err != nil:
			w.state[i] = opFailed
			w.a.res.Failed = append(w.a.res.Failed, &OpError{Op: *op, Err: err})
			w.a.opt.Logger.Error("operation failed", "action", op.Action.String(), "kind", op.Kind, "name", op.Name, "err", err)
			w.finished(i, err)
			for _, u := range w.users[i] {
				w.skip(u, fmt.Sprintf("%s %s %q failed", op.Action, op.Kind, op.Name))
			}
		default:
			w.state[i] = opApplied
			w.a.res.Applied++
			w.finished(i, nil)
			for _, u := range w.users[i] {
				if w.waiting[u]--; w.waiting[u] == 0 && w.state[u] == opPending {
					w.queue(u)
				}
			}
		}
		var f Fatal
		if errors.As(err, &f) && f.Fatal() {
			w.stopped = true
			w.a.stopped = true
		}
		w.cond.Broadcast()
	}
}

// SkipError is an operation that was not sent, and why: an operation it
// needs failed or was not applied, or the apply stopped first.
type SkipError struct {
	Op  Op
	Why string
}

func (e *SkipError) Error() string {
	return fmt.Sprintf("%s %s %q skipped: %s", e.Op.Action, e.Op.Kind, e.Op.Name, e.Why)
}

// Unwrap makes a SkipError an ErrDependency.
func (e *SkipError) Unwrap() error { return ErrDependency }

// ErrJournal marks an operation not sent because the journal could not
// record it; it stops the apply.
var ErrJournal = errors.New("the apply journal could not record the operation; not sent")

type journalError struct{ err error }

func (e *journalError) Error() string   { return fmt.Sprintf("%v: %v", ErrJournal, e.err) }
func (e *journalError) Unwrap() []error { return []error{ErrJournal, e.err} }
func (e *journalError) Fatal() bool     { return true }

// errStopped is an op not sent because the apply's context ended before
// it started: a stop, not a failure.
var errStopped = errors.New("the apply stopped before it was sent")

// journalled runs op between the journal's Begin and Finish.
func (a *applier) journalled(ctx context.Context, op *Op) error {
	if ctx.Err() != nil {
		return errStopped
	}
	j := a.opt.Journal
	if j == nil {
		return a.do(ctx, op)
	}
	entry, err := j.Begin(ctx, op)
	if err != nil {
		if ctx.Err() != nil {
			return errStopped // nothing was sent
		}
		return &journalError{err}
	}
	err = a.do(ctx, op)
	resultID := a.createdID(op.Kind, op.Key)
	if op.Action != ActionCreate {
		resultID = ""
	}
	// The outcome is recorded even when ctx has ended: the write happened
	// or not whatever the caller now wants.
	if ferr := j.Finish(context.WithoutCancel(ctx), entry, OutcomeOf(err), resultID, err); ferr != nil {
		if err == nil {
			return &journalError{ferr}
		}
		return errors.Join(err, &journalError{ferr})
	}
	return err
}

// applyBatch hands every ready op to a Batcher at once, each user's team key
// resolved to the platform's team id as the plan knows it, and records the
// ownership of what it created or adopted.
func applyBatch(ctx context.Context, b Batcher, plan *Plan, ops []Op, opt ApplyOptions, res *Result) {
	results := make([]BatchResult, len(ops))
	send := make([]Op, 0, len(ops))
	var sent []int
	for i, op := range ops {
		if op.User != nil && op.User.Team != "" {
			u := *op.User
			id, ok := plan.TeamIDs[u.Team]
			if !ok || id == "" {
				results[i].Err = fmt.Errorf("team %q: %w", u.Team, ErrDependency)
				continue
			}
			u.Team = id
			op.User = &u
		}
		send = append(send, op)
		sent = append(sent, i)
	}
	if len(send) > 0 {
		got := b.ApplyBatch(ctx, send)
		for j, i := range sent {
			if j < len(got) {
				results[i] = got[j]
			} else {
				results[i].Err = fmt.Errorf("the target reported no outcome for it (%d results for %d operations)", len(got), len(send))
			}
		}
	}
	for i := range ops {
		op := &ops[i]
		r := results[i]
		err := r.Err
		if err == nil && op.Kind == KindUser {
			err = recordBatchOwnership(ctx, opt.Ledger, op, r.ID, res)
		}
		if err != nil {
			res.Failed = append(res.Failed, &OpError{Op: *op, Err: err})
		} else {
			res.Applied++
		}
		if opt.OnOp != nil {
			opt.OnOp(i+1, len(ops), op, err)
		}
	}
}

func recordBatchOwnership(ctx context.Context, l Ledger, op *Op, id string, res *Result) error {
	how := "adopted"
	switch op.Action {
	case ActionCreate:
		if id == "" {
			return errors.New("the target reported success without the new user's id")
		}
		res.CreatedID[string(KindUser)+":"+op.Key] = id
		how = "created"
	case ActionAdopt:
		id = op.ID
	default:
		return nil
	}
	if l == nil {
		return nil
	}
	if err := l.Own(ctx, KindUser, op.Key, id, how); err != nil {
		return fmt.Errorf("record ownership of %s %q: %w", op.Kind, op.Key, err)
	}
	return nil
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

type applier struct {
	t    Target
	opt  ApplyOptions
	plan *Plan
	res  *Result

	// ids guards teamIDs, userIDs and res.CreatedID, which ops on
	// different lanes read and write at once.
	ids     sync.Mutex
	teamIDs map[string]string
	userIDs map[string]string
	stopped bool // set under the walk's lock
}

func (a *applier) created(kind Kind, key, id string) {
	a.ids.Lock()
	defer a.ids.Unlock()
	switch kind {
	case KindTeam:
		a.teamIDs[key] = id
	case KindUser:
		a.userIDs[key] = id
	}
	a.res.CreatedID[string(kind)+":"+key] = id
}

func (a *applier) userID(key string) string {
	a.ids.Lock()
	defer a.ids.Unlock()
	return a.userIDs[key]
}

func (a *applier) createdID(kind Kind, key string) string {
	a.ids.Lock()
	defer a.ids.Unlock()
	return a.res.CreatedID[string(kind)+":"+key]
}

func (a *applier) own(ctx context.Context, kind Kind, key, id, how string) error {
	if a.opt.Ledger == nil {
		return nil
	}
	if err := a.opt.Ledger.Own(ctx, kind, key, id, how); err != nil {
		return fmt.Errorf("record ownership of %s %q: %w", kind, key, err)
	}
	return nil
}

func (a *applier) team(key string) (string, error) {
	a.ids.Lock()
	defer a.ids.Unlock()
	if key == "" && a.teamIDs[""] == "" {
		return "", nil
	}
	id, ok := a.teamIDs[key]
	if !ok || id == "" {
		return "", fmt.Errorf("team %q: %w", key, ErrDependency)
	}
	return id, nil
}

// resolved returns a copy of the desired user with its team key replaced by
// the platform group id.
func (a *applier) resolved(u *User) (User, error) {
	c := *u
	if c.Team != "" {
		id, err := a.team(c.Team)
		if err != nil {
			return c, err
		}
		c.Team = id
	}
	return c, nil
}

func (a *applier) do(ctx context.Context, op *Op) error {
	switch op.Kind {
	case KindTeam:
		return a.doTeam(ctx, op)
	case KindUser:
		return a.doUser(ctx, op)
	case KindQueue:
		return a.doQueue(ctx, op)
	}
	return fmt.Errorf("unknown kind %q", op.Kind)
}

func (a *applier) doTeam(ctx context.Context, op *Op) error {
	switch op.Action {
	case ActionCreate:
		t := *op.Team
		parent, err := a.team(t.Parent)
		if err != nil {
			return err
		}
		t.Parent = parent
		id, err := a.t.CreateTeam(ctx, t)
		if err != nil {
			return err
		}
		a.created(KindTeam, op.Key, id)
		return a.own(ctx, KindTeam, op.Key, id, "created")
	case ActionDeactivate:
		return a.t.UpdateTeam(ctx, op.ID, Team{Active: false}, []Field{FieldActive})
	}
	var t Team
	if op.Team != nil {
		t = *op.Team
	}
	if slices.Contains(op.Fields, FieldParent) {
		parent, err := a.team(t.Parent)
		if err != nil {
			return err
		}
		t.Parent = parent
	}
	if len(op.Fields) > 0 {
		if err := a.t.UpdateTeam(ctx, op.ID, t, op.Fields); err != nil {
			return err
		}
	}
	if op.Action == ActionAdopt {
		return a.own(ctx, KindTeam, op.Key, op.ID, "adopted")
	}
	return nil
}

func (a *applier) doUser(ctx context.Context, op *Op) error {
	switch op.Action {
	case ActionCreate:
		u, err := a.resolved(op.User)
		if err != nil {
			return err
		}
		id, err := a.t.CreateUser(ctx, u)
		if err != nil {
			return err
		}
		a.created(KindUser, op.Key, id)
		return a.own(ctx, KindUser, op.Key, id, "created")
	case ActionDeactivate:
		return a.t.UpdateUser(ctx, op.ID, User{ID: op.ID, Active: false}, []Field{FieldActive})
	}
	if len(op.Fields) > 0 {
		u, err := a.resolved(op.User)
		if err != nil {
			return err
		}
		if err := a.t.UpdateUser(ctx, op.ID, u, op.Fields); err != nil {
			return err
		}
	}
	if op.Action == ActionAdopt {
		return a.own(ctx, KindUser, op.Key, op.ID, "adopted")
	}
	return nil
}

func (a *applier) doQueue(ctx context.Context, op *Op) error {
	if op.Action == ActionCreate {
		c, ok := a.t.(QueueCreator)
		if !ok {
			return fmt.Errorf("target %s cannot create a work queue", a.t.Name())
		}
		id, err := c.CreateQueue(ctx, Queue{Name: op.Name, Active: true})
		if err != nil {
			return err
		}
		a.created(KindQueue, op.Key, id)
		return a.own(ctx, KindQueue, op.Key, id, "created")
	}
	queueID := op.ID
	if queueID == "" { // created by this plan
		if queueID = a.createdID(KindQueue, op.Key); queueID == "" {
			return fmt.Errorf("queue %q: %w", op.Name, ErrDependency)
		}
	}
	ids := func(keys []string) ([]string, error) {
		out := make([]string, 0, len(keys))
		var missing []string
		for _, k := range keys {
			if id := a.userID(k); id != "" {
				out = append(out, id)
			} else {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 && len(out) == 0 {
			return nil, fmt.Errorf("users %s: %w", strings.Join(missing, ", "), ErrDependency)
		}
		return out, nil
	}
	if op.Replace != nil {
		r, ok := a.t.(QueueReplacer)
		if !ok {
			return fmt.Errorf("target %s cannot replace a queue's agents", a.t.Name())
		}
		final, err := ids(op.Replace)
		if err != nil {
			return err
		}
		if len(final) < len(op.Replace) {
			return fmt.Errorf("queue %q: %w", op.Name, ErrDependency) // never replace with a short list
		}
		return r.ReplaceQueueAgents(ctx, queueID, final)
	}
	if len(op.Add) > 0 {
		add, err := ids(op.Add)
		if err != nil {
			return err
		}
		if err := a.t.AddQueueAgents(ctx, queueID, add); err != nil {
			return err
		}
	}
	if len(op.Remove) > 0 {
		rm, err := ids(op.Remove)
		if err != nil {
			return err
		}
		if err := a.t.RemoveQueueAgents(ctx, queueID, rm); err != nil {
			return err
		}
	}
	return nil
}

// StaleError says a saved plan no longer matches the platform.
type StaleError struct {
	Reasons []string
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("the saved plan is stale: %d object(s) changed on the platform since it was made: %s; make a new plan",
		len(e.Reasons), strings.Join(e.Reasons, "; "))
}

// Verify checks that every object a saved plan touches is as it was when the
// plan was made, and that nothing it would create has appeared since. It
// returns a *StaleError listing every difference.
func Verify(plan *Plan, current *Snapshot) error {
	users := indexUsers(current.Users)
	teams := make(map[string]*Team, len(current.Teams))
	for i := range current.Teams {
		teams[current.Teams[i].ID] = &current.Teams[i]
	}
	queues := make(map[string]*Queue, len(current.Queues))
	for i := range current.Queues {
		queues[current.Queues[i].ID] = &current.Queues[i]
	}
	var reasons []string
	for _, op := range plan.ReadyOps() {
		label := fmt.Sprintf("%s %q", op.Kind, op.Name)
		switch {
		case op.Kind == KindQueue && op.Action == ActionCreate:
			for _, q := range queues {
				if strings.EqualFold(q.Name, op.Name) {
					reasons = append(reasons, label+" now exists")
					break
				}
			}
		case op.Kind == KindQueue && op.ID == "":
			// made by the create above
		case op.Kind == KindQueue:
			if queues[op.ID] == nil {
				reasons = append(reasons, label+" no longer exists")
			}
		case op.Action == ActionCreate && op.Kind == KindUser:
			u := op.User
			if users.byUsername[strings.ToLower(u.Username)] != nil ||
				u.Email != "" && users.byEmail[strings.ToLower(u.Email)] != nil ||
				u.ThirdPartyID != "" && users.byTPID[u.ThirdPartyID] != nil {
				reasons = append(reasons, label+" now exists")
			}
		case op.Action == ActionCreate && op.Kind == KindTeam:
			parent := plan.TeamIDs[op.Team.Parent]
			for _, t := range teams {
				if parent != "" && t.Parent == parent && strings.EqualFold(t.Name, op.Team.Name) {
					reasons = append(reasons, label+" now exists")
					break
				}
			}
		case op.Kind == KindUser:
			if u := users.byID[op.ID]; u == nil || Fingerprint(u) != op.Fingerprint {
				reasons = append(reasons, label+" changed")
			}
		case op.Kind == KindTeam:
			if t := teams[op.ID]; t == nil || Fingerprint(t) != op.Fingerprint {
				reasons = append(reasons, label+" changed")
			}
		}
	}
	if len(reasons) > 0 {
		return &StaleError{Reasons: reasons}
	}
	return nil
}
