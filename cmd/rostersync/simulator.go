package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rostersync/rostersync/cmd/rostersync/internal/daemon"
	"github.com/rostersync/rostersync/reconcile/agentiq/agentiqsim"
	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
)

func cmdSimulator(ctx context.Context, args []string, c *cli) error {
	fs := newFlagSet(c, "simulator", "[flags]", `Serves an in-memory platform simulator over HTTP, faithful to the API
contract. Request counts are at GET /_sim/counts.

  -platform evaluagent  validation, domain rules, Basic auth, 100 requests/minute
                        per endpoint with 429 and Retry-After. Point
                        ROSTERSYNC_EVALUAGENT_BASE_URL at the printed base URL.
  -platform agentiq     the agents export, listing and CSV import with row
                        validation, x-api-key auth. Use the printed base URL as
                        an agentiq target's base_url, and the key in its key file.
  -platform voki        login and refresh with expiring tokens, X-Tenant, 5 logins
                        a minute, users, departments and members, customer
                        ratings. Use the printed base URL, tenant and service
                        email in a voki target, and the password in its file.`)
	platform := fs.String("platform", "evaluagent", "evaluagent, agentiq or voki")
	listen := fs.String("listen", "", "address to listen on (default 127.0.0.1:8380 for evaluagent, 127.0.0.1:8381 for agentiq, 127.0.0.1:8382 for voki)")
	seed := fs.String("seed", "", "seed the simulator from this JSON `FILE` (evaluagent: a seed object; agentiq: an array of agents as the export shows them)")
	faults := fs.String("faults", "", "evaluagent: inject faults; `SPEC` is comma-separated key=value with keys seed, 429 (storm probability),\n"+
		"storm (requests per storm), 5xx, latency, jitter, reset and drop (commit then drop the response),\n"+
		"as in \"5xx=0.05,latency=20ms,drop=0.02,seed=1\"; \"all\" enables every fault at moderate rates")
	perMinute := fs.Int("rate-per-minute", 0, "evaluagent: requests allowed per endpoint per minute (default 100)")
	perDay := fs.Int("rate-per-day", 0, "evaluagent: requests allowed per endpoint per day (default 10000)")
	if err := parse(fs, args); err != nil {
		return err
	}
	kind, ok := targetKinds[*platform]
	if !ok {
		return fmt.Errorf("simulator: unknown platform %q (want %s)", *platform, strings.ReplaceAll(kindNames(targetKinds), ", ", " or "))
	}
	if *listen == "" {
		*listen = kind.sim.listen
	}
	return kind.sim.serve(ctx, c, simOptions{
		listen: *listen, seed: *seed, faults: *faults, perMinute: *perMinute, perDay: *perDay,
		log: slog.New(slog.NewTextHandler(c.stderr, nil)),
	})
}

// serveEvaluagentSim serves the Evaluagent simulator.
func serveEvaluagentSim(ctx context.Context, c *cli, o simOptions) error {
	cfg := evaluagentsim.DefaultConfig()
	if o.perMinute > 0 {
		cfg.RatePerMinute = o.perMinute
	}
	if o.perDay > 0 {
		cfg.RatePerDay = o.perDay
	}
	f, err := evaluagentsim.ParseFaults(o.faults)
	if err != nil {
		return err
	}
	cfg.Faults = f
	if o.seed != "" {
		s, err := evaluagentsim.LoadSeed(o.seed)
		if err != nil {
			return err
		}
		cfg.Seed = s
	}
	sim, err := evaluagentsim.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	fmt.Fprintf(c.stdout, "Evaluagent simulator listening\n  base URL:   http://%s/v1\n  key id:     %s\n  key secret: %s\n  counts:     http://%s/_sim/counts\n",
		ln.Addr(), evaluagentsim.DemoKeyID, evaluagentsim.DemoKeySecret, ln.Addr())
	if f != (evaluagentsim.Faults{}) {
		fmt.Fprintf(c.stdout, "  faults:     %s (injected counts at http://%s/_sim/faults)\n", f, ln.Addr())
	}
	err = serveUntilDone(ctx, ln, sim, o.log)
	if f != (evaluagentsim.Faults{}) {
		fmt.Fprintf(c.stdout, "Faults injected: %v\n", sim.FaultCounts())
	}
	return err
}

// serveAgentIQSim serves the Agent IQ simulator.
func serveAgentIQSim(ctx context.Context, c *cli, o simOptions) error {
	cfg := agentiqsim.DefaultConfig()
	if seed := o.seed; seed != "" {
		b, err := readFile(seed)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg.Seed); err != nil {
			return fmt.Errorf("simulator: %s: %w", seed, err)
		}
	}
	sim, err := agentiqsim.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	fmt.Fprintf(c.stdout, "Agent IQ simulator listening\n  base URL:  http://%s\n  x-api-key: %s\n  counts:    http://%s/_sim/counts\n",
		ln.Addr(), agentiqsim.DemoAPIKey, ln.Addr())
	return serveUntilDone(ctx, ln, sim, o.log)
}

// serveUntilDone serves h on ln until ctx is cancelled, then shuts down
// gracefully.
func serveUntilDone(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := daemon.DefaultLimits.Server(h, nil)
	ln = daemon.DefaultLimits.Listener(ln)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
