package flexsim

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultTeamSID is the system default team every user starts in (F11).
const DefaultTeamSID = "QO00000000000000000000000000000000"

// teamRates are the per-second limits of the Teams routes (§4); creating
// a team is not stated and is limited as an update.
var teamRates = map[string]float64{
	"list_teams": 20, "get_team": 20, "list_members": 20, "list_owners": 20, "teams_context": 20,
	"create_team": 5, "update_team": 5, "delete_team": 5, "add_member": 20, "add_owner": 5, "remove_owner": 5,
}

type team struct {
	SID, FriendlyName, Description, Parent string
	Level                                  int
	Owners                                 []string // Flex user SIDs
	Version                                int
	Created, Updated                       string
}

type bucket struct {
	tokens   float64
	refilled time.Time
}

// teamLimited answers 429 when a Teams route is over its rate.
func (s *Sim) teamLimited(name string) bool {
	rate, ok := teamRates[name]
	if !ok || s.cfg.NoTeamLimits {
		return false
	}
	now := s.cfg.Now()
	b := s.teamBuckets[name]
	if b == nil {
		b = &bucket{tokens: rate, refilled: now}
		s.teamBuckets[name] = b
	}
	b.tokens = min(rate, b.tokens+now.Sub(b.refilled).Seconds()*rate)
	b.refilled = now
	if b.tokens < 1 {
		return true
	}
	b.tokens--
	return false
}

func (s *Sim) initTeams() {
	s.teamBuckets = map[string]*bucket{}
	s.teams = []*team{{SID: DefaultTeamSID, FriendlyName: "default", Level: 1, Version: 1, Created: s.now(), Updated: s.now()}}
}

func (s *Sim) teamBySID(id string) *team {
	for _, t := range s.teams {
		if t.SID == id {
			return t
		}
	}
	return nil
}

// Team returns the name of the team username is a member of, and the
// names of the teams they own.
func (s *Sim) Team(username string) (member string, owns []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.find(username)
	if u == nil {
		return "", nil
	}
	if t := s.teamBySID(u.Team); t != nil {
		member = t.FriendlyName
	}
	for _, t := range s.teams {
		if slices.Contains(t.Owners, u.SID) {
			owns = append(owns, t.FriendlyName)
		}
	}
	return member, owns
}

// Teams returns every team's name and parent name ("" for none), sorted
// by name.
func (s *Sim) Teams() [][2]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][2]string
	for _, t := range s.teams {
		p := ""
		if pt := s.teamBySID(t.Parent); pt != nil {
			p = pt.FriendlyName
		}
		out = append(out, [2]string{t.FriendlyName, p})
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return out
}

func (s *Sim) teamJSON(t *team) map[string]any {
	var p any
	if t.Parent != "" {
		p = t.Parent
	}
	n := 0
	for _, u := range s.users {
		if u.Team == t.SID && !u.Deactivated {
			n++
		}
	}
	return map[string]any{"team_sid": t.SID, "friendly_name": t.FriendlyName, "description": t.Description, "level": t.Level,
		"parent_team_sid": p, "member_count": n, "account_sid": s.cfg.AccountSID, "instance_sid": s.cfg.InstanceSID,
		"date_created": t.Created, "date_updated": t.Updated, "version": t.Version}
}

// teamForm reads a Teams write: form (what the client sends) or JSON (the
// vendor's examples), F10/§2.
func teamForm(r *http.Request) (url.Values, *apiErr) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var m map[string]any
		if err != nil || json.Unmarshal(b, &m) != nil {
			return nil, &apiErr{400, 20001, "the body is not valid JSON"}
		}
		v := url.Values{}
		for k, x := range m {
			v.Set(k, strings.TrimSuffix(strings.TrimPrefix(fmt.Sprint(x), "<nil>"), "\n"))
		}
		return v, nil
	}
	if err := r.ParseForm(); err != nil {
		return nil, &apiErr{400, 20001, "the body is not a form"}
	}
	return r.PostForm, nil
}

func (s *Sim) checkTeam(self *team, name, desc string, hasDesc bool, level int, parent string) *apiErr {
	bad := func(f string, a ...any) *apiErr { return &apiErr{400, 20001, fmt.Sprintf(f, a...)} }
	if n := utf8.RuneCountInString(name); n < 1 || n > 100 {
		return bad("FriendlyName must be 1 to 100 characters")
	}
	if hasDesc {
		if n := utf8.RuneCountInString(desc); n < 1 || n > 1000 {
			return bad("Description must be 1 to 1000 characters")
		}
	}
	for _, t := range s.teams {
		if t != self && strings.EqualFold(t.FriendlyName, name) {
			return bad("Team named %s already exists", name)
		}
	}
	if parent == "" {
		return nil
	}
	p := s.teamBySID(parent)
	switch {
	case p == nil:
		return bad("ParentTeamSid %s is not a team", parent)
	case level == 3:
		return bad("a level 3 team has no parent")
	case p.Level != level+1:
		return bad("the parent of a level %d team must be at level %d, not %d", level, level+1, p.Level)
	case p == self:
		return bad("a team cannot be its own parent")
	}
	return nil
}

func (s *Sim) createTeam(w http.ResponseWriter, r *http.Request) *apiErr {
	f, e := teamForm(r)
	if e != nil {
		return e
	}
	level := 1
	if v := f.Get("Level"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 3 {
			return &apiErr{400, 20001, "Level must be 1, 2 or 3"}
		}
		level = n
	}
	_, hasDesc := f["Description"]
	if e := s.checkTeam(nil, f.Get("FriendlyName"), f.Get("Description"), hasDesc, level, f.Get("ParentTeamSid")); e != nil {
		return e
	}
	t := &team{SID: s.sid("QO"), FriendlyName: f.Get("FriendlyName"), Description: f.Get("Description"), Level: level,
		Parent: f.Get("ParentTeamSid"), Version: 1, Created: s.now(), Updated: s.now()}
	s.teams = append(s.teams, t)
	writeJSON(w, 201, s.teamJSON(t))
	return nil
}

func (s *Sim) updateTeam(w http.ResponseWriter, r *http.Request) *apiErr {
	t, e := s.pathTeam(r)
	if e != nil {
		return e
	}
	f, e := teamForm(r)
	if e != nil {
		return e
	}
	for _, k := range []string{"FriendlyName", "Description", "ParentTeamSid"} {
		if _, ok := f[k]; !ok {
			return &apiErr{400, 20001, "FriendlyName, Description and ParentTeamSid are all required"}
		}
	}
	if t.SID == DefaultTeamSID {
		return &apiErr{400, 20001, "the default team cannot be changed"}
	}
	if e := s.checkTeam(t, f.Get("FriendlyName"), f.Get("Description"), true, t.Level, f.Get("ParentTeamSid")); e != nil {
		return e
	}
	t.FriendlyName, t.Description, t.Parent = f.Get("FriendlyName"), f.Get("Description"), f.Get("ParentTeamSid")
	t.Version++
	t.Updated = s.now()
	writeJSON(w, 200, s.teamJSON(t))
	return nil
}

// deleteTeam is T5, refused for the default team and a team with members
// or children (F14).
func (s *Sim) deleteTeam(w http.ResponseWriter, r *http.Request) *apiErr {
	t, e := s.pathTeam(r)
	if e != nil {
		return e
	}
	if t.SID == DefaultTeamSID {
		return &apiErr{400, 20001, "the default team cannot be deleted"}
	}
	for _, u := range s.users {
		if u.Team == t.SID && !u.Deactivated {
			return &apiErr{400, 20001, "the team still has members"}
		}
	}
	for _, c := range s.teams {
		if c.Parent == t.SID {
			return &apiErr{400, 20001, "the team still has child teams"}
		}
	}
	s.teams = slices.DeleteFunc(s.teams, func(x *team) bool { return x == t })
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Sim) listTeams(w http.ResponseWriter, r *http.Request) *apiErr {
	from, to, next, size, e := s.page(r, len(s.teams))
	if e != nil {
		return e
	}
	items := []any{}
	for _, t := range s.teams[from:to] {
		items = append(items, s.teamJSON(t))
	}
	writeJSON(w, 200, map[string]any{"account_sid": s.cfg.AccountSID, "instance_sid": s.cfg.InstanceSID, "teams": items, "meta": urlMeta(r, "teams", size, next)})
	return nil
}

func (s *Sim) listMembers(w http.ResponseWriter, r *http.Request) *apiErr {
	t, e := s.pathTeam(r)
	if e != nil {
		return e
	}
	var ms []*user
	for _, u := range s.users {
		if u.Team == t.SID && !u.Deactivated {
			ms = append(ms, u)
		}
	}
	from, to, next, size, e := s.page(r, len(ms))
	if e != nil {
		return e
	}
	items := []any{}
	for _, u := range ms[from:to] {
		items = append(items, map[string]any{"flex_user_sid": u.SID, "team_sid": t.SID, "friendly_name": u.FullName, "email": u.Email, "worker_sid": u.Worker})
	}
	writeJSON(w, 200, map[string]any{"members": items, "meta": urlMeta(r, "members", size, next)})
	return nil
}

// addMember is T7: it moves the user (F11); only level-1 teams hold members (F12).
func (s *Sim) addMember(w http.ResponseWriter, r *http.Request) *apiErr {
	t, e := s.pathTeam(r)
	if e != nil {
		return e
	}
	u, e := s.formUser(r)
	if e != nil {
		return e
	}
	if t.Level != 1 {
		return &apiErr{400, 20001, fmt.Sprintf("a level %d team holds only owners", t.Level)}
	}
	u.Team = t.SID
	writeJSON(w, 201, map[string]any{"flex_user_sid": u.SID, "team_sid": t.SID, "friendly_name": u.FullName, "email": u.Email, "worker_sid": u.Worker})
	return nil
}

// listOwners is T8, in the token-style meta.
func (s *Sim) listOwners(w http.ResponseWriter, r *http.Request) *apiErr {
	t, e := s.pathTeam(r)
	if e != nil {
		return e
	}
	from, to, next, size, e := s.page(r, len(t.Owners))
	if e != nil {
		return e
	}
	items := []any{}
	for _, o := range t.Owners[from:to] {
		items = append(items, map[string]any{"flex_user_sid": o, "team_sid": t.SID})
	}
	var tok any
	if next >= 0 {
		tok = "PA" + strconv.Itoa(next)
	}
	writeJSON(w, 200, map[string]any{"owners": items, "meta": map[string]any{"direct_token": true, "list_key": "owners", "next_token": tok, "previous_token": nil, "page_size": size}})
	return nil
}

// addOwner is T9: at most 500 owners a team (F13).
func (s *Sim) addOwner(w http.ResponseWriter, r *http.Request) *apiErr {
	t, e := s.pathTeam(r)
	if e != nil {
		return e
	}
	u, e := s.formUser(r)
	if e != nil {
		return e
	}
	if !slices.Contains(t.Owners, u.SID) {
		if len(t.Owners) >= 500 {
			return &apiErr{400, 20001, "a team has at most 500 owners"}
		}
		t.Owners = append(t.Owners, u.SID)
	}
	writeJSON(w, 201, map[string]any{"flex_user_sid": u.SID, "team_sid": t.SID})
	return nil
}

func (s *Sim) removeOwner(w http.ResponseWriter, r *http.Request) *apiErr {
	t := s.teamBySID(r.PathValue("id"))
	if t == nil || !slices.Contains(t.Owners, r.PathValue("user")) {
		return &apiErr{404, 20404, "The requested resource was not found"}
	}
	t.Owners = slices.DeleteFunc(t.Owners, func(o string) bool { return o == r.PathValue("user") })
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Sim) teamRoutes(m *http.ServeMux) {
	const p = "/v1/Instances/{instance}/Teams"
	m.Handle("GET "+p, s.handle("list_teams", false, s.listTeams))
	m.Handle("POST "+p, s.handle("create_team", false, s.createTeam))
	m.Handle("GET "+p+"/Context", s.handle("teams_context", false, func(w http.ResponseWriter, r *http.Request) *apiErr {
		writeJSON(w, 200, map[string]any{"team_setup_complete": false})
		return nil
	}))
	m.Handle("GET "+p+"/{id}", s.handle("get_team", false, func(w http.ResponseWriter, r *http.Request) *apiErr {
		t, e := s.pathTeam(r)
		if e != nil {
			return e
		}
		writeJSON(w, 200, s.teamJSON(t))
		return nil
	}))
	m.Handle("POST "+p+"/{id}", s.handle("update_team", false, s.updateTeam))
	m.Handle("DELETE "+p+"/{id}", s.handle("delete_team", false, s.deleteTeam))
	m.Handle("GET "+p+"/{id}/Members", s.handle("list_members", false, s.listMembers))
	m.Handle("POST "+p+"/{id}/Members", s.handle("add_member", false, s.addMember))
	m.Handle("DELETE "+p+"/{id}/Members/{user}", s.handle("remove_member", false, func(w http.ResponseWriter, r *http.Request) *apiErr {
		return &apiErr{405, 20001, "There is no dedicated Delete Member API: add the user to another team"}
	}))
	m.Handle("GET "+p+"/{id}/Owners", s.handle("list_owners", false, s.listOwners))
	m.Handle("POST "+p+"/{id}/Owners", s.handle("add_owner", false, s.addOwner))
	m.Handle("DELETE "+p+"/{id}/Owners/{user}", s.handle("remove_owner", false, s.removeOwner))
}

func (s *Sim) seedTeam(st SeedTeam) *apiErr {
	parent := ""
	if st.Parent != "" {
		for _, t := range s.teams {
			if t.FriendlyName == st.Parent {
				parent = t.SID
			}
		}
		if parent == "" {
			return &apiErr{400, 20001, "parent " + st.Parent + " is not an earlier team"}
		}
	}
	level := max(st.Level, 1)
	if e := s.checkTeam(nil, st.Name, "", false, level, parent); e != nil {
		return e
	}
	s.teams = append(s.teams, &team{SID: s.sid("QO"), FriendlyName: st.Name, Level: level, Parent: parent, Version: 1, Created: s.now(), Updated: s.now()})
	return nil
}

// pathTeam is the team the path's {id} names, or the 404 Twilio answers.
func (s *Sim) pathTeam(r *http.Request) (*team, *apiErr) {
	if t := s.teamBySID(r.PathValue("id")); t != nil {
		return t, nil
	}
	return nil, &apiErr{404, 20404, "The requested resource was not found"}
}

// formUser is the active Flex user the form's FlexUserSid names (T7, T9).
func (s *Sim) formUser(r *http.Request) (*user, *apiErr) {
	f, e := teamForm(r)
	if e != nil {
		return nil, e
	}
	u := s.bySID(f.Get("FlexUserSid"))
	if u == nil || u.Deactivated {
		return nil, &apiErr{404, 20404, "FlexUserSid names no active Flex user"}
	}
	return u, nil
}
