package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/samber/lo"

	"github.com/rostersync/rostersync/config"
	"github.com/rostersync/rostersync/mapping"
	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
	"github.com/rostersync/rostersync/sources"
	"github.com/rostersync/rostersync/sources/scim"
	"github.com/rostersync/rostersync/state"
)

// app is the composition root of one command: configuration, sources, the
// targets (each with its client, mapping and policy) and the state store.
type app struct {
	c       *cli
	env     *config.Env
	file    *config.File
	sources []sources.Source
	targets []*target
	db      *state.DB
	log     *slog.Logger
	// scim is the store identity providers push to, when a scim source is
	// configured; serve mounts its endpoint.
	scim     *scim.Store
	ownsSCIM bool // false when the daemon shares its store across reloads
	hooks    appHooks
	// term keeps log lines off the progress bar on a terminal (nil
	// elsewhere); progress is the apply in progress, if any.
	term     *termGuard
	progress atomic.Pointer[applyProgress]
}

func loadApp(ctx context.Context, c *cli, flags commonFlags) (*app, error) {
	return loadAppWith(ctx, c, flags, appHooks{})
}

// loadAppWith is loadApp with observers of what the app does (the daemon's
// metrics and watchdog).
func loadAppWith(ctx context.Context, c *cli, flags commonFlags, hooks appHooks) (*app, error) {
	env, err := loadEnv(ctx, c, flags)
	if env == nil {
		return nil, err
	}
	if err == nil {
		if verr := env.ValidateCommon(); verr != nil {
			err = fmt.Errorf("configuration from the environment:\n%w", verr)
		}
	}
	if err != nil {
		// Report the file's problems too, so that one run lists them all.
		errs := []error{err}
		if file, ferr := config.LoadFile(env.Mapping); ferr != nil {
			errs = append(errs, ferr)
		} else if verr := file.Validate(); verr != nil {
			errs = append(errs, fmt.Errorf("configuration file %s:\n%w", env.Mapping, verr))
		}
		return nil, errors.Join(errs...)
	}
	level, err := env.Level()
	if err != nil {
		return nil, err
	}
	_, journald := c.lookupEnv("JOURNAL_STREAM")
	noColor, _ := c.lookupEnv("NO_COLOR")
	term := newTermGuard(c.stderr, c.interactive)
	log, err := newLogger(term.writer(c.stderr), env.LogFormat, level, logOptions{terminal: c.interactive, journald: journald, noColor: noColor != ""})
	if err != nil {
		return nil, err
	}
	file, err := config.LoadFile(env.Mapping)
	if err != nil {
		return nil, err
	}
	if err := file.Validate(); err != nil {
		return nil, fmt.Errorf("configuration file %s:\n%w", env.Mapping, err)
	}
	db, err := openState(ctx, env, nil, log)
	if err != nil {
		return nil, err
	}
	clock := c.now
	if clock == nil {
		clock = time.Now
	}
	if hooks.sleep == nil {
		hooks.sleep = c.sleep
	}
	hooks.tokens, hooks.now = db.TokenStore, clock
	var self *app
	hooks = progressHooks(hooks, func() *app { return self })
	hooks.budget = func(target string, perMinute, perDay int) evaluagent.Budget {
		return budget{db: db, target: target, perMinute: perMinute, perDay: perDay, now: clock}
	}
	targets, err := buildTargets(env, file, c.lookupEnv, log, hooks)
	if err != nil {
		db.Close()
		return nil, err
	}
	a := &app{c: c, env: env, file: file, targets: targets, db: db, log: log, hooks: hooks, term: term}
	self = a
	a.sources, err = openSources(file, sourceOptions{log: log, cursors: cursors{db}, scimStore: a.scimStore, credentialsDir: env.Credential("")})
	if err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// scimStore returns the store identity providers push to, opening it on
// first use (a scim source asks for it): the daemon's, when it keeps one
// open across reloads, else the app's own.
func (a *app) scimStore() (*scim.Store, error) {
	if a.scim != nil {
		return a.scim, nil
	}
	if a.scim = a.hooks.scimStore; a.scim != nil {
		return a.scim, nil
	}
	s, err := a.openSCIMStore()
	if err != nil {
		return nil, err
	}
	a.scim, a.ownsSCIM = s, true
	return s, nil
}

func (a *app) Close() error {
	var errs []error
	for _, s := range a.sources {
		if c, ok := s.(interface{ Close() error }); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close source %s: %w", s.Name(), err))
			}
		}
	}
	if a.scim != nil && a.ownsSCIM {
		errs = append(errs, a.scim.Close())
	}
	return errors.Join(append(errs, a.db.Close())...)
}

// cursors keeps the sources' delta cursors in the state store.
type cursors struct{ db *state.DB }

func (c cursors) Get(ctx context.Context, name string) ([]byte, bool, error) {
	return c.db.CursorGet(ctx, name)
}

func (c cursors) Put(ctx context.Context, name string, v []byte) error {
	return c.db.CursorPut(ctx, name, v)
}

// desired reads every source once and maps its records with each
// target's own mapping, in configuration order. A source that fails aborts
// the pass: nothing is planned from a source that could not be read. A
// source that can stream hands its records straight to the mappings, so
// the raw records are never all held at once (the source hook then sees a
// snapshot with the health and no records).
//
// It also returns each source's snapshot for its health; a streamed
// source's snapshot holds no records.
//
// last is each source's count at its last healthy read (lastHealthy): the
// largest sizes the mappings' results. Not their sum: sources that describe
// the same people (an HR export beside the directory) would reserve room
// twice over, where too little room only costs the copy made without it.
func (a *app) desired(ctx context.Context, last map[string]int) ([]*mapping.Result, []*sources.Snapshot, error) {
	people := 0
	for _, n := range last {
		people = max(people, n)
	}
	builders := make([]*mapping.Builder, len(a.targets))
	for i, t := range a.targets {
		builders[i] = t.rules.NewBuilder()
		builders[i].SizeHint(people)
	}
	add := func(r *sources.Record) {
		for _, b := range builders {
			b.Add(r)
		}
	}
	var snaps []*sources.Snapshot
	for _, s := range a.sources {
		var snap *sources.Snapshot
		var err error
		if st, ok := s.(sources.Streamer); ok {
			var h sources.Health
			if h, err = st.Stream(ctx, func(r *sources.Record) error { add(r); return nil }); err == nil {
				snap = &sources.Snapshot{Source: s.Name(), Health: h}
			}
		} else if snap, err = s.Fetch(ctx); err == nil {
			for i := range snap.Records {
				add(&snap.Records[i])
			}
		}
		a.hooks.source(s.Name(), snap, err)
		if err != nil {
			return nil, nil, err // adapters name themselves: "source hr: people.csv:4: …"
		}
		snaps = append(snaps, &sources.Snapshot{Source: s.Name(), Health: snap.Health})
		if !snap.Health.Complete {
			a.log.Warn("source incomplete: no deactivations this pass", "source", s.Name(), "reason", snap.Health.Reason)
		}
		a.log.Info("source read", "source", s.Name(), "records", snap.Health.Count, "complete", snap.Health.Complete)
		logJoined(a.log, s)
		for _, b := range builders {
			b.EndSource(s.Name(), snap.Health)
		}
	}
	out := make([]*mapping.Result, len(builders))
	for i, b := range builders {
		out[i] = b.Result()
	}
	return out, snaps, nil
}

// plans makes a plan for every target, in configuration order: the sources
// are read once and mapped with each target's own mapping.
//
// Each platform is listed while the sources are read: the two wait on
// different servers (and decode on different cores), so a pass takes the
// longer of them rather than their sum. A source that fails still aborts
// the pass; the listing is then cancelled and its result dropped.
func (a *app) plans(ctx context.Context) (passes, error) {
	last, err := a.lastHealthy(ctx)
	if err != nil {
		return nil, err
	}
	owned, err := a.hintListings(ctx)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lists := make([]chan platformList, len(a.targets))
	for i, t := range a.targets {
		lists[i] = make(chan platformList, 1)
		go func() {
			cur, err := t.client.List(lctx)
			lists[i] <- platformList{cur, err}
		}()
	}
	results, snaps, err := a.desired(ctx, last)
	if err != nil {
		return nil, err
	}
	facts := a.sourceFacts(snaps, last)
	out := make(passes, 0, len(a.targets))
	for i, t := range a.targets {
		p, err := a.planTarget(ctx, t, results[i], facts, lists[i], owned[i])
		results[i] = nil
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// lastHealthy reads each source's count at its last healthy read; a
// source never read healthy is absent.
func (a *app) lastHealthy(ctx context.Context) (map[string]int, error) {
	last := map[string]int{}
	for _, s := range a.sources {
		n, ok, err := a.db.LastHealthyCount(ctx, s.Name())
		if err != nil {
			return nil, err
		}
		if ok {
			last[s.Name()] = n
		}
	}
	return last, nil
}

// hintListings reads how many objects of each kind each target owns (by
// target, in configuration order) and tells a target that can use it how
// many users it held at the last pass: a listing of the usual size is then
// read into room reserved once rather than gathered and copied. The ledger
// read later sizes its maps from the same counts.
func (a *app) hintListings(ctx context.Context) ([]map[string]int, error) {
	out := make([]map[string]int, len(a.targets))
	for i, t := range a.targets {
		counts, err := a.db.LedgerCounts(ctx, t.name)
		if err != nil {
			return nil, err
		}
		out[i] = counts
		if ls, ok := t.client.(reconcile.ListSizer); ok {
			ls.SizeHint(counts[string(reconcile.KindUser)])
		}
	}
	return out, nil
}

// platformList is a platform's listing, made while the sources are read.
type platformList struct {
	current *reconcile.Snapshot
	err     error
}

// plan makes the plan of the only configured target, for commands that
// handle one; it fails when several are configured.
func (a *app) plan(ctx context.Context) (*pass, error) {
	if len(a.targets) != 1 {
		return nil, fmt.Errorf("%d targets are configured; this command handles exactly one", len(a.targets))
	}
	ps, err := a.plans(ctx)
	if err != nil {
		return nil, err
	}
	return ps[0], nil
}

// planTarget takes what t's mapping made of the sources, lists the
// platform, reads t's ledger (with what the journal recovers), diffs, and
// guards the plan (source health, absences, holds).
func (a *app) planTarget(ctx context.Context, t *target, res *mapping.Result, facts *sourcePass, list <-chan platformList, owned map[string]int) (*pass, error) {
	for _, p := range res.Problems {
		if p.Record {
			continue // a plan problem too: logged with those below
		}
		a.log.Warn("mapping problem", "target", t.name, "problem", p.String())
	}
	var l platformList
	select {
	case l = <-list:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	current, err := l.current, l.err
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", t.name, err)
	}
	// The sources and this listing are in: the pass holds nearly all it
	// will, beside the garbage of reading them. One collection started
	// now, on the core that reading kept busy and the rest of the pass
	// leaves idle, frees that garbage before the ledger and Diff allocate,
	// so that they reuse its pages rather than grow the heap past them.
	// Measured on two cores (medians, interleaved): plan at 100k people
	// peaks at 139 MiB instead of 146 (at most 139 in eight runs, against
	// up to 153), at 1M at 1,184 MiB instead of 1,210, with wall times
	// within the noise of each other.
	go runtime.GC()
	own, err := a.ownership(ctx, t.name, owned)
	if err != nil {
		return nil, err
	}
	shareKeys(own.UserKeys, res.Desired.Users)
	rec, err := a.recover(ctx, t, current)
	if err != nil {
		return nil, err
	}
	rec.own(&own)
	pol := t.policy
	if rn, ok := t.client.(roleNamer); ok {
		pol.KnownRoles = rn.RoleNames() // as the listing just found them
	}
	desired := res.Desired
	if ds, ok := t.client.(desiredShaper); ok {
		desired = ds.ShapeDesired(desired)
	}
	plan := reconcile.Diff(desired, current, own, pol, a.c.now())
	if au, ok := t.client.(auditor); ok {
		plan.Notes = append(plan.Notes, au.Audit(desired, current, plan)...)
	}
	plan.Target = t.name
	res.Annotate(plan)
	plan, pf, err := a.guard(ctx, t, plan, res.Desired, current, own, facts, rec)
	if err != nil {
		return nil, err
	}
	// What the mapping could not map comes first, with the source line.
	mp := make(reconcile.ProblemList, 0, len(res.Problems)+len(plan.Problems))
	for _, p := range res.Problems {
		mp = append(mp, reconcile.Problem{Kind: p.Kind, Key: p.Key, Origin: p.Origin, Message: p.Message})
	}
	plan.Problems = append(mp, plan.Problems...)
	for _, p := range plan.Problems[len(res.Problems):] {
		a.log.Warn("plan problem", "target", t.name, "kind", p.Kind, "key", p.Key, "problem", p.Message)
	}
	turnedOff := 0
	for _, op := range plan.Ops {
		if u := op.Why.Unsupported; op.Status == reconcile.StatusUnsupported && u != nil && u.Setting != "" {
			turnedOff++
		}
	}
	if n := plan.Summary.Unsupported - turnedOff; n > 0 {
		a.log.Warn("operations the platform's API cannot carry out; make them in its own interface", "target", t.name, "unsupported", n)
	}
	if turnedOff > 0 {
		a.log.Info("operations the target's settings turn off are shown, never sent", "target", t.name, "turned_off", turnedOff)
	}
	return &pass{Plan: plan, facts: pf, unmapped: len(res.Problems)}, nil
}

// ownership reads targetName's ledger; counts, when known, are how many
// objects of each kind it held a moment ago (nil: unknown).
func (a *app) ownership(ctx context.Context, targetName string, counts map[string]int) (reconcile.Ownership, error) {
	l, err := a.db.LedgerSorted(ctx, targetName, counts)
	if err != nil {
		return reconcile.Ownership{}, err
	}
	// Users stay in the ledger's sorted slices, fresh and not copied (a
	// million owned users); the few teams go in a map.
	users := l[string(reconcile.KindUser)]
	if users == nil {
		users = &state.Keyed{Keys: []string{}, IDs: []string{}}
	}
	own := reconcile.Ownership{UserKeys: users.Keys, UserIDs: users.IDs, Teams: map[string]string{}}
	if k := l[string(reconcile.KindTeam)]; k != nil {
		for i, key := range k.Keys {
			own.Teams[key] = k.IDs[i]
		}
	}
	return own, nil
}

// shareKeys points each owned user's key at the desired person's copy of
// the same key, so that the ledger's own copies, read a moment ago, are
// garbage before Diff runs: 4.8 MB less held through a 100k-person Diff
// whose keys are UUIDs. Both are sorted by key; one walk does it.
func shareKeys(keys []string, desired []reconcile.User) {
	j := 0
	for i, k := range keys {
		for j < len(desired) && desired[j].Key < k {
			j++
		}
		if j == len(desired) {
			return
		}
		if desired[j].Key == k {
			keys[i] = desired[j].Key
		}
	}
}

func (a *app) target(name string) *target {
	for _, t := range a.targets {
		if t.name == name {
			return t
		}
	}
	return nil
}

// loadSaved reads a saved plan file (one plan, or one per target), checks
// its MAC, checks every plan against its platform now, and re-judges it
// against the plan the current pass makes: the plans returned are the
// current pass's own, limited to the operations the file asks for. The
// current pass is recorded when they are applied, as for 'apply -yes'.
// Nothing is applied unless every plan of the file passes.
func (a *app) loadSaved(ctx context.Context, path string) (passes, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	key, err := a.planKey(false)
	if err != nil {
		return nil, err
	}
	saved, err := reconcile.VerifyPlans(b, key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; nothing was written", path, err)
	}
	var errs []error
	for _, plan := range saved {
		t := a.target(plan.Target)
		if t == nil {
			errs = append(errs, fmt.Errorf("%s: the plan is for target %q, this configuration's targets are %q", path, plan.Target, a.targetNames()))
			continue
		}
		current, err := t.client.List(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", t.name, err)
		}
		if err := reconcile.Verify(plan, current); err != nil {
			errs = append(errs, fmt.Errorf("%s: target %s: %w", path, t.name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w; nothing was written", err)
	}
	now, err := a.plans(ctx)
	if err != nil {
		return nil, err
	}
	out := make(passes, 0, len(saved))
	for _, plan := range saved {
		p := &pass{Plan: plan}
		for _, cur := range now {
			if cur.Target != plan.Target {
				continue
			}
			if err := reconcile.Rejudge(plan, cur.Plan); err != nil {
				errs = append(errs, fmt.Errorf("%s: target %s: %w", path, plan.Target, err))
				continue
			}
			// Applying the saved plan records the current pass: its
			// absences, and its holds, as 'apply -yes' would.
			if p.facts = cur.facts; p.facts != nil {
				p.facts.plan = cur.Plan
			}
		}
		out = append(out, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("%w; the whole file is refused and nothing was written", err)
	}
	return out, nil
}

// pass is one target's plan in one pass, with what it was planned from:
// what an apply of it records. It reads as its plan.
type pass struct {
	*reconcile.Plan
	// facts are what the plan was guarded with; nil for a plan this
	// process did not guard.
	facts *passFacts
	// unmapped counts the people the target's mapping could not map.
	unmapped int
}

// passes are one pass's plans, one per target, in configuration order.
type passes []*pass

// plans returns the plans alone, for rendering and saving.
func (ps passes) plans() []*reconcile.Plan {
	out := make([]*reconcile.Plan, len(ps))
	for i, p := range ps {
		out[i] = p.Plan
	}
	return out
}

type ledger struct {
	batch  *state.Batch
	target string
}

func (l ledger) Own(ctx context.Context, kind reconcile.Kind, key, id, how string) error {
	return l.batch.Own(ctx, l.target, string(kind), key, id, how)
}

// apply records what the pass learnt (see record), then runs the plan on
// its target, logging one CHANGE line per operation, with progress. Call it
// for an empty plan too: a pass that changes nothing still counts for
// source health and absences.
func (a *app) apply(ctx context.Context, p *pass) (*reconcile.Result, error) {
	plan := p.Plan
	t := a.target(plan.Target)
	if t == nil {
		return nil, fmt.Errorf("no target %q is configured", plan.Target)
	}
	if err := a.record(ctx, t, p); err != nil {
		return nil, err
	}
	total := len(plan.ReadyOps())
	if total == 0 {
		return &reconcile.Result{}, nil
	}
	if err := a.budgetCheck(ctx, t, plan); err != nil {
		return nil, err
	}
	var applied []string
	prog := a.startProgress(ctx, t, plan)
	defer prog.finish(a)
	// The pass's ledger and journal writes share transactions; see state.Batch for why that
	// keeps the crash guarantees.
	batch := a.db.NewBatch(0, 0)
	res := reconcile.Apply(ctx, plan, t.client, reconcile.ApplyOptions{
		Ledger:  ledger{batch, t.name},
		Journal: journal{batch, t.name},
		Logger:  a.log.With("target", t.name),
		Stop:    a.hooks.stopChan(),
		OnOp: func(done, total int, op *reconcile.Op, err error) {
			if err == nil {
				a.log.Log(ctx, LevelChange, opLine(op), append(opAttrs(op), "target", t.name, "progress", fmt.Sprintf("%d/%d", done, total))...)
				applied = append(applied, reconcile.HoldKeys(op)...)
			}
			prog.sent(reconcile.Lane(op), requestsOf(op))
			prog.update(done, total)
			a.hooks.op(op, err)
		},
	})
	// The bookkeeping of what was applied outlives a cancelled apply.
	if err := batch.Flush(context.WithoutCancel(ctx)); err != nil {
		return res, fmt.Errorf("record the apply: %w", err)
	}
	if err := a.heldDone(context.WithoutCancel(ctx), t, applied); err != nil {
		return res, err
	}
	if msg := budgetStop(res, now(a.c)); msg != "" {
		a.log.Warn("apply stopped by the request budget", "target", t.name, "note", msg)
		fmt.Fprintln(a.c.stderr, msg)
	}
	return res, nil
}

// opLine is the log line of one operation: "create user ada@example.com".
func opLine(op *reconcile.Op) string {
	fields := lo.Map(op.Changes, func(c reconcile.Change, _ int) string { return string(c.Field) })
	s := fmt.Sprintf("%s %s %s", op.Action, op.Kind, op.Name)
	if op.Action == reconcile.ActionUpdate && len(fields) > 0 {
		s += " (" + strings.Join(fields, ", ") + ")"
	}
	return s
}

// requestsOf is the number of write requests an op sends.
func requestsOf(op *reconcile.Op) int {
	n := 0
	for _, c := range reconcile.RequestsFor([]reconcile.Op{*op}) {
		n += c
	}
	return n
}

func canReplaceQueues(t reconcile.Target) bool {
	_, ok := t.(reconcile.QueueReplacer)
	return ok
}

// targetNames lists the configured targets' names, in configuration order.
func (a *app) targetNames() []string {
	return lo.Map(a.targets, func(t *target, _ int) string { return t.name })
}
