// Package metrics holds the daemon's Prometheus metrics, on a registry of
// its own, and the methods that record them. Label values are bounded:
// pass kinds and results, plan actions and kinds, configured source names,
// and the platform's templated endpoints ("GET /org/users"), never ids.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "rostersync"

// Metrics records what the daemon does. All methods are safe for concurrent
// use, and a nil *Metrics records nothing.
type Metrics struct {
	reg *prometheus.Registry

	passDuration    *prometheus.HistogramVec
	passes          *prometheus.CounterVec
	lastSuccess     prometheus.Gauge
	ops             *prometheus.CounterVec
	held            prometheus.Gauge
	pending         prometheus.Gauge
	unsupported     *prometheus.GaugeVec
	sourceRecords   *prometheus.GaugeVec
	sourceUp        *prometheus.GaugeVec
	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	rateWaits       *prometheus.CounterVec
	rateWaitSeconds *prometheus.CounterVec
	throttled       *prometheus.CounterVec
	reloads         *prometheus.CounterVec

	leaseOnce sync.Once
}

// New returns the metrics on a new registry, with the Go runtime and process
// collectors, and rostersync_build_info{version, mode}.
func New(version, mode string) *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{reg: reg}

	m.passDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "pass_duration_seconds",
		Help:    "How long a reconcile pass took, by kind (full, delta, trigger, reload) and result.",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
	}, []string{"kind", "result"})
	m.passes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "passes_total",
		Help: "Reconcile passes, by kind and result (ok, planned, failed, interrupted).",
	}, []string{"kind", "result"})
	m.lastSuccess = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "last_success_timestamp_seconds",
		Help: "When the last successful pass finished, as a Unix time; 0 before the first.",
	})
	m.ops = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "operations_total",
		Help: "Plan operations by action (create, update, adopt, deactivate), object kind (user, team, queue) and outcome (planned, applied, failed, skipped).",
	}, []string{"action", "kind", "outcome"})
	m.held = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "held_operations",
		Help: "Operations of the last plan held for approval.",
	})
	m.unsupported = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "unsupported_operations",
		Help: "Operations of the last plan that the target's API cannot carry out (to be made in its own interface), by target.",
	}, []string{"target"})
	m.pending = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "pending_operations",
		Help: "Operations of the last plan ready but not applied (plan mode, or an apply that stopped).",
	})
	m.sourceRecords = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "source_records",
		Help: "Records read from each source in its last read.",
	}, []string{"source"})
	m.sourceUp = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "source_healthy",
		Help: "1 when the source's last read was complete, 0 when it failed or was incomplete.",
	}, []string{"source"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "platform_requests_total",
		Help: "HTTP requests to the platform by endpoint and status (0: a network error).",
	}, []string{"target", "endpoint", "status"})
	m.requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "platform_request_duration_seconds",
		Help:    "Platform request latency by endpoint.",
		Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"target", "endpoint"})
	m.rateWaits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "rate_limit_waits_total",
		Help: "Waits caused by a rate limit (the client's own pacing or a 429), by endpoint.",
	}, []string{"target", "endpoint"})
	m.rateWaitSeconds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "rate_limit_wait_seconds_total",
		Help: "Time spent waiting for rate limits, by endpoint.",
	}, []string{"target", "endpoint"})
	m.throttled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "platform_throttled_total",
		Help: "429 Too Many Requests answers from the platform, by endpoint.",
	}, []string{"target", "endpoint"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "reloads_total",
		Help: "Configuration reloads (SIGHUP) by result (ok, failed).",
	}, []string{"result"})
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help: "Always 1; labels say the version and the serve mode (plan or apply).",
	}, []string{"version", "mode"})
	info.WithLabelValues(version, mode).Set(1)

	for _, c := range []prometheus.Collector{
		m.passDuration, m.passes, m.lastSuccess, m.ops, m.held, m.pending, m.unsupported,
		m.sourceRecords, m.sourceUp, m.requests, m.requestDuration,
		m.rateWaits, m.rateWaitSeconds, m.throttled, m.reloads, info,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		f(c)
	}
	// Series that should read 0 before anything happened, rather than be
	// absent.
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("failed")
	return m
}

// Registry returns the registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Pass records a finished pass.
func (m *Metrics) Pass(kind, result string, d time.Duration, ok bool, finished time.Time) {
	if m == nil {
		return
	}
	m.passDuration.WithLabelValues(kind, result).Observe(d.Seconds())
	m.passes.WithLabelValues(kind, result).Inc()
	if ok {
		m.lastSuccess.Set(float64(finished.UnixNano()) / 1e9)
	}
}

// Op records one operation's outcome: planned, applied, failed or skipped.
func (m *Metrics) Op(action, kind, outcome string) {
	if m == nil {
		return
	}
	m.ops.WithLabelValues(action, kind, outcome).Inc()
}

// Plan records the last plan's held and pending (ready, not applied) counts.
func (m *Metrics) Plan(held, pending int) {
	if m == nil {
		return
	}
	m.held.Set(float64(held))
	m.pending.Set(float64(pending))
}

// Source records one source read: how many records, and whether complete.
// A failed read keeps the last count and marks the source unhealthy.
func (m *Metrics) Source(name string, records int, healthy, failed bool) {
	if m == nil {
		return
	}
	if !failed {
		m.sourceRecords.WithLabelValues(name).Set(float64(records))
	}
	v := 0.0
	if healthy && !failed {
		v = 1
	}
	m.sourceUp.WithLabelValues(name).Set(v)
}

// Request records one HTTP attempt to a platform.
func (m *Metrics) Request(target, endpoint string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(target, endpoint, strconv.Itoa(status)).Inc()
	m.requestDuration.WithLabelValues(target, endpoint).Observe(d.Seconds())
	if status == http.StatusTooManyRequests {
		m.throttled.WithLabelValues(target, endpoint).Inc()
	}
}

// RateLimitWait records a wait for a rate limit.
func (m *Metrics) RateLimitWait(target, endpoint string, d time.Duration) {
	if m == nil {
		return
	}
	m.rateWaits.WithLabelValues(target, endpoint).Inc()
	m.rateWaitSeconds.WithLabelValues(target, endpoint).Add(d.Seconds())
}

// Reload records a configuration reload.
func (m *Metrics) Reload(ok bool) {
	if m == nil {
		return
	}
	r := "ok"
	if !ok {
		r = "failed"
	}
	m.reloads.WithLabelValues(r).Inc()
}

// Unsupported records how many operations of a target's last plan its API
// cannot carry out.
func (m *Metrics) Unsupported(target string, n int) {
	if m == nil {
		return
	}
	m.unsupported.WithLabelValues(target).Set(float64(n))
}

// Lease registers the lease's gauges, read from f at each scrape:
// rostersync_lease_leader (1 on the node that holds the lease, 0 on a
// standby), rostersync_lease_epoch (the epoch held, or seen held by the
// leader), rostersync_lease_expiry_timestamp_seconds (the leader's local
// deadline, or the expiry a standby last saw) and
// rostersync_lease_takeovers_total (times this process took the lease).
// Only the first call registers.
func (m *Metrics) Lease(f func() (leader bool, epoch int64, expires time.Time, takeovers int)) {
	if m == nil {
		return
	}
	m.leaseOnce.Do(func() {
		gauge := func(name, help string, v func() float64) prometheus.Collector {
			return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, v)
		}
		m.reg.MustRegister(
			gauge("lease_leader", "1 on the node that holds the lease and runs the passes, 0 on a standby.", func() float64 {
				if leader, _, _, _ := f(); leader {
					return 1
				}
				return 0
			}),
			gauge("lease_epoch", "The lease's epoch: held by this node, or by the leader a standby last saw.", func() float64 {
				_, epoch, _, _ := f()
				return float64(epoch)
			}),
			gauge("lease_expiry_timestamp_seconds", "Until when the leader trusts its lease (a standby: the expiry it last saw), as a Unix time; 0 when none.", func() float64 {
				_, _, exp, _ := f()
				if exp.IsZero() {
					return 0
				}
				return float64(exp.UnixNano()) / 1e9
			}),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: "lease_takeovers_total",
				Help: "Times this process took the lease."}, func() float64 {
				_, _, _, n := f()
				return float64(n)
			}),
		)
	})
}
