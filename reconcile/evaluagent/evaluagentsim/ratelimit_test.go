package evaluagentsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const minuteLimitBody = `{"errors":[{"status":"429","title":"Too Many Requests","detail":"Rate limit of 3 requests per minute exceeded for this endpoint."}]}`

func TestRateLimitPerMinute(t *testing.T) {
	const otherID = "00000000-0000-4000-8000-000000000002"
	h := newHarness(t, func(c *Config) {
		c.RatePerMinute = 3
		c.Keys = append(c.Keys, Key{ID: otherID, Secret: DemoKeySecret})
	})
	a := h.createUser(person("ann"), nil)
	b := h.createUser(person("bob"), nil)
	patch := func(id string) result {
		return h.do("PATCH", "/org/users/"+id, userBody(id, obj{"forename": "X" + id[:4]}, nil))
	}
	// Every user id draws on one budget for PATCH /org/users/{id}.
	patch(a).want(t, 200)
	patch(b).want(t, 200)
	patch(a).want(t, 200)
	h.unchanged(func() {
		res := patch(b).want(t, 429)
		if string(res.body) != minuteLimitBody {
			t.Errorf("body %s, want %s", res.body, minuteLimitBody)
		}
		if got := res.header.Get("Retry-After"); got != "17" { // t0 is 10:00:43.5
			t.Errorf("Retry-After %q, want 17", got)
		}
		if ct := res.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
	})
	// Other endpoints, and other keys, have their own budgets.
	h.do("GET", "/org/users/"+a, nil).want(t, 200)
	h.send("PATCH", "/v1/org/users/"+a, `{"data":{"type":"users","id":"`+a+`"}}`,
		map[string]string{"Authorization": basicAuth(otherID, DemoKeySecret), "Content-Type": "application/json"}).want(t, 200)

	// Rejected requests do not count: the next minute allows three again, after any number of 429s.
	h.sim.SetNow(t0.Add(16 * time.Second))
	if got := patch(a).want(t, 429).header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q at 10:00:59.5, want 1", got)
	}
	h.sim.SetNow(t0.Add(17 * time.Second)) // 10:01:00.5
	for range 3 {
		patch(a).want(t, 200)
	}
	patch(a).want(t, 429)
	if got := h.sim.StatusCounts()["PATCH /org/users/{id}"]; got[200] != 7 || got[429] != 3 {
		t.Errorf("status counts %v, want 7×200 (6 demo + 1 other key) and 3×429", got)
	}
}

func TestRateLimitPerDay(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RatePerDay = 5 })
	for i := range 5 {
		h.sim.SetNow(t0.Add(time.Duration(i) * time.Hour))
		h.do("GET", "/org/users", nil).want(t, 200)
	}
	h.sim.SetNow(time.Date(2025, 6, 2, 23, 59, 0, 0, time.UTC))
	res := h.do("GET", "/org/users", nil).want(t, 429)
	if got := res.header.Get("Retry-After"); got != "60" {
		t.Errorf("Retry-After %q, want 60 (to UTC midnight)", got)
	}
	if !strings.Contains(string(res.body), "Rate limit of 5 requests per day exceeded for this endpoint.") {
		t.Errorf("body %s", res.body)
	}
	h.do("GET", "/org/groups", nil).want(t, 200)
	h.sim.SetNow(time.Date(2025, 6, 3, 0, 0, 0, 0, time.UTC))
	h.do("GET", "/org/users", nil).want(t, 200)
}

func TestForceStatus(t *testing.T) {
	h := newHarness(t, nil)
	id := h.createUser(person("pat"), nil)
	h.sim.ForceStatus("PATCH /org/users/{id}", http.StatusServiceUnavailable, 2)
	h.sim.ForceStatus("GET /org/users", http.StatusTooManyRequests, 1)
	h.unchanged(func() {
		for range 2 {
			h.do("PATCH", "/org/users/"+id, userBody(id, obj{"forename": "Sam"}, nil)).wantError(t, 503, "", "")
		}
		if got := h.do("GET", "/org/users", nil).want(t, 429).header.Get("Retry-After"); got != "17" {
			t.Errorf("forced 429 Retry-After %q, want 17", got)
		}
	})
	h.do("PATCH", "/org/users/"+id, userBody(id, obj{"forename": "Sam"}, nil)).want(t, 200)
	h.do("GET", "/org/users", nil).want(t, 200)
	if got := h.sim.Writes(); got != 2 {
		t.Errorf("writes %d, want 2 (create and the last PATCH)", got)
	}
	for _, bad := range []string{"PATCH /org/users/123", "DELETE /org/users/{id}", "GET /nothing"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("ForceStatus(%q) did not panic", bad)
				}
			}()
			h.sim.ForceStatus(bad, 500, 1)
		}()
	}
}

func TestCounts(t *testing.T) {
	h := newHarness(t, nil)
	id := h.createUser(person("pat"), nil)
	h.do("GET", "/org/users", nil).want(t, 200)
	h.do("GET", "/org/users/"+id, nil).want(t, 200)
	h.do("GET", "/org/users/nobody", nil).want(t, 404)
	h.do("PATCH", "/org/users/"+id, userBody(id, obj{"username": "x"}, nil)).want(t, 422)
	h.do("DELETE", "/org/users/"+id, nil).want(t, 405)
	h.send("GET", "/v1/org/users", "", map[string]string{}).want(t, 401)
	want := map[string]int{
		"POST /org/users": 1, "GET /org/users": 2, "GET /org/users/{id}": 2,
		"PATCH /org/users/{id}": 1, "DELETE /org/users/{id}": 1,
	}
	got := h.sim.Counts()
	if len(got) != len(want) {
		t.Errorf("counts %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("count %s = %d, want %d", k, got[k], v)
		}
	}
	if st := h.sim.StatusCounts()["GET /org/users"]; st[200] != 1 || st[401] != 1 {
		t.Errorf("GET /org/users statuses %v", st)
	}
	if h.sim.Writes() != 1 {
		t.Errorf("writes %d, want 1", h.sim.Writes())
	}

	// Over HTTP, without credentials and uncounted.
	res := h.send("GET", "/_sim/counts", "", map[string]string{}).want(t, 200)
	var doc struct {
		Requests map[string]int            `json:"requests"`
		Statuses map[string]map[string]int `json:"statuses"`
		Writes   int                       `json:"writes"`
	}
	if err := json.Unmarshal(res.body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Requests["GET /org/users"] != 2 || doc.Writes != 1 || doc.Statuses["PATCH /org/users/{id}"]["422"] != 1 {
		t.Errorf("/_sim/counts %s", res.body)
	}
	h.send("POST", "/_sim/counts", "", map[string]string{}).want(t, 405)
	h.send("POST", "/_sim/reset-counts", "", map[string]string{}).want(t, 204)
	if len(h.sim.Counts()) != 0 || h.sim.Writes() != 0 {
		t.Errorf("after reset: %v, writes %d", h.sim.Counts(), h.sim.Writes())
	}
}

type pageDoc struct {
	Data  []resourceDoc `json:"data"`
	Links struct {
		First, Last string
		Prev, Next  *string
	} `json:"links"`
	Meta struct {
		Page map[string]*int `json:"page"`
	} `json:"meta"`
}

func TestPaging(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.PageSize = 2 })
	var want []string
	for _, n := range []string{"ann", "bob", "cat", "dan", "eve"} {
		a := person(n)
		a["email"] = n + "@example.com"
		want = append(want, h.createUser(a, nil))
	}
	// Follow links.next from the first page, as a client would.
	next := h.url + "/v1/org/users?filter%5Bunknown%5D=kept"
	var got []string
	for pages := 0; next != ""; pages++ {
		if pages > 5 {
			t.Fatal("links.next does not end")
		}
		u, err := url.Parse(next)
		if err != nil {
			t.Fatal(err)
		}
		res := h.send("GET", u.RequestURI(), "", map[string]string{"Authorization": basicAuth(DemoKeyID, DemoKeySecret)}).want(t, 200)
		var doc pageDoc
		if err := json.Unmarshal(res.body, &doc); err != nil {
			t.Fatal(err)
		}
		p := doc.Meta.Page
		if *p["current-page"] != pages+1 || *p["per-page"] != 2 || *p["total"] != 5 || *p["last-page"] != 3 {
			t.Errorf("page %d meta %s", pages+1, res.body)
		}
		if !strings.HasSuffix(doc.Links.Last, "page%5Bnumber%5D=3") || !strings.Contains(doc.Links.First, "filter%5Bunknown%5D=kept") {
			t.Errorf("links %+v", doc.Links)
		}
		if (pages == 0) != (doc.Links.Prev == nil) {
			t.Errorf("page %d prev %v", pages+1, doc.Links.Prev)
		}
		if from, to := p["from"], p["to"]; *from != pages*2+1 || *to != min(pages*2+2, 5) {
			t.Errorf("page %d from %d to %d", pages+1, *from, *to)
		}
		for _, d := range doc.Data {
			got = append(got, d.ID)
		}
		next = ""
		if doc.Links.Next != nil {
			next = *doc.Links.Next
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("paged ids %v, want %v", got, want)
	}
	// Filters page too; a page past the end is empty; page[number] must be a positive integer.
	var doc pageDoc
	_ = json.Unmarshal(h.do("GET", "/org/users?filter[email]=CAT%40example.com", nil).want(t, 200).body, &doc)
	if len(doc.Data) != 1 || doc.Links.Next != nil || *doc.Meta.Page["total"] != 1 {
		t.Errorf("filtered page %+v", doc)
	}
	doc = pageDoc{}
	_ = json.Unmarshal(h.do("GET", "/org/users?page[number]=9", nil).want(t, 200).body, &doc)
	if doc.Data == nil || len(doc.Data) != 0 || doc.Meta.Page["from"] != nil || doc.Links.Next != nil {
		t.Errorf("page past the end %+v", doc)
	}
	h.do("GET", "/org/users?page[number]=0", nil).wantError(t, 400, "", "")
	// Work-queue templates are never paged; without PageSize nothing is.
	if res := h.do("GET", "/quality/work-queue-templates", nil).want(t, 200); strings.Contains(string(res.body), `"links"`) {
		t.Errorf("templates paged: %s", res.body)
	}
	plain := newHarness(t, nil)
	if res := plain.do("GET", "/org/groups", nil).want(t, 200); strings.Contains(string(res.body), `"links"`) || strings.Contains(string(res.body), `"meta"`) {
		t.Errorf("unpaged list has links or meta: %s", res.body)
	}
}
