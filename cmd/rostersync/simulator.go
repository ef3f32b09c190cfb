package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
)

func cmdSimulator(ctx context.Context, args []string, c *cli) error {
	fs := newFlagSet(c, "simulator", "[flags]", `Serves an in-memory Evaluagent simulator over HTTP, faithful to the API
contract: validation, domain rules, Basic auth, 100 requests/minute per
endpoint with 429 and Retry-After. Request counts are at GET /_sim/counts.
Point ROSTERSYNC_EVALUAGENT_BASE_URL at the printed base URL.`)
	listen := fs.String("listen", "127.0.0.1:8380", "address to listen on")
	seed := fs.String("seed", "", "seed the simulator from this JSON `FILE` (default: the built-in seed)")
	faults := fs.String("faults", "", "inject faults: `SPEC` is comma-separated key=value with keys seed, 429 (storm probability),\n"+
		"storm (requests per storm), 5xx, latency, jitter, reset and drop (commit then drop the response),\n"+
		"as in \"5xx=0.05,latency=20ms,drop=0.02,seed=1\"; \"all\" enables every fault at moderate rates")
	perMinute := fs.Int("rate-per-minute", 0, "requests allowed per endpoint per minute (default 100)")
	perDay := fs.Int("rate-per-day", 0, "requests allowed per endpoint per day (default 10000)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg := evaluagentsim.DefaultConfig()
	if *perMinute > 0 {
		cfg.RatePerMinute = *perMinute
	}
	if *perDay > 0 {
		cfg.RatePerDay = *perDay
	}
	f, err := evaluagentsim.ParseFaults(*faults)
	if err != nil {
		return err
	}
	cfg.Faults = f
	if *seed != "" {
		s, err := evaluagentsim.LoadSeed(*seed)
		if err != nil {
			return err
		}
		cfg.Seed = s
	}
	sim, err := evaluagentsim.New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	log := slog.New(slog.NewTextHandler(c.stderr, nil))
	fmt.Fprintf(c.stdout, "Evaluagent simulator listening\n  base URL:   http://%s/v1\n  key id:     %s\n  key secret: %s\n  counts:     http://%s/_sim/counts\n",
		ln.Addr(), evaluagentsim.DemoKeyID, evaluagentsim.DemoKeySecret, ln.Addr())
	if f != (evaluagentsim.Faults{}) {
		fmt.Fprintf(c.stdout, "  faults:     %s (injected counts at http://%s/_sim/faults)\n", f, ln.Addr())
	}
	err = serveUntilDone(ctx, ln, sim, log)
	if f != (evaluagentsim.Faults{}) {
		fmt.Fprintf(c.stdout, "Faults injected: %v\n", sim.FaultCounts())
	}
	return err
}

// serveUntilDone serves h on ln until ctx is cancelled, then shuts down
// gracefully.
func serveUntilDone(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
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
