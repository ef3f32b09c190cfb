package vokisim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rostersync/rostersync/reconcile/voki/vokisim"
)

var now = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type client struct {
	t              *testing.T
	url, tok, tent string
}

func (c *client) call(method, path string, body any) (int, map[string]any, http.Header) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.url+path, rd)
	req.Header.Set("X-Tenant", c.tent)
	if c.tok != "" {
		req.Header.Set("Authorization", "Bearer "+c.tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, resp.Header
}

func start(t *testing.T) *client {
	t.Helper()
	sim := vokisim.New(vokisim.Config{Tenants: []*vokisim.Tenant{vokisim.DefaultTenant(now)}, Now: func() time.Time { return now }})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c := &client{t: t, url: srv.URL, tent: vokisim.DemoTenant}
	st, m, _ := c.call("POST", "/api/auth/login", map[string]string{"email": vokisim.DemoEmail, "password": vokisim.DemoPassword, "tenant": vokisim.DemoTenant})
	if st != 200 {
		t.Fatalf("login: %d %v", st, m)
	}
	c.tok = m["data"].(map[string]any)["access_token"].(string)
	return c
}

func TestTheTokenNamesItsTenant(t *testing.T) {
	c := start(t)
	c.tent = "other"
	if st, _, _ := c.call("GET", "/api/v1/users/me", nil); st != 401 {
		t.Errorf("X-Tenant of another tenant: %d, want 401", st)
	}
}

func TestLoginLimitIsFiveAMinuteWithRetryAfter(t *testing.T) {
	c := start(t) // one login
	for i := range 4 {
		if st, _, _ := c.call("POST", "/api/auth/login", map[string]string{"email": "x@acme.example", "password": "bad", "tenant": vokisim.DemoTenant}); st != 401 {
			t.Fatalf("login %d: %d, want 401", i+2, st)
		}
	}
	st, m, h := c.call("POST", "/api/auth/login", map[string]string{"email": vokisim.DemoEmail, "password": vokisim.DemoPassword, "tenant": vokisim.DemoTenant})
	if st != 429 || h.Get("Retry-After") != "60" {
		t.Errorf("sixth auth call in a minute: %d, Retry-After %q (%v), want 429 and 60", st, h.Get("Retry-After"), m)
	}
}

func TestDomainRules(t *testing.T) {
	c := start(t)
	for _, tc := range []struct {
		name, method, path string
		body               any
		want               int
	}{
		{"no user delete", "DELETE", "/api/v1/users/a0000000-0000-4000-8000-000000000006", nil, 404},
		{"no owner written", "PUT", "/api/v1/users/a0000000-0000-4000-8000-000000000006", map[string]any{"user": map[string]any{"role": "owner"}}, 422},
		{"no self-deactivation", "PUT", "/api/v1/users/a0000000-0000-4000-8000-000000000002", map[string]any{"user": map[string]any{"active": false}}, 422},
		{"duplicate email, any case", "POST", "/api/v1/users", map[string]any{"user": map[string]any{"name": "Gus Two", "email": "GHOST@acme.example", "role": "attendant"}}, 422},
		{"bare create body", "POST", "/api/v1/users", map[string]any{"name": "Bare Body", "email": "bare@acme.example", "role": "attendant"}, 201},
		{"recordings block a department delete", "DELETE", "/api/v1/departments/d0000000-0000-4000-8000-000000000002", nil, 422},
		{"unknown member", "POST", "/api/v1/departments/d0000000-0000-4000-8000-000000000002/users", map[string]any{"user_id": "nobody"}, 422},
		{"members by list", "POST", "/api/v1/departments/d0000000-0000-4000-8000-000000000002/users", map[string]any{"user_ids": []string{"a0000000-0000-4000-8000-000000000006"}}, 201},
		{"re-adding a member", "POST", "/api/v1/departments/d0000000-0000-4000-8000-000000000002/users", map[string]any{"user_id": "a0000000-0000-4000-8000-000000000006"}, 200},
		{"removing a non-member", "DELETE", "/api/v1/departments/d0000000-0000-4000-8000-000000000001/users/a0000000-0000-4000-8000-000000000004", nil, 404},
	} {
		if st, m, _ := c.call(tc.method, tc.path, tc.body); st != tc.want {
			t.Errorf("%s: %d %v, want %d", tc.name, st, m, tc.want)
		}
	}
}

func TestStatsByUserAndPaging(t *testing.T) {
	c := start(t)
	st, m, _ := c.call("GET", "/api/v1/evaluations/stats?user_id=a0000000-0000-4000-8000-000000000006&date_from=2026-02-01&date_to=2026-03-02", nil)
	d := m["data"].(map[string]any)
	if st != 200 || d["total_evaluations"].(float64) != 3 || d["satisfaction_rate"].(float64) < 66 || len(d["distribution"].(map[string]any)) != 5 {
		t.Errorf("stats: %d %v", st, m)
	}
	_, m, _ = c.call("GET", "/api/v1/evaluations/stats?user_id=a0000000-0000-4000-8000-000000000006&date_from=2026-03-02&date_to=2026-03-02", nil)
	if n := m["data"].(map[string]any)["total_evaluations"].(float64); n != 0 {
		t.Errorf("stats of a day without ratings: %v", n)
	}
	_, m, _ = c.call("GET", "/api/v1/users?page=1&page_size=500", nil)
	meta := m["meta"].(map[string]any)
	if meta["page_size"].(float64) != 100 || meta["total_count"].(float64) != 6 {
		t.Errorf("page_size is not clamped to 100: %v", meta)
	}
	_, m, _ = c.call("GET", "/api/v1/evaluations?page=1", nil)
	for _, e := range m["data"].([]any) {
		if _, has := e.(map[string]any)["user_id"]; has {
			t.Error("an evaluation shows a user id; Voki shows only names")
		}
	}
}
