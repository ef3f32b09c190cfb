package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rostersync/rostersync/cmd/rostersync/internal/daemon"
	"github.com/rostersync/rostersync/config"
)

func cmdSimulator(ctx context.Context, args []string, c *cli) error {
	fs := newFlagSet(c, "simulator", "[flags]", "Serves an in-memory platform simulator over HTTP, faithful to the API\n"+
		"contract. Request counts are at GET /_sim/counts.\n\n"+simulatorHelp())
	platform := fs.String("platform", config.TargetEvaluagent, strings.ReplaceAll(kindNames(targetKinds), ", ", ", ")+" (see above)")
	listen := fs.String("listen", "", "address to listen on (default: the platform's own, "+simulatorListens()+")")
	seed := fs.String("seed", "", "seed the simulator from this JSON `FILE` ("+simulatorSeeds()+")")
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

// simulatorHelp lists each platform's simulator, from the registry.
func simulatorHelp() string {
	var b strings.Builder
	for _, n := range slices.Sorted(maps.Keys(targetKinds)) {
		fmt.Fprintf(&b, "  -platform %-11s %s\n", n, strings.ReplaceAll(targetKinds[n].sim.about, "\n", "\n                        "))
	}
	return strings.TrimRight(b.String(), "\n")
}

// simulatorListens names each platform's default address.
func simulatorListens() string {
	var out []string
	for _, n := range slices.Sorted(maps.Keys(targetKinds)) {
		out = append(out, targetKinds[n].sim.listen+" for "+n)
	}
	return strings.Join(out, ", ")
}

// simulatorSeeds says what a seed file holds for each platform.
func simulatorSeeds() string {
	var out []string
	for _, n := range slices.Sorted(maps.Keys(targetKinds)) {
		if s := targetKinds[n].sim.seed; s != "" {
			out = append(out, n+": "+s)
		}
	}
	return strings.Join(out, "; ")
}

// decodeSeed reads a simulator's -seed file, when one is given, into v:
// strict JSON, an unknown key is an error naming the file.
func decodeSeed(path string, v any) error {
	if path == "" {
		return nil
	}
	if err := loadJSONFile(path, v); err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	return nil
}

// serveSim listens on the simulator command's address, prints what
// announce says of it (the URL and the demo credentials), and serves sim
// until ctx ends.
func serveSim(ctx context.Context, c *cli, o simOptions, sim http.Handler, announce func(net.Addr) string) error {
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	fmt.Fprint(c.stdout, announce(ln.Addr()))
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
