// Package vokisim is a local stand-in for the Voki REST API (v4.0) as
// described by its contract: login and refresh with expiring tokens on an
// injectable clock, X-Tenant checks, the login rate limit, paged lists
// (page_size clamped to 100), users with roles, departments and their
// members, sectors, and read-only evaluations with their statistics.
// It serves tests, the demo and "rostersync simulator -platform voki".
package vokisim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Demo credentials of the default seed's service user.
const (
	DemoTenant   = "acme"
	DemoEmail    = "rostersync@acme.example"
	DemoPassword = "voki-demo-password"
)

// User is a seeded or created user.
type User struct {
	ID       string
	Name     string
	Email    string
	Role     string // attendant, supervisor, manager or owner
	Active   bool
	MFA      bool
	Password string
	Locale   string
	Inserted time.Time
	Updated  time.Time
}

// Department is a call queue; Recordings marks one that cannot be deleted.
type Department struct {
	ID, Name, Identifier, Description, SectorID string
	Active, Recordings                          bool
	Members                                     []string // user ids
	Inserted                                    time.Time
}

// Sector groups departments.
type Sector struct {
	ID, Name, Description string
	Inserted              time.Time
}

// Evaluation is a customer's rating of a call, credited to a user.
type Evaluation struct {
	ID, CallID, Comment, Customer string
	Rating                        int
	UserID, DepartmentID          string
	At                            time.Time
}

// Tenant is one tenant's data.
type Tenant struct {
	Slug        string
	Users       []*User
	Departments []*Department
	Sectors     []*Sector
	Evaluations []*Evaluation
}

// Config configures a simulator.
type Config struct {
	Tenants []*Tenant
	// Now is the clock (default time.Now).
	Now func() time.Time
	// AccessTTL and RefreshTTL default to 15 minutes and 7 days.
	AccessTTL, RefreshTTL time.Duration
	// AuthPerMinute is the per-tenant limit on /api/auth/* (default 5).
	AuthPerMinute int
	// RequirePassword makes a create-user body without a password a 422.
	RequirePassword bool
	// Force429, when set, is asked about every request: true answers it
	// with 429 and Retry-After: 1 (tests).
	Force429 func(r *http.Request) bool
}

type token struct {
	tenant, userID string
	expires        time.Time
}

// Sim is the simulator; it is an http.Handler.
type Sim struct {
	mu      sync.Mutex
	cfg     Config
	tenants map[string]*Tenant
	access  map[string]token
	refresh map[string]token
	auth    map[string][]time.Time // tenant → auth calls in the last minute
	mux     *http.ServeMux
	// Logins counts successful and failed A1 calls, for tests.
	logins, refreshes int
}

// New returns a simulator holding cfg's tenants.
func New(cfg Config) *Sim {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AccessTTL == 0 {
		cfg.AccessTTL = 15 * time.Minute
	}
	if cfg.RefreshTTL == 0 {
		cfg.RefreshTTL = 7 * 24 * time.Hour
	}
	if cfg.AuthPerMinute == 0 {
		cfg.AuthPerMinute = 5
	}
	s := &Sim{cfg: cfg, tenants: map[string]*Tenant{}, access: map[string]token{}, refresh: map[string]token{}, auth: map[string][]time.Time{}}
	for _, t := range cfg.Tenants {
		s.tenants[t.Slug] = t
	}
	m := http.NewServeMux()
	m.HandleFunc("POST /api/auth/login", s.login)
	m.HandleFunc("POST /api/auth/refresh", s.doRefresh)
	m.HandleFunc("GET /api/v1/users/me", s.authed("attendant", s.me))
	m.HandleFunc("GET /api/v1/users", s.authed("manager", s.listUsers))
	m.HandleFunc("GET /api/v1/users/{id}", s.authed("manager", s.getUser))
	m.HandleFunc("POST /api/v1/users", s.authed("manager", s.createUser))
	m.HandleFunc("PUT /api/v1/users/{id}", s.authed("manager", s.updateUser))
	m.HandleFunc("GET /api/v1/departments", s.authed("supervisor", s.listDepartments))
	m.HandleFunc("POST /api/v1/departments", s.authed("supervisor", s.createDepartment))
	m.HandleFunc("GET /api/v1/departments/{id}", s.authed("supervisor", s.getDepartment))
	m.HandleFunc("DELETE /api/v1/departments/{id}", s.authed("supervisor", s.deleteDepartment))
	m.HandleFunc("GET /api/v1/departments/{id}/users", s.authed("supervisor", s.listMembers))
	m.HandleFunc("POST /api/v1/departments/{id}/users", s.authed("supervisor", s.addMember))
	m.HandleFunc("DELETE /api/v1/departments/{id}/users/{user_id}", s.authed("supervisor", s.removeMember))
	m.HandleFunc("GET /api/v1/sectors", s.authed("supervisor", s.listSectors))
	m.HandleFunc("POST /api/v1/sectors", s.authed("supervisor", s.createSector))
	m.HandleFunc("GET /api/v1/evaluations", s.authed("attendant", s.listEvaluations))
	m.HandleFunc("GET /api/v1/evaluations/stats", s.authed("attendant", s.stats))
	m.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { detail(w, 404, "Not found") })
	s.mux = m
	return s
}

// ServeHTTP serves the API.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Force429 != nil && s.cfg.Force429(r) {
		w.Header().Set("Retry-After", "1")
		detail(w, http.StatusTooManyRequests, "Too many requests")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Counts returns how many login and refresh calls the simulator answered.
func (s *Sim) Counts() (logins, refreshes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins, s.refreshes
}

// Tenant returns the tenant named slug (nil when unknown); callers hold no
// lock, so use it only between requests.
func (s *Sim) Tenant(slug string) *Tenant { return s.tenants[slug] }

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func detail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"errors": map[string]any{"detail": msg}})
}

func fieldErr(w http.ResponseWriter, field, msg string) {
	writeJSON(w, 422, map[string]any{"errors": map[string]any{field: []string{msg}}})
}

// authLimited applies the per-tenant limit on /api/auth/*; it reports
// whether the request was refused.
func (s *Sim) authLimited(w http.ResponseWriter, tenant string) bool {
	now := s.cfg.Now()
	calls := slices.DeleteFunc(s.auth[tenant], func(t time.Time) bool { return now.Sub(t) >= time.Minute })
	if len(calls) >= s.cfg.AuthPerMinute {
		s.auth[tenant] = calls
		wait := time.Minute - now.Sub(calls[0])
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		detail(w, 429, "Too many requests")
		return true
	}
	s.auth[tenant] = append(calls, now)
	return false
}

func (s *Sim) issue(w http.ResponseWriter, tenant string, u *User) {
	now := s.cfg.Now()
	a, r := "at."+newID(), "rt."+newID()
	s.access[a] = token{tenant, u.ID, now.Add(s.cfg.AccessTTL)}
	s.refresh[r] = token{tenant, u.ID, now.Add(s.cfg.RefreshTTL)}
	writeJSON(w, 200, map[string]any{"data": map[string]any{
		"access_token": a, "refresh_token": r,
		"user": map[string]any{"id": u.ID, "name": u.Name, "email": u.Email, "role": u.Role, "avatar_url": nil, "mfa_enabled": u.MFA},
	}})
}

func (s *Sim) login(w http.ResponseWriter, r *http.Request) {
	var body struct{ Email, Password, Tenant string }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Email == "" || body.Password == "" || body.Tenant == "" {
		fieldErr(w, "email", "can't be blank")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.authLimited(w, body.Tenant) {
		return
	}
	s.logins++
	t := s.tenants[body.Tenant]
	if t == nil {
		detail(w, 401, "Invalid credentials")
		return
	}
	for _, u := range t.Users {
		if strings.EqualFold(u.Email, body.Email) && u.Password == body.Password && u.Password != "" && u.Active {
			if u.MFA {
				writeJSON(w, 200, map[string]any{"data": map[string]any{"mfa_required": true, "mfa_token": "mfa." + newID()}})
				return
			}
			s.issue(w, t.Slug, u)
			return
		}
	}
	detail(w, 401, "Invalid credentials")
}

func (s *Sim) doRefresh(w http.ResponseWriter, r *http.Request) {
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.refresh[body.RefreshToken]
	tenant := tok.tenant
	if tenant == "" {
		tenant = r.Header.Get("X-Tenant")
	}
	if s.authLimited(w, tenant) {
		return
	}
	s.refreshes++
	delete(s.refresh, body.RefreshToken) // the presented token is spent
	if !ok || !s.cfg.Now().Before(tok.expires) {
		detail(w, 401, "Unauthorized")
		return
	}
	u := s.user(s.tenants[tok.tenant], tok.userID)
	if u == nil || !u.Active {
		detail(w, 401, "Unauthorized")
		return
	}
	s.issue(w, tok.tenant, u)
}

var rank = map[string]int{"attendant": 1, "supervisor": 2, "manager": 3, "owner": 4}

type call struct {
	t  *Tenant
	me *User
}

// authed checks the bearer token, X-Tenant and the caller's role, and runs
// h under the lock.
func (s *Sim) authed(min string, h func(http.ResponseWriter, *http.Request, call)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		tok, ok := s.access[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		if !ok || !s.cfg.Now().Before(tok.expires) || r.Header.Get("X-Tenant") != tok.tenant {
			detail(w, 401, "Unauthorized")
			return
		}
		t := s.tenants[tok.tenant]
		me := s.user(t, tok.userID)
		if me == nil || !me.Active {
			detail(w, 401, "Unauthorized")
			return
		}
		if rank[me.Role] < rank[min] {
			detail(w, 403, "Forbidden")
			return
		}
		h(w, r, call{t, me})
	}
}

func (s *Sim) user(t *Tenant, id string) *User {
	if t == nil {
		return nil
	}
	for _, u := range t.Users {
		if u.ID == id {
			return u
		}
	}
	return nil
}

func userJSON(u *User) map[string]any {
	var locale any
	if u.Locale != "" {
		locale = u.Locale
	}
	return map[string]any{"id": u.ID, "name": u.Name, "email": u.Email, "role": u.Role, "active": u.Active,
		"avatar_url": nil, "mfa_enabled": u.MFA, "locale": locale,
		"inserted_at": u.Inserted.UTC().Format(time.RFC3339), "updated_at": u.Updated.UTC().Format(time.RFC3339)}
}

// page writes items as one page of a list, page_size clamped to 100.
func page[T any](w http.ResponseWriter, r *http.Request, items []T, render func(T) map[string]any) {
	q := r.URL.Query()
	p, _ := strconv.Atoi(q.Get("page"))
	p = max(p, 1)
	size, _ := strconv.Atoi(q.Get("page_size"))
	if size <= 0 {
		size = 20
	}
	size = min(size, 100)
	total := (len(items) + size - 1) / size
	out := []map[string]any{}
	for i := (p - 1) * size; i < min(p*size, len(items)); i++ {
		out = append(out, render(items[i]))
	}
	writeJSON(w, 200, map[string]any{"data": out, "meta": map[string]any{
		"current_page": p, "page_size": size, "total_pages": total, "total_count": len(items)}})
}

func (s *Sim) me(w http.ResponseWriter, _ *http.Request, c call) {
	writeJSON(w, 200, map[string]any{"data": userJSON(c.me)})
}

func (s *Sim) listUsers(w http.ResponseWriter, r *http.Request, c call) {
	q := r.URL.Query()
	us := slices.Clone(c.t.Users)
	us = slices.DeleteFunc(us, func(u *User) bool {
		if v := q.Get("role"); v != "" && u.Role != v {
			return true
		}
		if v := q.Get("active"); v != "" && strconv.FormatBool(u.Active) != v {
			return true
		}
		if v := strings.ToLower(q.Get("search")); v != "" && !strings.Contains(strings.ToLower(u.Name), v) && !strings.Contains(strings.ToLower(u.Email), v) {
			return true
		}
		return false
	})
	key := func(u *User) string {
		switch q.Get("sort_by") {
		case "email":
			return u.Email
		case "role":
			return u.Role
		case "inserted_at":
			return u.Inserted.UTC().Format(time.RFC3339Nano)
		}
		return u.Name
	}
	slices.SortStableFunc(us, func(a, b *User) int { return strings.Compare(key(a), key(b)) })
	if q.Get("sort_order") == "desc" {
		slices.Reverse(us)
	}
	page(w, r, us, userJSON)
}

func (s *Sim) getUser(w http.ResponseWriter, r *http.Request, c call) {
	u := s.user(c.t, r.PathValue("id"))
	if u == nil {
		detail(w, 404, "Not found")
		return
	}
	writeJSON(w, 200, map[string]any{"data": userJSON(u)})
}

// body decodes a write body, wrapped in key or bare.
func body(r *http.Request, key string) (map[string]any, bool) {
	var m map[string]any
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		return nil, false
	}
	if inner, ok := m[key].(map[string]any); ok {
		return inner, true
	}
	return m, true
}

func (s *Sim) emailTaken(t *Tenant, email, except string) bool {
	for _, u := range t.Users {
		if u.ID != except && strings.EqualFold(u.Email, email) {
			return true
		}
	}
	return false
}

var writable = map[string]bool{"attendant": true, "supervisor": true, "manager": true}

func (s *Sim) createUser(w http.ResponseWriter, r *http.Request, c call) {
	b, ok := body(r, "user")
	if !ok {
		detail(w, 400, "Bad request")
		return
	}
	name, _ := b["name"].(string)
	email, _ := b["email"].(string)
	role, _ := b["role"].(string)
	pw, _ := b["password"].(string)
	switch {
	case len([]rune(strings.TrimSpace(name))) < 2:
		fieldErr(w, "name", "must be at least 2 characters")
	case email == "":
		fieldErr(w, "email", "can't be blank")
	case !writable[role]:
		fieldErr(w, "role", "is invalid")
	case s.cfg.RequirePassword && pw == "":
		fieldErr(w, "password", "can't be blank")
	case s.emailTaken(c.t, email, ""):
		fieldErr(w, "email", "has already been taken")
	default:
		now := s.cfg.Now()
		u := &User{ID: newID(), Name: name, Email: email, Role: role, Active: true, Password: pw, Inserted: now, Updated: now}
		if l, ok := b["locale"].(string); ok {
			u.Locale = l
		}
		if a, ok := b["active"].(bool); ok {
			u.Active = a
		}
		c.t.Users = append(c.t.Users, u)
		writeJSON(w, 201, map[string]any{"data": userJSON(u)})
	}
}

func (s *Sim) updateUser(w http.ResponseWriter, r *http.Request, c call) {
	u := s.user(c.t, r.PathValue("id"))
	if u == nil {
		detail(w, 404, "Not found")
		return
	}
	b, ok := body(r, "user")
	if !ok {
		detail(w, 400, "Bad request")
		return
	}
	next := *u
	if v, ok := b["name"].(string); ok {
		if len([]rune(strings.TrimSpace(v))) < 2 {
			fieldErr(w, "name", "must be at least 2 characters")
			return
		}
		next.Name = v
	}
	if v, ok := b["email"].(string); ok {
		if v == "" || s.emailTaken(c.t, v, u.ID) {
			fieldErr(w, "email", "has already been taken")
			return
		}
		next.Email = v
	}
	if v, ok := b["role"].(string); ok {
		if !writable[v] {
			fieldErr(w, "role", "is invalid")
			return
		}
		if u.ID == c.me.ID {
			detail(w, 422, "You cannot change your own role")
			return
		}
		next.Role = v
	}
	if v, ok := b["active"].(bool); ok {
		if u.ID == c.me.ID && !v {
			detail(w, 422, "You cannot deactivate yourself")
			return
		}
		next.Active = v
	}
	if v, ok := b["locale"].(string); ok {
		next.Locale = v
	}
	next.Updated = s.cfg.Now()
	*u = next
	writeJSON(w, 200, map[string]any{"data": userJSON(u)})
}

func (s *Sim) dept(t *Tenant, id string) *Department {
	for _, d := range t.Departments {
		if d.ID == id {
			return d
		}
	}
	return nil
}

func deptJSON(d *Department) map[string]any {
	var sector any
	if d.SectorID != "" {
		sector = d.SectorID
	}
	return map[string]any{"id": d.ID, "name": d.Name, "identifier": d.Identifier, "description": d.Description,
		"active": d.Active, "sector_id": sector, "max_queue_size": 10, "max_wait_time": 300, "user_count": len(d.Members),
		"inserted_at": d.Inserted.UTC().Format(time.RFC3339), "updated_at": d.Inserted.UTC().Format(time.RFC3339)}
}

func (s *Sim) listDepartments(w http.ResponseWriter, r *http.Request, c call) {
	ds := slices.Clone(c.t.Departments)
	slices.SortStableFunc(ds, func(a, b *Department) int { return strings.Compare(a.Name, b.Name) })
	page(w, r, ds, deptJSON)
}

func (s *Sim) getDepartment(w http.ResponseWriter, r *http.Request, c call) {
	d := s.dept(c.t, r.PathValue("id"))
	if d == nil {
		detail(w, 404, "Not found")
		return
	}
	writeJSON(w, 200, map[string]any{"data": deptJSON(d)})
}

func slug(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "-"):
			b.WriteByte('-')
		}
	}
	return strings.Trim(b.String(), "-")
}

func (s *Sim) createDepartment(w http.ResponseWriter, r *http.Request, c call) {
	b, ok := body(r, "department")
	if !ok {
		detail(w, 400, "Bad request")
		return
	}
	name, _ := b["name"].(string)
	if strings.TrimSpace(name) == "" {
		fieldErr(w, "name", "can't be blank")
		return
	}
	ident, _ := b["identifier"].(string)
	if ident == "" {
		ident = slug(name)
	}
	for _, d := range c.t.Departments {
		if d.Identifier == ident {
			fieldErr(w, "identifier", "has already been taken")
			return
		}
	}
	sector, _ := b["sector_id"].(string)
	if sector != "" && !slices.ContainsFunc(c.t.Sectors, func(x *Sector) bool { return x.ID == sector }) {
		fieldErr(w, "sector_id", "does not exist")
		return
	}
	desc, _ := b["description"].(string)
	d := &Department{ID: newID(), Name: name, Identifier: ident, Description: desc, SectorID: sector, Active: true, Inserted: s.cfg.Now()}
	c.t.Departments = append(c.t.Departments, d)
	writeJSON(w, 201, map[string]any{"data": deptJSON(d)})
}

func (s *Sim) deleteDepartment(w http.ResponseWriter, r *http.Request, c call) {
	d := s.dept(c.t, r.PathValue("id"))
	switch {
	case d == nil:
		detail(w, 404, "Not found")
	case d.Recordings:
		detail(w, 422, "Departments that have associated recordings cannot be deleted. Use deactivation in that case.")
	default:
		c.t.Departments = slices.DeleteFunc(c.t.Departments, func(x *Department) bool { return x == d })
		w.WriteHeader(204)
	}
}

func (s *Sim) listMembers(w http.ResponseWriter, r *http.Request, c call) {
	d := s.dept(c.t, r.PathValue("id"))
	if d == nil {
		detail(w, 404, "Not found")
		return
	}
	var us []*User
	for _, id := range d.Members {
		if u := s.user(c.t, id); u != nil {
			us = append(us, u)
		}
	}
	page(w, r, us, userJSON)
}

func (s *Sim) addMember(w http.ResponseWriter, r *http.Request, c call) {
	d := s.dept(c.t, r.PathValue("id"))
	if d == nil {
		detail(w, 404, "Not found")
		return
	}
	var b struct {
		UserID  string   `json:"user_id"`
		UserIDs []string `json:"user_ids"`
	}
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		detail(w, 400, "Bad request")
		return
	}
	ids := b.UserIDs
	if b.UserID != "" {
		ids = append(ids, b.UserID)
	}
	if len(ids) == 0 {
		fieldErr(w, "user_id", "can't be blank")
		return
	}
	for _, id := range ids {
		if s.user(c.t, id) == nil {
			fieldErr(w, "user_id", "does not exist")
			return
		}
	}
	status := 200
	for _, id := range ids {
		if !slices.Contains(d.Members, id) {
			d.Members = append(d.Members, id)
			status = 201
		}
	}
	writeJSON(w, status, map[string]any{"data": deptJSON(d)})
}

func (s *Sim) removeMember(w http.ResponseWriter, r *http.Request, c call) {
	d := s.dept(c.t, r.PathValue("id"))
	if d == nil || !slices.Contains(d.Members, r.PathValue("user_id")) {
		detail(w, 404, "Not found")
		return
	}
	d.Members = slices.DeleteFunc(d.Members, func(id string) bool { return id == r.PathValue("user_id") })
	w.WriteHeader(204)
}

func sectorJSON(t *Tenant) func(*Sector) map[string]any {
	return func(x *Sector) map[string]any {
		n := 0
		for _, d := range t.Departments {
			if d.SectorID == x.ID {
				n++
			}
		}
		return map[string]any{"id": x.ID, "name": x.Name, "description": x.Description, "active": true, "department_count": n,
			"inserted_at": x.Inserted.UTC().Format(time.RFC3339), "updated_at": x.Inserted.UTC().Format(time.RFC3339)}
	}
}

func (s *Sim) listSectors(w http.ResponseWriter, r *http.Request, c call) {
	page(w, r, c.t.Sectors, sectorJSON(c.t))
}

func (s *Sim) createSector(w http.ResponseWriter, r *http.Request, c call) {
	b, ok := body(r, "sector")
	name, _ := b["name"].(string)
	if !ok || strings.TrimSpace(name) == "" {
		fieldErr(w, "name", "can't be blank")
		return
	}
	desc, _ := b["description"].(string)
	x := &Sector{ID: newID(), Name: name, Description: desc, Inserted: s.cfg.Now()}
	c.t.Sectors = append(c.t.Sectors, x)
	writeJSON(w, 201, map[string]any{"data": sectorJSON(c.t)(x)})
}

// window parses date_from and date_to (a date or an RFC 3339 time, both
// inclusive), defaulting to the last 30 days.
func (s *Sim) window(r *http.Request) (from, to time.Time, err error) {
	parse := func(v string, def time.Time) (time.Time, error) {
		if v == "" {
			return def, nil
		}
		if t, err := time.Parse(time.DateOnly, v); err == nil {
			return t, nil
		}
		return time.Parse(time.RFC3339, v)
	}
	today := s.cfg.Now().UTC().Truncate(24 * time.Hour)
	if from, err = parse(r.URL.Query().Get("date_from"), today.AddDate(0, 0, -30)); err != nil {
		return
	}
	to, err = parse(r.URL.Query().Get("date_to"), today)
	return from, to, err
}

func (s *Sim) selectEvaluations(r *http.Request, c call) ([]*Evaluation, error) {
	from, to, err := s.window(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	var out []*Evaluation
	for _, e := range c.t.Evaluations {
		day := e.At.UTC().Truncate(24 * time.Hour)
		if day.Before(from.Truncate(24*time.Hour)) || day.After(to) {
			continue
		}
		if v := q.Get("user_id"); v != "" && e.UserID != v {
			continue
		}
		if v := q.Get("department_id"); v != "" && e.DepartmentID != v {
			continue
		}
		if v := q.Get("rating"); v != "" && strconv.Itoa(e.Rating) != v {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

func (s *Sim) listEvaluations(w http.ResponseWriter, r *http.Request, c call) {
	es, err := s.selectEvaluations(r, c)
	if err != nil {
		fieldErr(w, "date_from", "is invalid")
		return
	}
	slices.SortStableFunc(es, func(a, b *Evaluation) int { return b.At.Compare(a.At) })
	page(w, r, es, func(e *Evaluation) map[string]any {
		var user, dept any
		if u := s.user(c.t, e.UserID); u != nil {
			user = u.Name
		}
		if d := s.dept(c.t, e.DepartmentID); d != nil {
			dept = d.Name
		}
		return map[string]any{"id": e.ID, "call_id": e.CallID, "rating": e.Rating, "comment": e.Comment,
			"customer_name": e.Customer, "user_name": user, "department_name": dept, "inserted_at": e.At.UTC().Format(time.RFC3339)}
	})
}

func (s *Sim) stats(w http.ResponseWriter, r *http.Request, c call) {
	es, err := s.selectEvaluations(r, c)
	if err != nil {
		fieldErr(w, "date_from", "is invalid")
		return
	}
	dist := map[string]int{"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}
	sum, comments, good := 0, 0, 0
	for _, e := range es {
		dist[strconv.Itoa(e.Rating)]++
		sum += e.Rating
		if e.Comment != "" {
			comments++
		}
		if e.Rating >= 4 {
			good++
		}
	}
	avg, rate := 0.0, 0.0
	if len(es) > 0 {
		avg = float64(sum) / float64(len(es))
		rate = 100 * float64(good) / float64(len(es))
	}
	writeJSON(w, 200, map[string]any{"data": map[string]any{"total_evaluations": len(es), "average_rating": avg,
		"distribution": dist, "with_comments": comments, "satisfaction_rate": rate}})
}

// String describes the simulator's tenants, for its start-up log.
func (s *Sim) String() string {
	var parts []string
	for _, t := range s.cfg.Tenants {
		parts = append(parts, fmt.Sprintf("%s (%d users, %d departments)", t.Slug, len(t.Users), len(t.Departments)))
	}
	return strings.Join(parts, ", ")
}
