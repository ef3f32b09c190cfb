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
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg := evaluagentsim.DefaultConfig()
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
	return serveUntilDone(ctx, ln, sim, log)
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
