package evaluagentsim

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// D17 and the 400/409 rows of §6.
func TestRequestShape(t *testing.T) {
	h := newHarness(t, nil)
	id := h.createUser(person("pat"), nil)
	group := h.groupID("Test Team 1")
	for name, tc := range map[string]struct {
		method, path, body string
		status             int
		pointer, detail    string
	}{
		"malformed JSON":       {"POST", "/org/users", `{"data":`, 400, "", "Malformed request body"},
		"trailing data":        {"POST", "/org/users", `{"data":{"type":"users"}} {}`, 400, "", "Malformed request body"},
		"not an object":        {"POST", "/org/users", `[]`, 400, "", "Malformed request body"},
		"missing data":         {"POST", "/org/users", `{"meta":{}}`, 400, "/data", "Malformed request body"},
		"null data":            {"PATCH", "/org/users/" + id, `{"data":null}`, 400, "/data", "Malformed request body"},
		"data is an array":     {"POST", "/org/groups", `{"data":[]}`, 400, "/data", "Malformed request body"},
		"no type":              {"PATCH", "/org/users/" + id, `{"data":{"id":"` + id + `"}}`, 400, "/data/type", "Malformed request body"},
		"attributes not obj":   {"PATCH", "/org/users/" + id, `{"data":{"type":"users","id":"` + id + `","attributes":[]}}`, 400, "/data/attributes", "Malformed request body"},
		"relationship no data": {"PATCH", "/org/users/" + id, `{"data":{"type":"users","id":"` + id + `","relationships":{"roles":{}}}}`, 400, "/data/relationships/roles/data", "Malformed request body"},
		"wrong type":           {"POST", "/org/users", `{"data":{"type":"user","attributes":{}}}`, 409, "/data/type", "Resource type or id mismatch"},
		"group as user":        {"PATCH", "/org/users/" + id, `{"data":{"type":"groups","id":"` + id + `"}}`, 409, "/data/type", "Resource type or id mismatch"},
		"id mismatch":          {"PATCH", "/org/users/" + id, `{"data":{"type":"users","id":"other"}}`, 409, "/data/id", "Resource type or id mismatch"},
		"id missing on patch":  {"PATCH", "/org/groups/" + group, `{"data":{"type":"groups","attributes":{"name":"Renamed"}}}`, 409, "/data/id", "Resource type or id mismatch"},
		"id on create":         {"POST", "/org/groups", `{"data":{"type":"groups","id":"mine","attributes":{"name":"New Group"}}}`, 409, "/data/id", "Resource type or id mismatch"},
	} {
		t.Run(name, func(t *testing.T) {
			h.unchanged(func() {
				h.do(tc.method, tc.path, tc.body).wantError(t, tc.status, tc.pointer, tc.detail)
			})
		})
	}
}

// §2.4: request content types.
func TestContentTypes(t *testing.T) {
	h := newHarness(t, nil)
	auth := basicAuth(DemoKeyID, DemoKeySecret)
	body := `{"data":{"type":"users","attributes":{"forename":"Pat","surname":"Doe","username":"pat"}}}`
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "", "application/jsonx"} {
		h.unchanged(func() {
			hdr := map[string]string{"Authorization": auth}
			if ct != "" {
				hdr["Content-Type"] = ct
			}
			h.send("POST", "/v1/org/users", body, hdr).wantError(t, 415, "", "Unsupported media type")
		})
	}
	for i, ct := range []string{"application/json", "application/json; charset=utf-8", "application/vnd.api+json", "Application/VND.API+JSON; ext=x"} {
		b := strings.Replace(body, `"pat"`, `"pat`+string(rune('a'+i))+`"`, 1)
		res := h.send("POST", "/v1/org/users", b, map[string]string{"Authorization": auth, "Content-Type": ct, "Accept": "text/html"})
		res.want(t, 201)
		if got := res.header.Get("Content-Type"); got != "application/json" {
			t.Errorf("response Content-Type %q", got)
		}
	}
	// Requests without a body need no content type.
	h.send("GET", "/v1/org/users", "", map[string]string{"Authorization": auth}).want(t, 200)
}

func TestRoutes(t *testing.T) {
	h := newHarness(t, nil)
	h.do("GET", "/org/nothing", nil).wantError(t, 404, "", "Not found")
	h.do("GET", "/org/users/", nil).wantError(t, 404, "", "Not found")
	h.send("GET", "/v2/org/users", "", nil).wantError(t, 404, "", "Not found")
	h.do("POST", "/org/roles", nil).wantError(t, 405, "", "Method not allowed")
	// Unknown paths still need credentials.
	h.send("GET", "/v1/org/nothing", "", map[string]string{}).wantError(t, 401, "", "")
	// GET /org/groups/{id} is not in the contract.
	h.do("GET", "/org/groups/"+h.rootID(), nil).wantError(t, 405, "", "Method not allowed")
}

// D14 through the API.
func TestDefaultSeed(t *testing.T) {
	h := newHarness(t, nil)
	roles := h.do("GET", "/org/roles", nil).want(t, 200).many(t)
	wantRoles := map[string]string{
		"administrator": "Administrator", "manager": "Manager", "team_leader": "Team Leader",
		"agent": "Agent", "quality_analyst": "Quality Analyst", "system_access": "System Access",
	}
	if len(roles) != len(wantRoles) {
		t.Errorf("%d roles, want %d", len(roles), len(wantRoles))
	}
	for _, r := range roles {
		var name, title string
		_ = json.Unmarshal(r.Attributes["name"], &name)
		_ = json.Unmarshal(r.Attributes["title"], &title)
		if r.Type != "roles" || wantRoles[name] != title || !strings.HasPrefix(string(r.Relationships["abilities"].Data), "[") {
			t.Errorf("role %s %q %q", r.Type, name, title)
		}
	}
	levels := h.do("GET", "/org/levels", nil).want(t, 200).many(t)
	var names []string
	for _, l := range levels {
		names = append(names, l.attr("name"))
	}
	if strings.Join(names, ",") != `"Business","Site","Department","Team"` || levels[0].Type != "levels" {
		t.Errorf("levels %v", names)
	}
	abilities := h.do("GET", "/org/abilities", nil).want(t, 200).many(t)
	if len(abilities) < 3 || abilities[0].Type != "abilities" || abilities[0].attr("title") == "null" {
		t.Errorf("abilities %+v", abilities)
	}
	groups := h.do("GET", "/org/groups", nil).want(t, 200).many(t)
	if len(groups) != 2 ||
		groups[0].attr("parent") != "null" || groups[0].attr("level") != `"Business"` ||
		groups[1].attr("name") != `"Test Team 1"` || groups[1].attr("level") != `"Team"` || groups[1].attr("parent") != `"`+groups[0].ID+`"` {
		t.Errorf("groups %+v", groups)
	}
	if users := h.do("GET", "/org/users", nil).want(t, 200).many(t); len(users) != 0 {
		t.Errorf("%d users, want none", len(users))
	}
}

// The simulator stands alone: only the standard library.
func TestImportsOnlyTheStandardLibrary(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("glob: %v", err)
	}
	for _, f := range files {
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %s; the simulator uses the standard library only", f, path)
			}
		}
	}
	if _, err := os.Stat("doc.go"); err != nil {
		t.Errorf("doc.go: %v", err)
	}
}

func TestConcurrentRequests(t *testing.T) {
	h := newHarness(t, nil)
	team := h.groupID("Test Team 1")
	wqt := h.wqtID("Inbound Calls")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			name := "user" + string(rune('a'+i))
			res := h.do("POST", "/org/users", userBody("", person(name), obj{"roles": rolesRel(h.roleID("agent")), "agent-team": teamRel(team)}))
			if res.status != 201 {
				t.Errorf("create %s: %d", name, res.status)
				return
			}
			id := res.one(t).ID
			h.do("POST", "/quality/work-queue-templates/"+wqt+"/agents", obj{"data": refs("users", id)})
			h.do("GET", "/org/users", nil)
			_ = h.sim.Counts()
		})
	}
	wg.Wait()
	if got := len(h.wqtAgents(wqt)); got != 20 {
		t.Errorf("%d agents assigned, want 20", got)
	}
	if got := h.sim.Writes(); got != 40 {
		t.Errorf("writes %d, want 40", got)
	}
}
