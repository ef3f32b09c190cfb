package evaluagentsim

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestListAndGetWQTs(t *testing.T) {
	h := newHarness(t, nil)
	list := h.do("GET", "/quality/work-queue-templates", nil).want(t, 200).many(t)
	if len(list) != 2 || list[0].attr("name") != `"Inbound Calls"` || list[1].attr("name") != `"Complaints"` {
		t.Fatalf("templates %+v", list)
	}
	w := h.do("GET", "/quality/work-queue-templates/"+list[0].ID, nil).want(t, 200).one(t)
	if w.Type != "work-queue-templates" || w.attr("active") != "true" || string(w.Relationships["agents"].Data) != "[]" {
		t.Errorf("template %+v", w)
	}
	const missing = "1d4f8a2b-0000-4000-8000-000000000000"
	h.do("GET", "/quality/work-queue-templates/"+missing, nil).wantError(t, 404, "", "Work Queue Template not found")
	h.do("GET", "/quality/work-queue-templates/"+missing+"/agents", nil).wantError(t, 404, "", "Work Queue Template not found")
	h.do("POST", "/quality/work-queue-templates/"+missing+"/agents", obj{"data": []any{}}).wantError(t, 404, "", "Work Queue Template not found")
}

// W3-W6, D16 and the idempotence notes of §7.
func TestWQTMembership(t *testing.T) {
	h := newHarness(t, nil)
	team := h.groupID("Test Team 1")
	a, b, c := h.createAgent("ann", team), h.createAgent("bob", team), h.createAgent("cat", team)
	wqt := h.wqtID("Complaints")
	path := "/quality/work-queue-templates/" + wqt + "/agents"
	listed := func() []string {
		var doc struct {
			Data []ident `json:"data"`
		}
		if err := json.Unmarshal(h.do("GET", path, nil).want(t, 200).body, &doc); err != nil || doc.Data == nil {
			t.Fatalf("W3 body: %v", err)
		}
		var ids []string
		for _, d := range doc.Data {
			if d.Type != "users" {
				t.Errorf("W3 item type %q", d.Type)
			}
			ids = append(ids, d.ID)
		}
		return ids
	}
	if got := listed(); len(got) != 0 {
		t.Fatalf("agents %v, want none", got)
	}
	// W5 adds; duplicates in the body count once.
	res := h.do("POST", path, obj{"data": refs("users", a, b, a)}).want(t, 200).one(t)
	if res.Type != "work-queue-templates" || res.ID != wqt {
		t.Errorf("W5 answered %+v, want the template", res)
	}
	if got := listed(); !slices.Equal(got, []string{a, b}) {
		t.Errorf("after W5 %v", got)
	}
	// W5 with an assigned agent is a no-op for it.
	h.do("POST", path, obj{"data": refs("users", b, c)}).want(t, 200)
	if got := listed(); !slices.Equal(got, []string{a, b, c}) {
		t.Errorf("after second W5 %v", got)
	}
	// W6 removes; ids not assigned (known or not) are no-ops.
	h.do("DELETE", path, obj{"data": refs("users", b, b, "not-a-user")}).want(t, 200)
	h.do("DELETE", path, obj{"data": refs("users", b)}).want(t, 200)
	if got := listed(); !slices.Equal(got, []string{a, c}) {
		t.Errorf("after W6 %v", got)
	}
	// W4 replaces exactly, through the /relationships/agents spelling as well.
	h.do("PATCH", "/quality/work-queue-templates/"+wqt+"/relationships/agents", obj{"data": refs("users", b)}).want(t, 200)
	if got := listed(); !slices.Equal(got, []string{b}) {
		t.Errorf("after W4 %v", got)
	}
	h.do("PATCH", path, obj{"data": []any{}}).want(t, 200)
	if got := h.wqtAgents(wqt); len(got) != 0 {
		t.Errorf("after W4 [] %v, want empty", got)
	}
	if n := h.sim.Counts()["PATCH /quality/work-queue-templates/{id}/relationships/agents"]; n != 1 {
		t.Errorf("alias counted %d times", n)
	}
}

// D15
func TestWQTAssignmentRules(t *testing.T) {
	h := newHarness(t, nil)
	team := h.groupID("Test Team 1")
	ok := h.createAgent("ann", team)
	gone := h.createAgent("bob", team)
	h.do("PATCH", "/org/users/"+gone, userBody(gone, obj{"active": false}, nil)).want(t, 200)
	manager := h.createUser(person("meg"), obj{"roles": rolesRel(h.roleID("manager"))})
	wqt := h.wqtID("Inbound Calls")
	h.do("POST", "/quality/work-queue-templates/"+wqt+"/agents", obj{"data": refs("users", ok)}).want(t, 200)
	for name, tc := range map[string]struct{ id, detail string }{
		"unknown":   {"7c1e0f00-0000-4000-8000-000000000000", "User not found"},
		"inactive":  {gone, "The user is inactive and cannot be assigned."},
		"not agent": {manager, "Only users with the agent role can be assigned."},
	} {
		for _, method := range []string{"POST", "PATCH"} {
			t.Run(name+" "+method, func(t *testing.T) {
				h.unchanged(func() {
					h.do(method, "/quality/work-queue-templates/"+wqt+"/agents", obj{"data": refs("users", ok, tc.id)}).
						wantError(t, 422, "/data/1", tc.detail)
				})
			})
		}
	}
}

// D17 on W4-W6.
func TestWQTBodyShape(t *testing.T) {
	h := newHarness(t, nil)
	path := "/quality/work-queue-templates/" + h.wqtID("Inbound Calls") + "/agents"
	h.unchanged(func() {
		h.do("POST", path, `{"data":{"type":"users","id":"x"}}`).wantError(t, 400, "/data", "Malformed request body")
		h.do("POST", path, `{}`).wantError(t, 400, "/data", "Malformed request body")
		h.do("POST", path, `{"data":[{"type":"users"}]}`).wantError(t, 400, "/data/0", "Malformed request body")
		h.do("POST", path, obj{"data": refs("groups", "x")}).wantError(t, 409, "/data/0/type", "Resource type or id mismatch")
	})
}
