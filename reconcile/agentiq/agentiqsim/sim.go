package agentiqsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DemoAPIKey is the key of DefaultConfig. It is published on purpose and opens nothing but a
// simulator.
const DemoAPIKey = "aiq-demo-key-0123456789abcdef"

// TimeLayout is the timestamp format of parameters and responses.
const TimeLayout = "2006-01-02T15:04:05Z"

const (
	maxUpload = 32 << 20
	simPrefix = "/_sim/"
)

// Key is one API key. AgentID, when not 0, is the agent GET /api/agents/me returns.
type Key struct {
	Key     string `json:"key"`
	AgentID int    `json:"agent_id"`
}

// Config configures a Server.
type Config struct {
	Keys []Key
	// Seed is the starting agents.
	Seed []Agent
	// Now is the clock for created_at, updated_at and the default end_date; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig returns a configuration with the demo key and no agents.
func DefaultConfig() Config {
	return Config{Keys: []Key{{Key: DemoAPIKey}}}
}

// Agent is an agent as X1 exports it (§5.2). Nil pointers and empty strings are emitted as null.
type Agent struct {
	ID            int        `json:"id"`
	FirstName     string     `json:"first_name"`
	LastName      string     `json:"last_name"`
	Email         string     `json:"email"`
	Phone         string     `json:"phone"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	DeletedAt     *time.Time `json:"deleted_at"`
	DeactivatedAt *time.Time `json:"deactivated_at"`
	Roles         []string   `json:"roles"`
	Teams         []string   `json:"teams"`
	WatcherTeams  []string   `json:"watcher_teams"`
	ExternalID    string     `json:"external_id"`
	AgentSegment  string     `json:"agent_segment"`
}

func (a *Agent) clone() Agent {
	c := *a
	c.Roles = slices.Clone(a.Roles)
	c.Teams = slices.Clone(a.Teams)
	c.WatcherTeams = slices.Clone(a.WatcherTeams)
	if a.DeletedAt != nil {
		t := *a.DeletedAt
		c.DeletedAt = &t
	}
	if a.DeactivatedAt != nil {
		t := *a.DeactivatedAt
		c.DeactivatedAt = &t
	}
	return c
}

// Customer is a customer row the import stored.
type Customer struct {
	MapID     string
	FirstName string
	LastName  string
	Email     string
	Group     string
	DateAdded string
	Phone     string
	AgentID   int // the banker of the row, 0 for none
}

// Forced makes requests to an endpoint fail: the next N answer Status, a 429 or 503 with
// Retry-After seconds when RetryAfter > 0.
type Forced struct {
	Status     int
	N          int
	RetryAfter time.Duration
}

// Server is the simulator, an http.Handler. It is safe for concurrent use.
type Server struct {
	mu        sync.Mutex
	now       func() time.Time
	keys      map[string]Key
	agents    []*Agent // ascending id
	nextID    int
	customers map[string]*Customer
	forced    map[string]*Forced
	counts    map[string]int
	writes    int
	rows      int
}

// New builds a Server from cfg. It fails on a missing key or an invalid seed.
func New(cfg Config) (*Server, error) {
	s := &Server{
		now: cfg.Now, keys: map[string]Key{}, nextID: 1,
		customers: map[string]*Customer{}, forced: map[string]*Forced{}, counts: map[string]int{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if len(cfg.Keys) == 0 {
		return nil, errors.New("agentiqsim: no keys configured")
	}
	for i, k := range cfg.Keys {
		if strings.TrimSpace(k.Key) == "" || strings.ContainsAny(k.Key, " \t\r\n") {
			return nil, fmt.Errorf("agentiqsim: key %d is empty or holds white space", i)
		}
		s.keys[k.Key] = k
	}
	now := s.now().UTC().Truncate(time.Second)
	seen := map[int]bool{}
	for i, a := range cfg.Seed {
		a := a.clone()
		if a.ID == 0 {
			a.ID = s.nextID
		}
		if a.ID < 0 || seen[a.ID] {
			return nil, fmt.Errorf("agentiqsim: seed agent %d: id %d is negative or repeated", i, a.ID)
		}
		seen[a.ID] = true
		if a.CreatedAt.IsZero() {
			a.CreatedAt = now
		}
		if a.UpdatedAt.IsZero() {
			a.UpdatedAt = a.CreatedAt
		}
		a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
		s.nextID = max(s.nextID, a.ID+1)
		s.agents = append(s.agents, &a)
	}
	slices.SortFunc(s.agents, func(a, b *Agent) int { return a.ID - b.ID })
	return s, nil
}

// Agents returns a copy of every agent, by ascending id.
func (s *Server) Agents() []Agent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Agent, len(s.agents))
	for i, a := range s.agents {
		out[i] = a.clone()
	}
	return out
}

// Customers returns a copy of the stored customers, by MapID.
func (s *Server) Customers() []Customer {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Customer, 0, len(s.customers))
	for _, c := range s.customers {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Customer) int { return strings.Compare(a.MapID, b.MapID) })
	return out
}

// SetDeactivated sets (or with nil clears) deactivated_at of agent id, standing in for the Agent
// IQ UI. It moves updated_at.
func (s *Server) SetDeactivated(id int, at *time.Time) error {
	return s.setStamp(id, at, func(a *Agent) **time.Time { return &a.DeactivatedAt })
}

// SetDeleted sets (or with nil clears) deleted_at of agent id, standing in for the Agent IQ UI.
func (s *Server) SetDeleted(id int, at *time.Time) error {
	return s.setStamp(id, at, func(a *Agent) **time.Time { return &a.DeletedAt })
}

func (s *Server) setStamp(id int, at *time.Time, field func(*Agent) **time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.agent(id)
	if a == nil {
		return fmt.Errorf("agentiqsim: no agent %d", id)
	}
	var v *time.Time
	if at != nil {
		t := at.UTC().Truncate(time.Second)
		v = &t
	}
	*field(a) = v
	a.UpdatedAt = s.now().UTC().Truncate(time.Second)
	return nil
}

func (s *Server) agent(id int) *Agent {
	i, ok := slices.BinarySearchFunc(s.agents, id, func(a *Agent, id int) int { return a.ID - id })
	if !ok {
		return nil
	}
	return s.agents[i]
}

// Force makes the next f.N requests to endpoint ("POST /api/imports/users", as in Counts) answer
// f.Status after authentication, changing nothing. f.N <= 0 clears it.
func (s *Server) Force(endpoint string, f Forced) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.N <= 0 {
		delete(s.forced, endpoint)
		return
	}
	s.forced[endpoint] = &f
}

// SetNow fixes the simulator's clock at t.
func (s *Server) SetNow(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = func() time.Time { return t }
}

// Counts returns how many requests each endpoint received, whatever their outcome, keyed like
// "GET /api/exports/agents". A path that matches no route is counted under its own path.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.counts)
}

// Writes returns the number of uploads answered with 200.
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// RowsReceived returns the number of data rows in uploads answered with 200.
func (s *Server) RowsReceived() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows
}

// ResetCounts zeroes Counts, Writes and RowsReceived.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[string]int{}
	s.writes, s.rows = 0, 0
}

type response struct {
	status int
	header http.Header
	body   any
}

func errResp(status int, msg string) response {
	return response{status: status, body: map[string]string{"error": msg}}
}

func (r response) write(w http.ResponseWriter) {
	for k, v := range r.header {
		w.Header()[k] = v
	}
	b, err := json.Marshal(r.body)
	if err != nil {
		b = []byte(`{"error":"encoding the response failed"}`)
		r.status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(r.status)
	_, _ = w.Write(append(b, '\n'))
}

// call is one authenticated request on its way to a handler.
type call struct {
	r      *http.Request
	id     string // the {id} path parameter
	key    Key
	now    time.Time
	upload *parsedUpload // the parsed body of an upload route
}

type handlerFunc func(s *Server, c *call) response

type route struct {
	path    string // "/api/agents/{id}"
	methods map[string]handlerFunc
	upload  bool // POST carries a multipart CSV upload
}

var routes = []route{
	{"/api/exports/agents", map[string]handlerFunc{http.MethodGet: (*Server).exportAgents}, false},
	{"/api/agents", map[string]handlerFunc{http.MethodGet: (*Server).listAgents}, false},
	{"/api/agents/me", map[string]handlerFunc{http.MethodGet: (*Server).getMe}, false},
	{"/api/agents/{id}", map[string]handlerFunc{http.MethodGet: (*Server).getAgent}, false},
	{"/api/imports/users", map[string]handlerFunc{http.MethodPost: (*Server).importUsers}, true},
	{"/api/ingestion/users", map[string]handlerFunc{http.MethodPost: (*Server).importUsers}, true},
}

func matchRoute(path string) (*route, string) {
	for i := range routes {
		rt := &routes[i]
		prefix, isItem := strings.CutSuffix(rt.path, "{id}")
		if !isItem {
			if path == rt.path {
				return rt, ""
			}
			continue
		}
		if id, ok := strings.CutPrefix(path, prefix); ok && id != "" && !strings.Contains(id, "/") {
			return rt, id
		}
	}
	return nil, ""
}

// ServeHTTP serves the API under /api and the counters under /_sim/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, simPrefix) {
		s.serveSim(w, r)
		return
	}
	// The upload body is read before taking the lock; everything else happens under it.
	var upload *parsedUpload
	rt, _ := matchRoute(r.URL.Path)
	if rt != nil && rt.upload && r.Method == http.MethodPost && s.authorised(r) {
		upload = readUpload(w, r)
	}
	s.mu.Lock()
	endpoint, resp := s.handle(r, upload)
	s.counts[r.Method+" "+endpoint]++
	if resp.status == http.StatusOK && r.Method == http.MethodPost {
		s.writes++
		if upload != nil {
			s.rows += len(upload.rows)
		}
	}
	s.mu.Unlock()
	resp.write(w)
}

func (s *Server) authorised(r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.keys[r.Header.Get("x-api-key")]
	return ok
}

func (s *Server) handle(r *http.Request, upload *parsedUpload) (string, response) {
	now := s.now().UTC().Truncate(time.Second)
	rt, id := matchRoute(r.URL.Path)
	endpoint := r.URL.Path
	if rt != nil {
		endpoint = rt.path
	}
	key, ok := s.keys[r.Header.Get("x-api-key")]
	if !ok {
		return endpoint, errResp(http.StatusUnauthorized, "Unauthorized")
	}
	if rt == nil {
		return endpoint, errResp(http.StatusNotFound, "Not found")
	}
	h := rt.methods[r.Method]
	if h == nil {
		resp := errResp(http.StatusMethodNotAllowed, "Method not allowed")
		resp.header = http.Header{"Allow": {strings.Join(slices.Sorted(maps.Keys(rt.methods)), ", ")}}
		return endpoint, resp
	}
	if f := s.forced[r.Method+" "+endpoint]; f != nil {
		f.N--
		if f.N <= 0 {
			delete(s.forced, r.Method+" "+endpoint)
		}
		resp := errResp(f.Status, http.StatusText(f.Status))
		if f.RetryAfter > 0 {
			resp.header = http.Header{"Retry-After": {strconv.Itoa(int((f.RetryAfter + time.Second - 1) / time.Second))}}
		}
		return endpoint, resp
	}
	return endpoint, h(s, &call{r: r, id: id, key: key, now: now, upload: upload})
}

func (s *Server) serveSim(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/_sim/counts" && r.Method == http.MethodGet:
		s.mu.Lock()
		resp := response{status: http.StatusOK, body: struct {
			Requests map[string]int `json:"requests"`
			Writes   int            `json:"writes"`
			Rows     int            `json:"rows"`
		}{maps.Clone(s.counts), s.writes, s.rows}}
		s.mu.Unlock()
		resp.write(w)
	case r.URL.Path == "/_sim/reset-counts" && r.Method == http.MethodPost:
		s.ResetCounts()
		w.WriteHeader(http.StatusNoContent)
	default:
		errResp(http.StatusNotFound, "Not found").write(w)
	}
}
