package evaluagentsim

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Faults makes the simulator misbehave the way networks and busy servers do, to test that a
// client survives. Each /v1 request draws from a seeded random source, so a run with the same
// Seed and the same request order injects the same faults. The zero value injects nothing.
type Faults struct {
	// Seed seeds the random source (0 is a valid seed).
	Seed uint64
	// Storm429 is the probability that a request starts a 429 storm: it and the next
	// StormRequests-1 requests, to any endpoint, get 429 with Retry-After: 1 and no effect.
	Storm429      float64
	StormRequests int // default 5
	// Error5xx is the fraction of requests answered 500, 502 or 503 with no effect (a 502 has a
	// plain-text body, as a proxy's would).
	Error5xx float64
	// Latency is added to every response, plus a random part up to LatencyJitter.
	Latency       time.Duration
	LatencyJitter time.Duration
	// Reset is the fraction of requests whose connection is reset before anything is done.
	Reset float64
	// CommitDrop is the fraction of successful writes (POST, PATCH, PUT, DELETE) that take
	// effect and whose connection is then closed without a response: the client cannot know
	// what happened.
	CommitDrop float64
}

// Fault kinds, the keys of FaultCounts.
const (
	FaultStorm429   = "429 storm"
	Fault5xx        = "5xx"
	FaultReset      = "connection reset"
	FaultCommitDrop = "commit then drop"
	FaultLatency    = "delayed"
)

// ParseFaults reads a fault specification: comma-separated key=value pairs with the keys
// seed, 429 (storm probability), storm (requests per storm), 5xx, latency, jitter, reset and
// drop (commit then drop). Durations are Go durations ("20ms"). An empty string is no faults;
// "all" enables every fault at moderate rates.
func ParseFaults(spec string) (Faults, error) {
	var f Faults
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return f, nil
	}
	for _, kv := range strings.Split(spec, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "all" {
			f.Storm429, f.StormRequests, f.Error5xx, f.Reset, f.CommitDrop = 0.01, 5, 0.05, 0.02, 0.05
			f.Latency, f.LatencyJitter = time.Millisecond, 2*time.Millisecond
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return f, fmt.Errorf("faults: %q is not key=value", kv)
		}
		var err error
		prob := func(p *float64) {
			*p, err = strconv.ParseFloat(v, 64)
			if err == nil && (*p < 0 || *p > 1) {
				err = fmt.Errorf("%v is not a probability between 0 and 1", *p)
			}
		}
		switch k {
		case "seed":
			f.Seed, err = strconv.ParseUint(v, 10, 64)
		case "429":
			prob(&f.Storm429)
		case "storm":
			f.StormRequests, err = strconv.Atoi(v)
		case "5xx":
			prob(&f.Error5xx)
		case "reset":
			prob(&f.Reset)
		case "drop":
			prob(&f.CommitDrop)
		case "latency":
			f.Latency, err = time.ParseDuration(v)
		case "jitter":
			f.LatencyJitter, err = time.ParseDuration(v)
		default:
			return f, fmt.Errorf("faults: unknown key %q (want seed, 429, storm, 5xx, latency, jitter, reset, drop)", k)
		}
		if err != nil {
			return f, fmt.Errorf("faults: %s: %w", k, err)
		}
	}
	return f, nil
}

// String is the specification ParseFaults reads back.
func (f Faults) String() string {
	return fmt.Sprintf("seed=%d,429=%g,storm=%d,5xx=%g,latency=%s,jitter=%s,reset=%g,drop=%g",
		f.Seed, f.Storm429, f.StormRequests, f.Error5xx, f.Latency, f.LatencyJitter, f.Reset, f.CommitDrop)
}

// injector draws the faults of each request.
type injector struct {
	f      Faults
	mu     sync.Mutex
	rng    *rand.Rand
	storm  int // requests left in the current storm
	counts map[string]int
}

func newInjector(f Faults) *injector {
	if f.StormRequests <= 0 {
		f.StormRequests = 5
	}
	return &injector{f: f, rng: rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15)), counts: map[string]int{}}
}

// plan is what happens to one request.
type faultPlan struct {
	before string        // FaultReset, FaultStorm429, Fault5xx or ""
	status int           // for Fault5xx
	delay  time.Duration // before the response
	drop   bool          // commit, then close without a response (writes only)
}

func (in *injector) draw(write bool) faultPlan {
	in.mu.Lock()
	defer in.mu.Unlock()
	var p faultPlan
	// Draw every number every time, so one fault's rate does not shift another's sequence.
	rReset, rStorm, r5xx, rDrop, rJit, rCode := in.rng.Float64(), in.rng.Float64(), in.rng.Float64(), in.rng.Float64(), in.rng.Float64(), in.rng.IntN(3)
	switch {
	case in.storm > 0:
		in.storm--
		p.before = FaultStorm429
	case rReset < in.f.Reset:
		p.before = FaultReset
	case rStorm < in.f.Storm429:
		in.storm = in.f.StormRequests - 1
		p.before = FaultStorm429
	case r5xx < in.f.Error5xx:
		p.before = Fault5xx
		p.status = []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}[rCode]
	}
	if p.before == "" && write && rDrop < in.f.CommitDrop {
		p.drop = true
	}
	p.delay = in.f.Latency + time.Duration(rJit*float64(in.f.LatencyJitter))
	if p.before != "" {
		in.counts[p.before]++
	}
	if p.delay > 0 {
		in.counts[FaultLatency]++
	}
	return p
}

func (in *injector) add(kind string) {
	in.mu.Lock()
	in.counts[kind]++
	in.mu.Unlock()
}

// SetFaults starts injecting f (the zero Faults stops). Counts start again from zero.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == (Faults{}) {
		s.faults = nil
		return
	}
	s.faults = newInjector(f)
}

// FaultCounts returns how many faults of each kind were injected since SetFaults, and the
// answers DropResponses dropped.
func (s *Server) FaultCounts() map[string]int {
	s.mu.Lock()
	in, dropped := s.faults, s.dropped
	s.mu.Unlock()
	out := map[string]int{}
	if in != nil {
		in.mu.Lock()
		out = maps.Clone(in.counts)
		in.mu.Unlock()
	}
	if dropped > 0 {
		out[FaultCommitDrop] += dropped
	}
	return out
}

// FaultKinds lists the kinds FaultCounts may report, sorted.
func FaultKinds() []string {
	k := []string{FaultStorm429, Fault5xx, FaultReset, FaultCommitDrop, FaultLatency}
	slices.Sort(k)
	return k
}

// abort closes the request's connection at once, with a TCP reset where possible, so the
// client sees no response at all.
func abort(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler) // closes the connection (HTTP/2: resets the stream)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// answer answers a request the faults stop before it is handled; it reports whether it did, and
// the status sent (0 for a reset).
func (p faultPlan) answer(w http.ResponseWriter) (int, bool) {
	switch p.before {
	case FaultReset:
		abort(w)
		return 0, true
	case FaultStorm429:
		time.Sleep(p.delay)
		resp := errResp(http.StatusTooManyRequests, "Rate limit exceeded for this endpoint.")
		resp.header = http.Header{"Retry-After": {"1"}}
		resp.write(w)
		return http.StatusTooManyRequests, true
	case Fault5xx:
		time.Sleep(p.delay)
		if p.status == http.StatusBadGateway {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(p.status)
			_, _ = w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
		} else {
			errResp(p.status, "Injected failure").write(w)
		}
		return p.status, true
	}
	return 0, false
}
