package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rostersync/rostersync/cmd/rostersync/internal/daemon"
	"github.com/rostersync/rostersync/cmd/rostersync/internal/metrics"
	"github.com/rostersync/rostersync/cmd/rostersync/internal/notify"
	"github.com/rostersync/rostersync/cmd/rostersync/internal/sdnotify"
	"github.com/rostersync/rostersync/cmd/rostersync/internal/statuspage"
	"github.com/rostersync/rostersync/config"
	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/sources"
	"github.com/rostersync/rostersync/sources/scim"
	"github.com/rostersync/rostersync/state"
)

const (
	// stopGrace bounds how long the write in flight may take to finish
	// after SIGTERM before it is cut off; the unit's TimeoutStopSec leaves
	// room for it.
	stopGrace = 30 * time.Second
	// stallAfter is how long a pass may go without a platform answer or a
	// finished operation before the daemon counts as stuck and stops
	// pinging the watchdog. It exceeds the client's longest rate-limit wait.
	stallAfter = 10 * time.Minute
	// pendingOpsShown caps the operations /status shows of a pending plan;
	// the whole plan is in the state database.
	pendingOpsShown = 100
)

func cmdServe(ctx context.Context, args []string, c *cli) error {
	fs := newFlagSet(c, "serve", "[flags]", `Runs as a daemon: a full pass at start and every ROSTERSYNC_INTERVAL, delta
passes in between when a source changed, and a pass shortly after a push
(POST /trigger, or the SCIM endpoint). With ROSTERSYNC_SERVE_MODE=plan (the
default) each pass stores its plan and logs a CHANGE line per operation it
would apply; with apply it applies them. Serves /healthz, /readyz, /metrics
and /status on ROSTERSYNC_LISTEN. Under systemd it notifies READY, STATUS,
WATCHDOG and STOPPING. SIGHUP reloads the configuration file (a bad one is
logged and the old one kept); SIGTERM lets the write in flight finish,
records where the pass stopped, and exits.

With the state on PostgreSQL (ROSTERSYNC_STATE_URL) two hosts may run serve:
the one holding the lease leads (runs passes and applies); the other stands
by, serving SCIM, health, metrics and a read-only status, and takes over
within about 1.25 x ROSTERSYNC_LEASE_TTL (default 10s) of the leader's end.`)
	var common commonFlags
	common.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments, got %q", fs.Args())
	}
	d := &server{c: c, flags: common, start: c.now()}
	return d.run(ctx)
}

// server is one "rostersync serve" process.
type server struct {
	c     *cli
	flags commonFlags
	start time.Time

	metrics *metrics.Metrics
	notify  *sdnotify.Notifier
	sched   *daemon.Scheduler
	certs   certHolder
	log     *slog.Logger
	health  sourceHealth

	lead        leadership
	notifier    *notify.Notifier
	lastFailure string         // the last failed pass's error, told once
	toldHeld    map[int64]bool // holds already told of (scheduler goroutine only)

	// app is the configuration in use. Only the scheduler's goroutine
	// (passes and reloads) replaces it; appMu guards reads from others.
	appMu sync.Mutex
	app   *app
	// scimStore is opened with the first configuration and kept across
	// reloads, because the SCIM endpoint mounted at start keeps serving it.
	scimStore *scim.Store

	// Touched only by the pass in flight, on the scheduler's goroutine.
	stamps      map[string]fileStamp // source files as of the last good pass
	cancelApply context.CancelFunc   // cuts the apply short after the op in flight
	passCtx     context.Context
	opsDone     int

	ready    atomic.Bool
	notifyMu sync.Mutex
	stopping bool
}

func (d *server) current() *app {
	d.appMu.Lock()
	defer d.appMu.Unlock()
	return d.app
}

func (d *server) hooks() appHooks {
	return appHooks{
		scimStore: d.scimStore,
		onRequest: func(target, endpoint string, status int, dur time.Duration) {
			d.metrics.Request(target, endpoint, status, dur)
			if d.sched != nil {
				d.sched.Status().Progress()
			}
		},
		onRateLimitWait: func(target, endpoint string, dur time.Duration) {
			d.metrics.RateLimitWait(target, endpoint, dur)
		},
		onSource: func(name string, snap *sources.Snapshot, err error) {
			d.health.observe(name, snap, err, d.c.now())
			if err != nil || snap == nil {
				d.metrics.Source(name, 0, false, true)
				return
			}
			d.metrics.Source(name, snap.Health.Count, snap.Health.Complete, false)
		},
		// SIGTERM ends the pass's context: the apply starts nothing more
		// and lets the writes in flight finish.
		stop: func() <-chan struct{} {
			if d.passCtx == nil {
				return nil
			}
			return d.passCtx.Done()
		},
		onOp: func(op *reconcile.Op, err error) {
			outcome := "applied"
			switch {
			case errors.Is(err, reconcile.ErrDependency):
				outcome = "skipped"
			case err != nil:
				outcome = "failed"
			}
			d.metrics.Op(op.Action.String(), string(op.Kind), outcome)
			d.opsDone++
			if d.sched != nil {
				d.sched.Status().Progress()
			}
		},
	}
}

func (d *server) run(ctx context.Context) error {
	// The hooks read d.metrics when called; the app does no I/O on the
	// platform before the first pass, by which time d.metrics is set.
	a, err := loadAppWith(ctx, d.c, d.flags, d.hooks())
	if err != nil {
		return err
	}
	d.app = a
	d.log = a.log
	d.lead.d = d
	if err := d.lead.start(ctx); err != nil {
		a.Close()
		return err
	}
	defer d.lead.release(ctx)
	if a.scim != nil {
		d.scimStore, a.ownsSCIM = a.scim, false
	}
	defer func() {
		d.current().Close()
		if d.scimStore != nil {
			d.scimStore.Close()
		}
	}()
	cfg := a.env.Serve
	d.metrics = metrics.New(version, cfg.Mode)
	d.metrics.Lease(d.leaseMetrics)
	if d.notifier, err = d.newNotifier(a.env); err != nil {
		return err
	}
	defer d.notifier.Close(5 * time.Second)
	d.health.onChange = d.notifySource
	d.health.seed(ctx, a)
	if d.lead.current() != nil { // the leader tells of holds; a standby would repeat it
		d.notifyHeld(ctx, a, true)
	}

	if d.notify, err = sdnotify.New(d.c.lookupEnv); err != nil {
		return err
	}
	defer d.notify.Close()

	if cfg.TLS() {
		if err := d.certs.load(cfg.TLSCertFile, cfg.TLSKeyFile); err != nil {
			return err
		}
	}
	d.sched, err = daemon.New(daemon.Config{
		Interval: cfg.Interval, DeltaInterval: cfg.DeltaInterval, Debounce: cfg.Debounce,
		Pass: d.pass, Reload: d.reload, OnPass: d.onPass, Logger: d.log, Now: d.c.now,
	})
	if err != nil {
		return err
	}

	if runs, err := storedRuns(ctx, a.db, daemon.KeepPasses); err == nil {
		d.sched.Status().Seed(daemonPasses(runs))
	} else {
		d.log.Warn("reading the stored pass history", "err", err)
	}

	scim, err := scimEndpoint(a, d.sched.Trigger)
	if err != nil {
		return err
	}
	if err := checkListeners(cfg, scim != nil); err != nil {
		return err
	}
	adminToken := ""
	if cfg.AdminTokenFile != "" {
		if adminToken, err = config.ReadSecretWarn(cfg.AdminTokenFile, d.log); err != nil {
			return fmt.Errorf("%sADMIN_TOKEN_FILE: %w", config.EnvPrefix, err)
		}
	}
	page, err := statuspage.New(statusBackend{d}, d.log)
	if err != nil {
		return err
	}
	adminMux := daemon.NewMux(daemon.HandlerConfig{
		Status: d.sched.Status(), ReadyAfter: cfg.ReadyMaxAge(), Metrics: d.metrics.Handler(),
		Trigger: d.sched.Trigger, Extra: d.statusExtra, Page: page, WantsPage: statuspage.WantsHTML,
		Standby: d.standby,
	})
	// The status page's assets and actions live on the admin mux, so the
	// token guards them with the rest.
	page.Register(adminMux)
	// The token guards the whole admin mux, so a route added to it later
	// is guarded too.
	var admin http.Handler = daemon.RequireToken(adminToken, adminMux)
	var servers []*http.Server
	ln, err := d.listen("admin", cfg.Listen, "/")
	if err != nil {
		return err
	}
	mounted := false
	if scim != nil && cfg.SCIMListen == "" {
		// Both loopback (checkListeners): SCIM keeps its own tokens.
		both := http.NewServeMux()
		both.Handle("/scim/v2/", scim)
		both.Handle("/", admin)
		admin = both
		mounted = true
	}
	servers = append(servers, d.serveOn(ln, admin))
	if scim != nil && !mounted {
		sln, err := d.listen("scim", cfg.SCIMListen, "/scim/v2/")
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("/scim/v2/", scim)
		servers = append(servers, d.serveOn(sln, mux))
	} else if scim == nil && cfg.SCIMListen != "" {
		d.log.Warn("ROSTERSYNC_SCIM_LISTEN is set but no SCIM source is configured; not listening on it", "addr", cfg.SCIMListen)
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var wg sync.WaitGroup
	wg.Go(func() { d.watchdog(runCtx) })
	wg.Go(func() { d.watchLive(runCtx) })
	wg.Go(func() { d.lead.run(runCtx) })
	wg.Go(func() { d.watchSCIM(runCtx) })
	tokens := newTokenWatch(d)
	wg.Go(func() { tokens.run(runCtx) })
	wg.Go(func() {
		for {
			select {
			case <-runCtx.Done():
				return
			case <-hup:
				d.log.Info("SIGHUP: reloading the configuration after the pass in flight")
				d.sched.RequestReload()
			}
		}
	})
	wg.Go(func() {
		<-runCtx.Done()
		if ctx.Err() != nil {
			d.log.Info("stopping: letting the write in flight finish")
			d.send(sdnotify.Stopping, sdnotify.Status("stopping"))
		}
	})

	if line := d.lead.standbyLine(); line != "" && d.ready.CompareAndSwap(false, true) {
		// A standby runs no pass to be ready after: it is ready to serve
		// SCIM and to take over now.
		d.send(sdnotify.Ready, sdnotify.Status(line))
	}
	d.log.Info("serving", "role", d.lead.view().Role, "mode", cfg.Mode, "interval", cfg.Interval.String(), "delta_interval", cfg.DeltaInterval.String(),
		"debounce", cfg.Debounce.String(), "tls", cfg.TLS(), "scim", scim != nil)
	runErr := d.sched.Run(ctx)
	stopRun()
	wg.Wait()

	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
	}
	d.log.Info("stopped")
	return runErr
}

// checkListeners refuses listener settings that expose more than they
// should: admin endpoints beyond loopback without a token, SCIM in plain
// HTTP beyond loopback (unless a TLS-terminating proxy is declared), and
// SCIM sharing the admin port unless both stay on loopback.
func checkListeners(cfg config.Serve, hasSCIM bool) error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", config.EnvPrefix, name, fmt.Sprintf(format, args...)))
	}
	if !daemon.IsLoopback(cfg.Listen) && cfg.AdminTokenFile == "" {
		bad("ADMIN_TOKEN_FILE", "required when %sLISTEN (%q) is not a loopback address: "+
			"a file holding the bearer token for /status, /metrics, /trigger and the other admin endpoints",
			config.EnvPrefix, cfg.Listen)
	}
	if hasSCIM {
		scimAddr, scimVar := cfg.Listen, "LISTEN"
		if cfg.SCIMListen != "" {
			scimAddr, scimVar = cfg.SCIMListen, "SCIM_LISTEN"
		} else if !daemon.IsLoopback(cfg.Listen) {
			bad("SCIM_LISTEN", "required when %sLISTEN (%q) is not a loopback address: "+
				"the SCIM endpoint shares the admin listener only on loopback; give it a listener of its own",
				config.EnvPrefix, cfg.Listen)
		}
		if !cfg.TLS() && !daemon.IsLoopback(scimAddr) && !cfg.SCIMAllowPlainHTTP {
			bad(scimVar, "%q is not a loopback address and TLS is off: the SCIM bearer tokens and personal data "+
				"would cross the network in clear. Set %sTLS_CERT_FILE and %sTLS_KEY_FILE, or, behind a proxy that "+
				"terminates TLS, %sSCIM_ALLOW_PLAIN_HTTP=true", scimAddr, config.EnvPrefix, config.EnvPrefix, config.EnvPrefix)
		}
	}
	return errors.Join(errs...)
}

// listen opens a listener and logs the URL of what it serves at path.
func (d *server) listen(name, addr, path string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve: %s listener: %w", name, err)
	}
	ln = daemon.DefaultLimits.Listener(ln)
	scheme := "http"
	if d.certs.loaded() {
		scheme = "https"
		ln = tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: d.certs.get})
	}
	d.log.Info("listening", "listener", name, "addr", ln.Addr().String(), "url", scheme+"://"+ln.Addr().String()+path)
	return ln, nil
}

func (d *server) serveOn(ln net.Listener, h http.Handler) *http.Server {
	srv := daemon.DefaultLimits.Server(h, slog.NewLogLogger(d.log.Handler(), slog.LevelWarn))
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("http server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	return srv
}

// send notifies systemd; after STOPPING it sends nothing more, so the
// manager hears nothing that contradicts it.
func (d *server) send(states ...string) {
	d.notifyMu.Lock()
	defer d.notifyMu.Unlock()
	if d.stopping {
		return
	}
	for _, s := range states {
		if s == sdnotify.Stopping {
			d.stopping = true
		}
	}
	if err := d.notify.Send(states...); err != nil {
		d.log.Warn("sd_notify failed", "err", err)
	}
}

// watchdog pings systemd's watchdog while the daemon is healthy (idle, or
// in a pass that is making progress). Before READY it extends the start
// timeout instead, so a long first pass that is progressing is not killed.
func (d *server) watchdog(ctx context.Context) {
	if !d.notify.Enabled() {
		return
	}
	every := 10 * time.Second
	wd, on, err := sdnotify.WatchdogInterval(d.c.lookupEnv, os.Getpid())
	if err != nil {
		d.log.Warn("watchdog off", "err", err)
	}
	if on {
		every = min(every, wd/2)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !d.sched.Status().Healthy(stallAfter) {
			d.log.Warn("no progress in the pass in flight; not pinging the watchdog", "stall_after", stallAfter)
			continue
		}
		switch {
		case !d.ready.Load():
			d.send(fmt.Sprintf("EXTEND_TIMEOUT_USEC=%d", (3 * every).Microseconds()))
		case on:
			d.send(sdnotify.Watchdog)
		}
	}
}

func (d *server) onPass(p daemon.Pass) {
	d.metrics.Pass(string(p.Kind), p.Result, p.Duration, p.OK(), p.Finished)
	d.notifyPass(p)
	if d.ready.CompareAndSwap(false, true) {
		d.send(sdnotify.Ready, sdnotify.Status(p.Line()))
		return
	}
	d.send(sdnotify.Status(p.Line()))
}

func (d *server) statusExtra() map[string]any {
	a := d.current()
	names := make([]string, len(a.file.Sources))
	for i, s := range a.file.Sources {
		names[i] = s.Name
	}
	return map[string]any{
		"version": version, "mode": a.env.Serve.Mode, "targets": a.targetNames(),
		"config": a.env.Mapping, "started": d.start, "sources": d.health.list(names), "auth": authStatusExtra(a),
		"lease": d.lead.view(),
	}
}

// reload loads the configuration anew and swaps it in only when it loads.
func (d *server) reload(ctx context.Context) error {
	old := d.current()
	a, err := loadAppWith(ctx, d.c, d.flags, d.hooks())
	if err == nil && old.env.Serve != a.env.Serve {
		d.log.Warn("serve settings (listeners, intervals, mode) take effect only on restart")
	}
	if err == nil && a.env.Serve.TLS() {
		err = d.certs.load(a.env.Serve.TLSCertFile, a.env.Serve.TLSKeyFile)
	}
	d.metrics.Reload(err == nil)
	if err != nil {
		if a != nil {
			a.Close()
		}
		return err
	}
	a.env.Serve = old.env.Serve
	d.appMu.Lock()
	d.app = a
	d.appMu.Unlock()
	d.lead.attach()
	d.health.seed(ctx, a)
	d.stamps = nil // the sources may have changed: the next delta pass runs
	if err := old.Close(); err != nil {
		d.log.Warn("closing the old configuration's sources and state", "err", err)
	}
	return nil
}

// pass is one daemon pass: read, plan, and store (plan mode) or apply.
func (d *server) pass(ctx context.Context, kind daemon.Kind) (daemon.Outcome, error) {
	lease := d.lead.current()
	if lease == nil {
		// A standby runs no pass: the leader does, on the same state.
		return daemon.Outcome{Skipped: true}, nil
	}
	// A lost lease stops the pass as SIGTERM does: the write in flight
	// finishes, no operation starts after it (and its journal entry would
	// be refused: the next leader resumes from the journal).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-lease.Lost():
			cancel()
		case <-ctx.Done():
		}
	}()
	a := d.current()
	stamps := sourceStamps(a)
	if kind == daemon.Delta && d.stamps != nil && stampsEqual(stamps, d.stamps) {
		return daemon.Outcome{Skipped: true}, nil
	}
	if err := ctx.Err(); err != nil {
		return daemon.Outcome{Result: "interrupted"}, err
	}
	// A pass over ten thousand people makes tens of megabytes of garbage,
	// then the daemon idles for minutes: hand the memory back now rather
	// than keep it resident until the scavenger gets to it.
	defer debug.FreeOSMemory()
	runID, err := a.db.RunStart(ctx, state.RunPass)
	if err != nil {
		return daemon.Outcome{}, err
	}
	out, err := d.passRun(ctx, a)
	sum, _ := json.Marshal(passSummary{
		Kind: string(kind), Mode: a.env.Serve.Mode, Summary: out.Summary,
		Changes: out.Changes, Applied: out.Applied, Failed: out.Failed, Held: out.Held,
	})
	result := out.Result
	if result == "" {
		result = "ok"
		if err != nil {
			result = "failed"
		}
	}
	errText := ""
	if err != nil {
		errText = err.Error()
	}
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), stopGrace)
	defer fcancel()
	if ferr := a.db.RunFinish(fctx, runID, result, sum, errText); ferr != nil {
		d.log.Error("recording the pass", "err", ferr)
	}
	if err == nil {
		d.stamps = stamps
	}
	d.notifyHeld(context.WithoutCancel(ctx), a, false)
	return out, err
}

// passSummary is what the run history keeps of a pass.
type passSummary struct {
	Kind    string `json:"kind"`
	Mode    string `json:"mode"`
	Summary string `json:"summary"`
	Changes int    `json:"changes"`
	Applied int    `json:"applied"`
	Failed  int    `json:"failed"`
	Held    int    `json:"held"`
}

func (d *server) passRun(ctx context.Context, a *app) (daemon.Outcome, error) {
	plans, err := a.plans(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return daemon.Outcome{Result: "interrupted", Summary: "stopped while planning"}, err
		}
		return daemon.Outcome{}, err
	}
	var out daemon.Outcome
	known := map[string]map[opSig]bool{} // target → the ready ops of its last stored plan
	for _, plan := range plans {
		known[plan.Target] = storedReadyOps(ctx, a, plan.Target)
		out.Changes += plan.ReadyCount()
		out.Held += plan.Summary.Held
		d.metrics.Unsupported(plan.Target, plan.Summary.Unsupported)
		// json.Marshal's bytes, op by op, compressed as they are written:
		// DecodePlan reads them, and the plan's JSON is never held whole.
		if err := a.db.SavePlanFrom(context.WithoutCancel(ctx), plan.Target, plan.CreatedAt, plan.Plan.WriteCompact); err != nil {
			return out, err
		}
	}
	pending := pendingPlans(plans.plans())

	if a.env.Serve.Mode != config.ServeModeApply {
		// Only what changed since the last stored plan is logged: an
		// unchanged plan of 300 operations is not 300 lines every pass.
		for _, plan := range plans {
			prev := known[plan.Target]
			fresh, ready := 0, 0
			now := map[opSig]bool{}
			for i := range plan.Ops {
				op := &plan.Ops[i] // the ready ones, read in place: no copy of 100k ops
				if !op.Ready() {
					continue
				}
				ready++
				d.metrics.Op(op.Action.String(), string(op.Kind), "planned")
				sig := opSignature(op)
				now[sig] = true
				if prev[sig] {
					continue
				}
				fresh++
				a.log.Log(ctx, LevelChange, "would "+opLine(op), append(opAttrs(op), "target", plan.Target)...)
			}
			gone := 0
			for sig := range prev {
				if !now[sig] {
					gone++
				}
			}
			if ready > 0 || gone > 0 {
				a.log.Info("plan mode: operations pending, not applied", "target", plan.Target,
					"pending", ready, "new", fresh, "unchanged", ready-fresh, "no_longer_planned", gone)
			}
		}
		d.metrics.Plan(out.Held, out.Changes)
		out.Result = "planned"
		out.Summary = fmt.Sprintf("%d changes planned, not applied (plan mode)", out.Changes)
		if out.Changes == 0 {
			out.Summary = "no changes"
		}
		if out.Changes > 0 || out.Held > 0 {
			out.Pending = pending
		}
		return out, nil
	}

	// Apply: on SIGTERM, the operation in flight finishes (applyCtx lives
	// on) and onOp cancels applyCtx before the next; stopGrace later it is
	// cut off whatever it is doing.
	applyCtx, cancelApply := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelApply()
	var hard *time.Timer
	var hardMu sync.Mutex
	stopWatch := context.AfterFunc(ctx, func() {
		hardMu.Lock()
		hard = time.AfterFunc(stopGrace, cancelApply)
		hardMu.Unlock()
	})
	defer func() {
		stopWatch()
		hardMu.Lock()
		if hard != nil {
			hard.Stop()
		}
		hardMu.Unlock()
	}()
	defer func() { d.passCtx, d.cancelApply = nil, nil }()

	var errs []error
	skipped := 0
	for _, plan := range plans {
		ready := plan.ReadyOps()
		d.passCtx, d.cancelApply, d.opsDone = ctx, cancelApply, 0
		res, err := a.apply(applyCtx, plan)
		if err != nil {
			return out, err
		}
		out.Applied += res.Applied
		out.Failed += len(res.Failed)
		skipped += res.Skipped
		if err := res.Err(); err != nil {
			errs = append(errs, fmt.Errorf("target %s: %w", plan.Target, err))
		}
		if ctx.Err() != nil && d.opsDone < len(ready) {
			next := opLine(&ready[d.opsDone])
			out.Result = "interrupted"
			out.Summary = fmt.Sprintf("%d changes applied; stopped before %s on %s", out.Applied, next, plan.Target)
			out.Pending = pending
			a.log.Warn("stopped mid-apply", "target", plan.Target, "applied", res.Applied, "of", len(ready), "next", next)
			d.metrics.Plan(out.Held, out.Changes-out.Applied)
			return out, fmt.Errorf("stopped after %d of %d operations on %s; next was %s", d.opsDone, len(ready), plan.Target, next)
		}
	}
	notDone := out.Changes - out.Applied
	d.metrics.Plan(out.Held, notDone)
	out.Summary = fmt.Sprintf("%d changes applied", out.Applied)
	if out.Changes == 0 {
		out.Summary = "no changes"
	}
	if out.Failed > 0 {
		out.Summary += fmt.Sprintf(", %d failed", out.Failed)
	}
	if skipped > 0 {
		out.Summary += fmt.Sprintf(", %d not attempted", skipped)
	}
	if out.Held > 0 {
		out.Summary += fmt.Sprintf(", %d held for approval", out.Held)
	}
	if notDone > 0 || out.Held > 0 {
		out.Pending = pending
	}
	return out, errors.Join(errs...)
}

// storedReadyOps returns the signatures of the ready operations of target's
// last stored plan (none when there is none or it cannot be read).
func storedReadyOps(ctx context.Context, a *app, target string) map[opSig]bool {
	r, _, ok, err := a.db.LastPlanReader(ctx, target)
	if err != nil || !ok {
		return nil
	}
	out := map[opSig]bool{}
	if err := reconcile.EachOpFrom(r, func(op *reconcile.Op) {
		if op.Ready() {
			out[opSignature(op)] = true
		}
	}); err != nil {
		return nil
	}
	return out
}

// opSig is an operation's signature, hashed: two plans of 100k operations
// are compared by 32-byte keys rather than by their full signatures.
type opSig [sha256.Size]byte

// opSignature is an operation with what it changes: the same operation
// planned again with other values is a different signature.
func opSignature(op *reconcile.Op) opSig {
	h := sha256.New()
	io.WriteString(h, reconcile.OpID(op))
	for _, c := range op.Changes {
		fmt.Fprintf(h, "|%s=%q>%q", c.Field, c.Old, c.New)
	}
	fmt.Fprintf(h, "|+%q|-%q", op.Add, op.Remove)
	var s opSig
	h.Sum(s[:0])
	return s
}

// pendingPlans is what /status shows of a pass's plans: one view for a
// single target, a list of them for several.
func pendingPlans(plans []*reconcile.Plan) json.RawMessage {
	if len(plans) == 1 {
		return pendingPlan(plans[0])
	}
	views := make([]json.RawMessage, 0, len(plans))
	for _, p := range plans {
		views = append(views, pendingPlan(p))
	}
	b, err := json.Marshal(views)
	if err != nil {
		return nil
	}
	return b
}

// pendingPlan is the plan as /status shows it: the summary and the first
// operations that are ready or held.
func pendingPlan(p *reconcile.Plan) json.RawMessage {
	type view struct {
		Target    string              `json:"target"`
		CreatedAt time.Time           `json:"created_at"`
		Summary   reconcile.Summary   `json:"summary"`
		Ops       []reconcile.Op      `json:"ops"`
		Omitted   int                 `json:"ops_omitted,omitempty"`
		Notes     []string            `json:"notes,omitempty"`
		Problems  []reconcile.Problem `json:"problems,omitempty"`
	}
	v := view{Target: p.Target, CreatedAt: p.CreatedAt, Summary: p.Summary, Ops: []reconcile.Op{}, Notes: p.Notes, Problems: p.Problems}
	for _, op := range p.Ops {
		if op.Status != reconcile.StatusReady && op.Status != reconcile.StatusHeld {
			continue
		}
		if len(v.Ops) >= pendingOpsShown {
			v.Omitted++
			continue
		}
		op.User, op.Team = nil, nil // the changes say what matters
		v.Ops = append(v.Ops, op)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// fileStamp is what a delta pass compares to tell that a source changed
// without reading it (a changeStamper's stamp).
type fileStamp = string

// sourceStamps stamps every source that can be checked cheaply (CSV files:
// see changeStamper). Sources that cannot (LDAP without a change cursor)
// are read by full and triggered passes only.
func sourceStamps(a *app) map[string]fileStamp {
	out := map[string]fileStamp{}
	for _, s := range joinedSources(a.sources) { // a merge's parts, each stamped
		if cs, ok := s.(changeStamper); ok {
			out[s.Name()] = cs.ChangeStamp()
		}
	}
	return out
}

func stampsEqual(a, b map[string]fileStamp) bool { return maps.Equal(a, b) }

// certHolder serves the TLS certificate loaded last, so a reload can renew
// it without dropping the listeners.
type certHolder struct {
	cert atomic.Pointer[tls.Certificate]
}

func (h *certHolder) load(certFile, keyFile string) error {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	h.cert.Store(&c)
	return nil
}

func (h *certHolder) loaded() bool { return h.cert.Load() != nil }

func (h *certHolder) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return h.cert.Load(), nil
}
