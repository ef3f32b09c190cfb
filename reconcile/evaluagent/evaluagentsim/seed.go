package evaluagentsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Seed is the simulator's starting data (D14), decodable from the JSON described in the package
// documentation. A section left out (nil) takes the default of DefaultSeed; a section given, even
// empty, replaces it.
type Seed struct {
	Levels             []SeedLevel   `json:"levels"`
	Abilities          []SeedAbility `json:"abilities"`
	Roles              []SeedRole    `json:"roles"`
	Groups             []SeedGroup   `json:"groups"`
	Users              []SeedUser    `json:"users"`
	WorkQueueTemplates []SeedWQT     `json:"work_queue_templates"`
	// Evaluations are completed QA evaluations, read-only through the API.
	Evaluations []SeedEvaluation `json:"evaluations"`
}

// SeedEvaluation is a completed evaluation. Agent and Evaluator name users by id or
// username; PublishedAt is RFC 3339.
type SeedEvaluation struct {
	ID          string  `json:"id"`
	Reference   string  `json:"reference"`
	Score       float64 `json:"score"`
	PublishedAt string  `json:"published_at"`
	Agent       string  `json:"agent"`
	Evaluator   string  `json:"evaluator"`
}

// SeedLevel is a group level. ID is optional everywhere in a seed: a random UUID is minted
// when it is empty.
type SeedLevel struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// SeedAbility is a permission.
type SeedAbility struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Title string `json:"title"`
}

// SeedRole is a role. Abilities are ability ids or names.
type SeedRole struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Title     string   `json:"title"`
	Abilities []string `json:"abilities"`
}

// SeedGroup is a group. The first group is the root and has no Parent; every other group names
// its parent (id or name) and comes after it. Level is a level id or name. Active defaults to true.
type SeedGroup struct {
	ID                     string `json:"id"`
	Name                   string `json:"name"`
	Level                  string `json:"level"`
	Parent                 string `json:"parent"`
	Active                 *bool  `json:"active"`
	IsCustomReportingGroup bool   `json:"is_custom_reporting_group"`
}

// SeedUser is a user. Roles are role ids or machine names; Team is a group id or name; an empty
// Email or StartDate is null. Active defaults to true.
type SeedUser struct {
	ID           string          `json:"id"`
	Forename     string          `json:"forename"`
	Surname      string          `json:"surname"`
	Username     string          `json:"username"`
	Email        string          `json:"email"`
	StartDate    string          `json:"start_date"`
	Active       *bool           `json:"active"`
	ThirdPartyID json.RawMessage `json:"third_party_id"`
	Roles        []string        `json:"roles"`
	Team         string          `json:"team"`
}

// SeedWQT is a work-queue template. Agents are user ids or usernames. Active defaults to true.
type SeedWQT struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Active *bool    `json:"active"`
	Agents []string `json:"agents"`
}

// DefaultSeed returns the default data: the levels Business, Site, Department and Team; a few
// abilities; the six default roles; the root group "Acme Contact Centre" (Business) with
// "Test Team 1" (Team) under it; the templates "Inbound Calls" and "Complaints"; no users.
func DefaultSeed() *Seed {
	return &Seed{
		Levels: []SeedLevel{{Name: "Business"}, {Name: "Site"}, {Name: "Department"}, {Name: teamLevel}},
		Abilities: []SeedAbility{
			{Name: "admin.org.users.manage", Title: "Manage users"},
			{Name: "admin.org.groups.manage", Title: "Manage groups"},
			{Name: "quality.evaluations.create", Title: "Create evaluations"},
			{Name: "quality.evaluations.view-own", Title: "View own evaluations"},
			{Name: "reporting.view", Title: "View reports"},
			{Name: "platform.login", Title: "Log in to the platform"},
		},
		Roles: []SeedRole{
			{Name: "administrator", Title: "Administrator", Abilities: []string{"admin.org.users.manage", "admin.org.groups.manage", "quality.evaluations.create", "reporting.view"}},
			{Name: "manager", Title: "Manager", Abilities: []string{"admin.org.groups.manage", "quality.evaluations.create", "reporting.view"}},
			{Name: "team_leader", Title: "Team Leader", Abilities: []string{"quality.evaluations.create", "reporting.view"}},
			{Name: agentRole, Title: "Agent", Abilities: []string{"quality.evaluations.view-own"}},
			{Name: "quality_analyst", Title: "Quality Analyst", Abilities: []string{"quality.evaluations.create", "reporting.view"}},
			{Name: "system_access", Title: "System Access", Abilities: []string{"platform.login"}},
		},
		Groups: []SeedGroup{
			{Name: "Acme Contact Centre", Level: "Business"},
			{Name: "Test Team 1", Level: teamLevel, Parent: "Acme Contact Centre"},
		},
		Users:              []SeedUser{},
		WorkQueueTemplates: []SeedWQT{{Name: "Inbound Calls"}, {Name: "Complaints"}},
	}
}

// LoadSeed reads a seed from a JSON file and checks it as New would. Unknown keys are errors.
func LoadSeed(path string) (*Seed, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("evaluagentsim: seed: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var seed Seed
	if err := dec.Decode(&seed); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := 1 + bytes.Count(b[:se.Offset], []byte("\n"))
			return nil, fmt.Errorf("evaluagentsim: seed %s: line %d: %w", path, line, err)
		}
		return nil, fmt.Errorf("evaluagentsim: seed %s: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("evaluagentsim: seed %s: data after the seed object", path)
	}
	if _, err := buildState(&seed, 0); err != nil {
		return nil, fmt.Errorf("evaluagentsim: seed %s: %w", path, err)
	}
	return &seed, nil
}

func section[T any](given, def []T) []T {
	if given == nil {
		return def
	}
	return given
}

// resolve finds the id of the item that ref names, by id first, then by name (case-insensitive).
func resolve[T any](items []*T, ref string, id, name func(*T) string) (string, error) {
	for _, it := range items {
		if id(it) == ref {
			return ref, nil
		}
	}
	var found []string
	for _, it := range items {
		if strings.EqualFold(name(it), ref) {
			found = append(found, id(it))
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%q names nothing", ref)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%q names %d items; refer to one by id", ref, len(found))
}

func rulesError(errs []apiError) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Detail
	}
	return errors.New(strings.Join(msgs, "; "))
}

// buildState turns a seed into a state, through the same rules the API applies.
func buildState(seed *Seed, seats int) (*state, error) {
	def := DefaultSeed()
	st := newState()
	newID := func(given string) (string, error) {
		if given == "" {
			return st.ids.mint(), nil
		}
		if !st.ids.claim(given) {
			return "", fmt.Errorf("id %q is used twice", given)
		}
		return given, nil
	}
	unique := func(what string, names map[string]bool, name string) error {
		if strings.TrimSpace(name) == "" {
			return fmt.Errorf("%s without a name", what)
		}
		if names[strings.ToLower(name)] {
			return fmt.Errorf("%s %q: the name is used twice", what, name)
		}
		names[strings.ToLower(name)] = true
		return nil
	}

	levels := section(seed.Levels, def.Levels)
	if len(levels) > maxDepth {
		return nil, fmt.Errorf("levels: at most %d, got %d", maxDepth, len(levels))
	}
	names := map[string]bool{}
	for i, l := range levels {
		if err := unique("level", names, l.Name); err != nil {
			return nil, fmt.Errorf("levels[%d]: %w", i, err)
		}
		id, err := newID(l.ID)
		if err != nil {
			return nil, fmt.Errorf("levels[%d]: %w", i, err)
		}
		st.levels = append(st.levels, &level{id: id, name: l.Name})
	}

	names = map[string]bool{}
	for i, a := range section(seed.Abilities, def.Abilities) {
		if err := unique("ability", names, a.Name); err != nil {
			return nil, fmt.Errorf("abilities[%d]: %w", i, err)
		}
		id, err := newID(a.ID)
		if err != nil {
			return nil, fmt.Errorf("abilities[%d]: %w", i, err)
		}
		st.abilities = append(st.abilities, &ability{id: id, name: a.Name, title: a.Title})
	}

	names = map[string]bool{}
	for i, r := range section(seed.Roles, def.Roles) {
		if err := unique("role", names, r.Name); err != nil {
			return nil, fmt.Errorf("roles[%d]: %w", i, err)
		}
		id, err := newID(r.ID)
		if err != nil {
			return nil, fmt.Errorf("roles[%d]: %w", i, err)
		}
		rl := &role{id: id, name: r.Name, title: r.Title}
		for _, ref := range r.Abilities {
			aid, err := resolve(st.abilities, ref, func(a *ability) string { return a.id }, func(a *ability) string { return a.name })
			if err != nil {
				return nil, fmt.Errorf("roles[%d] %q: ability %w", i, r.Name, err)
			}
			rl.abilityIDs = append(rl.abilityIDs, aid)
		}
		st.roles = append(st.roles, rl)
	}

	groupID := func(g *group) string { return g.id }
	groupName := func(g *group) string { return g.name }
	groups := section(seed.Groups, def.Groups)
	if len(groups) == 0 || groups[0].Parent != "" {
		return nil, errors.New("groups: the first group must be the root, with no parent")
	}
	var inactive []*group
	for i, sg := range groups {
		fail := func(err error) error { return fmt.Errorf("groups[%d] %q: %w", i, sg.Name, err) }
		lid, err := resolve(st.levels, sg.Level, func(l *level) string { return l.id }, func(l *level) string { return l.name })
		if err != nil {
			return nil, fail(fmt.Errorf("level %w", err))
		}
		name := sg.Name
		ch := groupChange{name: &name, level: optRef{optString: optString{set: true, val: &lid}, ptr: ptrLevel}}
		if i > 0 {
			if sg.Parent == "" {
				return nil, fail(errors.New("only the first group may have no parent"))
			}
			pid, err := resolve(st.groups, sg.Parent, groupID, groupName)
			if err != nil {
				return nil, fail(fmt.Errorf("parent %w", err))
			}
			ch.parent = optRef{optString: optString{set: true, val: &pid}, ptr: ptrParent}
		}
		next, errs := st.applyGroup(nil, ch, i == 0)
		if errs != nil {
			return nil, fail(rulesError(errs))
		}
		if next.id, err = newID(sg.ID); err != nil {
			return nil, fail(err)
		}
		next.custom = sg.IsCustomReportingGroup
		g := st.commitGroup(nil, next)
		if sg.Active != nil && !*sg.Active {
			inactive = append(inactive, g)
		}
	}
	// Deactivate leaves first, once the whole tree stands.
	off := false
	for i := len(inactive) - 1; i >= 0; i-- {
		g := inactive[i]
		next, errs := st.applyGroup(g, groupChange{active: &off}, false)
		if errs != nil {
			return nil, fmt.Errorf("group %q: %w", g.name, rulesError(errs))
		}
		st.commitGroup(g, next)
	}

	// Seeds name the same few teams and roles for many users: resolve each reference once.
	teamRefs, roleRefs := map[string]string{}, map[string]string{}
	cached := func(cache map[string]string, ref string, resolve func(string) (string, error)) (string, error) {
		if id, ok := cache[ref]; ok {
			return id, nil
		}
		id, err := resolve(ref)
		if err == nil {
			cache[ref] = id
		}
		return id, err
	}
	roleByRef := func(ref string) (string, error) {
		return resolve(st.roles, ref, func(r *role) string { return r.id }, func(r *role) string { return r.name })
	}
	teamByRef := func(ref string) (string, error) { return resolve(st.groups, ref, groupID, groupName) }
	for i, su := range section(seed.Users, def.Users) {
		fail := func(err error) error { return fmt.Errorf("users[%d] %q: %w", i, su.Username, err) }
		ch := userChange{forename: &su.Forename, surname: &su.Surname, username: &su.Username, active: su.Active}
		if su.Email != "" {
			ch.email = optString{set: true, val: &su.Email}
		}
		if su.StartDate != "" {
			ch.startDate = optString{set: true, val: &su.StartDate}
		}
		if su.ThirdPartyID != nil {
			raw, ok := thirdPartyValue(su.ThirdPartyID)
			if !ok {
				return nil, fail(errors.New("third_party_id must be a string, a number or null"))
			}
			ch.thirdPartySet, ch.thirdPartyID = true, raw
		}
		ch.rolesSet = true
		for _, ref := range su.Roles {
			rid, err := cached(roleRefs, ref, roleByRef)
			if err != nil {
				return nil, fail(fmt.Errorf("role %w", err))
			}
			ch.roles = append(ch.roles, rid)
		}
		if su.Team != "" {
			gid, err := cached(teamRefs, su.Team, teamByRef)
			if err != nil {
				return nil, fail(fmt.Errorf("team %w", err))
			}
			ch.team = optString{set: true, val: &gid}
		}
		next, errs := st.applyUser(nil, ch, seats)
		if errs != nil {
			return nil, fail(rulesError(errs))
		}
		var err error
		if next.id, err = newID(su.ID); err != nil {
			return nil, fail(err)
		}
		st.commitUser(nil, next)
	}

	names = map[string]bool{}
	for i, sw := range section(seed.WorkQueueTemplates, def.WorkQueueTemplates) {
		fail := func(err error) error { return fmt.Errorf("work_queue_templates[%d] %q: %w", i, sw.Name, err) }
		if err := unique("template", names, sw.Name); err != nil {
			return nil, fmt.Errorf("work_queue_templates[%d]: %w", i, err)
		}
		id, err := newID(sw.ID)
		if err != nil {
			return nil, fail(err)
		}
		w := &wqt{id: id, name: sw.Name, active: sw.Active == nil || *sw.Active}
		seen := map[string]bool{}
		for _, ref := range sw.Agents {
			// By id, then by username: usernames are unique, so the index answers as resolve would.
			u := st.user(ref)
			if u == nil {
				u = st.userByName[fold(ref)]
			}
			if u == nil {
				return nil, fail(fmt.Errorf("agent %q names nothing", ref))
			}
			uid := u.id
			if errs := st.assignable([]string{uid}, func(int) string { return "" }); errs != nil {
				return nil, fail(fmt.Errorf("agent %q: %w", ref, rulesError(errs)))
			}
			if !seen[uid] {
				seen[uid] = true
				w.agents = append(w.agents, uid)
			}
		}
		st.wqts = append(st.wqts, w)
	}
	if err := st.seedEvaluations(seed.Evaluations, newID); err != nil {
		return nil, err
	}
	return st, nil
}
