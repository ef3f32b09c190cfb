package evaluagentsim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"time"
)

// DemoKeyID and DemoKeySecret are the credentials of the demo key in DefaultConfig. They are
// published on purpose and open nothing but a simulator.
const (
	DemoKeyID     = "00000000-0000-4000-8000-000000000001"
	DemoKeySecret = "0123456789abcdef0123456789abcdef01234567"
)

// Key states (§3.2). A key starts in ModeBasic unless configured otherwise.
const (
	ModeBasic   = "basic"
	ModeBearer  = "bearer"
	ModeRevoked = "revoked"
)

const (
	defaultRatePerMinute = 100
	defaultRatePerDay    = 10000
	tokenValidity        = 24 * time.Hour
	maxRequestBody       = 1 << 20
	apiPrefix            = "/v1"
	simPrefix            = "/_sim/"
)

// Key is one API key and its starting state.
type Key struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
	// Mode is "basic" (the default when empty), "bearer" (Basic refused, Token accepted while
	// current) or "revoked".
	Mode string `json:"mode"`
	// Token is the pre-issued bearer token of a key that starts in bearer mode.
	Token string `json:"token"`
	// TokenExpiresAt is when Token expires; zero means 24 hours after New.
	TokenExpiresAt time.Time `json:"token_expires_at"`
	// AllowIPs, when not empty, lists the addresses (or CIDR prefixes) the key may be used from.
	AllowIPs []string `json:"allow_ips"`
}

// Config configures a Server.
type Config struct {
	Keys []Key
	// RatePerMinute and RatePerDay are the per key, per endpoint limits; 0 means 100 and 10,000.
	RatePerMinute int
	RatePerDay    int
	// Seats is the number of licence seats (active users); 0 means unlimited.
	Seats int
	// PageSize, when above 0, pages the /org lists and the evaluations by page[number]; 0 returns whole collections.
	PageSize int
	// Now is the clock for token expiry and rate-limit windows; nil means time.Now.
	Now func() time.Time
	// Seed is the starting data; nil means the default seed (see the package documentation).
	Seed *Seed
	// Faults, when not zero, injects network and server faults (see Faults).
	Faults Faults
}

// DefaultConfig returns a configuration with the demo key (DemoKeyID, DemoKeySecret) in basic
// mode, the documented rate limits, unlimited seats, whole collections and the default seed.
func DefaultConfig() Config {
	return Config{
		Keys:          []Key{{ID: DemoKeyID, Secret: DemoKeySecret, Mode: ModeBasic}},
		RatePerMinute: defaultRatePerMinute,
		RatePerDay:    defaultRatePerDay,
	}
}

// Server is the simulator. It is an http.Handler serving the API under /v1 and the counters under
// /_sim/. It is safe for concurrent use.
type Server struct {
	mu        sync.Mutex
	now       func() time.Time
	perMinute int
	perDay    int
	seats     int
	pageSize  int
	keys      []*keyState
	st        *state
	windows   map[windowKey]*window
	forced    map[string]*forcedStatus
	counts    map[string]int
	statuses  map[string]map[int]int
	writes    int
	faults    *injector
	drops     map[string]int // DropResponses: answers still to drop, by endpoint
	dropped   int            // answers dropped by DropResponses
}

type forcedStatus struct {
	status int
	n      int
}

var keyChars = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

// New builds a Server from cfg. It fails on an invalid key or seed.
func New(cfg Config) (*Server, error) {
	s := &Server{
		now:       cfg.Now,
		perMinute: cfg.RatePerMinute,
		perDay:    cfg.RatePerDay,
		seats:     cfg.Seats,
		pageSize:  cfg.PageSize,
		windows:   map[windowKey]*window{},
		forced:    map[string]*forcedStatus{},
		counts:    map[string]int{},
		statuses:  map[string]map[int]int{},
		drops:     map[string]int{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.perMinute == 0 {
		s.perMinute = defaultRatePerMinute
	}
	if s.perDay == 0 {
		s.perDay = defaultRatePerDay
	}
	if s.perMinute < 0 || s.perDay < 0 || s.seats < 0 || s.pageSize < 0 {
		return nil, errors.New("evaluagentsim: rate limits, seats and page size must not be negative")
	}
	if len(cfg.Keys) == 0 {
		return nil, errors.New("evaluagentsim: no keys configured")
	}
	now := s.now().UTC()
	for i, k := range cfg.Keys {
		ks, err := newKeyState(k, now)
		if err != nil {
			return nil, fmt.Errorf("evaluagentsim: key %d (%s): %w", i, k.ID, err)
		}
		for _, o := range s.keys {
			if o.id == ks.id {
				return nil, fmt.Errorf("evaluagentsim: key %d: duplicate id %s", i, k.ID)
			}
			if ks.token != "" && o.token == ks.token {
				return nil, fmt.Errorf("evaluagentsim: key %d (%s): token shared with key %s", i, k.ID, o.id)
			}
		}
		s.keys = append(s.keys, ks)
	}
	seed := cfg.Seed
	if seed == nil {
		seed = &Seed{}
	}
	st, err := buildState(seed, s.seats)
	if err != nil {
		return nil, fmt.Errorf("evaluagentsim: seed: %w", err)
	}
	s.st = st
	if cfg.Faults != (Faults{}) {
		s.faults = newInjector(cfg.Faults)
	}
	return s, nil
}

func newKeyState(k Key, now time.Time) (*keyState, error) {
	if !keyChars.MatchString(k.ID) {
		return nil, errors.New("id must match ^[A-Za-z0-9-]+$")
	}
	if !keyChars.MatchString(k.Secret) {
		return nil, errors.New("secret must match ^[A-Za-z0-9-]+$")
	}
	ks := &keyState{id: k.ID, secret: k.Secret, mode: k.Mode, token: k.Token, expires: k.TokenExpiresAt.UTC()}
	switch ks.mode {
	case "":
		ks.mode = ModeBasic
	case ModeBasic, ModeRevoked:
	case ModeBearer:
		if k.Token == "" {
			return nil, errors.New("a key in bearer mode needs a pre-issued token")
		}
	default:
		return nil, fmt.Errorf("unknown mode %q (want basic, bearer or revoked)", k.Mode)
	}
	if ks.mode != ModeBearer {
		ks.token = ""
	} else if ks.expires.IsZero() {
		ks.expires = now.Add(tokenValidity)
	}
	for _, a := range k.AllowIPs {
		p, err := parseAllow(a)
		if err != nil {
			return nil, err
		}
		ks.allow = append(ks.allow, p)
	}
	return ks, nil
}

func parseAllow(a string) (netip.Prefix, error) {
	if strings.Contains(a, "/") {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("allow-list entry %q: %w", a, err)
		}
		return p.Masked(), nil
	}
	ip, err := netip.ParseAddr(a)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("allow-list entry %q: %w", a, err)
	}
	ip = ip.Unmap()
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}

// call is one authenticated request on its way to a handler.
type call struct {
	r      *http.Request
	id     string // the {id} path parameter
	body   []byte
	key    *keyState
	scheme string // ModeBasic or ModeBearer
	now    time.Time
}

// response is a finished answer, built under the lock and written after it.
type response struct {
	status int
	header http.Header
	body   []byte // nil: no body, unless items
	// items, when body is nil, are an unpaged collection: written as
	// {"data":[...]} one item at a time, after the state's lock is let go,
	// so that a listing of a million users is neither held whole nor
	// keeps every other request waiting while it is encoded.
	items []any
}

func (resp response) write(w http.ResponseWriter) {
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	if resp.body != nil || resp.items != nil {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(resp.status)
	switch {
	case resp.body != nil:
		_, _ = w.Write(resp.body)
	case resp.items != nil:
		writeItems(w, resp.items)
	}
}

// writeItems writes {"data":[...]} item by item through a buffer.
func writeItems(w io.Writer, items []any) {
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(`{"data":[`)
	enc := json.NewEncoder(bw)
	for i, it := range items {
		if i > 0 {
			bw.WriteByte(',')
		}
		if err := enc.Encode(it); err != nil {
			panic(fmt.Sprintf("evaluagentsim: encoding a response: %v", err))
		}
	}
	bw.WriteString("]}")
	_ = bw.Flush()
}

// ServeHTTP serves the API under /v1, and GET /_sim/counts and POST /_sim/reset-counts without
// authentication or rate limits.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, simPrefix) {
		s.serveSim(w, r)
		return
	}
	s.mu.Lock()
	in := s.faults
	s.mu.Unlock()
	var fp faultPlan
	if in != nil {
		fp = in.draw(r.Method != http.MethodGet && r.Method != http.MethodHead)
		if status, done := fp.answer(w); done {
			s.mu.Lock()
			s.record(r.Method, endpointOf(r.URL.Path), status)
			s.mu.Unlock()
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	s.mu.Lock()
	endpoint, resp := s.handle(r, body, err)
	s.record(r.Method, endpoint, resp.status)
	drop := s.takeDrop(r.Method, endpoint, resp.status)
	s.mu.Unlock()
	if drop {
		abort(w)
		return
	}
	if fp.delay > 0 {
		time.Sleep(fp.delay)
	}
	if fp.drop && resp.status >= 200 && resp.status < 300 {
		in.add(FaultCommitDrop)
		abort(w)
		return
	}
	resp.write(w)
}

// handle runs one request through the checks in order: route, authentication, IP allow-list,
// method, forced status, rate limit, content type, handler.
func (s *Server) handle(r *http.Request, body []byte, bodyErr error) (string, response) {
	now := s.now().UTC()
	rel, ok := strings.CutPrefix(r.URL.Path, apiPrefix)
	if !ok || !strings.HasPrefix(rel, "/") {
		return r.URL.Path, errResp(http.StatusNotFound, "Not found")
	}
	rt, id := matchRoute(rel)
	endpoint := rel
	if rt != nil {
		endpoint = rt.template
	}
	key, scheme, fail := s.authenticate(r, now)
	if fail != nil {
		return endpoint, *fail
	}
	if rt == nil {
		return endpoint, errResp(http.StatusNotFound, "Not found")
	}
	h, ok := rt.methods[r.Method]
	if !ok {
		resp := errResp(http.StatusMethodNotAllowed, "Method not allowed")
		resp.header = http.Header{"Allow": {rt.allow()}}
		return endpoint, resp
	}
	name := r.Method + " " + endpoint
	if f := s.forced[name]; f != nil {
		f.n--
		if f.n <= 0 {
			delete(s.forced, name)
		}
		return endpoint, forcedResp(f.status, now)
	}
	if resp := s.limit(key.id, name, now); resp != nil {
		return endpoint, *resp
	}
	if h.body {
		if !jsonContentType(r.Header.Get("Content-Type")) {
			return endpoint, errResp(http.StatusUnsupportedMediaType, "Unsupported media type")
		}
		if bodyErr != nil {
			return endpoint, errResp(http.StatusBadRequest, "Malformed request body")
		}
	}
	return endpoint, h.fn(s, &call{r: r, id: id, body: body, key: key, scheme: scheme, now: now})
}

// endpointOf names the endpoint of a request path as Counts does.
func endpointOf(path string) string {
	rel, ok := strings.CutPrefix(path, apiPrefix)
	if !ok {
		return path
	}
	if rt, _ := matchRoute(rel); rt != nil {
		return rt.template
	}
	return rel
}

func forcedResp(status int, now time.Time) response {
	if status == http.StatusTooManyRequests {
		reset := now.Truncate(time.Minute).Add(time.Minute)
		return tooMany(reset.Sub(now), "Rate limit exceeded for this endpoint.")
	}
	if status < 400 {
		return response{status: status, body: []byte("{}")}
	}
	return errResp(status, "Forced failure")
}

// record counts a request by endpoint ("METHOD /template") and status.
func (s *Server) record(method, endpoint string, status int) {
	name := method + " " + endpoint
	s.counts[name]++
	if s.statuses[name] == nil {
		s.statuses[name] = map[int]int{}
	}
	s.statuses[name][status]++
	if status >= 200 && status < 300 {
		switch method {
		case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
			s.writes++
		}
	}
}

// Counts returns how many requests each endpoint received, whatever their outcome, keyed like
// "PATCH /org/users/{id}" (paths relative to /v1). A path that matches no route is counted under
// its own path.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.counts)
}

// StatusCounts returns the request counts of each endpoint split by response status.
func (s *Server) StatusCounts() map[string]map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]map[int]int, len(s.statuses))
	for k, v := range s.statuses {
		out[k] = maps.Clone(v)
	}
	return out
}

// Writes returns the number of successful (2xx) POST, PATCH, PUT and DELETE requests, token
// endpoints included.
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// ResetCounts zeroes Counts, StatusCounts and Writes. Rate-limit windows are not touched.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[string]int{}
	s.statuses = map[string]map[int]int{}
	s.writes = 0
}

// ForceStatus makes the next n requests to endpoint ("METHOD /template", as in Counts) that pass
// authentication fail with status, before the rate limit and without changing anything. A 429
// carries Retry-After to the end of the current minute; a status below 400 answers with "{}".
// n <= 0 clears it. It panics on an
// endpoint the simulator does not serve.
func (s *Server) ForceStatus(endpoint string, status, n int) {
	method, path, _ := strings.Cut(endpoint, " ")
	rt, _ := matchRoute(path)
	if rt == nil || rt.template != path {
		panic(fmt.Sprintf("evaluagentsim: ForceStatus: unknown endpoint %q", endpoint))
	}
	if _, ok := rt.methods[method]; !ok {
		panic(fmt.Sprintf("evaluagentsim: ForceStatus: %s does not serve %s", path, method))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.forced, endpoint)
		return
	}
	s.forced[endpoint] = &forcedStatus{status: status, n: n}
}

// SetNow fixes the simulator's clock at t.
func (s *Server) SetNow(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = func() time.Time { return t }
}

func (s *Server) serveSim(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/_sim/counts":
		if r.Method != http.MethodGet {
			errResp(http.StatusMethodNotAllowed, "Method not allowed").write(w)
			return
		}
		s.mu.Lock()
		resp := jsonResp(http.StatusOK, struct {
			Requests map[string]int         `json:"requests"`
			Statuses map[string]map[int]int `json:"statuses"`
			Writes   int                    `json:"writes"`
		}{s.counts, s.statuses, s.writes})
		s.mu.Unlock()
		resp.write(w)
	case "/_sim/faults":
		if r.Method != http.MethodGet {
			errResp(http.StatusMethodNotAllowed, "Method not allowed").write(w)
			return
		}
		jsonResp(http.StatusOK, s.FaultCounts()).write(w)
	case "/_sim/reset-counts":
		if r.Method != http.MethodPost {
			errResp(http.StatusMethodNotAllowed, "Method not allowed").write(w)
			return
		}
		s.ResetCounts()
		w.WriteHeader(http.StatusNoContent)
	default:
		errResp(http.StatusNotFound, "Not found").write(w)
	}
}
