package statuspage

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

type fakeBackend struct {
	view      View
	approved  []int64
	rejected  []int64
	triggered int
}

func (f *fakeBackend) View(context.Context) (*View, error) { v := f.view; return &v, nil }
func (f *fakeBackend) Approve(_ context.Context, id int64) error {
	if id == 99 {
		return errors.New("held operation 99 not found")
	}
	f.approved = append(f.approved, id)
	return nil
}
func (f *fakeBackend) Reject(_ context.Context, id int64) error {
	f.rejected = append(f.rejected, id)
	return nil
}
func (f *fakeBackend) Trigger() { f.triggered++ }

func newServer(t *testing.T) (*fakeBackend, *httptest.Server) {
	t.Helper()
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	f := &fakeBackend{view: View{
		Now: now, Version: "v1.2.3", Mode: "apply", Targets: []string{"evaluagent"},
		Held: []Held{{ID: 7, Status: "pending", Target: "evaluagent", Action: "deactivate", Kind: "user", Key: "E1002",
			Name: "ben.carter@example.com", Reason: "3 removals, over the limit of 2", CreatedAt: now.Add(-time.Hour)}},
		Drift:   []Point{{At: now.Add(-2 * time.Hour), Pending: 21}, {At: now.Add(-time.Hour), Pending: 1, Held: 3}},
		Sources: []Source{{Name: "hr", Type: "csv", Read: true, ReadAt: now, Records: 12, Complete: true, LastHealthy: now}},
	}}
	p, err := New(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", p)
	p.Register(mux)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return f, ts
}

func getPage(t *testing.T, ts *httptest.Server) string {
	t.Helper()
	resp, err := http.Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return string(b)
}

func TestPageShowsTheFiguresWithoutScript(t *testing.T) {
	_, ts := newServer(t)
	body := getPage(t, ts)
	for _, want := range []string{
		`<html lang="en">`, `http-equiv="refresh"`, `href="/assets/style.css"`,
		`ben.carter@example.com`, `action="/held/7/approve"`, `aria-label="Approve hold 7: deactivate user ben.carter@example.com"`,
		`<svg class="chart"`, `role="img"`, `Operations pending after the last pass: 1; held: 3`,
		`data-source="hr"`, `version v1.2.3`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script") || strings.Contains(body, "http://") && !strings.Contains(body, `xmlns="http://www.w3.org/2000/svg"`) {
		t.Error("the page loads a script or an outside resource")
	}
	resp, err := http.Get(ts.URL + "/assets/style.css")
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("stylesheet: %v %v", resp, err)
	}
	resp.Body.Close()
}

func token(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no form token on the page")
	}
	return m[1]
}

func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func TestApproveNeedsTheTokenAndTheSameOrigin(t *testing.T) {
	f, ts := newServer(t)
	tok := token(t, getPage(t, ts))
	post := func(path string, form url.Values, hdr map[string]string) *http.Response {
		req, _ := http.NewRequest("POST", ts.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := noRedirect().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	cases := []struct {
		name string
		form url.Values
		hdr  map[string]string
	}{
		{"no token", url.Values{}, nil},
		{"wrong token", url.Values{"csrf": {"00" + tok[2:]}}, nil},
		{"cross-site", url.Values{"csrf": {tok}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"other origin", url.Values{"csrf": {tok}}, map[string]string{"Origin": "https://evil.example"}},
	}
	for _, c := range cases {
		if resp := post("/held/7/approve", c.form, c.hdr); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", c.name, resp.StatusCode)
		}
	}
	if len(f.approved) != 0 || f.triggered != 0 {
		t.Fatalf("a refused POST approved %v / triggered %d", f.approved, f.triggered)
	}
	origin := map[string]string{"Origin": ts.URL, "Sec-Fetch-Site": "same-origin"}
	resp := post("/held/7/approve", url.Values{"csrf": {tok}}, origin)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/?done=approved&id=7") {
		t.Fatalf("approve: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if len(f.approved) != 1 || f.approved[0] != 7 || f.triggered != 1 {
		t.Errorf("approved %v, triggered %d; want [7] and one pass asked for", f.approved, f.triggered)
	}
	if resp := post("/held/7/reject", url.Values{"csrf": {tok}}, origin); resp.StatusCode != http.StatusSeeOther || len(f.rejected) != 1 {
		t.Errorf("reject: %d, rejected %v", resp.StatusCode, f.rejected)
	}
	if resp := post("/held/99/approve", url.Values{"csrf": {tok}}, origin); resp.StatusCode != http.StatusConflict {
		t.Errorf("approving an unknown hold: %d, want 409", resp.StatusCode)
	}
}

func TestDurationsAreForPeople(t *testing.T) {
	for d, want := range map[time.Duration]string{
		850 * time.Millisecond: "850ms", 12500 * time.Millisecond: "12.5s",
		245 * time.Second: "4m 05s", 130 * time.Minute: "2h 10m",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestStandbyPageIsReadOnly: a standby's page says who leads and offers no
// decision and no pass, while the held operations stay listed.
func TestStandbyPageIsReadOnly(t *testing.T) {
	f, ts := newServer(t)
	f.view.Standby = "standby; leader is rostersync serve on host-a (pid 4242) since 2026-11-21 11:00:00 (epoch 3)"
	body := getPage(t, ts)
	for _, want := range []string{`id="standby"`, "leader is rostersync serve on host-a (pid 4242)", "ben.carter@example.com", "on the leader"} {
		if !strings.Contains(body, want) {
			t.Errorf("the standby's page lacks %q", want)
		}
	}
	for _, unwanted := range []string{`action="/held/7/approve"`, `action="/held/7/reject"`, `action="/pass"`} {
		if strings.Contains(body, unwanted) {
			t.Errorf("the standby's page offers %q", unwanted)
		}
	}
	f.view.Standby = ""
	if body := getPage(t, ts); strings.Contains(body, `id="standby"`) || !strings.Contains(body, `action="/held/7/approve"`) {
		t.Error("the leader's page is read-only or says standby")
	}
}
