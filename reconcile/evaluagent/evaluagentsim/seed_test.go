package evaluagentsim

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLoadSeed(t *testing.T) {
	seed, err := LoadSeed(filepath.Join("testdata", "seed.json"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *Config) { c.Seed = seed })
	levels := h.sim.Levels()
	if len(levels) != 3 || levels[0].ID != "10000000-0000-4000-8000-000000000001" {
		t.Errorf("levels %+v", levels)
	}
	if len(h.sim.Roles()) != 6 {
		t.Errorf("roles not defaulted: %+v", h.sim.Roles())
	}
	groups := map[string]Group{}
	for _, g := range h.sim.Groups() {
		groups[g.Name] = g
	}
	if g := groups["Team North"]; g.ID != "20000000-0000-4000-8000-000000000003" || g.ParentID != groups["North"].ID || g.Level != "Team" || !g.Active {
		t.Errorf("Team North %+v", g)
	}
	for _, name := range []string{"Team Closed", "Old Site", "Old Team"} {
		if groups[name].Active {
			t.Errorf("%s is active, want inactive", name)
		}
	}
	users := h.sim.Users()
	ada := users[0]
	if ada.ID != "30000000-0000-4000-8000-000000000001" || ada.TeamID != groups["Team North"].ID ||
		!slices.Equal(ada.Roles, []string{"agent", "system_access"}) || string(ada.ThirdPartyID) != `"WFM-1001"` || ada.StartDate != "2024-01-15" || ada.Email != "ada@example.com" {
		t.Errorf("ada %+v", ada)
	}
	if string(users[1].ThirdPartyID) != "1002" || users[1].TeamID != "" || users[1].Email != "" {
		t.Errorf("grace %+v", users[1])
	}
	if users[2].Active {
		t.Errorf("old.timer active")
	}
	wqts := h.sim.WorkQueueTemplates()
	if len(wqts) != 2 || !slices.Equal(wqts[0].AgentIDs, []string{ada.ID}) || wqts[1].Active {
		t.Errorf("templates %+v", wqts)
	}
	// Over HTTP the seed behaves like any data: the Team holds an agent, so it cannot go.
	h.do("DELETE", "/org/groups/"+groups["Team North"].ID, nil).wantError(t, 422, "/data", "The group has agents.")
	h.do("GET", "/org/groups?show_inactive=true", nil).want(t, 200)
}

func TestLoadSeedErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct{ json, want string }{
		"syntax":               {"{\n\"users\": [\n}", "line 3"},
		"unknown key":          {`{"people": []}`, "people"},
		"trailing":             {`{} {}`, "after the seed"},
		"no root":              {`{"groups": [{"name": "Team", "level": "Team", "parent": "x"}]}`, "root"},
		"two roots":            {`{"groups": [{"name": "One", "level": "Business"}, {"name": "Two", "level": "Business"}]}`, "parent"},
		"unknown parent":       {`{"groups": [{"name": "Root", "level": "Business"}, {"name": "Kid", "level": "Team", "parent": "Nobody"}]}`, "Nobody"},
		"parent under team":    {`{"groups": [{"name": "Root", "level": "Business"}, {"name": "Team 1", "level": "Team", "parent": "Root"}, {"name": "Team 2", "level": "Team", "parent": "Team 1"}]}`, "Team-level group cannot have child groups"},
		"deactivate with kids": {`{"groups": [{"name": "Root", "level": "Business"}, {"name": "Site 1", "level": "Site", "parent": "Root", "active": false}, {"name": "Team 1", "level": "Team", "parent": "Site 1"}]}`, "active child groups"},
		"duplicate level":      {`{"levels": [{"name": "Team"}, {"name": "team"}]}`, "used twice"},
		"duplicate id":         {`{"levels": [{"id": "a", "name": "A"}, {"id": "a", "name": "B"}]}`, "used twice"},
		"agent sans team":      {`{"users": [{"forename": "A", "surname": "B", "username": "abc", "roles": ["agent"]}]}`, "agent team"},
		"dup username":         {`{"users": [{"forename": "A", "surname": "B", "username": "abc"}, {"forename": "C", "surname": "D", "username": "ABC"}]}`, "already been taken"},
		"unknown role":         {`{"users": [{"forename": "A", "surname": "B", "username": "abc", "roles": ["boss"]}]}`, "boss"},
		"bad third party":      {`{"users": [{"forename": "A", "surname": "B", "username": "abc", "third_party_id": true}]}`, "third_party_id"},
		"non-agent in WQT":     {`{"users": [{"forename": "A", "surname": "B", "username": "abc"}], "work_queue_templates": [{"name": "Queue", "agents": ["abc"]}]}`, "agent role"},
		"ambiguous name":       {`{"groups": [{"name": "Root", "level": "Business"}, {"name": "Site 1", "level": "Site", "parent": "Root"}, {"name": "Site 2", "level": "Site", "parent": "Root"}, {"name": "Team", "level": "Team", "parent": "Site 1"}, {"name": "Team", "level": "Team", "parent": "Site 2"}], "users": [{"forename": "A", "surname": "B", "username": "abc", "roles": ["agent"], "team": "team"}]}`, "by id"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
			if err := os.WriteFile(path, []byte(tc.json), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadSeed(path)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadSeed: %v; want an error naming %s and saying %q", err, path, tc.want)
			}
		})
	}
	if _, err := LoadSeed(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
}

func TestSeedRespectsSeats(t *testing.T) {
	seed := &Seed{Users: []SeedUser{
		{Forename: "A", Surname: "B", Username: "one"},
		{Forename: "A", Surname: "B", Username: "two"},
	}}
	if _, err := New(Config{Keys: DefaultConfig().Keys, Seats: 1, Seed: seed}); err == nil || !strings.Contains(err.Error(), "Licence limit reached") {
		t.Errorf("New: %v, want the licence limit", err)
	}
}

func TestDefaultSeedIsFreshEachTime(t *testing.T) {
	a := DefaultSeed()
	a.Groups[0].Name = "Changed"
	if DefaultSeed().Groups[0].Name != "Acme Contact Centre" {
		t.Error("DefaultSeed shares state between calls")
	}
}
