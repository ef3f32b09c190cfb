package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/agentiq/agentiqsim"
	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
)

// scenarioTwoPlatforms syncs one CSV into Evaluagent and Agent IQ.
const scenarioTwoPlatforms = "two-platforms"

// serveLocal serves h on a loopback port until the returned stop is called.
func serveLocal(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("demo: %w", err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// demoApp loads the app with env in place of the operator's environment.
func demoApp(ctx context.Context, c *cli, env map[string]string) (*app, error) {
	dc := *c
	dc.lookupEnv = func(k string) (string, bool) {
		if v, ok := env[k]; ok {
			return v, true
		}
		if strings.HasPrefix(k, "ROSTERSYNC_") || k == "CREDENTIALS_DIRECTORY" || k == "STATE_DIRECTORY" {
			return "", false // the demo ignores the operator's real configuration
		}
		return c.lookupEnv(k)
	}
	return loadApp(ctx, &dc, commonFlags{})
}

// servePlatform serves a platform's simulator on a loopback port and
// writes its demo secret to dir/secretName, for the target's secret file.
func servePlatform(sim http.Handler, dir, secretName, secret string) (base, secretFile string, stop func(), err error) {
	if secretFile, err = writeSecret(dir, secretName, secret); err != nil {
		return "", "", nil, err
	}
	base, stop, err = serveLocal(sim)
	return base, secretFile, stop, err
}

// demoEvaluagent starts Evaluagent's simulator for a demo beside another
// platform and returns it with the demo's environment (see demoEnv) for the
// configuration file cfgName in tmp.
func demoEvaluagent(tmp, cfgName string) (*evaluagentsim.Server, map[string]string, func(), error) {
	ea, err := evaluagentsim.New(evaluagentsim.DefaultConfig())
	if err != nil {
		return nil, nil, nil, err
	}
	base, stop, err := serveLocal(ea)
	if err != nil {
		return nil, nil, nil, err
	}
	env, err := demoEnv(tmp, base, filepath.Join(tmp, cfgName))
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	return ea, env, stop, nil
}

func writeSecret(dir, name, value string) (string, error) {
	p := filepath.Join(dir, name)
	return p, os.WriteFile(p, []byte(value+"\n"), 0o600)
}

func printCounts(out io.Writer, counts map[string]int, width int) {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(out, "  %-*s %d\n", width, k, counts[k])
	}
}

// demoTwoPlatforms syncs one CSV into both simulators, shows the second plan
// is empty for both, then makes one person leave.
func demoTwoPlatforms(ctx context.Context, c *cli, dir string) error {
	tmp, err := os.MkdirTemp("", "rostersync-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// A private copy: the leaver step edits the CSV.
	if err := copyDemoFiles(dir, tmp, "two-platforms.yaml", "people.csv"); err != nil {
		return err
	}
	ea, env, stopEA, err := demoEvaluagent(tmp, "two-platforms.yaml")
	if err != nil {
		return err
	}
	defer stopEA()
	aiq, err := agentiqsim.New(agentiqsim.DefaultConfig())
	if err != nil {
		return err
	}
	aiqBase, aiqKey, stopAIQ, err := servePlatform(aiq, tmp, "agentiq-api-key", agentiqsim.DemoAPIKey)
	if err != nil {
		return err
	}
	defer stopAIQ()
	// Referenced as ${…} by the agentiq target in two-platforms.yaml.
	env["AGENTIQ_BASE_URL"] = aiqBase
	env["AGENTIQ_API_KEY_FILE"] = aiqKey
	a, err := demoApp(ctx, c, env)
	if err != nil {
		return err
	}
	defer a.Close()
	out := c.stdout
	writes := func() string {
		return fmt.Sprintf("Evaluagent %d write requests, Agent IQ %d uploads (%d rows)", ea.Writes(), aiq.Writes(), aiq.RowsReceived())
	}
	applyAll := func(plans passes) error {
		for _, plan := range plans {
			res, err := a.apply(ctx, plan)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "Apply complete for %s: %d applied, %d failed, %d skipped, %d not applicable.\n",
				plan.Target, res.Applied, len(res.Failed), res.Skipped, plan.Summary.Unsupported)
			if err := res.Err(); err != nil {
				return err
			}
		}
		fmt.Fprintf(out, "So far: %s.\n", writes())
		return nil
	}
	planAll := func() (passes, error) {
		plans, err := a.plans(ctx)
		if err != nil {
			return nil, err
		}
		return plans, reconcile.RenderPlans(out, plans.plans(), reconcile.FormatText)
	}

	fmt.Fprintf(out, "rostersync demo: syncing %s into a simulated Evaluagent at %s\nand a simulated Agent IQ at %s\n\n",
		filepath.Join(dir, "people.csv"), env["ROSTERSYNC_EVALUAGENT_BASE_URL"], aiqBase)
	fmt.Fprintln(out, "== 1. plan (dry run: nothing is written)")
	plans, err := planAll()
	if err != nil {
		return err
	}
	if ea.Writes()+aiq.Writes() != 0 {
		return fmt.Errorf("demo: planning wrote to a platform (%s)", writes())
	}
	fmt.Fprintln(out, "\n== 2. apply: Agent IQ gets every change in one CSV upload")
	if err := applyAll(plans); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n== 3. plan again: nothing left on either platform")
	again, err := planAll()
	if err != nil {
		return err
	}
	if !allEmpty(again) {
		return errors.New("demo: the second plan is not empty; the sync did not converge")
	}

	const leaver = "ben.carter@example.com"
	fmt.Fprintf(out, "\n== 4. %s leaves (status leaver in the CSV)\n", leaver)
	csvPath := filepath.Join(tmp, "people.csv")
	b, err := os.ReadFile(csvPath)
	if err != nil {
		return err
	}
	line := "E1002,Ben,Carter,ben.carter@example.com,2021-06-14,active,"
	if !bytes.Contains(b, []byte(line)) {
		return fmt.Errorf("demo: %s has no line starting %q", csvPath, line)
	}
	b = bytes.Replace(b, []byte(line), []byte(strings.Replace(line, ",active,", ",leaver,", 1)), 1)
	if err := os.WriteFile(csvPath, b, 0o600); err != nil {
		return err
	}
	leave, err := planAll()
	if err != nil {
		return err
	}
	before := aiq.Writes()
	fmt.Fprintln(out, "\n== 5. apply: Evaluagent deactivates; nothing is sent to Agent IQ for the leaver")
	if err := applyAll(leave); err != nil {
		return err
	}
	if aiq.Writes() != before {
		return fmt.Errorf("demo: an unsupported operation was sent to Agent IQ (%s)", writes())
	}
	fmt.Fprintln(out, "\n== 6. plan again: nothing to apply; Agent IQ still lists what only its own interface can do")
	last, err := planAll()
	if err != nil {
		return err
	}
	if !allEmpty(last) {
		return errors.New("demo: the plan after the leaver is not empty; the sync did not converge")
	}
	fmt.Fprintln(out, "\nRequests the Evaluagent simulator served, by endpoint:")
	printCounts(out, ea.Counts(), 46)
	fmt.Fprintln(out, "\nRequests the Agent IQ simulator served, by endpoint:")
	printCounts(out, aiq.Counts(), 46)
	return nil
}

// demoEnv is the environment of a demo with Evaluagent's simulator at
// eaBase beside another platform: the configuration file cfg, a state
// directory and the key's secret in tmp, and one pass per step in a tiny
// organisation (see the basic demo).
func demoEnv(tmp, eaBase, cfg string) (map[string]string, error) {
	eaSecret, err := writeSecret(tmp, "evaluagent-key-secret", evaluagentsim.DemoKeySecret)
	if err != nil {
		return nil, err
	}
	return map[string]string{
		"ROSTERSYNC_MAPPING":                    cfg,
		"ROSTERSYNC_STATE_DIR":                  filepath.Join(tmp, "state"),
		"ROSTERSYNC_EVALUAGENT_BASE_URL":        eaBase + "/v1",
		"ROSTERSYNC_EVALUAGENT_KEY_ID":          evaluagentsim.DemoKeyID,
		"ROSTERSYNC_EVALUAGENT_KEY_SECRET_FILE": eaSecret,
		"ROSTERSYNC_LOG_LEVEL":                  "warn",
		// One pass per step, and a tiny organisation: see the basic demo.
		"ROSTERSYNC_ABSENT_PASSES":              "1",
		"ROSTERSYNC_HOLD_DEACTIVATIONS_PERCENT": "-1",
	}, nil
}

// copyDemoFiles copies the named files of a demo's testdata directory into
// tmp, a private copy its steps may edit.
func copyDemoFiles(dir, tmp string, names ...string) error {
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("demo: %w (run the demo from the repository root, or pass -testdata)", err)
		}
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
