package evaluagentsim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
)

const (
	agentRole = "agent" // the machine name of the Agent role (§8.3)
	teamLevel = "Team"  // the level that holds agents (§8.4)
	maxDepth  = 7       // the deepest a group tree may be (D11)
)

type user struct {
	id           string
	forename     string
	surname      string
	username     string
	email        *string
	startDate    *string
	active       bool
	thirdPartyID json.RawMessage // as sent; nil is null
	roleIDs      []string
	teamID       string // "" is null
}

type group struct {
	id       string
	name     string
	levelID  string
	parentID string // "" for the root
	active   bool
	custom   bool
}

type role struct {
	id, name, title string
	abilityIDs      []string
}

type level struct{ id, name string }

type ability struct{ id, name, title string }

type wqt struct {
	id     string
	name   string
	active bool
	agents []string // user ids, in order of assignment
}

// state is the account. Slices keep creation order, which is the listing order; the maps index
// them so that one write costs the same at a million users as at ten (only commitUser,
// commitGroup and deleteGroup change them).
type state struct {
	ids       *idSource
	users     []*user
	groups    []*group
	roles     []*role
	levels    []*level
	abilities []*ability
	wqts      []*wqt
	// evals are completed evaluations (seed data, read-only).
	evals []*evaluation

	userByID    map[string]*user
	userByName  map[string]*user // by folded username, inactive users included
	userByEmail map[string]*user // by folded email, users with one
	groupByID   map[string]*group
	active      int // active users
}

func newState() *state {
	return &state{
		ids:      &idSource{used: map[string]bool{}},
		userByID: map[string]*user{}, userByName: map[string]*user{}, userByEmail: map[string]*user{},
		groupByID: map[string]*group{},
	}
}

// fold is the key under which a name is unique: usernames and emails compare case-insensitively.
func fold(s string) string { return strings.ToLower(s) }

// index adds u under its keys; unindex removes it.
func (st *state) index(u *user) {
	st.userByID[u.id] = u
	st.userByName[fold(u.username)] = u
	if u.email != nil {
		st.userByEmail[fold(*u.email)] = u
	}
	if u.active {
		st.active++
	}
}

func (st *state) unindex(u *user) {
	delete(st.userByID, u.id)
	if st.userByName[fold(u.username)] == u {
		delete(st.userByName, fold(u.username))
	}
	if u.email != nil && st.userByEmail[fold(*u.email)] == u {
		delete(st.userByEmail, fold(*u.email))
	}
	if u.active {
		st.active--
	}
}

// idSource mints random UUIDv4 ids and never hands out one that was used before.
type idSource struct{ used map[string]bool }

func (s *idSource) mint() string {
	for {
		var b [16]byte
		_, _ = rand.Read(b[:])
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		h := hex.EncodeToString(b[:])
		id := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
		if !s.used[id] {
			s.used[id] = true
			return id
		}
	}
}

// claim reserves a given id; it reports false when the id is taken.
func (s *idSource) claim(id string) bool {
	if s.used[id] {
		return false
	}
	s.used[id] = true
	return true
}

func find[T any](items []*T, match func(*T) bool) *T {
	for _, it := range items {
		if match(it) {
			return it
		}
	}
	return nil
}

func (st *state) user(id string) *user { return st.userByID[id] }

func (st *state) group(id string) *group { return st.groupByID[id] }

func (st *state) role(id string) *role {
	return find(st.roles, func(r *role) bool { return r.id == id })
}

func (st *state) level(id string) *level {
	return find(st.levels, func(l *level) bool { return l.id == id })
}

func (st *state) wqt(id string) *wqt {
	return find(st.wqts, func(w *wqt) bool { return w.id == id })
}

func (st *state) levelName(id string) string {
	if l := st.level(id); l != nil {
		return l.name
	}
	return ""
}

func (st *state) isTeam(g *group) bool { return st.levelName(g.levelID) == teamLevel }

func (st *state) isAgent(roleIDs []string) bool {
	for _, id := range roleIDs {
		if r := st.role(id); r != nil && r.name == agentRole {
			return true
		}
	}
	return false
}

func (st *state) activeUsers() int { return st.active }

// agentsIn counts the users whose team is the group. Only active agents have a team.
func (st *state) agentsIn(groupID string) int {
	n := 0
	for _, u := range st.users {
		if u.teamID == groupID {
			n++
		}
	}
	return n
}

func (st *state) children(groupID string) []*group {
	var out []*group
	for _, g := range st.groups {
		if g.parentID == groupID {
			out = append(out, g)
		}
	}
	return out
}

// depth is a group's level in the tree: the root is 1.
func (st *state) depth(g *group) int {
	d := 1
	for g.parentID != "" {
		g = st.group(g.parentID)
		d++
	}
	return d
}

// height is the number of levels in the subtree under and including g.
func (st *state) height(g *group) int {
	h := 0
	for _, c := range st.children(g.id) {
		h = max(h, st.height(c))
	}
	return h + 1
}

// isDescendant reports whether g sits somewhere under ancestorID.
func (st *state) isDescendant(g *group, ancestorID string) bool {
	for g.parentID != "" {
		if g.parentID == ancestorID {
			return true
		}
		g = st.group(g.parentID)
	}
	return false
}

// removeFromWQTs drops a user from every template (D6).
func (st *state) removeFromWQTs(userID string) {
	for _, w := range st.wqts {
		w.agents = slices.DeleteFunc(w.agents, func(id string) bool { return id == userID })
	}
}

// Snapshots for assertions.

// User is a snapshot of a simulated user.
type User struct {
	ID           string
	Forename     string
	Surname      string
	Username     string
	Email        string // "" when null
	StartDate    string // YYYY-MM-DD, "" when null
	Active       bool
	ThirdPartyID json.RawMessage // as sent, nil when null
	Roles        []string        // role machine names, in the user's order
	TeamID       string          // "" when null
}

// Group is a snapshot of a simulated group.
type Group struct {
	ID                     string
	Name                   string
	Level                  string // the level's name
	ParentID               string // "" for the root
	Active                 bool
	IsCustomReportingGroup bool
}

// Role is a snapshot of a simulated role.
type Role struct {
	ID        string
	Name      string
	Title     string
	Abilities []string // ability names
}

// Level is a snapshot of a simulated level.
type Level struct {
	ID   string
	Name string
}

// WorkQueueTemplate is a snapshot of a simulated work-queue template.
type WorkQueueTemplate struct {
	ID       string
	Name     string
	Active   bool
	AgentIDs []string
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Users returns every user, inactive ones included, in creation order.
func (s *Server) Users() []User {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]User, len(s.st.users))
	for i, u := range s.st.users {
		names := make([]string, len(u.roleIDs))
		for j, id := range u.roleIDs {
			names[j] = s.st.role(id).name
		}
		out[i] = User{
			ID: u.id, Forename: u.forename, Surname: u.surname, Username: u.username,
			Email: deref(u.email), StartDate: deref(u.startDate), Active: u.active,
			ThirdPartyID: slices.Clone(u.thirdPartyID), Roles: names, TeamID: u.teamID,
		}
	}
	return out
}

// Groups returns every group, inactive ones included, in creation order.
func (s *Server) Groups() []Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Group, len(s.st.groups))
	for i, g := range s.st.groups {
		out[i] = Group{
			ID: g.id, Name: g.name, Level: s.st.levelName(g.levelID), ParentID: g.parentID,
			Active: g.active, IsCustomReportingGroup: g.custom,
		}
	}
	return out
}

// Roles returns every role.
func (s *Server) Roles() []Role {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Role, len(s.st.roles))
	for i, r := range s.st.roles {
		names := make([]string, len(r.abilityIDs))
		for j, id := range r.abilityIDs {
			names[j] = find(s.st.abilities, func(a *ability) bool { return a.id == id }).name
		}
		out[i] = Role{ID: r.id, Name: r.name, Title: r.title, Abilities: names}
	}
	return out
}

// Levels returns every level.
func (s *Server) Levels() []Level {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Level, len(s.st.levels))
	for i, l := range s.st.levels {
		out[i] = Level{ID: l.id, Name: l.name}
	}
	return out
}

// WorkQueueTemplates returns every work-queue template with its agents.
func (s *Server) WorkQueueTemplates() []WorkQueueTemplate {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]WorkQueueTemplate, len(s.st.wqts))
	for i, w := range s.st.wqts {
		out[i] = WorkQueueTemplate{ID: w.id, Name: w.name, Active: w.active, AgentIDs: slices.Clone(w.agents)}
	}
	return out
}
