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
	fs.StringVar(&f.stateDir, "state-dir", "", "state directory; default $ROSTERSYNC_STATE_DIR, $STATE_DIRECTORY or ~/.local/state/rostersync")
	fs.StringVar(&f.logLevel, "log-level", "", "debug, info, warn or error; default $ROSTERSYNC_LOG_LEVEL or info")
	fs.StringVar(&f.logFormat, "log-format", "", "auto, text or json; default $ROSTERSYNC_LOG_FORMAT or auto")
}

func newFlagSet(c *cli, name, args, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: rostersync %s %s\n\n%s\n\nFlags:\n", name, args, about)
		fs.PrintDefaults()
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
	fs := newFlagSet(c, "plan", "[flags]", `Reads every source, lists the platform, and prints the operations that would
bring the platform in line, each with its reason. Nothing is written to the
platform. Exit status: 0 success (with -detailed-exitcode: no changes),
1 error, 2 changes present (with -detailed-exitcode).`)
	var common commonFlags
	common.register(fs)
	out := fs.String("out", "", "also save the plan as JSON to `FILE`, for 'rostersync apply FILE'")
	format := fs.String("format", "text", "output format: text, json or markdown")
	detailed := fs.Bool("detailed-exitcode", false, "exit 2 when the plan has changes, 0 when it has none")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("plan takes no arguments, got %q", fs.Args())
	}
	f, err := reconcile.ParseFormat(*format)
	if err != nil {
		return err
	}
	a, err := loadApp(ctx, c, common)
	if err != nil {
		return err
	}
	defer a.Close()
	plan, err := a.plan(ctx)
	if err != nil {
		return err
	}
	if err := reconcile.Render(c.stdout, plan, f); err != nil {
		return err
	}
	if *out != "" {
		b, err := plan.Encode()
		if err != nil {
			return err
		}
		if err := state.WriteFileAtomic(*out, append(b, '\n'), 0o600); err != nil {
			return fmt.Errorf("save plan: %w", err)
		}
		a.log.Info("plan saved", "file", *out)
	}
	if *detailed && !plan.Empty() {
		return &exitError{code: 2}
	}
	return nil
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
		return fmt.Errorf("apply takes at most one plan file, got %q", fs.Args())
	}
	a, err := loadApp(ctx, c, common)
	if err != nil {
		return err
	}
	defer a.Close()
	var plan *reconcile.Plan
	if fs.NArg() == 1 {
		plan, err = a.loadSaved(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stderr, "Applying saved plan %s: %s\n", fs.Arg(0), reconcile.SummaryLine(plan.Summary))
	} else {
		plan, err = a.plan(ctx)
		if err != nil {
			return err
		}
		if err := reconcile.Render(c.stdout, plan, reconcile.FormatText); err != nil {
			return err
		}
		if plan.Empty() {
			_, err := a.apply(ctx, plan) // records the pass
			return err
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
	res, err := a.apply(ctx, plan)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Apply complete: %d applied, %d failed, %d skipped.\n", res.Applied, len(res.Failed), res.Skipped)
	return res.Err()
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
