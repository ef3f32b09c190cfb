package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/rostersync/rostersync/config"
	"github.com/rostersync/rostersync/mapping"
	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
	"github.com/rostersync/rostersync/sources"
	"github.com/rostersync/rostersync/state"
)

// app is the composition root of one command: configuration, sources,
// mapping, the platform client and the state store.
type app struct {
	c       *cli
	env     *config.Env
	file    *config.File
	rules   *mapping.Rules
	sources []sources.Source
	target  *evaluagent.Client
	db      *state.DB
	log     *slog.Logger
	policy  reconcile.Policy
	// pass is what the last plan was guarded with, recorded if it is applied.
	pass *passFacts
}

func loadApp(ctx context.Context, c *cli, flags commonFlags) (*app, error) {
	env, err := config.LoadEnv(ctx, envconfig.LookuperFunc(c.lookupEnv))
	if err != nil {
		return nil, err
	}
	if flags.config != "" {
		env.Mapping = flags.config
	}
	if flags.stateDir != "" {
		env.StateDir = flags.stateDir
	}
	if flags.logLevel != "" {
		env.LogLevel = flags.logLevel
	}
	if flags.logFormat != "" {
		env.LogFormat = flags.logFormat
	}
	if err := env.Validate(); err != nil {
		return nil, fmt.Errorf("configuration from the environment:\n%w", err)
	}
	level, err := env.Level()
	if err != nil {
		return nil, err
	}
	_, journald := c.lookupEnv("JOURNAL_STREAM")
	log, err := newLogger(c.stderr, env.LogFormat, level, c.interactive, journald)
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
	rules, err := file.Rules()
	if err != nil {
		return nil, fmt.Errorf("mapping in %s:\n%w", env.Mapping, err)
	}
	srcs, err := file.NewSources()
	if err != nil {
		return nil, err
	}
	secret, err := config.ReadSecret(env.Evaluagent.KeySecretFile)
	if err != nil {
		return nil, err
	}
	db, err := state.Open(env.StateDir)
	if err != nil {
		return nil, err
	}
	clock := c.now
	if clock == nil {
		clock = time.Now
	}
	target, err := evaluagent.New(evaluagent.Config{
		Region:        env.Evaluagent.Region,
		BaseURL:       env.Evaluagent.BaseURL,
		KeyID:         env.Evaluagent.KeyID,
		KeySecret:     secret,
		AgentLevel:    env.Evaluagent.AgentLevel,
		RatePerMinute: env.Evaluagent.RatePerMinute,
		Logger:        log,
		Sleep:         c.sleep,
		Budget:        budget{db: db, perMinute: env.Evaluagent.RatePerMinute, perDay: env.Evaluagent.RatePerDay, now: clock},
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	mode, err := reconcile.ParseMode(env.Evaluagent.Mode)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("ROSTERSYNC_EVALUAGENT_MODE: %w", err)
	}
	return &app{
		c: c, env: env, file: file, rules: rules, sources: srcs, target: target, db: db, log: log,
		policy: reconcile.Policy{
			Mode: mode, Adopt: env.Evaluagent.Adopt, AgentLevel: env.Evaluagent.AgentLevel,
			ReplaceQueues: canReplaceQueues(target),
			Protected: func(u reconcile.User) bool {
				_, byRole := rules.ExcludesRoles(u.Roles)
				return byRole || rules.Excludes(u.Username)
			},
		},
	}, nil
}

func (a *app) Close() error { return a.db.Close() }

// plan makes a plan: sources, mapping, the platform's listing, the ledger,
// then the guard (source health, absences, holds).
func (a *app) plan(ctx context.Context) (*reconcile.Plan, error) {
	desired, facts, err := a.read(ctx)
	if err != nil {
		return nil, err
	}
	current, err := a.target.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", a.target.Name(), err)
	}
	own, err := a.ownership(ctx)
	if err != nil {
		return nil, err
	}
	rec, err := a.recover(ctx, current)
	if err != nil {
		return nil, err
	}
	rec.own(own)
	plan := reconcile.Diff(desired, current, own, a.policy, a.c.now())
	plan.Target = a.target.Name()
	if plan, err = a.guard(ctx, plan, desired, current, own, facts); err != nil {
		return nil, err
	}
	a.pass.rec = rec
	for _, p := range plan.Problems {
		a.log.Warn("plan problem", "kind", p.Kind, "key", p.Key, "problem", p.Message)
	}
	return plan, nil
}

func (a *app) ownership(ctx context.Context) (reconcile.Ownership, error) {
	l, err := a.db.Ledger(ctx, a.target.Name())
	if err != nil {
		return reconcile.Ownership{}, err
	}
	own := reconcile.NewOwnership()
	for k, v := range l[string(reconcile.KindUser)] {
		own.Users[k] = v
	}
	for k, v := range l[string(reconcile.KindTeam)] {
		own.Teams[k] = v
	}
	return own, nil
}

// loadSaved reads a saved plan and checks it against the platform now.
func (a *app) loadSaved(ctx context.Context, path string) (*reconcile.Plan, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, err
	}
	plan, err := reconcile.DecodePlan(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if plan.Target != a.target.Name() {
		return nil, fmt.Errorf("%s: the plan is for target %q, this configuration's target is %q", path, plan.Target, a.target.Name())
	}
	current, err := a.target.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", a.target.Name(), err)
	}
	if err := reconcile.Verify(plan, current); err != nil {
		return nil, fmt.Errorf("%s: %w; nothing was written", path, err)
	}
	return plan, nil
}

type ledger struct {
	db     *state.DB
	target string
}

func (l ledger) Own(ctx context.Context, kind reconcile.Kind, key, id, how string) error {
	return l.db.Own(ctx, l.target, string(kind), key, id, how)
}

// apply records what the pass learnt (see record), then runs the plan,
// logging one CHANGE line per operation. Call it for an empty plan too: a
// pass that changes nothing still counts for source health and absences.
func (a *app) apply(ctx context.Context, plan *reconcile.Plan) (*reconcile.Result, error) {
	if err := a.record(ctx, plan); err != nil {
		return nil, err
	}
	total := len(plan.ReadyOps())
	if total == 0 {
		return &reconcile.Result{}, nil
	}
	if err := a.budgetCheck(ctx, plan); err != nil {
		return nil, err
	}
	var applied []string
	prog := newProgress(a.c.stderr, a.c.interactive, a.log, time.Now)
	defer prog.finish()
	res := reconcile.Apply(ctx, plan, a.target, reconcile.ApplyOptions{
		Ledger:  ledger{a.db, a.target.Name()},
		Journal: journal{a.db, a.target.Name()},
		Logger:  a.log,
		OnOp: func(done, total int, op *reconcile.Op, err error) {
			if err == nil {
				a.log.Log(ctx, LevelChange, opLine(op), "progress", fmt.Sprintf("%d/%d", done, total))
				applied = append(applied, reconcile.OpID(op))
			}
			prog.update(done, total)
		},
	})
	if err := a.heldDone(ctx, applied); err != nil {
		return res, err
	}
	if msg := budgetStop(res, now(a.c)); msg != "" {
		a.log.Warn("apply stopped by the request budget", "note", msg)
		fmt.Fprintln(a.c.stderr, msg)
	}
	return res, nil
}

// opLine is the log line of one operation: "create user ada@example.com".
func opLine(op *reconcile.Op) string {
	var fields []string
	for _, c := range op.Changes {
		fields = append(fields, string(c.Field))
	}
	s := fmt.Sprintf("%s %s %s", op.Action, op.Kind, op.Name)
	if op.Action == reconcile.ActionUpdate && len(fields) > 0 {
		s += " (" + strings.Join(fields, ", ") + ")"
	}
	return s
}

func canReplaceQueues(t reconcile.Target) bool {
	_, ok := t.(reconcile.QueueReplacer)
	return ok
}
