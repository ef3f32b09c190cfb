// Package voki is the rostersync client of Voki (by Avanter), a video-call
// customer-service platform, implementing reconcile.Target over its REST API
// (v4.0): a login with a JWT and a refresh token plus X-Tenant, users with
// one role, departments (call queues) and their members. The simulator
// beside it is vokisim.
//
// How the platform maps onto the reconciler: a Voki user is a user matched
// by lower-cased email (Voki has no external id); its one name is split at
// the first space into forename and surname; its role is the user's one
// role. Departments are work queues: a mapping's queues: rules name the
// departments a directory team's people belong to, and membership changes
// are minimal additions and removals. Users are never deleted: a leaver is
// deactivated (active=false). Owners, managers and the service user itself
// are protected unless their email is allow-listed. Creating users is off
// unless enabled (Settings.CreateUsers), and its body comes from an
// overridable Template, as does the add-member body.
package voki

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rostersync/rostersync/reconcile"
)

// DefaultBaseURL is Voki's API host.
const DefaultBaseURL = "https://voki.avanter.com.br"

// PageSize is the page size of every list (the documented maximum).
const PageSize = 100

// Switches for the writes the target may make.
const (
	Off     = "off"
	Report  = "report"
	Enforce = "enforce"
	// Exact is the memberships switch that manages department members;
	// AddOnly adds members and reports the removals it would make.
	Exact   = "exact"
	AddOnly = "add-only"
	// Mirror is the structure switch that creates the departments the
	// mapping's queues: rules name and Voki lacks.
	Mirror = "mirror"
)

// Config configures a client.
type Config struct {
	BaseURL, Tenant, Email, Password string
	// Deactivate and Roles are off, report or enforce (default report):
	// report plans the change as unsupported (shown, never applied);
	// enforce applies it; off leaves the field out of plans.
	Deactivate, Roles string
	// Memberships is off (the default: departments are not planned),
	// exact (department membership follows the mapping's queues: rules,
	// adding and removing members rostersync owns) or add-only (members
	// are added; removals are planned as not applied).
	Memberships string
	// Structure is off (the default: a department the rules name and Voki
	// lacks is a plan problem) or mirror: such a department is created,
	// with its name alone, before anyone is added to it. Mirror needs
	// Memberships exact.
	Structure string
	// CreateUsers lets plans create missing users (default off: they are
	// planned as unsupported).
	CreateUsers bool
	// CreateUserTemplate, AddMemberTemplate and CreateDepartmentTemplate
	// override the inferred bodies.
	CreateUserTemplate, AddMemberTemplate, CreateDepartmentTemplate *Template
	// Privileged lists the emails of managers and owners the target may
	// deactivate or change; every other manager and owner is protected.
	Privileged []string
	// PageSize overrides PageSize (tests).
	PageSize int
	HTTP     *http.Client
	Logger   *slog.Logger
	// Now and Sleep are the clock (default the real one).
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// MaxWait bounds one rate-limit wait (default 5 minutes).
	MaxWait time.Duration
	// ResultsWindow is the audit's period of customer ratings (default
	// DefaultCSATWindow).
	ResultsWindow time.Duration
	// OnRequest, when set, is told of every answer: the request
	// ("GET /api/v1/users"), its status and how long it took.
	OnRequest func(endpoint string, status int, d time.Duration)
}

// Client is a Voki client; it is safe for concurrent use.
type Client struct {
	cfg       Config
	base      *url.URL
	log       *slog.Logger
	now       func() time.Time
	createT   Template
	memberT   Template
	deptT     Template
	authMu    sync.Mutex
	tok       tokens
	runAuth   int // authentication calls in this run (under authMu)
	selfID    string
	paceMu    sync.Mutex
	authCalls []time.Time
	mu        sync.Mutex
	// listed are the users of the last List, by id (the audit skips
	// those who could not have taken calls in its period).
	listed map[string]wireUser
	// canaryMu holds other creates back until the first one is confirmed.
	canaryMu sync.Mutex
	canaryOK bool
}

// New returns a client; it does no I/O.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("voki: base_url %q is not an absolute URL, as %s", cfg.BaseURL, DefaultBaseURL)
	}
	var missing []string
	if cfg.Tenant == "" {
		missing = append(missing, "tenant (the X-Tenant slug)")
	}
	if cfg.Email == "" {
		missing = append(missing, "service_email (the service user's email)")
	}
	if cfg.Password == "" {
		missing = append(missing, "the service user's password (password_file)")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("voki: missing %s", strings.Join(missing, ", "))
	}
	for _, s := range []*string{&cfg.Deactivate, &cfg.Roles} {
		if *s == "" {
			*s = Report
		}
		if *s != Off && *s != Report && *s != Enforce {
			return nil, fmt.Errorf("voki: %q is not off, report or enforce", *s)
		}
	}
	switch cfg.Memberships {
	case "":
		cfg.Memberships = Off
	case Off, Exact, AddOnly:
	default:
		return nil, fmt.Errorf("voki: memberships %q is not off, add-only or exact", cfg.Memberships)
	}
	switch cfg.Structure {
	case "":
		cfg.Structure = Off
	case Off:
	case Mirror:
		if cfg.Memberships == Off {
			return nil, fmt.Errorf("voki: structure mirror needs memberships exact or add-only (departments are created for the members the queues: rules place)")
		}
	default:
		return nil, fmt.Errorf("voki: structure %q is not off or mirror", cfg.Structure)
	}
	c := &Client{cfg: cfg, base: base, log: cfg.Logger, now: cfg.Now, createT: DefaultCreateUserTemplate(), memberT: DefaultAddMemberTemplate(),
		deptT: DefaultCreateDepartmentTemplate()}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if cfg.CreateUserTemplate != nil {
		c.createT = *cfg.CreateUserTemplate
	}
	if cfg.AddMemberTemplate != nil {
		c.memberT = *cfg.AddMemberTemplate
	}
	if cfg.CreateDepartmentTemplate != nil {
		c.deptT = *cfg.CreateDepartmentTemplate
	}
	if c.cfg.HTTP == nil {
		c.cfg.HTTP = &http.Client{Timeout: time.Minute}
	}
	if c.cfg.MaxWait == 0 {
		c.cfg.MaxWait = 5 * time.Minute
	}
	if c.cfg.PageSize <= 0 || c.cfg.PageSize > PageSize {
		c.cfg.PageSize = PageSize
	}
	return c, nil
}

// routes is the one route table: operation → path (below the base URL).
var routes = map[string]string{
	"login":   "/api/auth/login",
	"refresh": "/api/auth/refresh",
	"me":      "/api/v1/users/me",
	"users":   "/api/v1/users",
	"depts":   "/api/v1/departments",
	"stats":   "/api/v1/evaluations/stats",
	"evals":   "/api/v1/evaluations",
}

func (c *Client) route(op string) string { return routes[op] }

// Name implements reconcile.Target.
func (c *Client) Name() string { return "voki" }

// BaseURL is the API host the client talks to.
func (c *Client) BaseURL() string { return c.base.String() }

// Capabilities implements reconcile.Target: flat teams (departments are
// queues), no usernames or external ids, one role, and what the settings
// allow.
func (c *Client) Capabilities() reconcile.Capabilities {
	fields := []reconcile.Field{reconcile.FieldForename, reconcile.FieldSurname, reconcile.FieldEmail, reconcile.FieldActive}
	var noWrite []reconcile.Field
	if c.cfg.Roles != Off {
		fields = append(fields, reconcile.FieldRoles)
	}
	if c.cfg.Roles == Report {
		noWrite = []reconcile.Field{reconcile.FieldRoles}
	}
	caps := reconcile.Capabilities{
		Platform:  "Voki",
		FlatTeams: true,
		OneName:   true,
		NoQueues:  c.cfg.Memberships == Off,
		// memberships: add-only shows removals without making them.
		NoQueueRemoval: c.cfg.Memberships == AddOnly,
		// structure: mirror creates the departments the rules name.
		CreateQueues: c.cfg.Structure == Mirror,
		// Voki keeps a deactivated user's departments (§10 V3): left as
		// they are, a reactivation restores them.
		QueuesOutliveDeactivation: true,
		UserFields:                fields,
		NoWrite:                   noWrite,
		NoDeactivate:              c.cfg.Deactivate != Enforce,
		NoCreate:                  !c.cfg.CreateUsers,
		Settings: map[string]string{
			"deactivation":  "voki.deactivate is " + c.cfg.Deactivate + " (enforce applies it)",
			"user creation": "voki.create_users is off: create the user in Voki, or set it to true",
			"writing":       "voki.roles is report (enforce applies role changes)",
			"queue removal": "voki.memberships is add-only (exact removes members)",
		},
	}
	if c.cfg.Structure != Mirror {
		caps.Settings["queue creation"] = "voki.structure is off: create the department in Voki, or set it to mirror"
	}
	return caps
}

// Protects reports users the target never touches: the service user, and
// every manager, owner or unknown role whose email is not allow-listed.
func (c *Client) Protects(u reconcile.User) bool {
	c.mu.Lock()
	self := c.selfID
	c.mu.Unlock()
	if u.ID != "" && u.ID == self || strings.EqualFold(u.Email, c.cfg.Email) {
		return true
	}
	for _, r := range u.Roles.List() {
		if r != "attendant" && r != "supervisor" && !containsFold(c.cfg.Privileged, u.Email) {
			return true
		}
	}
	return false
}

// Error is an unexpected answer from Voki.
type Error struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *Error) Error() string {
	hint := ""
	switch e.Status {
	case http.StatusForbidden:
		hint = ": the service user lacks a role; it must be a manager"
	case http.StatusUnauthorized:
		hint = ": the token was refused after one renewal"
	}
	return fmt.Sprintf("voki: %s %s: status %d%s: %s", e.Method, e.Path, e.Status, hint, strings.TrimSpace(e.Body))
}

// send makes one HTTP request; bearer "" sends none.
func (c *Client) send(ctx context.Context, method, path string, q url.Values, body any, bearer string) (*http.Response, []byte, error) {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Tenant", c.cfg.Tenant)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	start := time.Now()
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return nil, nil, err
	}
	if c.cfg.OnRequest != nil {
		c.cfg.OnRequest(method+" "+path, resp.StatusCode, time.Since(start))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	return resp, raw, err
}

// do sends an authenticated request: one renewal and one retry on 401,
// Retry-After honoured on 429, GET and PUT retried on 5xx. It returns the
// status and body of any 2xx or of a status in accept.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, body any, accept ...int) (int, []byte, error) {
	tok, err := c.token(ctx)
	if err != nil {
		return 0, nil, err
	}
	renewed := false
	for attempt := 0; ; attempt++ {
		resp, raw, err := c.send(ctx, method, path, q, body, tok)
		idempotent := method == http.MethodGet || method == http.MethodPut
		if err != nil {
			if idempotent && attempt < 3 && ctx.Err() == nil {
				if werr := c.wait(ctx, backoff(attempt), method+" "+path); werr != nil {
					return 0, nil, werr
				}
				continue
			}
			return 0, nil, fmt.Errorf("voki: %s %s: %w", method, path, err)
		}
		switch s := resp.StatusCode; {
		case s >= 200 && s < 300 || slices.Contains(accept, s):
			return s, raw, nil
		case s == http.StatusUnauthorized && !renewed:
			renewed = true
			if tok, err = c.renew(ctx, tok); err != nil {
				return 0, nil, err
			}
			continue
		case s == http.StatusTooManyRequests && attempt < 5:
			if err := c.wait(ctx, retryAfter(resp, c.now()), method+" "+path); err != nil {
				return 0, nil, err
			}
			continue
		case s >= 500 && idempotent && attempt < 3:
			if err := c.wait(ctx, backoff(attempt), method+" "+path); err != nil {
				return 0, nil, err
			}
			continue
		}
		return 0, nil, &Error{Method: method, Path: path, Status: resp.StatusCode, Body: string(raw)}
	}
}

func backoff(attempt int) time.Duration { return time.Duration(1<<attempt) * time.Second }

// retryAfter reads Retry-After (seconds or an HTTP date); 1 s when absent.
func retryAfter(resp *http.Response, now time.Time) time.Duration {
	v := resp.Header.Get("Retry-After")
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now)
	}
	return time.Second
}

// ErrRateLimited is a wait beyond MaxWait.
var ErrRateLimited = errors.New("voki: rate limited beyond the longest wait")

func (c *Client) wait(ctx context.Context, d time.Duration, why string) error {
	if d > c.cfg.MaxWait {
		return fmt.Errorf("%w (%s asks for %s, the ceiling is %s)", ErrRateLimited, why, d, c.cfg.MaxWait)
	}
	if d <= 0 {
		return nil
	}
	c.log.Info("voki: waiting", "for", d, "why", why)
	if c.cfg.Sleep != nil {
		return c.cfg.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

type meta struct {
	CurrentPage int `json:"current_page"`
	TotalPages  int `json:"total_pages"`
	TotalCount  int `json:"total_count"`
}

// list walks every page of path, de-duplicating by id; a total_count that
// changes during the walk restarts it once, then fails the read.
func list[T any](ctx context.Context, c *Client, path string, q url.Values, id func(T) string) ([]T, error) {
	for restart := 0; ; restart++ {
		var out []T
		seen := map[string]bool{}
		total := -1
		changed := false
		for p := 1; ; p++ {
			qq := url.Values{}
			for k, v := range q {
				qq[k] = v
			}
			qq.Set("page", strconv.Itoa(p))
			qq.Set("page_size", strconv.Itoa(c.cfg.PageSize))
			_, raw, err := c.do(ctx, http.MethodGet, path, qq, nil)
			if err != nil {
				return nil, err
			}
			var env struct {
				Data []T   `json:"data"`
				Meta *meta `json:"meta"`
			}
			if err := json.Unmarshal(raw, &env); err != nil {
				return nil, fmt.Errorf("voki: GET %s page %d: %w", path, p, err)
			}
			for _, x := range env.Data {
				if k := id(x); !seen[k] {
					seen[k] = true
					out = append(out, x)
				}
			}
			if env.Meta == nil || len(env.Data) == 0 || env.Meta.CurrentPage >= env.Meta.TotalPages {
				break
			}
			if total >= 0 && env.Meta.TotalCount != total {
				changed = true
				break
			}
			total = env.Meta.TotalCount
		}
		if !changed {
			return out, nil
		}
		if restart > 0 {
			return nil, fmt.Errorf("voki: GET %s: the list changed twice while being read; try again", path)
		}
	}
}

// wireUser is a Voki user as the API shows it.
type wireUser struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Email      string    `json:"email"`
	Role       string    `json:"role"`
	Active     bool      `json:"active"`
	MFA        bool      `json:"mfa_enabled"`
	InsertedAt time.Time `json:"inserted_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

type wireDept struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Identifier string `json:"identifier"`
	Active     bool   `json:"active"`
	SectorID   string `json:"sector_id"`
}

// SplitName splits Voki's one name field at the first space.
func SplitName(name string) (forename, surname string) {
	name = strings.TrimSpace(name)
	f, s, _ := strings.Cut(name, " ")
	return f, strings.TrimSpace(s)
}

func joinName(f, s string) string { return strings.TrimSpace(f + " " + s) }

func (w wireUser) user() reconcile.User {
	f, s := SplitName(w.Name)
	email := strings.ToLower(w.Email)
	u := reconcile.User{ID: w.ID, Username: email, Email: email, Forename: f, Surname: s, Active: w.Active}
	if w.Role != "" {
		u.Roles = reconcile.NamesOf(strings.ToLower(w.Role))
	}
	return u
}

// Self returns the service user's id (U1), learning it once.
func (c *Client) Self(ctx context.Context) (string, error) {
	if _, err := c.token(ctx); err != nil {
		return "", err
	}
	c.mu.Lock()
	id := c.selfID
	c.mu.Unlock()
	if id != "" {
		return id, nil
	}
	_, raw, err := c.do(ctx, http.MethodGet, c.route("me"), nil, nil)
	if err != nil {
		return "", err
	}
	var env struct{ Data wireUser }
	if err := json.Unmarshal(raw, &env); err != nil {
		return "", fmt.Errorf("voki: GET %s: %w", c.route("me"), err)
	}
	c.mu.Lock()
	c.selfID = env.Data.ID
	c.mu.Unlock()
	return env.Data.ID, nil
}

// Ping logs in and reads the service user (check).
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.Self(ctx)
	return err
}

// Users lists every Voki user as the API shows it.
func (c *Client) users(ctx context.Context) ([]wireUser, error) {
	return list(ctx, c, c.route("users"), url.Values{"sort_by": {"inserted_at"}, "sort_order": {"asc"}}, func(u wireUser) string { return u.ID })
}

// List implements reconcile.Target: users (their departments as queues)
// and departments as queues with their members. It starts a run (NewRun).
func (c *Client) List(ctx context.Context) (*reconcile.Snapshot, error) {
	c.NewRun()
	if _, err := c.Self(ctx); err != nil {
		return nil, err
	}
	ws, err := c.users(ctx)
	if err != nil {
		return nil, err
	}
	depts, err := list(ctx, c, c.route("depts"), nil, func(d wireDept) string { return d.ID })
	if err != nil {
		return nil, err
	}
	snap := &reconcile.Snapshot{Users: make([]reconcile.User, 0, len(ws))}
	queuesOf := map[string][]string{}
	for _, d := range depts {
		members, err := list(ctx, c, c.route("depts")+"/"+url.PathEscape(d.ID)+"/users", nil, func(u wireUser) string { return u.ID })
		if err != nil {
			return nil, err
		}
		q := reconcile.Queue{ID: d.ID, Name: d.Name, Active: d.Active, Agents: []string{}}
		for _, m := range members {
			q.Agents = append(q.Agents, m.ID)
			queuesOf[m.ID] = append(queuesOf[m.ID], d.Name)
		}
		slices.Sort(q.Agents)
		snap.Queues = append(snap.Queues, q)
	}
	listed := make(map[string]wireUser, len(ws))
	for _, w := range ws {
		u := w.user()
		if qs := queuesOf[w.ID]; len(qs) > 0 {
			u.Queues = reconcile.NamesOf(qs...)
		}
		listed[w.ID] = w
		snap.Users = append(snap.Users, u)
	}
	c.mu.Lock()
	c.listed = listed
	c.mu.Unlock()
	return snap, nil
}

// RoleNames are the roles Voki knows (plan checks desired roles against them).
func (c *Client) RoleNames() []string { return []string{"attendant", "manager", "owner", "supervisor"} }

func randomPassword() (string, error) {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#%+-"
	b := make([]byte, 32)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		b[i] = alphabet[n.Int64()]
	}
	return string(b), nil
}

// writableRole returns the one role a write may set.
func writableRole(roles []string) (string, error) {
	if len(roles) != 1 {
		return "", fmt.Errorf("voki: a user has exactly one role; the mapping gives %d (%s)", len(roles), strings.Join(roles, ", "))
	}
	switch r := strings.ToLower(roles[0]); r {
	case "attendant", "supervisor", "manager":
		return r, nil
	}
	return "", fmt.Errorf("voki: role %q cannot be written (attendant, supervisor or manager)", roles[0])
}

// ErrCreateOff is returned by CreateUser when creating users is off.
var ErrCreateOff = errors.New("voki: creating users is off (set voki.create_users: true)")

// CreateUser implements reconcile.Target with the create-user template.
// The random password is never stored or logged; the person sets their
// own through "Forgot my password".
func (c *Client) CreateUser(ctx context.Context, u reconcile.User) (string, error) {
	if !c.cfg.CreateUsers {
		return "", ErrCreateOff
	}
	role, err := writableRole(u.Roles.List())
	if err != nil {
		return "", err
	}
	pw, err := randomPassword()
	if err != nil {
		return "", err
	}
	body := c.createT.Build(map[string]any{"name": joinName(u.Forename, u.Surname), "email": u.Email, "role": role, "password": pw})
	// The first create is a canary: it goes alone and is read back before
	// any other, since its body is inferred.
	c.canaryMu.Lock()
	if c.canaryOK {
		c.canaryMu.Unlock()
	} else {
		defer c.canaryMu.Unlock()
	}
	_, raw, err := c.do(ctx, http.MethodPost, c.route("users"), nil, body)
	if err != nil {
		return "", err
	}
	var env struct{ Data wireUser }
	if err := json.Unmarshal(raw, &env); err != nil || env.Data.ID == "" {
		return "", fmt.Errorf("voki: POST %s: the answer names no user id", c.route("users"))
	}
	if !c.canaryOK {
		if err := c.confirm(ctx, env.Data.ID, u.Email, role); err != nil {
			return env.Data.ID, err
		}
		c.canaryOK = true
	}
	return env.Data.ID, nil
}

// confirm reads a created user back (U3) and finds it by search (U2): the
// first create of a run proves the create-user body.
func (c *Client) confirm(ctx context.Context, id, email, role string) error {
	_, raw, err := c.do(ctx, http.MethodGet, c.route("users")+"/"+url.PathEscape(id), nil, nil)
	if err != nil {
		return fmt.Errorf("voki: confirming the first created user %s: %w", email, err)
	}
	var got struct{ Data wireUser }
	if err := json.Unmarshal(raw, &got); err != nil || !strings.EqualFold(got.Data.Email, email) || got.Data.Role != role {
		return fmt.Errorf("voki: the first created user %s reads back as %q with role %q: check voki.create_user_template", email, got.Data.Email, got.Data.Role)
	}
	found, err := list(ctx, c, c.route("users"), url.Values{"search": {email}}, func(u wireUser) string { return u.ID })
	if err != nil {
		return fmt.Errorf("voki: confirming the first created user %s: %w", email, err)
	}
	for _, f := range found {
		if f.ID == id {
			return nil
		}
	}
	return fmt.Errorf("voki: the first created user %s (%s) is not found by a search for its email: check voki.create_user_template", email, id)
}

// UpdateUser implements reconcile.Target: one PUT with only the named
// fields. A change of forename or surname alone reads the current name
// first, since Voki holds one name.
func (c *Client) UpdateUser(ctx context.Context, id string, u reconcile.User, fields []reconcile.Field) error {
	inner := map[string]any{}
	hasF, hasS := slices.Contains(fields, reconcile.FieldForename), slices.Contains(fields, reconcile.FieldSurname)
	if hasF || hasS {
		f, s := u.Forename, u.Surname
		if !hasF || !hasS {
			_, raw, err := c.do(ctx, http.MethodGet, c.route("users")+"/"+url.PathEscape(id), nil, nil)
			if err != nil {
				return err
			}
			var env struct{ Data wireUser }
			if err := json.Unmarshal(raw, &env); err != nil {
				return fmt.Errorf("voki: GET user %s: %w", id, err)
			}
			cf, cs := SplitName(env.Data.Name)
			if !hasF {
				f = cf
			}
			if !hasS {
				s = cs
			}
		}
		inner["name"] = joinName(f, s)
	}
	for _, f := range fields {
		switch f {
		case reconcile.FieldEmail:
			inner["email"] = u.Email
		case reconcile.FieldActive:
			inner["active"] = u.Active
		case reconcile.FieldRoles:
			role, err := writableRole(u.Roles.List())
			if err != nil {
				return err
			}
			inner["role"] = role
		}
	}
	if len(inner) == 0 {
		return nil
	}
	_, _, err := c.do(ctx, http.MethodPut, c.route("users")+"/"+url.PathEscape(id), nil, map[string]any{"user": inner})
	return err
}

// ErrNoTeams: Voki departments are queues; the target plans no teams.
var ErrNoTeams = errors.New("voki: teams are not written; departments are managed as queues")

// CreateTeam implements reconcile.Target; never planned (flat teams).
func (c *Client) CreateTeam(context.Context, reconcile.Team) (string, error) { return "", ErrNoTeams }

// UpdateTeam implements reconcile.Target; never planned (flat teams).
func (c *Client) UpdateTeam(context.Context, string, reconcile.Team, []reconcile.Field) error {
	return ErrNoTeams
}

// CreateQueue implements reconcile.QueueCreator: one department (D2) with
// the create-department template, its name alone; Voki generates the
// identifier, and no sector is set (sector_id is optional).
func (c *Client) CreateQueue(ctx context.Context, q reconcile.Queue) (string, error) {
	if c.cfg.Structure != Mirror {
		return "", ErrNoTeams
	}
	_, raw, err := c.do(ctx, http.MethodPost, c.route("depts"), nil, c.deptT.Build(map[string]any{"name": q.Name}))
	if err != nil {
		return "", err
	}
	var env struct{ Data wireDept }
	if err := json.Unmarshal(raw, &env); err != nil || env.Data.ID == "" {
		return "", fmt.Errorf("voki: POST %s: the answer names no department id: check voki.create_department_template", c.route("depts"))
	}
	return env.Data.ID, nil
}

// AddQueueAgents adds users to department queueID, one request each with
// the add-member template. Already a member (200, or a 422 other than an
// unknown user) counts as done.
func (c *Client) AddQueueAgents(ctx context.Context, queueID string, userIDs []string) error {
	path := c.route("depts") + "/" + url.PathEscape(queueID) + "/users"
	for _, id := range userIDs {
		status, raw, err := c.do(ctx, http.MethodPost, path, nil, c.memberT.Build(map[string]any{"user_id": id}), http.StatusUnprocessableEntity)
		if err != nil {
			return err
		}
		if status == http.StatusUnprocessableEntity && strings.Contains(string(raw), "does not exist") {
			return &Error{Method: http.MethodPost, Path: path, Status: status, Body: string(raw)}
		}
	}
	return nil
}

// RemoveQueueAgents removes users from department queueID; a non-member
// (404) counts as done.
func (c *Client) RemoveQueueAgents(ctx context.Context, queueID string, userIDs []string) error {
	if c.cfg.Memberships != Exact {
		return fmt.Errorf("voki: memberships is %s: no member is removed", c.cfg.Memberships)
	}
	for _, id := range userIDs {
		path := c.route("depts") + "/" + url.PathEscape(queueID) + "/users/" + url.PathEscape(id)
		if _, _, err := c.do(ctx, http.MethodDelete, path, nil, nil, http.StatusNotFound); err != nil {
			return err
		}
	}
	return nil
}

// ForgetSelf drops the cached service user id, so the next Ping reads it
// again (tests of the authentication pace).
func (c *Client) ForgetSelf() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.selfID = ""
}

// ResultsOf implements reconcile.ResultsReader with the customer rating
// statistics (E3) of each user, one request per user; names are never used
// for attribution. A user the last List showed inactive since before from
// is skipped.
func (c *Client) ResultsOf(ctx context.Context, userIDs []string, from, to time.Time) (map[string]reconcile.PersonResults, error) {
	out := make(map[string]reconcile.PersonResults, len(userIDs))
	c.mu.Lock()
	listed := c.listed
	c.mu.Unlock()
	for _, id := range userIDs {
		// Inactive since before the period: could not have taken a call in it.
		if u, ok := listed[id]; ok && !u.Active && !u.UpdatedAt.IsZero() && u.UpdatedAt.Before(from) {
			continue
		}
		q := url.Values{"user_id": {id}, "date_from": {from.UTC().Format(time.DateOnly)}, "date_to": {to.UTC().Format(time.DateOnly)}}
		_, raw, err := c.do(ctx, http.MethodGet, c.route("stats"), q, nil)
		if err != nil {
			return nil, err
		}
		var env struct {
			Data *struct {
				Total   int     `json:"total_evaluations"`
				Average float64 `json:"average_rating"`
			} `json:"data"`
		}
		if err := json.Unmarshal(raw, &env); err != nil || env.Data == nil {
			return nil, fmt.Errorf("voki: GET %s for user %s: undecodable statistics", c.route("stats"), id)
		}
		out[id] = reconcile.PersonResults{What: "customer ratings", Count: env.Data.Total, Average: env.Data.Average}
	}
	return out, nil
}

// ResultsWindow is the audit's period of customer ratings.
func (c *Client) ResultsWindow() time.Duration {
	if c.cfg.ResultsWindow > 0 {
		return c.cfg.ResultsWindow
	}
	return DefaultCSATWindow
}
