package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sethvargo/go-envconfig"

	"github.com/rostersync/rostersync/config"
	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/state"
)

// commonFlags are the flags every command that talks to a platform takes.
type commonFlags struct {
	config    string
	stateDir  string
	logLevel  string
	logFormat string
}

func (f *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "configuration file (sources and mapping); default $ROSTERSYNC_MAPPING")
	fs.StringVar(&f.stateDir, "state-dir", "", "state directory; default $ROSTERSYNC_STATE_DIR, else $STATE_DIRECTORY, else $XDG_STATE_HOME/rostersync, else ~/.local/state/rostersync")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error; default $ROSTERSYNC_LOG_LEVEL or info")
	fs.StringVar(&f.logFormat, "log-format", "", "auto, text or json; default $ROSTERSYNC_LOG_FORMAT or auto")
}

// over returns f with the flags it leaves unset taken from g (the flags
// given before the command).
func (f commonFlags) over(g commonFlags) commonFlags {
	pick := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	return commonFlags{
		config: pick(f.config, g.config), stateDir: pick(f.stateDir, g.stateDir),
		logLevel: pick(f.logLevel, g.logLevel), logFormat: pick(f.logFormat, g.logFormat),
	}
}

// loadEnv reads the environment and lets the flags (the command's, then
// those before the command) override it.
func loadEnv(ctx context.Context, c *cli, flags commonFlags) (*config.Env, error) {
	flags = flags.over(c.global)
	env, err := config.LoadEnv(ctx, envconfig.LookuperFunc(c.lookupEnv))
	if env == nil {
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
	// With err set (a variable that does not parse), env is the rest, so
	// that the configuration file can be checked in the same run.
	return env, err
}

func newFlagSet(c *cli, name, args, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: rostersync %s\n\n%s\n", strings.TrimSpace(name+" "+args), about)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprint(fs.Output(), "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parse parses flags; -h prints usage and succeeds.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return &exitError{code: 0}
		}
		return errUsage
	}
	return nil
}

func cmdPlan(ctx context.Context, args []string, c *cli) error {
	fs := newFlagSet(c, "plan", "[flags]", `Reads every source, lists every configured target, and prints the operations
that would bring each platform in line, each with its reason, under a heading
per target. Nothing is written to any platform. With one target the JSON is
that target's plan; with several it is {"format_version":1,"targets":[…]}.
Exit status: 0 success; 1 error; 64 a usage error (a mistyped flag).
With -detailed-exitcode: 0 only when nothing is pending at all on any
target; 2 when anything is to do, held for approval, waiting, suppressed,
or a person or group could not be mapped (standard error says which).
What the platform's API cannot do at all (unsupported) is not pending.`)
	var common commonFlags
	common.register(fs)
	out := fs.String("out", "", "also save the plan as JSON to `FILE`, for 'rostersync apply FILE'")
	format := fs.String("format", "text", "output format: text, json or markdown")
	detailed := fs.Bool("detailed-exitcode", false, "exit 2 when anything is pending (to do, held, waiting, suppressed, unmappable), 0 when nothing is")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("plan takes no arguments, got %q", fs.Args())
	}
	f, err := reconcile.ParseFormat(*format)
	if err != nil {
		return usageError("-format: %v", err)
	}
	a, err := loadApp(ctx, c, common)
	if err != nil {
		return err
	}
	defer a.Close()
	plans, err := a.plans(ctx)
	if err != nil {
		return err
	}
	if f == reconcile.FormatMarkdown {
		err = a.renderTickets(ctx, c.stdout, plans) // for change tickets
	} else {
		err = reconcile.RenderPlans(c.stdout, plans.plans(), f)
	}
	if err != nil {
		return err
	}
	if *out != "" {
		b, err := a.signPlans(plans.plans())
		if err != nil {
			return err
		}
		if err := state.WriteFileAtomic(*out, append(b, '\n'), 0o600); err != nil {
			return fmt.Errorf("save plan: %w", err)
		}
		a.log.Info("plan saved", "file", *out)
	}
	if *detailed {
		if why := a.pendingWords(plans); why != "" {
			fmt.Fprintf(c.stderr, "Pending: %s.\n", why)
			return &exitError{code: exitChanges}
		}
	}
	return nil
}

// pendingWords says what is pending across plans ("3 to do, 1 held"), or
// "" when nothing is: no op of any status and nobody left unmapped.
func (a *app) pendingWords(plans passes) string {
	var s reconcile.Summary
	problems := 0
	for _, p := range plans {
		s.Create += p.Summary.Changes()
		s.Held += p.Summary.Held
		s.Waiting += p.Summary.Waiting
		s.Suppressed += p.Summary.Suppressed
		problems += len(p.Problems) + p.unmapped
	}
	var parts []string
	for _, c := range []struct {
		n    int
		what string
	}{{s.Create, "to do"}, {s.Held, "held for approval"}, {s.Waiting, "waiting"}, {s.Suppressed, "suppressed"},
		{problems, "unmappable (see the problems)"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	return strings.Join(parts, ", ")
}

func allEmpty(plans passes) bool {
	for _, p := range plans {
		if !p.Empty() {
			return false
		}
	}
	return true
}

func cmdApply(ctx context.Context, args []string, c *cli) error {
	fs := newFlagSet(c, "apply", "[flags] [PLAN-FILE]", `With a saved plan (from 'rostersync plan -out FILE'), applies exactly that
plan, and refuses it, writing nothing, if anything it touches changed on the
platform since it was made. Without a file, plans, shows the plan, and
applies it after -yes or an interactive "yes".`)
	var common commonFlags
	common.register(fs)
	yes := fs.Bool("yes", false, "apply without asking")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usageError("apply takes at most one plan file, got %q", fs.Args())
	}
	a, err := loadApp(ctx, c, common)
	if err != nil {
		return err
	}
	defer a.Close()
	lease, err := a.acquireLease(ctx, "apply")
	if err != nil {
		return err
	}
	defer lease.Release(context.WithoutCancel(ctx))
	if a.hooks.stop == nil {
		// A lease lost mid-apply (PostgreSQL: the database unreachable, or
		// another process took over) stops it as the daemon's SIGTERM does.
		a.hooks.stop = lease.Lost
	}
	var plans passes
	if fs.NArg() == 1 {
		plans, err = a.loadSaved(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		for _, p := range plans {
			fmt.Fprintf(c.stderr, "Applying saved plan %s for %s: %s\n", fs.Arg(0), p.Target, reconcile.SummaryLine(p.Summary))
		}
		a.printEstimates(ctx, plans.plans())
	} else {
		plans, err = a.plans(ctx)
		if err != nil {
			return err
		}
		if err := reconcile.RenderPlans(c.stdout, plans.plans(), reconcile.FormatText); err != nil {
			return err
		}
		a.printEstimates(ctx, plans.plans())
		if allEmpty(plans) {
			for _, plan := range plans {
				if _, err := a.apply(ctx, plan); err != nil { // records the pass
					return err
				}
			}
			return nil
		}
		if !*yes {
			ok, err := confirm(c)
			if err != nil {
				return err
			}
			if !ok {
				return &exitError{code: 1, err: errors.New("apply cancelled; nothing was written")}
			}
		}
	}
	// Each target is applied in turn; a failure on one does not stop the
	// others, and every failure is reported.
	var errs []error
	for _, plan := range plans {
		res, err := a.apply(ctx, plan)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "Apply complete%s: %d applied, %d failed, %d skipped.\n", targetNote(plans, plan), res.Applied, len(res.Failed), res.Skipped)
		if err := res.Err(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", plan.Target, err))
		}
	}
	return errors.Join(errs...)
}

// targetNote names the plan's target when there are several.
func targetNote(plans passes, p *pass) string {
	if len(plans) < 2 {
		return ""
	}
	return " for " + p.Target
}

func confirm(c *cli) (bool, error) {
	if !c.interactive {
		return false, errors.New("refusing to apply without confirmation: standard input is not a terminal; pass -yes, or save the plan with 'plan -out FILE' and run 'apply FILE'")
	}
	fmt.Fprint(c.stderr, "\nDo you want to apply this plan? Only 'yes' will be accepted: ")
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	return strings.TrimSpace(line) == "yes", nil
}

// readFile reads a user-named file with an error that names it.
func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}
