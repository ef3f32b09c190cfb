package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
)

// demoScenarios: name → directory under testdata and what it shows.
var demoScenarios = map[string]struct{ dir, about string }{
	"basic":              {"demo", "sync an HR export into an empty platform, then show nothing is left to do"},
	"reorg":              {"demo-reorg", "a reorganisation: a team renamed, a department moved to another site, people moved, a leaver; renames and moves happen in place"},
	scenarioVoki:         {"demo-voki", "an HR export into a simulated Voki: a first sync, a department move, a leaver deactivated, and an audit naming the customer ratings of an attendant the directory does not know"},
	scenarioTwoPlatforms: {"demo", "the same HR export into a simulated Evaluagent and a simulated Agent IQ (two-platforms.yaml), then a leaver: deactivated on Evaluagent, shown as cannot be applied on Agent IQ"},
	scenarioFlex:         {"demo-flex", "the HR export into a simulated Evaluagent and a simulated Twilio Flex (flex.yaml): Flex Insights attributes on the first sync and a reorganisation, a leaver reported then deprovisioned, the team tree mirrored into Flex Teams"},
}

func cmdDemo(ctx context.Context, args []string, c *cli) error {
	fs := newFlagSet(c, "demo", "[flags]", `Starts platform simulators in this process and syncs bundled demo data into
them: prints the plan, applies it, plans again and shows that nothing is left
to do. Needs no account and writes only to a temporary directory.

Scenarios:
  basic          `+demoScenarios["basic"].about+`
  reorg          `+demoScenarios["reorg"].about+`
  two-platforms  `+demoScenarios[scenarioTwoPlatforms].about+`
  flex           `+demoScenarios[scenarioFlex].about+`
  voki           `+demoScenarios[scenarioVoki].about)
	scenario := fs.String("scenario", "basic", "which demo to run: basic, reorg, two-platforms, flex or voki")
	testdata := fs.String("testdata", "testdata", "the repository's testdata `directory`")
	if err := parse(fs, args); err != nil {
		return err
	}
	sc, ok := demoScenarios[*scenario]
	if !ok {
		return fmt.Errorf("demo: unknown scenario %q (want basic, reorg, two-platforms, flex or voki)", *scenario)
	}
	src := filepath.Join(*testdata, sc.dir)
	if *scenario == scenarioTwoPlatforms {
		return demoTwoPlatforms(ctx, c, src)
	}
	if *scenario == scenarioFlex {
		return demoFlex(ctx, c, src)
	}
	if *scenario == scenarioVoki {
		return demoVoki(ctx, c, src)
	}
	if _, err := os.Stat(filepath.Join(src, "mapping.yaml")); err != nil {
		return fmt.Errorf("demo: %w (run the demo from the repository root, or pass -testdata)", err)
	}
	d, err := newDemo(ctx, c, src)
	if err != nil {
		return err
	}
	defer d.close()
	fmt.Fprintf(c.stdout, "rostersync demo (%s): %s\nsimulated Evaluagent at %s\n\n", *scenario, sc.about, d.baseURL)
	if *scenario == "reorg" {
		return d.reorg(ctx)
	}
	return d.basic(ctx)
}

// demo is a simulator on loopback, a scratch copy of a scenario's files,
// and the real composition root pointed at both.
type demo struct {
	c       *cli
	out     io.Writer
	sim     *evaluagentsim.Server
	srv     *http.Server
	baseURL string
	tmp     string
	app     *app
}

func newDemo(ctx context.Context, c *cli, src string) (*demo, error) {
	sim, err := evaluagentsim.New(evaluagentsim.DefaultConfig())
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	d := &demo{c: c, out: c.stdout, sim: sim, srv: &http.Server{Handler: sim}, baseURL: "http://" + ln.Addr().String() + "/v1"}
	go d.srv.Serve(ln)
	if d.tmp, err = os.MkdirTemp("", "rostersync-demo-"); err != nil {
		d.close()
		return nil, err
	}
	if err := copyDir(src, filepath.Join(d.tmp, "input")); err != nil {
		d.close()
		return nil, err
	}
	secretFile, err := writeSecret(d.tmp, "evaluagent-key-secret", evaluagentsim.DemoKeySecret)
	if err != nil {
		d.close()
		return nil, err
	}
	env := map[string]string{
		"ROSTERSYNC_MAPPING":                    filepath.Join(d.tmp, "input", "mapping.yaml"),
		"ROSTERSYNC_STATE_DIR":                  filepath.Join(d.tmp, "state"),
		"ROSTERSYNC_EVALUAGENT_BASE_URL":        d.baseURL,
		"ROSTERSYNC_EVALUAGENT_KEY_ID":          evaluagentsim.DemoKeyID,
		"ROSTERSYNC_EVALUAGENT_KEY_SECRET_FILE": secretFile,
		"ROSTERSYNC_LOG_LEVEL":                  "warn",
		// The demo organisation is tiny and each scenario is one pass: a
		// single leaver would be over the default 5% hold and wait for a
		// second pass. The demo shows the sync; the tests show the limits.
		"ROSTERSYNC_ABSENT_PASSES":              "1",
		"ROSTERSYNC_HOLD_DEACTIVATIONS_PERCENT": "-1",
	}
	if d.app, err = demoApp(ctx, c, env); err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

func (d *demo) close() {
	if d.app != nil {
		d.app.Close()
	}
	d.srv.Close()
	if d.tmp != "" {
		os.RemoveAll(d.tmp)
	}
}

func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// step plans (printing the plan when show is set), checks that planning
// wrote nothing, applies, and reports the writes the apply made.
func (d *demo) step(ctx context.Context, title string, show bool) (*reconcile.Plan, int, error) {
	fmt.Fprintf(d.out, "== %s: plan (dry run: nothing is written)\n", title)
	before := d.sim.Writes()
	plan, err := d.app.plan(ctx)
	if err != nil {
		return nil, 0, err
	}
	if show {
		if err := reconcile.Render(d.out, plan.Plan, reconcile.FormatText); err != nil {
			return nil, 0, err
		}
	} else {
		fmt.Fprintln(d.out, reconcile.SummaryLine(plan.Summary))
	}
	if d.sim.Writes() != before {
		return nil, 0, errors.New("demo: planning wrote to the platform")
	}
	fmt.Fprintf(d.out, "\n== %s: apply\n", title)
	res, err := d.app.apply(ctx, plan)
	if err != nil {
		return nil, 0, err
	}
	writes := d.sim.Writes() - before
	fmt.Fprintf(d.out, "Apply complete: %d applied, %d failed, %d skipped; %d write requests to the platform.\n\n",
		res.Applied, len(res.Failed), res.Skipped, writes)
	return plan.Plan, writes, res.Err()
}

// converged plans once more and fails unless nothing is left to do.
func (d *demo) converged(ctx context.Context) error {
	fmt.Fprintln(d.out, "== plan again")
	again, err := d.app.plan(ctx)
	if err != nil {
		return err
	}
	if err := reconcile.Render(d.out, again.Plan, reconcile.FormatText); err != nil {
		return err
	}
	if !again.Empty() {
		return errors.New("demo: the second plan is not empty; the sync did not converge")
	}
	return nil
}

func (d *demo) basic(ctx context.Context) error {
	if _, _, err := d.step(ctx, "1", true); err != nil {
		return err
	}
	if err := d.converged(ctx); err != nil {
		return err
	}
	fmt.Fprintln(d.out, "\nRequests the simulator served, by endpoint:")
	counts := d.sim.Counts()
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(d.out, "  %-48s %d\n", k, counts[k])
	}
	return nil
}

func (d *demo) reorg(ctx context.Context) error {
	if _, _, err := d.step(ctx, "1. the organisation as it was", false); err != nil {
		return err
	}
	current, err := d.app.targets[0].client.List(ctx)
	if err != nil {
		return err
	}
	input := filepath.Join(d.tmp, "input")
	after, err := os.ReadFile(filepath.Join(input, "after.csv"))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(input, "people.csv"), after, 0o600); err != nil {
		return err
	}
	fmt.Fprintln(d.out, "The HR export now shows the reorganisation (after.csv).")
	fmt.Fprintln(d.out)
	plan, writes, err := d.step(ctx, "2. the reorganisation", true)
	if err != nil {
		return err
	}
	naive := recreateCost(plan, current)
	fmt.Fprintf(d.out, "Calls made for the reorganisation: %d.\n", writes)
	fmt.Fprintf(d.out, "A delete-and-recreate approach would have made at least %d: %s.\n\n", naive.total(), naive)
	return d.converged(ctx)
}

// recreate counts what a sync that cannot rename or move groups in place
// would send for the same plan: each renamed or moved group and every group
// below it created anew and the old one deactivated, and every agent in them
// moved by its own PATCH; the other operations the same.
type recreate struct {
	groups, agents, other int
}

func (r recreate) total() int { return 2*r.groups + r.agents + r.other }

func (r recreate) String() string {
	return fmt.Sprintf("%d groups created and %d deactivated, %d agent moves, %d other calls", r.groups, r.groups, r.agents, r.other)
}

func recreateCost(plan *reconcile.Plan, current *reconcile.Snapshot) recreate {
	children := map[string][]string{}
	for _, t := range current.Teams {
		children[t.Parent] = append(children[t.Parent], t.ID)
	}
	rebuilt := map[string]bool{}
	var mark func(id string)
	mark = func(id string) {
		if rebuilt[id] {
			return
		}
		rebuilt[id] = true
		for _, c := range children[id] {
			mark(c)
		}
	}
	var r recreate
	moved := map[string]bool{} // users whose own op already moves them
	for _, op := range plan.ReadyOps() {
		switch {
		case op.Kind == reconcile.KindTeam && op.Action == reconcile.ActionUpdate &&
			(slices.Contains(op.Fields, reconcile.FieldName) || slices.Contains(op.Fields, reconcile.FieldParent)):
			mark(op.ID)
			continue
		case op.Kind == reconcile.KindUser:
			moved[op.ID] = true
		}
		r.other++
	}
	r.groups = len(rebuilt)
	for _, u := range current.Users {
		if u.Active && rebuilt[u.Team] && !moved[u.ID] {
			r.agents++
		}
	}
	return r
}
