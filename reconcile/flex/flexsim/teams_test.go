package flexsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

type call struct {
	t   *testing.T
	srv *httptest.Server
}

func (c call) do(method, path, ctype, body string) (int, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.srv.URL+"/v1/Instances/"+DemoInstanceSID+"/Teams"+path, strings.NewReader(body))
	req.SetBasicAuth(DemoKeySID, DemoSecret)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func (c call) form(method, path string, v url.Values) (int, map[string]any) {
	c.t.Helper()
	return c.do(method, path, "application/x-www-form-urlencoded", v.Encode())
}

func newSim(t *testing.T, tweak func(*Config)) (*Sim, call) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.UsersPerSecond = -1
	cfg.Seed.Users = []SeedUser{{Username: "ada@example.com", Email: "ada@example.com", FullName: "Ada", Roles: []string{"agent"}}}
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, call{t, srv}
}

// F10–F14 over HTTP: names unique case-insensitively, levels and parents,
// members only at level 1, no member DELETE, and deletes refused while a
// team holds members or children; JSON bodies are accepted as forms are.
func TestTeamRules(t *testing.T) {
	s, c := newSim(t, func(c *Config) { c.NoTeamLimits = true })
	st, top := c.form("POST", "", url.Values{"FriendlyName": {"Ops"}, "Level": {"3"}})
	if st != 201 {
		t.Fatalf("create level 3: %d %v", st, top)
	}
	topSID := top["team_sid"].(string)
	st, dept := c.do("POST", "", "application/json", `{"FriendlyName":"Sales","Level":2,"ParentTeamSid":"`+topSID+`","Description":"d"}`)
	if st != 201 {
		t.Fatalf("create level 2 from JSON: %d %v", st, dept)
	}
	deptSID := dept["team_sid"].(string)
	for _, tc := range []struct {
		name string
		v    url.Values
	}{
		{"duplicate name", url.Values{"FriendlyName": {"sales"}}},
		{"empty name", url.Values{"FriendlyName": {""}}},
		{"name over 100", url.Values{"FriendlyName": {strings.Repeat("x", 101)}}},
		{"empty description", url.Values{"FriendlyName": {"X"}, "Description": {""}}},
		{"level 4", url.Values{"FriendlyName": {"X"}, "Level": {"4"}}},
		{"level 3 with a parent", url.Values{"FriendlyName": {"X"}, "Level": {"3"}, "ParentTeamSid": {topSID}}},
		{"parent two levels up", url.Values{"FriendlyName": {"X"}, "Level": {"1"}, "ParentTeamSid": {topSID}}},
		{"unknown parent", url.Values{"FriendlyName": {"X"}, "ParentTeamSid": {"QO" + strings.Repeat("9", 32)}}},
	} {
		if st, m := c.form("POST", "", tc.v); st != 400 || m["code"] != float64(20001) {
			t.Errorf("%s: %d %v, want 400 20001", tc.name, st, m)
		}
	}
	st, team := c.form("POST", "", url.Values{"FriendlyName": {"Sales 1"}, "ParentTeamSid": {deptSID}})
	if st != 201 {
		t.Fatalf("create level 1: %d %v", st, team)
	}
	teamSID := team["team_sid"].(string)
	ada := s.users[0].SID
	if st, m := c.form("POST", "/"+deptSID+"/Members", url.Values{"FlexUserSid": {ada}}); st != 400 {
		t.Errorf("member of a level-2 team: %d %v", st, m)
	}
	if st, m := c.form("POST", "/"+teamSID+"/Members", url.Values{"FlexUserSid": {ada}}); st != 201 {
		t.Errorf("member: %d %v", st, m)
	}
	if st, _ := c.do("DELETE", "/"+teamSID+"/Members/"+ada, "", ""); st != 405 {
		t.Errorf("member DELETE: %d, want 405", st)
	}
	if st, _ := c.do("DELETE", "/"+teamSID, "", ""); st != 400 {
		t.Errorf("delete a team with members: %d, want 400", st)
	}
	if st, _ := c.do("DELETE", "/"+deptSID, "", ""); st != 400 {
		t.Errorf("delete a team with children: %d, want 400", st)
	}
	if st, _ := c.do("DELETE", "/"+DefaultTeamSID, "", ""); st != 400 {
		t.Errorf("delete the default team: %d, want 400", st)
	}
	if st, m := c.form("POST", "/"+teamSID, url.Values{"FriendlyName": {"Sales One"}}); st != 400 {
		t.Errorf("update without Description and ParentTeamSid: %d %v", st, m)
	}
	if st, m := c.form("POST", "/"+teamSID, url.Values{"FriendlyName": {"Sales One"}, "Description": {"d"}, "ParentTeamSid": {deptSID}}); st != 200 || m["friendly_name"] != "Sales One" {
		t.Errorf("update: %d %v", st, m)
	}
	if st, _ := c.form("POST", "/"+DefaultTeamSID+"/Members", url.Values{"FlexUserSid": {ada}}); st != 201 {
		t.Errorf("back to default: %d", st)
	}
	if st, _ := c.do("DELETE", "/"+teamSID, "", ""); st != 204 {
		t.Errorf("delete an empty leaf: %d, want 204", st)
	}
	if st, _ := c.do("DELETE", "/"+teamSID, "", ""); st != 404 {
		t.Errorf("delete again: %d, want 404", st)
	}
}

// Lists page by PageSize (URL style for teams, token style for owners),
// and the Teams routes keep their own rates.
func TestTeamPagingAndRates(t *testing.T) {
	fixed := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s, c := newSim(t, func(c *Config) { c.Now = func() time.Time { return fixed } })
	created := 0
	var st int
	for i := range 7 {
		st, _ = c.form("POST", "", url.Values{"FriendlyName": {"T" + string(rune('a'+i))}})
		if st != 201 {
			break
		}
		created++
	}
	if created != 5 || st != 429 {
		t.Fatalf("created %d teams before %d; want 5 then 429 (5 a second)", created, st)
	}
	st, m := c.do("GET", "?PageSize=4", "", "")
	meta, _ := m["meta"].(map[string]any)
	if st != 200 || len(m["teams"].([]any)) != 4 || meta["next_page_url"] == nil {
		t.Fatalf("first page: %d %v", st, m)
	}
	team := m["teams"].([]any)[1].(map[string]any)["team_sid"].(string)
	for _, u := range []string{"b", "c", "d"} {
		s.mu.Lock()
		created, _ := s.provision(u+"@example.com", u+"@example.com", u, []string{"agent"}, nil, true)
		sid := s.users[len(s.users)-1].SID
		s.mu.Unlock()
		if !created {
			t.Fatal("seed")
		}
		if st, _ := c.form("POST", "/"+team+"/Owners", url.Values{"FlexUserSid": {sid}}); st != 201 {
			t.Fatalf("add owner: %d", st)
		}
	}
	st, m = c.do("GET", "/"+team+"/Owners?PageSize=2", "", "")
	meta, _ = m["meta"].(map[string]any)
	if st != 200 || len(m["owners"].([]any)) != 2 || meta["next_token"] == nil || meta["list_key"] != "owners" {
		t.Fatalf("owners page: %d %v", st, m)
	}
}
