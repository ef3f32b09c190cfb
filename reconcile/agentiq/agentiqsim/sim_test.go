package agentiqsim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rostersync/rostersync/reconcile/agentiq/agentiqsim"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func day(n int) time.Time { return t0.AddDate(0, 0, n) }

func seed() []agentiqsim.Agent {
	return []agentiqsim.Agent{
		{ID: 1, FirstName: "Ada", LastName: "Lovelace", Email: "ada@bank.example", ExternalID: "E1",
			Teams: []string{"Retail North"}, Roles: []string{"agent"}, CreatedAt: day(-10), UpdatedAt: day(-5)},
		{ID: 2, FirstName: "Alan", LastName: "Turing", Email: "alan@bank.example", ExternalID: "E2",
			Teams: []string{"Retail South"}, CreatedAt: day(-3)},
		{ID: 3, FirstName: "Grace", LastName: "Hopper", Email: "grace@bank.example",
			CreatedAt: day(-1)},
	}
}

type rig struct {
	t   *testing.T
	sim *agentiqsim.Server
	url string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	cfg := agentiqsim.DefaultConfig()
	cfg.Keys = append(cfg.Keys, agentiqsim.Key{Key: "me-key", AgentID: 2})
	cfg.Seed = seed()
	cfg.Now = func() time.Time { return t0 }
	sim, err := agentiqsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	return &rig{t: t, sim: sim, url: ts.URL}
}

func (r *rig) do(req *http.Request, key string) (int, http.Header, []byte) {
	r.t.Helper()
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (r *rig) get(path string, q url.Values) (int, []byte) {
	r.t.Helper()
	u := r.url + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	code, _, b := r.do(req, agentiqsim.DemoAPIKey)
	return code, b
}

func (r *rig) exportIDs(q url.Values) []int {
	r.t.Helper()
	code, b := r.get("/api/exports/agents", q)
	if code != 200 {
		r.t.Fatalf("export %v: %d %s", q, code, b)
	}
	var as []struct{ ID int }
	if err := json.Unmarshal(b, &as); err != nil {
		r.t.Fatal(err)
	}
	ids := []int{}
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	return ids
}

// upload posts a CSV as the documented multipart request.
func (r *rig) upload(path, filename, contentType, body string) (int, []byte) {
	r.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+filename+`"`)
	h.Set("Content-Type", contentType)
	pw, _ := mw.CreatePart(h)
	io.WriteString(pw, body)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, r.url+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	code, _, b := r.do(req, agentiqsim.DemoAPIKey)
	return code, b
}

var header = strings.Join(agentiqsim.Columns, ",") + "\n"

func TestAuthentication(t *testing.T) {
	r := newRig(t)
	for _, key := range []string{"", "wrong"} {
		req, _ := http.NewRequest(http.MethodGet, r.url+"/api/exports/agents", nil)
		code, _, b := r.do(req, key)
		if code != 401 || !strings.Contains(string(b), `"error":"Unauthorized"`) {
			t.Errorf("key %q: %d %s, want 401 Unauthorized", key, code, b)
		}
	}
	if code, _ := r.get("/api/nope", nil); code != 404 {
		t.Errorf("unknown path: %d, want 404", code)
	}
	req, _ := http.NewRequest(http.MethodDelete, r.url+"/api/agents/1", nil)
	if code, h, _ := r.do(req, agentiqsim.DemoAPIKey); code != 405 || h.Get("Allow") != "GET" {
		t.Errorf("DELETE agent: %d Allow %q, want 405 GET", code, h.Get("Allow"))
	}
	if got := r.sim.Counts()["GET /api/exports/agents"]; got != 2 {
		t.Errorf("counted %d export requests, want 2", got)
	}
}

func TestExportFilters(t *testing.T) {
	r := newRig(t)
	ts := func(t time.Time) string { return t.Format(agentiqsim.TimeLayout) }
	cases := []struct {
		name string
		q    url.Values
		want []int
	}{
		{"all", nil, []int{1, 2, 3}},
		{"start inclusive", url.Values{"start_date": {ts(day(-3))}}, []int{2, 3}},
		{"end exclusive", url.Values{"end_date": {ts(day(-3))}}, []int{1}},
		{"window", url.Values{"start_date": {ts(day(-10))}, "end_date": {ts(day(-1))}}, []int{1, 2}},
		{"updated", url.Values{"updated_start_date": {ts(day(-5))}, "updated_end_date": {ts(day(-3))}}, []int{1}},
		{"updated end exclusive", url.Values{"updated_start_date": {ts(day(-5))}, "updated_end_date": {ts(day(-2))}}, []int{1, 2}},
		{"name full", url.Values{"name": {"alan TURING"}}, []int{2}},
		{"name last", url.Values{"name": {"hopper"}}, []int{3}},
		{"email", url.Values{"email": {"ADA@bank.example"}}, []int{1}},
		{"external", url.Values{"external_id": {"E2"}}, []int{2}},
		{"and", url.Values{"external_id": {"E2"}, "name": {"Ada"}}, []int{}},
		{"agent id", url.Values{"agent_id": {"3"}}, []int{3}},
	}
	for _, c := range cases {
		if got := r.exportIDs(c.q); !cmp.Equal(got, c.want) {
			t.Errorf("%s: ids %v, want %v", c.name, got, c.want)
		}
	}
	if code, _ := r.get("/api/exports/agents", url.Values{"start_date": {"2025-03-01"}}); code != 400 {
		t.Errorf("bad timestamp: %d, want 400", code)
	}
	// Every key is present, blanks are null.
	_, b := r.get("/api/exports/agents", url.Values{"agent_id": {"3"}})
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"phone", "deleted_at", "deactivated_at", "external_id", "agent_segment"} {
		if string(raw[0][k]) != "null" {
			t.Errorf("%s = %s, want null", k, raw[0][k])
		}
	}
	if string(raw[0]["created_at"]) != `"2025-02-28T12:00:00Z"` {
		t.Errorf("created_at = %s", raw[0]["created_at"])
	}
}

func TestListingAndSingleAgent(t *testing.T) {
	r := newRig(t)
	code, b := r.get("/api/agents", url.Values{"limit": {"2"}, "offset": {"1"}, "exclude[]": {"3"}})
	if code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	var page struct {
		Models     []struct{ ID int }
		Pagination map[string]int
	}
	json.Unmarshal(b, &page)
	if len(page.Models) != 1 || page.Models[0].ID != 2 {
		t.Errorf("models %v, want [2]", page.Models)
	}
	if want := map[string]int{"limit": 2, "offset": 1, "rowCount": 2, "pageCount": 1}; !cmp.Equal(page.Pagination, want) {
		t.Errorf("pagination %v, want %v", page.Pagination, want)
	}
	if code, b := r.get("/api/agents/1", nil); code != 200 || !strings.Contains(string(b), `"first_name":"Ada"`) {
		t.Errorf("agent 1: %d %s", code, b)
	}
	if code, _ := r.get("/api/agents/99", nil); code != 404 {
		t.Errorf("agent 99: %d, want 404", code)
	}
	if code, _ := r.get("/api/agents/me", nil); code != 404 {
		t.Errorf("me without an agent: %d, want 404", code)
	}
	req, _ := http.NewRequest(http.MethodGet, r.url+"/api/agents/me", nil)
	if code, _, b := r.do(req, "me-key"); code != 200 || !strings.Contains(string(b), `"id":2`) {
		t.Errorf("me: %d %s", code, b)
	}
}

func TestImportUpserts(t *testing.T) {
	r := newRig(t)
	r.sim.SetNow(day(1))
	body := header +
		// 1: update Ada by map id: new last name, empty first name kept, new team replaces.
		",Byron,ada@bank.example,E1,Retail East,,,,,,,\n" +
		// 2: Grace by email gets an external id.
		"Grace,Hopper,grace@bank.example,E3,,,,,,,,\n" +
		// 3: a new agent.
		"Kat,Johnson,kat@bank.example,E4,Retail North,,,,,,,\n" +
		// 4: banker fields without an email.
		"No,Email,,E5,,,,,,,,\n" +
		// 5: a customer-only row.
		",,,,,Cu,Stomer,C1,cu@x.example,Gold,,\n" +
		// 6: a customer without a map id.
		",,,,,Cu,Stomer,,,,,\n" +
		// 7: an email taken by another agent.
		"Alan,Turing,ada@bank.example,E2,,,,,,,,\n" +
		// 8: too few cells.
		"A,B,c@bank.example\n"
	code, b := r.upload("/api/imports/users", "bankers.csv", "text/csv", body)
	if code != 200 {
		t.Fatalf("upload: %d %s", code, b)
	}
	var res struct {
		Total   []map[string]any
		Success []struct {
			Row     int
			Action  string
			AgentID int `json:"agent_id"`
		}
		Failure []struct {
			Row   int
			Error string
		}
		Summary map[string]int
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Total) != 8 || res.Summary["total"] != 8 || res.Summary["success"] != 4 || res.Summary["failure"] != 4 {
		t.Errorf("totals: %d rows, summary %v", len(res.Total), res.Summary)
	}
	gotOK := map[int]string{}
	for _, s := range res.Success {
		gotOK[s.Row] = s.Action
	}
	if want := map[int]string{1: "updated", 2: "updated", 3: "created", 5: "created"}; !cmp.Equal(gotOK, want) {
		t.Errorf("success %v, want %v", gotOK, want)
	}
	gotFail := map[int]string{}
	for _, f := range res.Failure {
		gotFail[f.Row] = f.Error
	}
	for row, want := range map[int]string{4: "Banker Email is required", 6: "CustomerMapID is required", 7: "belongs to another agent", 8: "3 cells"} {
		if !strings.Contains(gotFail[row], want) {
			t.Errorf("row %d failure %q, want it to say %q", row, gotFail[row], want)
		}
	}
	as := r.sim.Agents()
	if len(as) != 4 {
		t.Fatalf("%d agents, want 4", len(as))
	}
	ada, alan, grace, kat := as[0], as[1], as[2], as[3]
	if ada.FirstName != "Ada" || ada.LastName != "Byron" || !cmp.Equal(ada.Teams, []string{"Retail East"}) || !ada.UpdatedAt.Equal(day(1)) {
		t.Errorf("Ada = %+v", ada)
	}
	if alan.Email != "alan@bank.example" || !alan.UpdatedAt.Equal(day(-3)) {
		t.Errorf("a failed row changed Alan: %+v", alan)
	}
	if grace.ExternalID != "E3" {
		t.Errorf("Grace external id %q, want E3", grace.ExternalID)
	}
	if kat.ID != 4 || kat.ExternalID != "E4" || !kat.CreatedAt.Equal(day(1)) || !cmp.Equal(kat.Teams, []string{"Retail North"}) {
		t.Errorf("Kat = %+v", kat)
	}
	if cs := r.sim.Customers(); len(cs) != 1 || cs[0].MapID != "C1" {
		t.Errorf("customers %+v", cs)
	}
	if r.sim.Writes() != 1 || r.sim.RowsReceived() != 8 {
		t.Errorf("writes %d rows %d, want 1 and 8", r.sim.Writes(), r.sim.RowsReceived())
	}
}

func TestImportRefusals(t *testing.T) {
	r := newRig(t)
	cases := []struct {
		name, filename, ctype, body, want string
	}{
		{"wrong header", "a.csv", "text/csv", "Banker First Name,Banker Last Name\nA,B\n", "wrong header row"},
		{"reordered header", "a.csv", "text/csv", strings.Replace(header, "Banker First Name,Banker Last Name", "Banker Last Name,Banker First Name", 1), "wrong header row"},
		{"bom", "a.csv", "text/csv", "\ufeff" + header, "wrong header row"},
		{"empty", "a.csv", "text/csv", "", "empty"},
		{"not csv name", "a.txt", "text/csv", header, ".csv"},
		{"content type", "a.csv", "application/json", header, "text/csv"},
	}
	for _, c := range cases {
		code, b := r.upload("/api/imports/users", c.filename, c.ctype, c.body)
		if code != 400 || !strings.Contains(string(b), c.want) {
			t.Errorf("%s: %d %s, want 400 saying %q", c.name, code, b, c.want)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, r.url+"/api/imports/users", strings.NewReader(header))
	req.Header.Set("Content-Type", "text/csv")
	if code, _, _ := r.do(req, agentiqsim.DemoAPIKey); code != 400 {
		t.Errorf("no multipart: %d, want 400", code)
	}
	if r.sim.Writes() != 0 || len(r.sim.Agents()) != 3 {
		t.Errorf("a refused upload changed something")
	}
	// CRLF line endings and the alias path are accepted.
	code, b := r.upload("/api/ingestion/users", "x.csv", "text/csv; charset=utf-8",
		strings.ReplaceAll(header+"Zed,Z,zed@bank.example,E9,T,,,,,,,\n", "\n", "\r\n"))
	if code != 200 || !strings.Contains(string(b), `"action":"created"`) {
		t.Errorf("alias with CRLF: %d %s", code, b)
	}
}

func TestImportNeverTouchesDeactivation(t *testing.T) {
	r := newRig(t)
	at := day(-1)
	if err := r.sim.SetDeactivated(2, &at); err != nil {
		t.Fatal(err)
	}
	if err := r.sim.SetDeleted(3, &at); err != nil {
		t.Fatal(err)
	}
	code, b := r.upload("/api/imports/users", "b.csv", "text/csv", header+"Alan,Turing,alan@bank.example,E2,Retail West,,,,,,,\n")
	if code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	as := r.sim.Agents()
	if as[1].DeactivatedAt == nil || !as[1].DeactivatedAt.Equal(at) || as[2].DeletedAt == nil {
		t.Errorf("import changed deactivation: %+v %+v", as[1], as[2])
	}
	if !cmp.Equal(as[1].Teams, []string{"Retail West"}) {
		t.Errorf("a deactivated agent is still updated by import: teams %v", as[1].Teams)
	}
	// Deactivated and deleted agents stay in the export.
	if got := r.exportIDs(nil); len(got) != 3 {
		t.Errorf("export %v, want all three", got)
	}
}

func TestForcedRateLimit(t *testing.T) {
	r := newRig(t)
	r.sim.Force("GET /api/exports/agents", agentiqsim.Forced{Status: 429, N: 1, RetryAfter: 2 * time.Second})
	req, _ := http.NewRequest(http.MethodGet, r.url+"/api/exports/agents", nil)
	code, h, _ := r.do(req, agentiqsim.DemoAPIKey)
	if code != 429 || h.Get("Retry-After") != "2" {
		t.Errorf("forced: %d Retry-After %q, want 429 and 2", code, h.Get("Retry-After"))
	}
	if code, _ := r.get("/api/exports/agents", nil); code != 200 {
		t.Errorf("after the forced answer: %d, want 200", code)
	}
}
