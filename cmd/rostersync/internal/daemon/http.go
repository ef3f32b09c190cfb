package daemon

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// HandlerConfig configures the admin HTTP handler.
type HandlerConfig struct {
	Status *Status
	// ReadyAfter is the largest age of the last successful pass at which
	// /readyz still answers 200.
	ReadyAfter time.Duration
	// Metrics serves /metrics (nil: 404).
	Metrics http.Handler
	// Trigger, when set, is called by POST /trigger.
	Trigger func()
	// Extra is added to /status as "daemon" (mode, version…); it is called
	// on every request.
	Extra func() map[string]any
	// Page, when set, is the status page for people: served at / and at
	// /status to a browser (Accept naming text/html); /status.json and
	// /status for anything else stay JSON.
	Page http.Handler
	// WantsPage tells a browser's request from a program's (nil: never).
	WantsPage func(*http.Request) bool
	// Standby, when set, says whether this node is a standby (another
	// holds the lease and runs the passes). A standby's readiness is ok and
	// why, not its passes': it runs none, and is ready to serve and to take
	// over while ok.
	Standby func() (standby, ok bool, why string)
}

// ready is /readyz's answer: the standby's, or the passes'.
func (cfg HandlerConfig) ready() (bool, string) {
	if cfg.Standby != nil {
		if standby, ok, why := cfg.Standby(); standby {
			return ok, why
		}
	}
	return cfg.Status.Ready(cfg.ReadyAfter)
}

// index is what GET / answers: the URL the daemon logs at start.
const index = `rostersync admin endpoints
  GET  /healthz  200 while the process runs
  GET  /readyz   200 when the last successful pass is recent enough (on a
                 standby: while it can read the lease), else 503
  GET  /metrics  Prometheus text
  GET  /status   JSON: recent passes, the pass in flight, the pending plan
                 (in a browser, / and /status are the status page)
  GET  /status.json  the same JSON, whatever the Accept header
  POST /trigger  ask for a pass (debounced); 503 on a standby, naming the leader
`

// NewMux returns the admin endpoints on a new ServeMux, which the caller may
// extend (the SCIM endpoint mounts at /scim/v2/ on it):
//
//	GET  /         a list of these endpoints; for a browser, the status
//	               page when Page is set
//	GET  /healthz  200 while the process runs
//	GET  /readyz   200 when the last successful pass is recent enough, else 503
//	GET  /metrics  Prometheus text
//	GET  /status   JSON: recent passes, the pass in flight, the pending plan
//	               (the status page instead, for a browser, when Page is set)
//	GET  /status.json  the same JSON, whatever the Accept header
//	POST /trigger  ask for a pass (debounced), 202
func NewMux(cfg HandlerConfig) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if cfg.Page != nil && cfg.WantsPage != nil && cfg.WantsPage(r) {
			cfg.Page.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, index)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ok, why := cfg.ready()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, why)
	})
	statusJSON := func(w http.ResponseWriter, r *http.Request) {
		rep := cfg.Status.Report(cfg.ReadyAfter)
		rep.Ready, rep.ReadyReason = cfg.ready()
		if cfg.Extra != nil {
			rep.Extra = cfg.Extra()
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	}
	mux.HandleFunc("GET /status.json", statusJSON)
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		if cfg.Page != nil && cfg.WantsPage != nil && cfg.WantsPage(r) {
			cfg.Page.ServeHTTP(w, r)
			return
		}
		statusJSON(w, r)
	})
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	if cfg.Trigger != nil {
		mux.HandleFunc("POST /trigger", func(w http.ResponseWriter, r *http.Request) {
			if cfg.Standby != nil {
				if standby, _, why := cfg.Standby(); standby {
					// A standby runs no pass: say who does.
					http.Error(w, why+": ask the leader for a pass", http.StatusServiceUnavailable)
					return
				}
			}
			cfg.Trigger()
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintln(w, "pass scheduled")
		})
	}
	return mux
}
