package evaluagentsim

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// t0 is the tests' fixed clock: a Monday, 43.5 seconds into 10:00 UTC.
var t0 = time.Date(2025, 6, 2, 10, 0, 43, 500_000_000, time.UTC)

type harness struct {
	t   *testing.T
	sim *Server
	url string
}

// newHarness serves a simulator built from DefaultConfig (clock fixed at t0), changed by edit.
func newHarness(t *testing.T, edit func(*Config)) *harness {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Now = func() time.Time { return t0 }
	if edit != nil {
		edit(&cfg)
	}
	sim, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	return &harness{t: t, sim: sim, url: ts.URL}
}

type result struct {
	status int
	header http.Header
	body   []byte
}

func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

// send makes a request with the given headers; a nil header map means demo Basic auth and, with
// a body, Content-Type application/json.
func (h *harness) send(method, path, body string, header map[string]string) result {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if header == nil {
		header = map[string]string{"Authorization": basicAuth(DemoKeyID, DemoKeySecret)}
		if body != "" {
			header["Content-Type"] = "application/json"
		}
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: b}
}

// do is send with demo credentials; body, when not a string, is marshalled.
func (h *harness) do(method, path string, body any) result {
	h.t.Helper()
	s, ok := body.(string)
	if !ok && body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			h.t.Fatal(err)
		}
		s = string(b)
	}
	return h.send(method, "/v1"+path, s, nil)
}

// want fails the test unless the response has the status.
func (r result) want(t *testing.T, status int) result {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	return r
}

type errorDoc struct {
	Errors []struct {
		Status string `json:"status"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
		Source *struct {
			Pointer string `json:"pointer"`
		} `json:"source"`
	} `json:"errors"`
}

// wantError fails the test unless the response is status with exactly one error, at pointer
// ("" for none) and, when detail is not empty, with that detail.
func (r result) wantError(t *testing.T, status int, pointer, detail string) {
	t.Helper()
	r.want(t, status)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var doc errorDoc
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	if len(doc.Errors) != 1 {
		t.Fatalf("got %d errors, want 1: %s", len(doc.Errors), r.body)
	}
	e := doc.Errors[0]
	if e.Status != strconv.Itoa(status) || e.Title == "" || e.Detail == "" {
		t.Errorf("error %+v: want status %q and a title and detail", e, strconv.Itoa(status))
	}
	got := ""
	if e.Source != nil {
		got = e.Source.Pointer
	}
	if got != pointer {
		t.Errorf("pointer %q, want %q (%s)", got, pointer, e.Detail)
	}
	if detail != "" && e.Detail != detail {
		t.Errorf("detail %q, want %q", e.Detail, detail)
	}
}

type resourceDoc struct {
	Type          string                     `json:"type"`
	ID            string                     `json:"id"`
	Attributes    map[string]json.RawMessage `json:"attributes"`
	Relationships map[string]struct {
		Data json.RawMessage `json:"data"`
	} `json:"relationships"`
}

func (r result) one(t *testing.T) resourceDoc {
	t.Helper()
	var doc struct{ Data resourceDoc }
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	return doc.Data
}

func (r result) many(t *testing.T) []resourceDoc {
	t.Helper()
	var doc struct{ Data []resourceDoc }
	if err := json.Unmarshal(r.body, &doc); err != nil || doc.Data == nil {
		t.Fatalf("body %s: want a collection (%v)", r.body, err)
	}
	return doc.Data
}

func (d resourceDoc) attr(name string) string { return string(d.Attributes[name]) }

// world is everything a request might change.
type world struct {
	Users  []User
	Groups []Group
	WQTs   []WorkQueueTemplate
}

func (h *harness) world() world {
	return world{Users: h.sim.Users(), Groups: h.sim.Groups(), WQTs: h.sim.WorkQueueTemplates()}
}

// unchanged runs fn and fails the test if it changed the account.
func (h *harness) unchanged(fn func()) {
	h.t.Helper()
	before := h.world()
	fn()
	if after := h.world(); !reflect.DeepEqual(before, after) {
		h.t.Errorf("the account changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

func (h *harness) roleID(name string) string {
	for _, r := range h.sim.Roles() {
		if r.Name == name {
			return r.ID
		}
	}
	h.t.Fatalf("no role %q", name)
	return ""
}

func (h *harness) levelID(name string) string {
	for _, l := range h.sim.Levels() {
		if l.Name == name {
			return l.ID
		}
	}
	h.t.Fatalf("no level %q", name)
	return ""
}

func (h *harness) groupID(name string) string {
	for _, g := range h.sim.Groups() {
		if g.Name == name {
			return g.ID
		}
	}
	h.t.Fatalf("no group %q", name)
	return ""
}

func (h *harness) rootID() string {
	for _, g := range h.sim.Groups() {
		if g.ParentID == "" {
			return g.ID
		}
	}
	h.t.Fatal("no root group")
	return ""
}

func (h *harness) user(id string) User {
	for _, u := range h.sim.Users() {
		if u.ID == id {
			return u
		}
	}
	h.t.Fatalf("no user %s", id)
	return User{}
}

func (h *harness) group(id string) Group {
	for _, g := range h.sim.Groups() {
		if g.ID == id {
			return g
		}
	}
	h.t.Fatalf("no group %s", id)
	return Group{}
}

func (h *harness) wqtID(name string) string {
	for _, w := range h.sim.WorkQueueTemplates() {
		if w.Name == name {
			return w.ID
		}
	}
	h.t.Fatalf("no template %q", name)
	return ""
}

func (h *harness) wqtAgents(id string) []string {
	for _, w := range h.sim.WorkQueueTemplates() {
		if w.ID == id {
			return w.AgentIDs
		}
	}
	h.t.Fatalf("no template %s", id)
	return nil
}

// Body builders.

type obj = map[string]any

func ref(typ, id string) obj { return obj{"type": typ, "id": id} }

func refs(typ string, ids ...string) []any {
	out := []any{}
	for _, id := range ids {
		out = append(out, ref(typ, id))
	}
	return out
}

func userBody(id string, attrs obj, rels obj) obj {
	data := obj{"type": "users"}
	if id != "" {
		data["id"] = id
	}
	if attrs != nil {
		data["attributes"] = attrs
	}
	if rels != nil {
		data["relationships"] = rels
	}
	return obj{"data": data}
}

func groupBody(id string, attrs obj, rels obj) obj {
	b := userBody(id, attrs, rels)
	b["data"].(obj)["type"] = "groups"
	return b
}

func rolesRel(ids ...string) obj { return obj{"data": refs("roles", ids...)} }

func teamRel(id string) obj {
	if id == "" {
		return obj{"data": nil}
	}
	return obj{"data": ref("groups", id)}
}

func person(username string) obj {
	return obj{"forename": "Pat", "surname": "Doe", "username": username}
}

// createUser creates a user and returns its id.
func (h *harness) createUser(attrs obj, rels obj) string {
	h.t.Helper()
	return h.do("POST", "/org/users", userBody("", attrs, rels)).want(h.t, 201).one(h.t).ID
}

// createAgent creates an active agent in the team.
func (h *harness) createAgent(username, teamID string) string {
	h.t.Helper()
	return h.createUser(person(username), obj{"roles": rolesRel(h.roleID("agent")), "agent-team": teamRel(teamID)})
}

// createGroup creates a group and returns its id.
func (h *harness) createGroup(name, level, parentID string) string {
	h.t.Helper()
	body := groupBody("", obj{"name": name}, obj{"parent": obj{"data": ref("groups", parentID)}, "level": obj{"data": ref("levels", h.levelID(level))}})
	return h.do("POST", "/org/groups", body).want(h.t, 201).one(h.t).ID
}
