package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
)

func cmdDemo(ctx context.Context, args []string, c *cli) error {
	fs := newFlagSet(c, "demo", "[flags]", `Starts the Evaluagent simulator in this process, seeded with a small
organisation, and syncs the bundled demo CSV and mapping into it: prints the
plan, applies it, plans again and shows that nothing is left to do. Needs no
account and writes only to a temporary directory.`)
	dir := fs.String("dir", filepath.Join("testdata", "demo"), "directory holding the demo `mapping.yaml` and CSV")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfgPath := filepath.Join(*dir, "mapping.yaml")
	if _, err := os.Stat(cfgPath); err != nil {
		return fmt.Errorf("demo: %w (run the demo from the repository root, or pass -dir)", err)
	}
	sim, err := evaluagentsim.New(evaluagentsim.DefaultConfig())
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	srv := &http.Server{Handler: sim}
	go srv.Serve(ln)
	defer srv.Close()

	tmp, err := os.MkdirTemp("", "rostersync-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	secretFile := filepath.Join(tmp, "evaluagent-key-secret")
	if err := os.WriteFile(secretFile, []byte(evaluagentsim.DemoKeySecret+"\n"), 0o600); err != nil {
		return err
	}
	env := map[string]string{
		"ROSTERSYNC_MAPPING":                    cfgPath,
		"ROSTERSYNC_STATE_DIR":                  filepath.Join(tmp, "state"),
		"ROSTERSYNC_EVALUAGENT_BASE_URL":        "http://" + ln.Addr().String() + "/v1",
		"ROSTERSYNC_EVALUAGENT_KEY_ID":          evaluagentsim.DemoKeyID,
		"ROSTERSYNC_EVALUAGENT_KEY_SECRET_FILE": secretFile,
		"ROSTERSYNC_LOG_LEVEL":                  "warn",
	}
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
	a, err := loadApp(ctx, &dc, commonFlags{})
	if err != nil {
		return err
	}
	defer a.Close()

	out := c.stdout
	fmt.Fprintf(out, "rostersync demo: syncing %s into a simulated Evaluagent at %s\n\n", cfgPath, env["ROSTERSYNC_EVALUAGENT_BASE_URL"])
	fmt.Fprintln(out, "== 1. plan (dry run: nothing is written)")
	plan, err := a.plan(ctx)
	if err != nil {
		return err
	}
	if err := reconcile.Render(out, plan, reconcile.FormatText); err != nil {
		return err
	}
	if w := sim.Writes(); w != 0 {
		return fmt.Errorf("demo: planning wrote %d times to the platform", w)
	}
	fmt.Fprintln(out, "\n== 2. apply")
	res, err := a.apply(ctx, plan)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Apply complete: %d applied, %d failed, %d skipped; %d write requests to the platform.\n", res.Applied, len(res.Failed), res.Skipped, sim.Writes())
	if err := res.Err(); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n== 3. plan again")
	again, err := a.plan(ctx)
	if err != nil {
		return err
	}
	if err := reconcile.Render(out, again, reconcile.FormatText); err != nil {
		return err
	}
	if !again.Empty() {
		return errors.New("demo: the second plan is not empty; the sync did not converge")
	}
	fmt.Fprintln(out, "\nRequests the simulator served, by endpoint:")
	counts := sim.Counts()
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(out, "  %-45s %d\n", k, counts[k])
	}
	return nil
}
