// Package flexsim is a faithful local stand-in for the parts of Twilio Flex
// the flex target uses: discovery (C1), the Flex Users API (U1–U5) and
// TaskRouter Workers (W1–W3), on one listener. It keeps state, validates as
// the contract says (attributes must be a JSON object of at most 4,096
// UTF-8 bytes; roles agent, supervisor or admin), pages every list, sends
// ETags and refuses a stale If-Match with 412 (a Twilio error body without
// code), limits the Users routes to a rate (429, code 20429, Retry-After)
// and checks Basic auth (401, code 20003). Tests may force 429 or 503 on
// any route, seed orphan workers, and log in through a test-only SSO hook.
// Insights QM calls are accepted and counted so a test can show rostersync
// makes none. Flex Teams (T1–T11) keep a tree of levels 3 > 2 > 1 under
// F10–F14, with a default team every user starts in, and per-route rates.
package flexsim

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Demo credentials and SIDs (the simulator accepts the key pair and the
// account SID with the same secret).
const (
	DemoAccountSID   = "AC00000000000000000000000000000001"
	DemoKeySID       = "SK00000000000000000000000000000001"
	DemoSecret       = "demo-flex-secret"
	DemoInstanceSID  = "GO00000000000000000000000000000001"
	DemoWorkspaceSID = "WS00000000000000000000000000000001"
)

// MaxAttributeBytes is F5's limit.
const MaxAttributeBytes = 4096

// Config configures a simulator. Zero values take the defaults.
type Config struct {
	AccountSID, KeySID, Secret string
	InstanceSID, WorkspaceSID  string
	// PageSize is the default page size of lists (50); PageSize= on a
	// request overrides it up to 1000.
	PageSize int
	// UsersPerSecond limits the Users routes (10); below 0 is unlimited.
	UsersPerSecond int
	// MaxWorkers caps the workspace (15,000).
	MaxWorkers int
	// NoTeamLimits turns off the per-route rates of the Teams routes.
	NoTeamLimits bool
	Seed         Seed
	Now          func() time.Time
	Logger       *slog.Logger
}

// Seed is the simulator's first state.
type Seed struct {
	Users []SeedUser `json:"users"`
	// Orphans are workers with no Flex user (F6), by friendly name.
	Orphans []string `json:"orphans,omitempty"`
	// Teams are Flex Teams made outside rostersync, parents first.
	Teams []SeedTeam `json:"teams,omitempty"`
}

// SeedTeam is a team to start with; Parent names an earlier one.
type SeedTeam struct {
	Name   string `json:"name"`
	Level  int    `json:"level"`
	Parent string `json:"parent,omitempty"`
}

// SeedUser is a Flex user to start with.
type SeedUser struct {
	Username    string         `json:"username"`
	Email       string         `json:"email"`
	FullName    string         `json:"full_name"`
	Roles       []string       `json:"roles"`
	Attributes  map[string]any `json:"attributes,omitempty"`
	Deactivated bool           `json:"deactivated,omitempty"`
}

// DefaultConfig is the demo configuration with an empty seed.
func DefaultConfig() Config {
	return Config{AccountSID: DemoAccountSID, KeySID: DemoKeySID, Secret: DemoSecret, InstanceSID: DemoInstanceSID, WorkspaceSID: DemoWorkspaceSID}
}

type user struct {
	SID, Username, Email, FullName string
	Roles                          []string
	Worker                         string
	Team                           string // the team the user is a member of (F11)
	Deactivated                    bool
	DeactivatedDate                string
	Created, Updated               string
	Version                        int
}

type worker struct {
	SID, FriendlyName, Attributes string
	Version                       int
	Created, Updated              string
}

// Sim is the simulator, an http.Handler.
type Sim struct {
	cfg Config
	mux *http.ServeMux
	log *slog.Logger

	mu       sync.Mutex
	users    []*user // in creation order
	workers  map[string]*worker
	forced   map[string][]int // route name → statuses to answer next
	bucket   float64
	refilled time.Time
	insights int
	minted   int
	writes   map[string]int // route name → accepted writes

	teams       []*team // in creation order; teams[0] is the default team
	teamBuckets map[string]*bucket
}

// New returns a simulator holding cfg.Seed.
func New(cfg Config) (*Sim, error) {
	def := DefaultConfig()
	for _, p := range []struct {
		v *string
		d string
	}{
		{&cfg.AccountSID, def.AccountSID}, {&cfg.KeySID, def.KeySID}, {&cfg.Secret, def.Secret},
		{&cfg.InstanceSID, def.InstanceSID}, {&cfg.WorkspaceSID, def.WorkspaceSID},
	} {
		if *p.v == "" {
			*p.v = p.d
		}
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 50
	}
	if cfg.UsersPerSecond == 0 {
		cfg.UsersPerSecond = 10
	}
	if cfg.MaxWorkers <= 0 {
		cfg.MaxWorkers = 15000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sim{cfg: cfg, log: cfg.Logger, workers: map[string]*worker{}, forced: map[string][]int{}, writes: map[string]int{},
		bucket: float64(cfg.UsersPerSecond), refilled: cfg.Now()}
	s.initTeams()
	for i, su := range cfg.Seed.Users {
		attrs := "{}"
		if su.Attributes != nil {
			b, err := json.Marshal(su.Attributes)
			if err != nil {
				return nil, fmt.Errorf("flexsim: seed users[%d]: %w", i, err)
			}
			attrs = string(b)
		}
		if _, err := s.provision(su.Username, su.Email, su.FullName, su.Roles, &attrs, true); err != nil {
			return nil, fmt.Errorf("flexsim: seed users[%d]: %v", i, err.msg)
		}
		if su.Deactivated {
			s.deprovision(s.users[len(s.users)-1])
		}
	}
	for _, name := range cfg.Seed.Orphans {
		s.newWorker(name, "{}")
	}
	for i, st := range cfg.Seed.Teams {
		if err := s.seedTeam(st); err != nil {
			return nil, fmt.Errorf("flexsim: seed teams[%d]: %v", i, err.msg)
		}
	}
	s.routes()
	return s, nil
}

func (s *Sim) now() string { return s.cfg.Now().UTC().Format("2006-01-02T15:04:05Z") }

// sid mints the next SID of prefix: deterministic, so that plans over the
// simulator can be golden files (the client treats SIDs as opaque).
func (s *Sim) sid(prefix string) string {
	s.minted++
	return fmt.Sprintf("%s%032x", prefix, s.minted)
}

// apiErr is a Twilio error answer.
type apiErr struct {
	status, code int
	msg          string
}

func (s *Sim) newWorker(name, attrs string) *worker {
	w := &worker{SID: s.sid("WK"), FriendlyName: name, Attributes: attrs, Version: 1, Created: s.now(), Updated: s.now()}
	s.workers[w.SID] = w
	return w
}

func (s *Sim) find(username string) *user {
	for _, u := range s.users {
		if strings.EqualFold(u.Username, username) {
			return u
		}
	}
	return nil
}

func (s *Sim) bySID(id string) *user {
	for _, u := range s.users {
		if u.SID == id {
			return u
		}
	}
	return nil
}

// provision creates or updates a user (F1–F4). attrs, when not nil,
// replaces the worker's attributes (F3's pessimistic default).
//
// sso marks a user arriving through SSO (seed, Login): the IdP may give
// Insights roles (wfo.*), which Provision refuses.
func (s *Sim) provision(username, email, fullName string, roles []string, attrs *string, sso bool) (created bool, e *apiErr) {
	bad := func(f string, a ...any) (bool, *apiErr) { return false, &apiErr{400, 20001, fmt.Sprintf(f, a...)} }
	if n := utf8.RuneCountInString(username); n < 1 || n > 256 {
		return bad("username must be 1 to 256 characters")
	}
	if email == "" || fullName == "" || roles == nil {
		return bad("username, email, full_name, roles and worker are required")
	}
	for _, r := range roles {
		if sso && strings.HasPrefix(r, "wfo.") {
			continue
		}
		if !slices.Contains([]string{"agent", "supervisor", "admin"}, r) {
			return bad("role %q is not valid: valid roles include agent, supervisor, and admin", r)
		}
	}
	if attrs != nil {
		if e := checkAttributes(*attrs); e != nil {
			return false, e
		}
	}
	u := s.find(username)
	if u == nil {
		if len(s.workers) >= s.cfg.MaxWorkers {
			return false, &apiErr{400, 14240, "maximum number of workers reached"}
		}
		u = &user{SID: s.sid("FU"), Username: username, Created: s.now()}
		s.users = append(s.users, u)
		created = true
	}
	if u.Worker == "" {
		a := "{}"
		if attrs != nil {
			a = *attrs
		}
		u.Worker = s.newWorker(username, a).SID
		u.Deactivated, u.DeactivatedDate = false, ""
		u.Team = DefaultTeamSID // F1, F4: a new or returning user starts in the default team
	} else if attrs != nil {
		w := s.workers[u.Worker]
		w.Attributes, w.Version, w.Updated = *attrs, w.Version+1, s.now()
	}
	u.Email, u.FullName, u.Roles = email, fullName, slices.Clone(roles)
	u.Version++
	u.Updated = s.now()
	return created, nil
}

func (s *Sim) deprovision(u *user) {
	if u.Deactivated {
		return
	}
	delete(s.workers, u.Worker)
	u.Worker, u.Deactivated, u.DeactivatedDate = "", true, s.now()
	u.Version++
	u.Updated = s.now()
}

// checkAttributes enforces F5.
func checkAttributes(a string) *apiErr {
	var doc map[string]any
	if err := json.Unmarshal([]byte(a), &doc); err != nil || doc == nil {
		return &apiErr{400, 20001, "Attributes must be a valid JSON object"}
	}
	if len(a) > MaxAttributeBytes {
		return &apiErr{400, 20001, fmt.Sprintf("Attributes is %d bytes; the maximum is %d", len(a), MaxAttributeBytes)}
	}
	return nil
}

// ForceStatus makes the next len(statuses) requests to the named route
// (list_users, get_user, provision, deprovision, list_workers, get_worker,
// update_worker, configuration) answer those statuses with Retry-After: 1
// without being processed: 429 with code 20429, 503 without a body code, any
// other status with Flex's code 45780 (too many concurrent requests).
func (s *Sim) ForceStatus(route string, statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forced[route] = append(s.forced[route], statuses...)
}

// Login is the test-only SSO hook (F9): it provisions an unknown user just
// in time and overwrites exactly the claimed worker keys, leaving the rest.
func (s *Sim) Login(username string, claims map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.find(username)
	if u == nil || u.Deactivated {
		if _, e := s.provision(username, username, username, []string{"agent"}, nil, true); e != nil {
			return fmt.Errorf("flexsim: login %s: %s", username, e.msg)
		}
		u = s.find(username)
	}
	w := s.workers[u.Worker]
	var doc map[string]any
	_ = json.Unmarshal([]byte(w.Attributes), &doc)
	if doc == nil {
		doc = map[string]any{}
	}
	for k, v := range claims {
		doc[k] = v
	}
	b, _ := json.Marshal(doc)
	w.Attributes, w.Version, w.Updated = string(b), w.Version+1, s.now()
	return nil
}

// Attributes returns the attributes document of username's worker, and
// whether the user has one.
func (s *Sim) Attributes(username string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.find(username)
	if u == nil || u.Worker == "" {
		return nil, false
	}
	var doc map[string]any
	_ = json.Unmarshal([]byte(s.workers[u.Worker].Attributes), &doc)
	return doc, true
}

// WorkerSID returns the SID of username's worker ("" when none).
func (s *Sim) WorkerSID(username string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.find(username); u != nil {
		return u.Worker
	}
	return ""
}

// Deactivated says whether username is a deprovisioned Flex user.
func (s *Sim) Deactivated(username string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.find(username)
	return u != nil && u.Deactivated
}

// InsightsCalls counts requests to /v1/Insights/: rostersync makes none.
func (s *Sim) InsightsCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.insights
}

// Writes returns the accepted writes so far, by route name.
func (s *Sim) Writes() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.writes {
		out[k] = v
	}
	return out
}

func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, e *apiErr) {
	body := map[string]any{"message": e.msg, "status": e.status}
	if e.code != 0 {
		body["code"] = e.code
		body["more_info"] = fmt.Sprintf("https://www.twilio.com/docs/errors/%d", e.code)
	}
	writeJSON(w, e.status, body)
}

// handle wraps a route: auth, forced statuses, the Users rate limit, and
// the simulator's lock.
func (s *Sim) handle(name string, limited bool, h func(w http.ResponseWriter, r *http.Request) *apiErr) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || pass != s.cfg.Secret || (user != s.cfg.KeySID && user != s.cfg.AccountSID) {
			writeErr(w, &apiErr{401, 20003, "Authenticate"})
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.PathValue("instance") != "" && r.PathValue("instance") != s.cfg.InstanceSID ||
			r.PathValue("workspace") != "" && r.PathValue("workspace") != s.cfg.WorkspaceSID {
			writeErr(w, &apiErr{404, 20404, "The requested resource " + r.URL.Path + " was not found"})
			return
		}
		if f := s.forced[name]; len(f) > 0 {
			s.forced[name] = f[1:]
			w.Header().Set("Retry-After", "1")
			switch f[0] {
			case 429:
				writeErr(w, &apiErr{429, 20429, "Too Many Requests"})
			case 503:
				writeErr(w, &apiErr{503, 0, "Service Unavailable"})
			default:
				writeErr(w, &apiErr{f[0], 45780, "Too many concurrent requests"})
			}
			return
		}
		if limited && s.cfg.UsersPerSecond > 0 {
			now := s.cfg.Now()
			s.bucket = min(float64(s.cfg.UsersPerSecond), s.bucket+now.Sub(s.refilled).Seconds()*float64(s.cfg.UsersPerSecond))
			s.refilled = now
			if s.bucket < 1 {
				w.Header().Set("Retry-After", "1")
				writeErr(w, &apiErr{429, 20429, "Too Many Requests"})
				return
			}
			s.bucket--
		}
		if s.teamLimited(name) {
			w.Header().Set("Retry-After", "1")
			writeErr(w, &apiErr{429, 20429, "Too Many Requests"})
			return
		}
		if e := h(w, r); e != nil {
			writeErr(w, e)
			return
		}
		if r.Method != http.MethodGet {
			s.writes[name]++
		}
	}
}

func (s *Sim) routes() {
	m := http.NewServeMux()
	m.Handle("GET /v1/Configuration", s.handle("configuration", false, func(w http.ResponseWriter, r *http.Request) *apiErr {
		writeJSON(w, 200, map[string]any{"account_sid": s.cfg.AccountSID, "flex_instance_sid": s.cfg.InstanceSID, "taskrouter_workspace_sid": s.cfg.WorkspaceSID})
		return nil
	}))
	m.Handle("GET /v1/Instances/{instance}/Users", s.handle("list_users", true, s.listUsers))
	m.Handle("GET /v4/Instances/{instance}/Users", s.handle("list_users", true, s.userByName))
	m.Handle("GET /v4/Instances/{instance}/Users/{id}", s.handle("get_user", true, func(w http.ResponseWriter, r *http.Request) *apiErr {
		u := s.bySID(r.PathValue("id"))
		if u == nil {
			return &apiErr{404, 20404, "The requested resource was not found"}
		}
		writeJSON(w, 200, s.userJSON(u))
		return nil
	}))
	m.Handle("POST /v4/Instances/{instance}/Users/Provision", s.handle("provision", true, s.provisionHTTP))
	m.Handle("POST /v4/Instances/{instance}/Users/Deprovision", s.handle("deprovision", true, s.deprovisionHTTP))
	m.Handle("GET /v1/Workspaces/{workspace}/Workers", s.handle("list_workers", false, s.listWorkers))
	m.Handle("POST /v1/Workspaces/{workspace}/Workers", s.handle("create_worker", false, func(w http.ResponseWriter, r *http.Request) *apiErr {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("FriendlyName") == "" {
			return &apiErr{400, 20001, "FriendlyName is required"}
		}
		wk := s.newWorker(r.PostForm.Get("FriendlyName"), cmpOr(r.PostForm.Get("Attributes"), "{}"))
		writeJSON(w, 201, s.workerJSON(wk, true))
		return nil
	}))
	m.Handle("GET /v1/Workspaces/{workspace}/Workers/{id}", s.handle("get_worker", false, func(w http.ResponseWriter, r *http.Request) *apiErr {
		wk := s.workers[r.PathValue("id")]
		if wk == nil {
			return &apiErr{404, 20404, "The requested resource was not found"}
		}
		w.Header().Set("ETag", strconv.Itoa(wk.Version))
		writeJSON(w, 200, s.workerJSON(wk, true))
		return nil
	}))
	m.Handle("POST /v1/Workspaces/{workspace}/Workers/{id}", s.handle("update_worker", false, s.updateWorker))
	insights := func(w http.ResponseWriter, r *http.Request) *apiErr {
		s.insights++
		s.log.Warn("Insights QM call", "method", r.Method, "path", r.URL.Path)
		writeJSON(w, 200, map[string]any{"assessments": []any{}})
		return nil
	}
	m.Handle("/v1/Insights/", s.handle("insights", false, insights))
	s.teamRoutes(m)
	s.mux = m
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (s *Sim) userJSON(u *user) map[string]any {
	var ws any
	if u.Worker != "" {
		ws = u.Worker
	}
	var team any
	if u.Team != "" && !u.Deactivated {
		team = u.Team
	}
	var dd any
	if u.DeactivatedDate != "" {
		dd = u.DeactivatedDate
	}
	return map[string]any{
		"flex_user_sid": u.SID, "account_sid": s.cfg.AccountSID, "instance_sid": s.cfg.InstanceSID, "workspace_sid": s.cfg.WorkspaceSID,
		"worker_sid": ws, "flex_team_sid": team, "username": u.Username, "full_name": u.FullName, "email": u.Email, "roles": u.Roles,
		"deactivated": u.Deactivated, "deactivated_date": dd, "version": u.Version, "created_date": u.Created, "updated_date": u.Updated,
	}
}

func (s *Sim) workerJSON(wk *worker, withAttrs bool) map[string]any {
	var a any
	if withAttrs {
		a = wk.Attributes
	}
	return map[string]any{"sid": wk.SID, "friendly_name": wk.FriendlyName, "account_sid": s.cfg.AccountSID, "workspace_sid": s.cfg.WorkspaceSID,
		"attributes": a, "available": true, "activity_name": "Offline", "date_created": wk.Created, "date_updated": wk.Updated}
}

// page returns items [from, from+size) of n and the next offset (-1: none),
// after the request's PageSize and PageToken.
func (s *Sim) page(r *http.Request, n int) (from, to, next, size int, e *apiErr) {
	q := r.URL.Query()
	if q.Has("Page") && !q.Has("PageToken") && q.Get("Page") != "0" {
		return 0, 0, 0, 0, &apiErr{400, 20001, "Pagination is not supported under this resource. Please avoid usage of the page query parameter."}
	}
	size = s.cfg.PageSize
	if v := q.Get("PageSize"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 1000 {
			return 0, 0, 0, 0, &apiErr{400, 20001, "PageSize must be 1 to 1000"}
		}
		size = p
	}
	if tok := q.Get("PageToken"); tok != "" {
		off, err := strconv.Atoi(strings.TrimPrefix(tok, "PA"))
		if err != nil || off < 0 {
			return 0, 0, 0, 0, &apiErr{400, 20001, "invalid PageToken"}
		}
		from = off
	}
	from = min(from, n)
	to = min(from+size, n)
	next = -1
	if to < n {
		next = to
	}
	return from, to, next, size, nil
}

// urlMeta is the URL-style list meta.
func urlMeta(r *http.Request, key string, size, next int) map[string]any {
	abs := func(q url.Values) string {
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
		return u.String()
	}
	q := r.URL.Query()
	q.Del("PageToken")
	first := abs(q)
	var nextURL any
	if next >= 0 {
		q.Set("PageToken", "PA"+strconv.Itoa(next))
		nextURL = abs(q)
	}
	return map[string]any{"page": 0, "page_size": size, "first_page_url": first, "previous_page_url": nil, "next_page_url": nextURL, "url": abs(r.URL.Query()), "key": key}
}

func (s *Sim) listUsers(w http.ResponseWriter, r *http.Request) *apiErr {
	from, to, next, size, e := s.page(r, len(s.users))
	if e != nil {
		return e
	}
	items := []any{}
	for _, u := range s.users[from:to] {
		items = append(items, s.userJSON(u))
	}
	writeJSON(w, 200, map[string]any{"users": items, "meta": urlMeta(r, "users", size, next)})
	return nil
}

// userByName is U2, in the token-style meta.
func (s *Sim) userByName(w http.ResponseWriter, r *http.Request) *apiErr {
	name := r.URL.Query().Get("Username")
	if name == "" {
		return &apiErr{400, 20001, "Username is required"}
	}
	items := []any{}
	if u := s.find(name); u != nil {
		items = append(items, s.userJSON(u))
	}
	writeJSON(w, 200, map[string]any{"account_sid": s.cfg.AccountSID, "instance_sid": s.cfg.InstanceSID, "users": items,
		"meta": map[string]any{"direct_token": true, "list_key": "users", "next_token": nil, "previous_token": nil, "page_size": 50}})
	return nil
}

func jsonBody(r *http.Request, v any) *apiErr {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return &apiErr{400, 20001, "Content-Type must be application/json"}
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || json.Unmarshal(b, v) != nil {
		return &apiErr{400, 20001, "the body is not valid JSON"}
	}
	return nil
}

func (s *Sim) provisionHTTP(w http.ResponseWriter, r *http.Request) *apiErr {
	var in struct {
		Username string          `json:"username"`
		Email    string          `json:"email"`
		FullName string          `json:"full_name"`
		Roles    []string        `json:"roles"`
		Worker   *map[string]any `json:"worker"`
	}
	if e := jsonBody(r, &in); e != nil {
		return e
	}
	if in.Worker == nil {
		return &apiErr{400, 20001, "worker is required"}
	}
	var attrs *string
	if a, ok := (*in.Worker)["attributes"]; ok {
		b, _ := json.Marshal(a)
		str := string(b)
		attrs = &str
	}
	created, e := s.provision(in.Username, in.Email, in.FullName, in.Roles, attrs, false)
	if e != nil {
		return e
	}
	u := s.find(in.Username)
	out := s.userJSON(u)
	out["worker"] = map[string]any{"worker_sid": u.Worker, "workspace_sid": s.cfg.WorkspaceSID}
	writeJSON(w, map[bool]int{true: 201, false: 200}[created], out)
	return nil
}

func (s *Sim) deprovisionHTTP(w http.ResponseWriter, r *http.Request) *apiErr {
	var in struct {
		FlexUserSID string `json:"flex_user_sid"`
	}
	if e := jsonBody(r, &in); e != nil {
		return e
	}
	u := s.bySID(in.FlexUserSID)
	if u == nil {
		return &apiErr{404, 20404, "The requested resource was not found"}
	}
	s.deprovision(u)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Sim) listWorkers(w http.ResponseWriter, r *http.Request) *apiErr {
	ws := make([]*worker, 0, len(s.workers))
	for _, wk := range s.workers {
		ws = append(ws, wk)
	}
	slices.SortFunc(ws, func(a, b *worker) int { return strings.Compare(a.Created+a.SID, b.Created+b.SID) })
	from, to, next, size, e := s.page(r, len(ws))
	if e != nil {
		return e
	}
	items := []any{}
	for _, wk := range ws[from:to] {
		items = append(items, s.workerJSON(wk, false)) // F5: null in lists
	}
	writeJSON(w, 200, map[string]any{"workers": items, "meta": urlMeta(r, "workers", size, next)})
	return nil
}

// updateWorker is W3: Attributes only, If-Match against the version (F7).
func (s *Sim) updateWorker(w http.ResponseWriter, r *http.Request) *apiErr {
	wk := s.workers[r.PathValue("id")]
	if wk == nil {
		return &apiErr{404, 20404, "The requested resource was not found"}
	}
	if err := r.ParseForm(); err != nil {
		return &apiErr{400, 20001, "the body is not a form"}
	}
	if m := r.Header.Get("If-Match"); m != "" && m != strconv.Itoa(wk.Version) {
		return &apiErr{412, 0, "The resource has been modified: If-Match does not match"} // no code (F7)
	}
	a, ok := r.PostForm["Attributes"]
	if !ok {
		return &apiErr{400, 20001, "Attributes is required"}
	}
	if e := checkAttributes(a[0]); e != nil {
		return e
	}
	wk.Attributes, wk.Version, wk.Updated = a[0], wk.Version+1, s.now()
	w.Header().Set("ETag", strconv.Itoa(wk.Version))
	writeJSON(w, 200, s.workerJSON(wk, true))
	return nil
}
