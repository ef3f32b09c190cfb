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
}

// index is what GET / answers: the URL the daemon logs at start.
const index = `rostersync admin endpoints
  GET  /healthz  200 while the process runs
  GET  /readyz   200 when the last successful pass is recent enough, else 503
  GET  /metrics  Prometheus text
  GET  /status   JSON: recent passes, the pass in flight, the pending plan
  POST /trigger  ask for a pass (debounced)
`

// NewMux returns the admin endpoints on a new ServeMux, which the caller may
// extend (the SCIM endpoint mounts at /scim/v2/ on it):
//
//	GET  /         a list of these endpoints
//	GET  /healthz  200 while the process runs
//	GET  /readyz   200 when the last successful pass is recent enough, else 503
//	GET  /metrics  Prometheus text
//	GET  /status   JSON: recent passes, the pass in flight, the pending plan
//	POST /trigger  ask for a pass (debounced), 202
func NewMux(cfg HandlerConfig) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, index)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ok, why := cfg.Status.Ready(cfg.ReadyAfter)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, why)
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		rep := cfg.Status.Report(cfg.ReadyAfter)
		if cfg.Extra != nil {
			rep.Extra = cfg.Extra()
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(rep)
	})
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", cfg.Metrics)
	}
	if cfg.Trigger != nil {
		mux.HandleFunc("POST /trigger", func(w http.ResponseWriter, r *http.Request) {
			cfg.Trigger()
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintln(w, "pass scheduled")
		})
	}
	return mux
}
