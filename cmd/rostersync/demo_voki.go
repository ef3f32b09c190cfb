package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/audit"
	"github.com/rostersync/rostersync/reconcile/voki"
	"github.com/rostersync/rostersync/reconcile/voki/vokisim"
)

// scenarioVoki syncs a CSV into a simulated Voki tenant and audits it.
const scenarioVoki = "voki"

// The compile-time checks of Voki's optional behaviours for the audit.
var (
	_ resultsWindower         = (*voki.Client)(nil)
	_ reconcile.ResultsReader = (*voki.Client)(nil)
)

// demoVoki: a first sync, a department move, a leaver deactivated, and an
// audit naming the ratings of an attendant the directory does not know.
func demoVoki(ctx context.Context, c *cli, dir string) error {
	tmp, err := os.MkdirTemp("", "rostersync-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := copyDemoFiles(dir, tmp, "voki.yaml", "people.csv"); err != nil {
		return err
	}
	sim := vokisim.New(vokisim.Config{Tenants: []*vokisim.Tenant{vokisim.DefaultTenant(c.now())}, Now: c.now})
	base, pw, stop, err := servePlatform(sim, tmp, "voki-password", vokisim.DemoPassword)
	if err != nil {
		return err
	}
	defer stop()
	env := map[string]string{
		"ROSTERSYNC_MAPPING":   filepath.Join(tmp, "voki.yaml"),
		"ROSTERSYNC_STATE_DIR": filepath.Join(tmp, "state"),
		"ROSTERSYNC_LOG_LEVEL": "warn",
		// One pass per step, and a tiny organisation: see the basic demo.
		"ROSTERSYNC_ABSENT_PASSES":              "1",
		"ROSTERSYNC_HOLD_DEACTIVATIONS_PERCENT": "-1",
		"VOKI_BASE_URL":                         base,
		"VOKI_PASSWORD_FILE":                    pw,
	}
	a, err := demoApp(ctx, c, env)
	if err != nil {
		return err
	}
	defer a.Close()
	out := c.stdout
	step := func(title string, change func() error) error {
		fmt.Fprintf(out, "\n== %s\n", title)
		if change != nil {
			if err := change(); err != nil {
				return err
			}
		}
		plans, err := a.plans(ctx)
		if err != nil {
			return err
		}
		if err := reconcile.RenderPlans(out, plans.plans(), reconcile.FormatText); err != nil {
			return err
		}
		for _, p := range plans {
			res, err := a.apply(ctx, p)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "Apply complete for %s: %d applied, %d failed, %d skipped.\n", p.Target, res.Applied, len(res.Failed), res.Skipped)
			if err := res.Err(); err != nil {
				return err
			}
		}
		again, err := a.plans(ctx)
		if err != nil {
			return err
		}
		if !allEmpty(again) {
			return errors.New("demo: the plan after applying is not empty; the sync did not converge")
		}
		fmt.Fprintln(out, "Planned again: nothing left to do.")
		return nil
	}
	csvPath := filepath.Join(tmp, "people.csv")
	edit := func(from, to string) func() error {
		return func() error {
			b, err := os.ReadFile(csvPath)
			if err != nil {
				return err
			}
			if !bytes.Contains(b, []byte(from)) {
				return fmt.Errorf("demo: %s has no line %q", csvPath, from)
			}
			return os.WriteFile(csvPath, bytes.Replace(b, []byte(from), []byte(to), 1), 0o600)
		}
	}

	fmt.Fprintf(out, "rostersync demo (voki): %s into a simulated Voki tenant %q at %s\n",
		filepath.Join(dir, "people.csv"), vokisim.DemoTenant, base)
	if err := step("1. first sync: missing attendants created, Sam adopted by email, departments follow the team", nil); err != nil {
		return err
	}
	if err := step("2. Bruno Lima moves from Sales to Support: one removal, one addition",
		edit("bruno.lima@acme.example,active,Attendant,Sales", "bruno.lima@acme.example,active,Attendant,Support")); err != nil {
		return err
	}
	if err := step("3. Carla Dias leaves (status leaver): deactivated, never deleted",
		edit("carla.dias@acme.example,active,", "carla.dias@acme.example,leaver,")); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n== 4. audit: who is on Voki that the directory does not know, and their customer ratings")
	rep, err := a.audit(ctx, 0)
	if err != nil {
		return err
	}
	if err := audit.Render(out, rep, reconcile.FormatText); err != nil {
		return err
	}
	found := false
	for _, t := range rep.Targets {
		for _, r := range t.Results {
			found = found || r.Directory == audit.StatusUnknown && r.Count > 0
		}
	}
	if !found {
		return errors.New("demo: the audit found no ratings of an attendant the directory does not know")
	}
	return nil
}
