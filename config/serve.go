package config

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// Serve modes: what "rostersync serve" does with each pass's plan.
const (
	ServeModePlan  = "plan"  // store and report the plan; write nothing
	ServeModeApply = "apply" // apply the plan's ready operations
)

// Serve configures "rostersync serve". Its variables carry no sub-prefix:
// ROSTERSYNC_LISTEN, ROSTERSYNC_INTERVAL, …
type Serve struct {
	// Listen is the admin HTTP address: /healthz, /readyz, /metrics,
	// /status, POST /trigger (and the SCIM endpoint unless SCIMListen is set).
	Listen string `env:"LISTEN, default=127.0.0.1:9380"`
	// SCIMListen, when set, serves the SCIM endpoint on a listener of its
	// own; empty serves it on Listen.
	SCIMListen string `env:"SCIM_LISTEN"`
	// AdminTokenFile names a file holding the bearer token the admin
	// endpoints (all but /healthz and /readyz) require. Required when Listen
	// is not a loopback address; when set, required on loopback too.
	AdminTokenFile string `env:"ADMIN_TOKEN_FILE"`
	// SCIMAllowPlainHTTP allows the SCIM endpoint without TLS on an address
	// that is not loopback: only behind a proxy that terminates TLS.
	SCIMAllowPlainHTTP bool `env:"SCIM_ALLOW_PLAIN_HTTP, default=false"`
	// TLSCertFile and TLSKeyFile, when both set, serve every listener over
	// TLS. They are read again on reload.
	TLSCertFile string `env:"TLS_CERT_FILE"`
	TLSKeyFile  string `env:"TLS_KEY_FILE"`
	// Interval is the time between full passes.
	Interval time.Duration `env:"INTERVAL, default=15m"`
	// DeltaInterval is the time between delta passes, which check cheaply
	// whether a source changed and run a pass only then; 0 turns them off.
	DeltaInterval time.Duration `env:"DELTA_INTERVAL, default=1m"`
	// Debounce is how long after a push (SCIM, POST /trigger) the pass runs;
	// pushes within it share the pass.
	Debounce time.Duration `env:"DEBOUNCE, default=2s"`
	// Mode is plan (the default) or apply.
	Mode string `env:"SERVE_MODE, default=plan"`
	// ReadyAfter is the largest age of the last successful pass at which
	// /readyz answers 200. Zero means three intervals.
	ReadyAfter time.Duration `env:"READY_AFTER"`
	// LeaseTTL is the time to live of the lease that makes one daemon (or
	// "rostersync apply") the only writer. On PostgreSQL a standby takes
	// over within about 1.25 TTL of the leader's death; on SQLite it is
	// unused (the lease is a lock the kernel frees when the process ends).
	LeaseTTL time.Duration `env:"LEASE_TTL, default=10s"`
}

// Bounds of LeaseTTL: renewals every TTL/3 must fit a loaded database's
// answer time, and a takeover should not wait for minutes.
const (
	MinLeaseTTL = 3 * time.Second
	MaxLeaseTTL = 5 * time.Minute
)

// ReadyMaxAge returns ReadyAfter, or three intervals when it is zero.
func (s Serve) ReadyMaxAge() time.Duration {
	if s.ReadyAfter > 0 {
		return s.ReadyAfter
	}
	return 3 * s.Interval
}

// TLS reports whether the listeners serve TLS.
func (s Serve) TLS() bool { return s.TLSCertFile != "" }

func (s Serve) validate() []error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", EnvPrefix, name, fmt.Sprintf(format, args...)))
	}
	checkAddr := func(name, addr string) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			bad(name, "%q is not host:port (as 127.0.0.1:9380 or :9380)", addr)
			return
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			bad(name, "%q: port %q is not a number from 0 to 65535", addr, port)
		}
		if host != "" && net.ParseIP(host) == nil && host != "localhost" {
			bad(name, "%q: give an IP address (or nothing, for every address), not the host name %q", addr, host)
		}
	}
	checkAddr("LISTEN", s.Listen)
	if s.SCIMListen != "" {
		checkAddr("SCIM_LISTEN", s.SCIMListen)
	}
	if (s.TLSCertFile == "") != (s.TLSKeyFile == "") {
		bad("TLS_CERT_FILE", "set both TLS_CERT_FILE and TLS_KEY_FILE, or neither")
	}
	if s.Interval <= 0 {
		bad("INTERVAL", "%s: must be positive (as 15m)", s.Interval)
	}
	if s.DeltaInterval < 0 {
		bad("DELTA_INTERVAL", "%s: must not be negative (0 turns delta passes off)", s.DeltaInterval)
	}
	if s.Debounce < 0 {
		bad("DEBOUNCE", "%s: must not be negative", s.Debounce)
	}
	if s.ReadyAfter < 0 {
		bad("READY_AFTER", "%s: must not be negative (0 means three intervals)", s.ReadyAfter)
	}
	if s.LeaseTTL < MinLeaseTTL || s.LeaseTTL > MaxLeaseTTL {
		bad("LEASE_TTL", "%s: must be from %s to %s (as 10s); a standby takes over about 1.25 times it after the leader stops",
			s.LeaseTTL, MinLeaseTTL, MaxLeaseTTL)
	}
	switch s.Mode {
	case ServeModePlan, ServeModeApply:
	default:
		bad("SERVE_MODE", "%q is not plan or apply", s.Mode)
	}
	return errs
}
