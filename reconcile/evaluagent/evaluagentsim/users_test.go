package evaluagentsim

import (
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestCreateUserReturnsEveryAttribute(t *testing.T) {
	h := newHarness(t, nil)
	res := h.do("POST", "/org/users", userBody("", person("pat"), nil)).want(t, 201)
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	u := res.one(t)
	if u.Type != "users" || len(u.ID) != 36 || u.ID[14] != '4' {
		t.Errorf("type %q id %q: want users and a UUIDv4", u.Type, u.ID)
	}
	want := map[string]string{
		"forename": `"Pat"`, "surname": `"Doe"`, "fullname": `"Pat Doe"`, "username": `"pat"`,
		"email": "null", "start_date": "null", "active": "true", "third_party_id": "null",
	}
	for k, v := range want {
		if got, ok := u.Attributes[k]; !ok || string(got) != v {
			t.Errorf("attribute %s = %s (present %v), want %s", k, got, ok, v)
		}
	}
	if len(u.Attributes) != len(want) {
		t.Errorf("attributes %v, want exactly %v", u.Attributes, want)
	}
	if string(u.Relationships["roles"].Data) != "[]" || string(u.Relationships["agent-team"].Data) != "null" {
		t.Errorf("relationships %s / %s, want [] and null", u.Relationships["roles"].Data, u.Relationships["agent-team"].Data)
	}
	// U2 returns the same object.
	got := h.do("GET", "/org/users/"+u.ID, nil).want(t, 200).one(t)
	if got.ID != u.ID || got.attr("fullname") != `"Pat Doe"` {
		t.Errorf("GET returned %+v", got)
	}
}

func TestCreateUserStoresWhatItIsSent(t *testing.T) {
	h := newHarness(t, nil)
	team := h.groupID("Test Team 1")
	for _, tpi := range []string{`"WFM-1001"`, `1001`, `12.5`} {
		attrs := person("u" + tpi)
		attrs["email"] = "U" + strings.Trim(tpi, `"`) + "@Example.com"
		attrs["start_date"] = "2024-01-15"
		attrs["third_party_id"] = json.RawMessage(tpi)
		u := h.do("POST", "/org/users", userBody("", attrs, obj{
			"roles": rolesRel(h.roleID("agent"), h.roleID("system_access")), "agent-team": teamRel(team),
		})).want(t, 201).one(t)
		if u.attr("third_party_id") != tpi || u.attr("start_date") != `"2024-01-15"` {
			t.Errorf("third_party_id %s start_date %s, want %s and 2024-01-15", u.attr("third_party_id"), u.attr("start_date"), tpi)
		}
		if got := h.user(u.ID); !slices.Equal(got.Roles, []string{"agent", "system_access"}) || got.TeamID != team {
			t.Errorf("stored roles %v team %q", got.Roles, got.TeamID)
		}
	}
}

func TestListUsersFilters(t *testing.T) {
	h := newHarness(t, nil)
	a := person("Ada@Example.com")
	a["email"] = "Ada@Example.com"
	ada := h.createUser(a, nil)
	b := person("bob")
	b["email"] = "bob@example.com"
	h.createUser(b, nil)
	inactive := person("carol")
	inactive["active"] = false
	carol := h.createUser(inactive, nil)

	if got := h.do("GET", "/org/users", nil).want(t, 200).many(t); len(got) != 3 {
		t.Errorf("listed %d users, want 3 including the inactive one", len(got))
	}
	for _, tc := range []struct{ query, want string }{
		{"filter[email]=" + url.QueryEscape("ada@EXAMPLE.com"), ada},
		{"filter[username]=ADA%40example.com", ada},
		{"filter[username]=Carol", carol},
		{"filter[email]=ada%40example.com&filter[username]=ada%40example.com&unknown=1", ada},
	} {
		got := h.do("GET", "/org/users?"+tc.query, nil).want(t, 200).many(t)
		if len(got) != 1 || got[0].ID != tc.want {
			t.Errorf("%s: got %d users, want only %s", tc.query, len(got), tc.want)
		}
	}
	for _, q := range []string{"filter[email]=nobody%40example.com", "filter[email]=bob%40example.com&filter[username]=ada%40example.com"} {
		if got := h.do("GET", "/org/users?"+q, nil).want(t, 200).many(t); len(got) != 0 {
			t.Errorf("%s: got %d users, want an empty collection", q, len(got))
		}
	}
}

func TestUserNotFound(t *testing.T) {
	h := newHarness(t, nil)
	const id = "9b2e8c1a-0000-4000-8000-000000000000"
	h.do("GET", "/org/users/"+id, nil).wantError(t, 404, "", "User not found")
	h.unchanged(func() {
		h.do("PATCH", "/org/users/"+id, userBody(id, obj{"forename": "X"}, nil)).wantError(t, 404, "", "User not found")
	})
}

// D1
func TestUsersAreNeverDeleted(t *testing.T) {
	h := newHarness(t, nil)
	id := h.createUser(person("pat"), nil)
	h.unchanged(func() {
		res := h.do("DELETE", "/org/users/"+id, nil)
		res.wantError(t, 405, "", "Method not allowed")
		if allow := res.header.Get("Allow"); allow != "GET, PATCH, PUT" {
			t.Errorf("Allow %q", allow)
		}
	})
}

// D2
func TestUsernameRules(t *testing.T) {
	h := newHarness(t, nil)
	old := person("Taken.User")
	old["active"] = false
	h.createUser(old, nil)
	h.createUser(person("abc"), nil)                    // 3 characters
	h.createUser(person(strings.Repeat("é", 100)), nil) // 100 characters, 200 bytes
	for name, attrs := range map[string]obj{
		"missing":             {"forename": "Pat", "surname": "Doe"},
		"empty":               person(""),
		"too short":           person("ab"),
		"too long":            person(strings.Repeat("x", 101)),
		"taken by inactive":   person("taken.user"),
		"taken, other case":   person("ABC"),
		"not a string":        {"forename": "Pat", "surname": "Doe", "username": 12345},
		"null on create":      {"forename": "Pat", "surname": "Doe", "username": nil},
		"taken, unicode fold": person(strings.Repeat("É", 100)),
	} {
		t.Run(name, func(t *testing.T) {
			h.unchanged(func() {
				h.do("POST", "/org/users", userBody("", attrs, nil)).wantError(t, 422, "/data/attributes/username", "")
			})
		})
	}
	id := h.createUser(person("free"), nil)
	h.unchanged(func() {
		h.do("PATCH", "/org/users/"+id, userBody(id, obj{"username": "TAKEN.user"}, nil)).
			wantError(t, 422, "/data/attributes/username", "The username has already been taken.")
	})
	// A user keeps its own username under another case.
	h.do("PATCH", "/org/users/"+id, userBody(id, obj{"username": "FREE"}, nil)).want(t, 200)
}

// D3
func TestNamesAndEmailRules(t *testing.T) {
	h := newHarness(t, nil)
	taken := person("first")
	taken["email"] = "first@example.com"
	id := h.createUser(taken, nil)
	withEmail := func(email any) obj { a := person("second"); a["email"] = email; return a }
	for name, tc := range map[string]struct {
		attrs   obj
		pointer string
	}{
		"no forename":       {obj{"surname": "Doe", "username": "second"}, "/data/attributes/forename"},
		"blank forename":    {obj{"forename": "  ", "surname": "Doe", "username": "second"}, "/data/attributes/forename"},
		"no surname":        {obj{"forename": "Pat", "username": "second"}, "/data/attributes/surname"},
		"null surname":      {obj{"forename": "Pat", "surname": nil, "username": "second"}, "/data/attributes/surname"},
		"email taken":       {withEmail("FIRST@example.com"), "/data/attributes/email"},
		"email invalid":     {withEmail("not-an-address"), "/data/attributes/email"},
		"email empty":       {withEmail(""), "/data/attributes/email"},
		"start_date format": {obj{"forename": "Pat", "surname": "Doe", "username": "second", "start_date": "15/01/2024"}, "/data/attributes/start_date"},
		"third_party_id":    {obj{"forename": "Pat", "surname": "Doe", "username": "second", "third_party_id": obj{}}, "/data/attributes/third_party_id"},
		"fullname":          {obj{"forename": "Pat", "surname": "Doe", "username": "second", "fullname": "X"}, "/data/attributes/fullname"},
	} {
		t.Run(name, func(t *testing.T) {
			h.unchanged(func() {
				h.do("POST", "/org/users", userBody("", tc.attrs, nil)).wantError(t, 422, tc.pointer, "")
			})
		})
	}
	h.unchanged(func() {
		h.do("PATCH", "/org/users/"+id, userBody(id, obj{"surname": ""}, nil)).wantError(t, 422, "/data/attributes/surname", "The surname field is required.")
	})
	// Null clears an email; two users without one do not clash.
	h.do("PATCH", "/org/users/"+id, userBody(id, obj{"email": nil}, nil)).want(t, 200)
	h.createUser(person("third"), nil)
	if got := h.user(id).Email; got != "" {
		t.Errorf("email %q, want cleared", got)
	}
}

// D4
func TestAgentTeamRules(t *testing.T) {
	h := newHarness(t, nil)
	agent, manager := h.roleID("agent"), h.roleID("manager")
	team, root := h.groupID("Test Team 1"), h.rootID()
	site := h.createGroup("North", "Site", root)
	idle := h.createGroup("Idle Team", "Team", site)
	h.do("PATCH", "/org/groups/"+idle, groupBody(idle, obj{"active": false}, nil)).want(t, 200)
	for name, tc := range map[string]struct {
		rels   obj
		detail string
	}{
		"agent without team":     {obj{"roles": rolesRel(agent)}, "A user with the agent role must have an agent team."},
		"agent with null team":   {obj{"roles": rolesRel(agent), "agent-team": teamRel("")}, "A user with the agent role must have an agent team."},
		"team not a Team":        {obj{"roles": rolesRel(agent), "agent-team": teamRel(site)}, "The agent team must be a Team-level group."},
		"team is the root":       {obj{"roles": rolesRel(agent), "agent-team": teamRel(root)}, "The agent team must be a Team-level group."},
		"team inactive":          {obj{"roles": rolesRel(agent), "agent-team": teamRel(idle)}, "The agent team is inactive."},
		"team unknown":           {obj{"roles": rolesRel(agent), "agent-team": teamRel("no-such-group")}, "The agent team does not exist."},
		"non-agent with a team":  {obj{"roles": rolesRel(manager), "agent-team": teamRel(team)}, "Only users with the agent role can have an agent team."},
		"no roles but with team": {obj{"agent-team": teamRel(team)}, "Only users with the agent role can have an agent team."},
	} {
		t.Run(name, func(t *testing.T) {
			h.unchanged(func() {
				h.do("POST", "/org/users", userBody("", person("pat"), tc.rels)).wantError(t, 422, "/data/relationships/agent-team", tc.detail)
			})
		})
	}

	id := h.createAgent("ann", team)
	other := h.createGroup("Team Two", "Team", site)
	// Moving an agent to another team (§7.2).
	h.do("PATCH", "/org/users/"+id, userBody(id, nil, obj{"agent-team": teamRel(other)})).want(t, 200)
	if got := h.user(id).TeamID; got != other {
		t.Fatalf("team %q, want %q", got, other)
	}
	h.unchanged(func() {
		h.do("PATCH", "/org/users/"+id, userBody(id, nil, obj{"agent-team": teamRel("")})).
			wantError(t, 422, "/data/relationships/agent-team", "A user with the agent role must have an agent team.")
		h.do("PATCH", "/org/users/"+id, userBody(id, nil, obj{"roles": rolesRel(manager), "agent-team": teamRel(team)})).
			wantError(t, 422, "/data/relationships/agent-team", "Only users with the agent role can have an agent team.")
	})
	// Removing the agent role clears the team.
	u := h.do("PATCH", "/org/users/"+id, userBody(id, nil, obj{"roles": rolesRel(manager)})).want(t, 200).one(t)
	if string(u.Relationships["agent-team"].Data) != "null" || h.user(id).TeamID != "" {
		t.Errorf("agent-team %s after removing the agent role, want null", u.Relationships["agent-team"].Data)
	}
}

// D5
func TestRoleRules(t *testing.T) {
	h := newHarness(t, nil)
	qa, sa := h.roleID("quality_analyst"), h.roleID("system_access")
	h.unchanged(func() {
		h.do("POST", "/org/users", userBody("", person("pat"), obj{"roles": rolesRel(qa, "no-such-role")})).
			wantError(t, 422, "/data/relationships/roles/data/1", "The selected role is invalid.")
		h.do("POST", "/org/users", userBody("", person("pat"), obj{"roles": obj{"data": refs("groups", qa)}})).
			wantError(t, 422, "/data/relationships/roles/data/0/type", "")
	})
	id := h.createUser(person("pat"), obj{"roles": rolesRel(qa, sa, qa)})
	if got := h.user(id).Roles; !slices.Equal(got, []string{"quality_analyst", "system_access"}) {
		t.Errorf("roles %v, want both, once each", got)
	}
	// A roles relationship replaces the set.
	h.do("PATCH", "/org/users/"+id, userBody(id, nil, obj{"roles": rolesRel(sa)})).want(t, 200)
	if got := h.user(id).Roles; !slices.Equal(got, []string{"system_access"}) {
		t.Errorf("roles %v after replace, want [system_access]", got)
	}
}

// D6
func TestDeactivationStripsRolesTeamAndQueues(t *testing.T) {
	h := newHarness(t, nil)
	team := h.groupID("Test Team 1")
	id := h.createAgent("ann", team)
	keep := h.createAgent("bob", team)
	wqt := h.wqtID("Inbound Calls")
	h.do("POST", "/quality/work-queue-templates/"+wqt+"/agents", obj{"data": refs("users", id, keep)}).want(t, 200)

	// Roles and team sent with the deactivation are discarded.
	u := h.do("PATCH", "/org/users/"+id, userBody(id, obj{"active": false},
		obj{"roles": rolesRel(h.roleID("agent")), "agent-team": teamRel(team)})).want(t, 200).one(t)
	if u.attr("active") != "false" || string(u.Relationships["roles"].Data) != "[]" || string(u.Relationships["agent-team"].Data) != "null" {
		t.Errorf("deactivated user %+v, want inactive, roles [] and team null", u)
	}
	if got := h.wqtAgents(wqt); !slices.Equal(got, []string{keep}) {
		t.Errorf("template agents %v, want only %s", got, keep)
	}
	// Deactivating an inactive user is a no-op.
	h.unchanged(func() {
		h.do("PATCH", "/org/users/"+id, userBody(id, obj{"active": false}, nil)).want(t, 200)
	})
	// The group can now be emptied of agents.
	h.do("PATCH", "/org/users/"+keep, userBody(keep, obj{"active": false}, nil)).want(t, 200)
	h.do("DELETE", "/org/groups/"+team, nil).want(t, 204)
}

// D7
func TestReactivationRestoresNothing(t *testing.T) {
	h := newHarness(t, nil)
	team := h.groupID("Test Team 1")
	agent := h.roleID("agent")
	id := h.createAgent("ann", team)
	h.do("PATCH", "/org/users/"+id, userBody(id, obj{"active": false}, nil)).want(t, 200)

	h.unchanged(func() {
		h.do("PATCH", "/org/users/"+id, userBody(id, obj{"active": true}, obj{"roles": rolesRel(agent)})).
			wantError(t, 422, "/data/relationships/agent-team", "A user with the agent role must have an agent team.")
		h.do("PATCH", "/org/users/"+id, userBody(id, obj{"active": true}, obj{"agent-team": teamRel(team)})).
			wantError(t, 422, "/data/relationships/agent-team", "Only users with the agent role can have an agent team.")
	})
	u := h.do("PATCH", "/org/users/"+id, userBody(id, obj{"active": true}, nil)).want(t, 200).one(t)
	if string(u.Relationships["roles"].Data) != "[]" || string(u.Relationships["agent-team"].Data) != "null" {
		t.Errorf("reactivated without roles: %s %s, want [] and null", u.Relationships["roles"].Data, u.Relationships["agent-team"].Data)
	}
	h.do("PATCH", "/org/users/"+id, userBody(id, obj{"active": false}, nil)).want(t, 200)
	h.do("PATCH", "/org/users/"+id, userBody(id, obj{"active": true}, obj{"roles": rolesRel(agent), "agent-team": teamRel(team)})).want(t, 200)
	if got := h.user(id); !got.Active || !slices.Equal(got.Roles, []string{"agent"}) || got.TeamID != team {
		t.Errorf("reactivated user %+v", got)
	}
}

// D8
func TestLicenceSeats(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Seats = 2 })
	a := h.createUser(person("one"), nil)
	h.createUser(person("two"), nil)
	h.unchanged(func() {
		h.do("POST", "/org/users", userBody("", person("three"), nil)).wantError(t, 422, "/data/attributes/active", "Licence limit reached")
	})
	// An inactive user takes no seat.
	off := person("spare")
	off["active"] = false
	spare := h.createUser(off, nil)
	h.unchanged(func() {
		h.do("PATCH", "/org/users/"+spare, userBody(spare, obj{"active": true}, nil)).wantError(t, 422, "/data/attributes/active", "Licence limit reached")
	})
	// Deactivation frees a seat; updating an active user needs none.
	h.do("PATCH", "/org/users/"+a, userBody(a, obj{"active": false}, nil)).want(t, 200)
	h.do("PATCH", "/org/users/"+spare, userBody(spare, obj{"active": true}, nil)).want(t, 200)
	h.do("PATCH", "/org/users/"+spare, userBody(spare, obj{"forename": "Sam"}, nil)).want(t, 200)
}

func TestPutIsAnAliasOfPatch(t *testing.T) {
	h := newHarness(t, nil)
	id := h.createUser(person("pat"), nil)
	h.do("PUT", "/org/users/"+id, userBody(id, obj{"forename": "Sam"}, nil)).want(t, 200)
	if got := h.user(id); got.Forename != "Sam" || got.Surname != "Doe" {
		t.Errorf("after PUT %+v, want forename changed and surname kept", got)
	}
	if n := h.sim.Counts()["PUT /org/users/{id}"]; n != 1 {
		t.Errorf("PUT counted %d times under its own endpoint", n)
	}
}

// D2, D3 after a rename: the old username and email are free again, the new ones are taken.
func TestRenameFreesTheOldNames(t *testing.T) {
	h := newHarness(t, nil)
	a := person("old.name")
	a["email"] = "old@example.com"
	id := h.createUser(a, nil)
	h.do("PATCH", "/org/users/"+id, userBody(id, obj{"username": "New.Name", "email": "new@example.com"}, nil)).want(t, 200)

	b := person("old.name")
	b["email"] = "OLD@example.com"
	h.createUser(b, nil)
	h.do("POST", "/org/users", userBody("", person("new.name"), nil)).
		wantError(t, 422, "/data/attributes/username", "The username has already been taken.")
	c := person("other")
	c["email"] = "New@Example.com"
	h.do("POST", "/org/users", userBody("", c, nil)).
		wantError(t, 422, "/data/attributes/email", "The email has already been taken.")
	// The renamed user may keep its own names.
	h.do("PATCH", "/org/users/"+id, userBody(id, obj{"username": "new.name", "email": "NEW@example.com"}, nil)).want(t, 200)
}

// A large seed loads: the simulator indexes users, so seeding is not quadratic. (No timing is
// asserted; the benchmark in cmd/rostersync-bench measures it.)
func TestLargeSeedLoads(t *testing.T) {
	const n = 20_000
	seed := DefaultSeed()
	seed.Users = make([]SeedUser, n)
	agents := make([]string, 0, n)
	for i := range seed.Users {
		name := "user" + strconv.Itoa(i)
		seed.Users[i] = SeedUser{Forename: "F", Surname: "S", Username: name, Email: name + "@example.com",
			Roles: []string{"agent"}, Team: "Test Team 1"}
		agents = append(agents, name)
	}
	seed.WorkQueueTemplates[0].Agents = agents
	h := newHarness(t, func(c *Config) { c.Seed = seed })
	if got := len(h.sim.Users()); got != n {
		t.Fatalf("seeded %d users, want %d", got, n)
	}
	if got := h.wqtAgents(h.wqtID("Inbound Calls")); len(got) != n {
		t.Errorf("template holds %d agents, want %d", len(got), n)
	}
	h.do("POST", "/org/users", userBody("", person("USER19999"), nil)).
		wantError(t, 422, "/data/attributes/username", "The username has already been taken.")
}
