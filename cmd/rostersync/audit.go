package main

import (
	"context"
	"fmt"
	"time"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/audit"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
)

// resultsWindower is a platform client with its own period of QA results
// for the audit (Voki's csat_window).
type resultsWindower interface {
	ResultsWindow() time.Duration
}

// defaultResultsWindow is the audit's period of QA results when neither
// -window nor the target sets one.
const defaultResultsWindow = 30 * 24 * time.Hour

func cmdAudit(ctx context.Context, args []string, c *cli) error {
	fs := newFlagSet(c, "audit", "[flags]", `Reads every source and lists every configured target, writing nothing, and
reports for each target: platform users active but unknown to every source;
people inactive in the directory who are still active on the platform; role
drift (the platform's roles differ from what the mapping gives); and, where
the platform reports QA results by person (Voki's customer ratings,
Evaluagent's completed evaluations), the results in a period credited to
people unknown to or inactive in the directory. People are matched as plans
match them (ledger, third-party id, username, email).
Exit status: 0 success; 1 error; 64 a usage error. With -detailed-exitcode:
2 when there is any finding, 0 when there is none.`)
	var common commonFlags
	common.register(fs)
	format := fs.String("format", "text", "output format: text, json or markdown")
	detailed := fs.Bool("detailed-exitcode", false, "exit 2 when there is any finding, 0 when there is none")
	window := fs.Duration("window", 0, "the period of QA results read, ending today (default each target's own, else 720h)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("audit takes no arguments, got %q", fs.Args())
	}
	f, err := reconcile.ParseFormat(*format)
	if err != nil {
		return usageError("-format: %v", err)
	}
	if *window < 0 {
		return usageError("-window: %s is negative", *window)
	}
	a, err := loadApp(ctx, c, common)
	if err != nil {
		return err
	}
	defer a.Close()
	rep, err := a.audit(ctx, *window)
	if err != nil {
		return err
	}
	if err := audit.Render(c.stdout, rep, f); err != nil {
		return err
	}
	if *detailed && rep.Findings() > 0 {
		fmt.Fprintf(c.stderr, "Findings: %d.\n", rep.Findings())
		return &exitError{code: exitChanges}
	}
	return nil
}

// audit builds the audit of every target: sources read once, each target
// listed, results read where the target offers them.
func (a *app) audit(ctx context.Context, window time.Duration) (*audit.Report, error) {
	results, _, err := a.desired(ctx, nil)
	if err != nil {
		return nil, err
	}
	now := a.c.now()
	rep := &audit.Report{}
	for i, t := range a.targets {
		current, err := t.client.List(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", t.name, err)
		}
		own, err := a.ownership(ctx, t.name, nil)
		if err != nil {
			return nil, err
		}
		at := audit.Build(t.name, results[i].Desired, current, own, t.policy)
		w := window
		if rw, ok := t.client.(resultsWindower); ok && w == 0 {
			w = rw.ResultsWindow()
		}
		if w == 0 {
			w = defaultResultsWindow
		}
		if err := at.ReadResults(ctx, t.client, now.Add(-w), now); err != nil {
			return nil, err
		}
		rep.Targets = append(rep.Targets, at)
	}
	return rep, nil
}

// The targets that report QA results by person, checked at compile time.
var _ reconcile.ResultsReader = (*evaluagent.Client)(nil)
