package evaluagentsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

type userAttrs struct {
	Forename     string          `json:"forename"`
	Surname      string          `json:"surname"`
	Fullname     string          `json:"fullname"`
	Email        *string         `json:"email"`
	Username     string          `json:"username"`
	StartDate    *string         `json:"start_date"`
	Active       bool            `json:"active"`
	ThirdPartyID json.RawMessage `json:"third_party_id"`
}

type userRels struct {
	Roles     toMany `json:"roles"`
	AgentTeam toOne  `json:"agent-team"`
}

func (st *state) userJSON(u *user) resourceRel[userAttrs, userRels] {
	rels := userRels{Roles: idents("roles", u.roleIDs)}
	if u.teamID != "" {
		rels.AgentTeam.Data = &ident{Type: "groups", ID: u.teamID}
	}
	return resourceRel[userAttrs, userRels]{
		Type: "users",
		ID:   u.id,
		Attributes: userAttrs{
			Forename: u.forename, Surname: u.surname, Fullname: u.forename + " " + u.surname,
			Email: u.email, Username: u.username, StartDate: u.startDate, Active: u.active,
			ThirdPartyID: u.thirdPartyID,
		},
		Relationships: rels,
	}
}

// optString is a nullable field of a partial update: unset, null (val nil) or a value.
type optString struct {
	set bool
	val *string
}

// userChange is what a create or update body asks for, before the domain rules.
type userChange struct {
	forename, surname, username *string
	email, startDate            optString
	active                      *bool
	thirdPartySet               bool
	thirdPartyID                json.RawMessage
	rolesSet                    bool
	roles                       []string // role ids
	team                        optString
}

const (
	ptrActive = "/data/attributes/active"
	ptrRoles  = "/data/relationships/roles"
	ptrTeam   = "/data/relationships/agent-team"
)

// thirdPartyValue checks a third_party_id (a string, a number or null) and returns it compacted
// as sent, nil for null.
func thirdPartyValue(raw json.RawMessage) (json.RawMessage, bool) {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil, false
	}
	switch v.(type) {
	case nil:
		return nil, true
	case string, float64:
		var buf bytes.Buffer
		_ = json.Compact(&buf, raw)
		return buf.Bytes(), true
	}
	return nil, false
}

func parseUserChange(res *inResource) (userChange, []apiError) {
	var ch userChange
	var errs []apiError
	for _, name := range sortedKeys(res.attrs) {
		raw, ptr := res.attrs[name], "/data/attributes/"+name
		switch name {
		case "forename", "surname", "username":
			v, ok := decodeString(raw)
			if !ok {
				errs = append(errs, invalid(ptr, fmt.Sprintf("The %s must be a string.", name)))
				continue
			}
			switch name {
			case "forename":
				ch.forename = &v
			case "surname":
				ch.surname = &v
			default:
				ch.username = &v
			}
		case "email", "start_date":
			dst := &ch.email
			if name == "start_date" {
				dst = &ch.startDate
			}
			dst.set = true
			if isNull(raw) {
				continue
			}
			v, ok := decodeString(raw)
			if !ok {
				errs = append(errs, invalid(ptr, fmt.Sprintf("The %s must be a string or null.", label(name))))
				continue
			}
			dst.val = &v
		case "active":
			b, ok := decodeBool(raw)
			if !ok {
				errs = append(errs, invalid(ptr, "The active field must be true or false."))
				continue
			}
			ch.active = &b
		case "third_party_id":
			v, ok := thirdPartyValue(raw)
			if !ok {
				errs = append(errs, invalid(ptr, "The third party id must be a string, a number or null."))
				continue
			}
			ch.thirdPartySet, ch.thirdPartyID = true, v
		case "fullname":
			errs = append(errs, invalid(ptr, "The fullname attribute is read-only."))
		}
	}
	if raw, ok := res.rels["roles"]; ok {
		ids, e := parseToMany(raw, ptrRoles, "roles")
		errs = append(errs, e...)
		ch.rolesSet, ch.roles = true, ids
	}
	if raw, ok := res.rels["agent-team"]; ok {
		id, e := parseToOne(raw, ptrTeam, "groups")
		errs = append(errs, e...)
		ch.team = optString{set: true, val: id}
	}
	return ch, errs
}

// applyUser checks a create (cur nil) or update against D2-D8 and returns the resulting user
// without touching the state. seats is the licence limit, 0 for none.
func (st *state) applyUser(cur *user, ch userChange, seats int) (*user, []apiError) {
	next := &user{active: true}
	if cur != nil {
		c := *cur
		next = &c
	}
	wasActive := cur != nil && cur.active
	for _, f := range []struct {
		dst *string
		val *string
	}{{&next.forename, ch.forename}, {&next.surname, ch.surname}, {&next.username, ch.username}} {
		if f.val != nil {
			*f.dst = *f.val
		}
	}
	if ch.email.set {
		next.email = ch.email.val
	}
	if ch.startDate.set {
		next.startDate = ch.startDate.val
	}
	if ch.active != nil {
		next.active = *ch.active
	}
	if ch.thirdPartySet {
		next.thirdPartyID = ch.thirdPartyID
	}

	var errs []apiError
	// D3: names required.
	for _, f := range []struct{ name, val string }{{"forename", next.forename}, {"surname", next.surname}} {
		if strings.TrimSpace(f.val) == "" {
			errs = append(errs, invalid("/data/attributes/"+f.name, fmt.Sprintf("The %s field is required.", f.name)))
		}
	}
	// D2: username.
	switch n := utf8.RuneCountInString(next.username); {
	case strings.TrimSpace(next.username) == "":
		errs = append(errs, invalid("/data/attributes/username", "The username field is required."))
	case n < 3 || n > 100:
		errs = append(errs, invalid("/data/attributes/username", "The username must be between 3 and 100 characters."))
	}
	if next.email != nil {
		if a, err := mail.ParseAddress(*next.email); err != nil || a.Address != *next.email {
			errs = append(errs, invalid("/data/attributes/email", "The email must be a valid email address."))
		}
	}
	if next.startDate != nil {
		if _, err := time.Parse(time.DateOnly, *next.startDate); err != nil {
			errs = append(errs, invalid("/data/attributes/start_date", "The start date must be a date in the form YYYY-MM-DD."))
		}
	}
	// D2, D3: uniqueness, inactive users included.
	if o := st.userByName[fold(next.username)]; o != nil && (cur == nil || o.id != cur.id) {
		errs = append(errs, invalid("/data/attributes/username", "The username has already been taken."))
	}
	if next.email != nil {
		if o := st.userByEmail[fold(*next.email)]; o != nil && (cur == nil || o.id != cur.id) {
			errs = append(errs, invalid("/data/attributes/email", "The email has already been taken."))
		}
	}

	if !next.active {
		// D6: an inactive user holds no roles and no team; any sent with it are discarded.
		next.roleIDs, next.teamID = nil, ""
		return next, errs
	}
	// D5: roles replace the whole set and must exist.
	if ch.rolesSet {
		next.roleIDs = nil
		for i, id := range ch.roles {
			if st.role(id) == nil {
				errs = append(errs, invalid(fmt.Sprintf("%s/data/%d", ptrRoles, i), "The selected role is invalid."))
			} else if !slices.Contains(next.roleIDs, id) {
				next.roleIDs = append(next.roleIDs, id)
			}
		}
	} // D7 needs nothing more: an inactive user has no roles or team to restore.
	// D4: agents sit in an active Team-level group; nobody else has a team.
	agent := st.isAgent(next.roleIDs)
	switch {
	case ch.team.set && ch.team.val != nil && !agent:
		errs = append(errs, invalid(ptrTeam, "Only users with the agent role can have an agent team."))
	case ch.team.set:
		next.teamID = deref(ch.team.val)
	case !agent:
		next.teamID = ""
	}
	if agent {
		g := st.group(next.teamID)
		switch {
		case next.teamID == "":
			errs = append(errs, invalid(ptrTeam, "A user with the agent role must have an agent team."))
		case g == nil:
			errs = append(errs, invalid(ptrTeam, "The agent team does not exist."))
		case !g.active:
			errs = append(errs, invalid(ptrTeam, "The agent team is inactive."))
		case !st.isTeam(g):
			errs = append(errs, invalid(ptrTeam, "The agent team must be a Team-level group."))
		}
	}
	// D8: a seat for every user who becomes active.
	if !wasActive && seats > 0 && st.activeUsers() >= seats {
		errs = append(errs, invalid(ptrActive, "Licence limit reached"))
	}
	return next, errs
}

// commitUser stores the result of applyUser.
func (st *state) commitUser(cur, next *user) *user {
	if cur == nil {
		if next.id == "" {
			next.id = st.ids.mint()
		}
		st.users = append(st.users, next)
		st.index(next)
		return next
	}
	if cur.active && !next.active {
		st.removeFromWQTs(cur.id)
	}
	st.unindex(cur)
	*cur = *next
	st.index(cur)
	return cur
}

func (s *Server) listUsers(c *call) response {
	q := c.r.URL.Query()
	email, byEmail := q["filter[email]"]
	username, byUsername := q["filter[username]"]
	var items []any
	for _, u := range s.st.users {
		if byEmail && (u.email == nil || !strings.EqualFold(*u.email, email[0])) {
			continue
		}
		if byUsername && !strings.EqualFold(u.username, username[0]) {
			continue
		}
		items = append(items, s.st.userJSON(u))
	}
	return s.collection(c, items, true)
}

func (s *Server) getUser(c *call) response {
	u := s.st.user(c.id)
	if u == nil {
		return errResp(http.StatusNotFound, "User not found")
	}
	return jsonResp(http.StatusOK, document{Data: s.st.userJSON(u)})
}

func (s *Server) createUser(c *call) response {
	return s.writeUser(c, nil)
}

func (s *Server) updateUser(c *call) response {
	return s.writeUser(c, &c.id)
}

func (s *Server) writeUser(c *call, urlID *string) response {
	res, errs := parseResource(c.body, "users", deref(urlID))
	if errs != nil {
		return errorsResp(errs)
	}
	var cur *user
	if urlID != nil {
		if cur = s.st.user(*urlID); cur == nil {
			return errResp(http.StatusNotFound, "User not found")
		}
	}
	ch, errs := parseUserChange(res)
	if errs != nil {
		return errorsResp(errs)
	}
	next, errs := s.st.applyUser(cur, ch, s.seats)
	if errs != nil {
		return errorsResp(errs)
	}
	status := http.StatusOK
	if cur == nil {
		status = http.StatusCreated
	}
	return jsonResp(status, document{Data: s.st.userJSON(s.st.commitUser(cur, next))})
}
