package scim

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// These tests replay the request bodies each identity provider sends
// (endpoint contract §3) against the endpoint over HTTP.

const entraUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef","userName":"alice@contoso.com","active":true,"emails":[{"primary":true,"type":"work","value":"alice@contoso.com"}],"meta":{"resourceType":"User"},"name":{"formatted":"Alice Smith","familyName":"Smith","givenName":"Alice"},"roles":[]}`

const entraGroup = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"QA Team","meta":{"resourceType":"Group"}}`

func filterPath(endpoint, f string, extra ...string) string {
	v := url.Values{"filter": {f}}
	p := endpoint + "?" + v.Encode()
	for _, e := range extra {
		p += "&" + e
	}
	return p
}

func (e *env) createUser(name string) string {
	e.t.Helper()
	body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"name":{"givenName":"G","familyName":"F"},"emails":[{"value":%q,"type":"work","primary":true}]}`, name, name)
	return e.do("POST", "/Users", body).must(e.t, 201).str("id")
}

func (e *env) memberIDs(gid string) []string {
	e.t.Helper()
	r := e.do("GET", "/Groups/"+gid, "").must(e.t, 200)
	var ids []string
	ms, _ := r.get("members").([]any)
	for _, m := range ms {
		ids = append(ids, m.(map[string]any)["value"].(string))
	}
	return ids
}

func sameSet(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	for _, w := range want {
		if seen[w] == 0 {
			return false
		}
		seen[w]--
	}
	return true
}

func patchOps(ops ...string) string {
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + strings.Join(ops, ",") + `]}`
}

func TestEntraTestConnectionAndMatching(t *testing.T) {
	forEachBackend(t, testEntraTestConnectionAndMatching)
}

func testEntraTestConnectionAndMatching(t *testing.T) {
	e := newEnv(t)
	// Test Connection and match-before-create on an empty store: 200, [].
	for _, p := range []string{
		filterPath("/Users", `userName eq "alice@contoso.com"`),
		filterPath("/Users", `externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`),
		filterPath("/Users", `emails[type eq "work"].value eq "alice@contoso.com"`),
		filterPath("/Groups", `displayName eq "QA Team"`, "excludedAttributes=members"),
	} {
		r := e.do("GET", p, "").must(t, 200)
		if r.num("totalResults") != 0 || r.raw == "" || !strings.Contains(r.raw, `"Resources":[]`) {
			t.Errorf("GET %s: %s", p, r.raw)
		}
	}
	r := e.do("POST", "/Users", entraUser).must(t, 201)
	id := r.str("id")
	if r.header.Get("Location") != r.str("meta.location") || !strings.HasPrefix(r.str("meta.location"), e.srv.URL+"/scim/v2/Users/") {
		t.Errorf("Location %q, meta.location %q", r.header.Get("Location"), r.str("meta.location"))
	}
	if strings.Contains(r.raw, "null") || strings.Contains(r.raw, "roles") {
		t.Errorf("empty roles or nulls echoed: %s", r.raw)
	}
	for _, p := range []string{
		filterPath("/Users", `userName eq "Alice@Contoso.com"`),
		filterPath("/Users", `externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`),
		filterPath("/Users", `emails[type eq "work"].value eq "ALICE@contoso.com"`),
		filterPath("/Users", `emails[type eq "work" and value eq "alice@contoso.com"]`),
		filterPath("/Users", `emails.value eq "alice@contoso.com"`),
		filterPath("/Users", `id eq "`+id+`"`),
		filterPath("/Users", `meta.lastModified gt "2001-01-01T00:00:00Z" and active eq true`),
		filterPath("/Users", `userName eq "nobody@contoso.com" or externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`),
	} {
		r := e.do("GET", p, "").must(t, 200)
		if r.num("totalResults") != 1 || r.str("Resources.0.id") != id {
			t.Errorf("GET %s: %s", p, r.raw)
		}
	}
	// externalId is case-exact; a different case does not match.
	r = e.do("GET", filterPath("/Users", `externalId eq "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF"`), "").must(t, 200)
	if r.num("totalResults") != 0 {
		t.Errorf("externalId matched case-insensitively: %s", r.raw)
	}
	// Duplicate create: 409 uniqueness, never a second resource.
	r = e.do("POST", "/Users", strings.Replace(entraUser, "alice@contoso.com", "ALICE@contoso.com", 1)).must(t, 409)
	if r.str("scimType") != "uniqueness" || r.str("detail") == "" || r.str("status") != "409" {
		t.Errorf("409 body: %s", r.raw)
	}
	r = e.do("GET", "/Users", "").must(t, 200)
	if r.num("totalResults") != 1 {
		t.Errorf("after duplicate create: %d users", r.num("totalResults"))
	}
}

func TestEntraUserPatchDefaultAndFlagMode(t *testing.T) {
	forEachBackend(t, testEntraUserPatchDefaultAndFlagMode)
}

func testEntraUserPatchDefaultAndFlagMode(t *testing.T) {
	e := newEnv(t)
	id := e.do("POST", "/Users", entraUser).must(t, 201).str("id")
	mgr := e.createUser("boss@contoso.com")

	// Default mode: capitalised ops, string boolean, value-filtered path.
	e.do("PATCH", "/Users/"+id, patchOps(
		`{"op":"Replace","path":"emails[type eq \"work\"].value","value":"alice.smith@contoso.com"}`,
		`{"op":"Replace","path":"name.familyName","value":"Smith-Jones"}`,
		`{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"4711"}`,
		`{"op":"Replace","path":"active","value":"False"}`,
	)).must(t, 204)
	r := e.do("GET", "/Users/"+id, "").must(t, 200)
	if got := r.str("emails.0.value"); got != "alice.smith@contoso.com" {
		t.Errorf("work email %q", got)
	}
	if n := len(r.get("emails").([]any)); n != 1 {
		t.Errorf("%d emails, want 1: %s", n, r.raw)
	}
	if r.str("name.familyName") != "Smith-Jones" || r.str("name.givenName") != "Alice" {
		t.Errorf("name: %v", r.get("name"))
	}
	if r.str(enterpriseURN+".employeeNumber") != "4711" {
		t.Errorf("employeeNumber: %s", r.raw)
	}
	if r.get("active") != false {
		t.Errorf("active: %v", r.get("active"))
	}
	// Deactivated users stay visible to GET and filters.
	r = e.do("GET", filterPath("/Users", `userName eq "alice@contoso.com"`), "").must(t, 200)
	if r.num("totalResults") != 1 {
		t.Errorf("deactivated user not found by filter")
	}
	r = e.do("GET", filterPath("/Users", `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "4711"`), "").must(t, 200)
	if r.num("totalResults") != 1 {
		t.Errorf("employeeNumber filter: %s", r.raw)
	}

	// Flag mode: lower-case ops, one path-less replace with dotted and URN keys.
	e.do("PATCH", "/Users/"+id, patchOps(
		`{"op":"replace","value":{"displayName":"Alice S","name.givenName":"Alicia","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"4712","active":true}}`,
	)).must(t, 204)
	r = e.do("GET", "/Users/"+id, "").must(t, 200)
	if r.str("displayName") != "Alice S" || r.str("name.givenName") != "Alicia" || r.str("name.familyName") != "Smith-Jones" ||
		r.str(enterpriseURN+".employeeNumber") != "4712" || r.get("active") != true {
		t.Errorf("after flag-mode replace: %s", r.raw)
	}

	// Manager as a bare string (G4), by path and inside a path-less value.
	e.do("PATCH", "/Users/"+id, patchOps(
		`{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"`+mgr+`"}`,
	)).must(t, 204)
	r = e.do("GET", "/Users/"+id, "").must(t, 200)
	if r.str(enterpriseURN+".manager.value") != mgr {
		t.Errorf("manager: %s", r.raw)
	}
	e.do("PATCH", "/Users/"+id, patchOps(
		`{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"QA","manager":"m-2"}}}`,
	)).must(t, 204)
	r = e.do("GET", "/Users/"+id, "").must(t, 200)
	if r.str(enterpriseURN+".manager.value") != "m-2" || r.str(enterpriseURN+".department") != "QA" ||
		r.str(enterpriseURN+".employeeNumber") != "4712" {
		t.Errorf("after extension object: %s", r.raw)
	}
	// Add of a work email that does not exist yet creates it.
	e.do("PATCH", "/Users/"+id, patchOps(
		`{"op":"Remove","path":"emails[type eq \"work\"]"}`,
		`{"op":"Add","path":"emails[type eq \"work\"].value","value":"a2@contoso.com"}`,
	)).must(t, 204)
	r = e.do("GET", "/Users/"+id, "").must(t, 200)
	if r.str("emails.0.value") != "a2@contoso.com" || r.str("emails.0.type") != "work" {
		t.Errorf("emails: %v", r.get("emails"))
	}
}

func TestEntraStringManagerInCreate(t *testing.T) { forEachBackend(t, testEntraStringManagerInCreate) }

func testEntraStringManagerInCreate(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"bob@contoso.com","active":"True","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"abc","department":"Sales"}}`).must(t, 201)
	if r.str(enterpriseURN+".manager.value") != "abc" || r.get("active") != true {
		t.Errorf("create: %s", r.raw)
	}
	id := r.str("id")
	r = e.do("PUT", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob@contoso.com","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"def"}}`).must(t, 200)
	if r.str(enterpriseURN+".manager.value") != "def" || r.get(enterpriseURN+".department") != nil {
		t.Errorf("put: %s", r.raw)
	}
}

func TestEntraGroupMembership(t *testing.T) { forEachBackend(t, testEntraGroupMembership) }

func testEntraGroupMembership(t *testing.T) {
	e := newEnv(t)
	u1, u2, u3 := e.createUser("u1@contoso.com"), e.createUser("u2@contoso.com"), e.createUser("u3@contoso.com")
	r := e.do("POST", "/Groups", entraGroup).must(t, 201)
	gid := r.str("id")
	if r.str("displayName") != "QA Team" || r.str("externalId") != "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159" {
		t.Errorf("group: %s", r.raw)
	}
	e.do("POST", "/Groups", strings.Replace(entraGroup, "QA Team", "qa team", 1)).must(t, 409)

	add := patchOps(`{"op":"Add","path":"members","value":[{"$ref":null,"value":"` + u1 + `"},{"$ref":null,"value":"` + u2 + `"},{"$ref":null,"value":"` + u3 + `"}]}`)
	e.do("PATCH", "/Groups/"+gid, add).must(t, 204)
	if got := e.memberIDs(gid); !sameSet(got, []string{u1, u2, u3}) {
		t.Fatalf("members %v", got)
	}
	version := e.do("GET", "/Groups/"+gid, "").str("meta.version")
	changes := e.changes.Load()
	// Redundant adds are no-ops.
	e.do("PATCH", "/Groups/"+gid, add).must(t, 204)
	if v := e.do("GET", "/Groups/"+gid, "").str("meta.version"); v != version {
		t.Errorf("redundant add changed the version %s → %s", version, v)
	}
	if e.changes.Load() != changes {
		t.Errorf("redundant add reported a change")
	}
	// Legacy remove with a value list removes only those.
	e.do("PATCH", "/Groups/"+gid, patchOps(`{"op":"Remove","path":"members","value":[{"$ref":null,"value":"`+u2+`"}]}`)).must(t, 204)
	if got := e.memberIDs(gid); !sameSet(got, []string{u1, u3}) {
		t.Fatalf("after legacy remove: %v", got)
	}
	// Flag mode remove by filter.
	e.do("PATCH", "/Groups/"+gid, patchOps(`{"op":"remove","path":"members[value eq \"`+u1+`\"]"}`)).must(t, 204)
	if got := e.memberIDs(gid); !sameSet(got, []string{u3}) {
		t.Fatalf("after filtered remove: %v", got)
	}
	// Entra re-sends every remaining member on a removal: still idempotent.
	e.do("PATCH", "/Groups/"+gid, patchOps(`{"op":"Add","path":"members","value":[{"$ref":null,"value":"`+u3+`"}]}`)).must(t, 204)
	if got := e.memberIDs(gid); !sameSet(got, []string{u3}) {
		t.Fatalf("after re-add: %v", got)
	}
	// Unknown member ids are ignored, not rejected.
	e.do("PATCH", "/Groups/"+gid, patchOps(`{"op":"Add","path":"members","value":[{"value":"no-such-user"}]}`)).must(t, 204)
	if got := e.memberIDs(gid); !sameSet(got, []string{u3}) {
		t.Fatalf("after unknown add: %v", got)
	}
	// excludedAttributes=members, on the list and on a single group.
	r = e.do("GET", filterPath("/Groups", `displayName eq "QA Team"`, "excludedAttributes=members"), "").must(t, 200)
	if r.num("totalResults") != 1 || r.get("Resources.0.members") != nil {
		t.Errorf("excluded members in list: %s", r.raw)
	}
	if r := e.do("GET", "/Groups/"+gid+"?excludedAttributes=members", "").must(t, 200); r.get("members") != nil {
		t.Errorf("excluded members in get: %s", r.raw)
	}
	// The user sees the group.
	if r := e.do("GET", "/Users/"+u3, "").must(t, 200); r.str("groups.0.value") != gid || r.str("groups.0.display") != "QA Team" {
		t.Errorf("user groups: %s", r.raw)
	}
	// Hard delete after the soft delete: 204, then 404 and gone from members.
	e.do("PATCH", "/Users/"+u3, patchOps(`{"op":"Replace","path":"active","value":"False"}`)).must(t, 204)
	e.do("DELETE", "/Users/"+u3, "").must(t, 204)
	e.do("GET", "/Users/"+u3, "").must(t, 404)
	e.do("DELETE", "/Users/"+u3, "").must(t, 404)
	if got := e.memberIDs(gid); len(got) != 0 {
		t.Errorf("deleted user still a member: %v", got)
	}
	// A member that is added, removed and added again is added once.
	e.do("PATCH", "/Groups/"+gid, patchOps(
		`{"op":"Add","path":"members","value":[{"value":"`+u1+`"}]}`,
		`{"op":"Remove","path":"members","value":[{"value":"`+u1+`"}]}`,
		`{"op":"Add","path":"members","value":[{"value":"`+u1+`"},{"value":"`+u1+`"}]}`)).must(t, 204)
	if got := e.memberIDs(gid); !sameSet(got, []string{u1}) {
		t.Errorf("after add/remove/add: %v", got)
	}
}

const oktaUser = `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"test.user@okta.local","name":{"givenName":"Test","familyName":"User"},"emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],"displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7","groups":[],"password":"1mz050nq","active":true}`

func TestOktaUserLifecycle(t *testing.T) { forEachBackend(t, testOktaUserLifecycle) }

func testOktaUserLifecycle(t *testing.T) {
	e := newEnv(t)
	e.do("GET", "/Users?startIndex=1&count=2", "").must(t, 200)
	e.do("GET", "/Groups?startIndex=1&count=100", "").must(t, 200)
	r := e.do("GET", filterPath("/Users", `userName eq "test.user@okta.local"`, "startIndex=1", "count=100"), "").must(t, 200)
	if r.num("totalResults") != 0 {
		t.Fatal(r.raw)
	}
	r = e.do("POST", "/Users", oktaUser).must(t, 201)
	id := r.str("id")
	if r.get("active") != true || strings.Contains(r.raw, "password") || strings.Contains(r.raw, "1mz050nq") {
		t.Errorf("create: %s", r.raw)
	}
	// A retried create after a timeout gets 409, never a second user.
	e.do("POST", "/Users", oktaUser).must(t, 409)
	// Nothing stores the password.
	raw := e.do("GET", "/Users/"+id, "").must(t, 200)
	if strings.Contains(raw.raw, "1mz050nq") {
		t.Errorf("password returned")
	}
	// OIN profile update: GET then PUT the full object (id, meta, groups).
	full := raw.body
	full["displayName"] = "Test Q. User"
	full["title"] = "Agent"
	delete(full, "locale")
	body := mustJSON(t, full)
	r = e.do("PUT", "/Users/"+id, body).must(t, 200)
	if r.str("id") != id || r.str("displayName") != "Test Q. User" || r.get("locale") != nil || r.get("active") != true {
		t.Errorf("put: %s", r.raw)
	}
	if r.str("meta.created") != raw.str("meta.created") {
		t.Errorf("created changed by PUT")
	}
	// AIW deactivation inside the PUT.
	full["active"] = false
	r = e.do("PUT", "/Users/"+id, mustJSON(t, full)).must(t, 200)
	if r.get("active") != false {
		t.Errorf("AIW deactivate: %s", r.raw)
	}
	// OIN activate / deactivate: path-less replace.
	e.do("PATCH", "/Users/"+id, patchOps(`{"op":"replace","value":{"active":true}}`)).must(t, 204)
	if e.do("GET", "/Users/"+id, "").get("active") != true {
		t.Errorf("not reactivated")
	}
	e.do("PATCH", "/Users/"+id, patchOps(`{"op":"replace","value":{"active":false}}`)).must(t, 204)
	if e.do("GET", "/Users/"+id, "").get("active") != false {
		t.Errorf("not deactivated")
	}
	// PUT of an unknown id: 404; PUT to another user's userName: 409.
	e.do("PUT", "/Users/nope", oktaUser).must(t, 404)
	other := e.createUser("other@okta.local")
	full["userName"] = "OTHER@okta.local"
	e.do("PUT", "/Users/"+id, mustJSON(t, full)).must(t, 409)
	e.do("PATCH", "/Users/"+other, patchOps(`{"op":"replace","path":"userName","value":"Test.User@okta.local"}`)).must(t, 409)
}

func TestOktaGroupPush(t *testing.T) { forEachBackend(t, testOktaGroupPush) }

func testOktaGroupPush(t *testing.T) {
	e := newEnv(t)
	u1, u2, u3 := e.createUser("a@okta.local"), e.createUser("b@okta.local"), e.createUser("c@okta.local")
	r := e.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2","members":[]}`).must(t, 201)
	gid := r.str("id")
	if strings.Contains(r.raw, "members") {
		t.Errorf("empty members echoed: %s", r.raw)
	}
	rename := `{"op":"replace","value":{"id":"` + gid + `","displayName":"Test SCIMv2 renamed"}}`
	e.do("PATCH", "/Groups/"+gid, patchOps(rename,
		`{"op":"add","path":"members","value":[{"value":"`+u1+`","display":"a@okta.local"},{"value":"`+u2+`","display":"b@okta.local"}]}`)).must(t, 204)
	r = e.do("GET", "/Groups/"+gid, "").must(t, 200)
	if r.str("displayName") != "Test SCIMv2 renamed" || r.str("members.0.display") != "a@okta.local" {
		t.Errorf("after rename and add: %s", r.raw)
	}
	e.do("PATCH", "/Groups/"+gid, patchOps(rename, `{"op":"remove","path":"members[value eq \"`+u1+`\"]"}`)).must(t, 204)
	if got := e.memberIDs(gid); !sameSet(got, []string{u2}) {
		t.Errorf("after remove: %v", got)
	}
	e.do("PATCH", "/Groups/"+gid, patchOps(`{"op":"replace","path":"members","value":[{"value":"`+u1+`"},{"value":"`+u3+`"}]}`)).must(t, 204)
	if got := e.memberIDs(gid); !sameSet(got, []string{u1, u3}) {
		t.Errorf("after full push: %v", got)
	}
	// AIW apps PUT groups; members are replaced.
	r = e.do("PUT", "/Groups/"+gid, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Test SCIMv2","members":[{"value":"`+u2+`"}]}`).must(t, 200)
	if got := e.memberIDs(gid); !sameSet(got, []string{u2}) {
		t.Errorf("after PUT: %v", got)
	}
	// A rename onto another group's name conflicts.
	e.do("POST", "/Groups", `{"displayName":"Other"}`).must(t, 201)
	e.do("PATCH", "/Groups/"+gid, patchOps(`{"op":"replace","value":{"displayName":"OTHER"}}`)).must(t, 409)
	// Unlinking a pushed group deletes it; its name is free again.
	e.do("DELETE", "/Groups/"+gid, "").must(t, 204)
	e.do("GET", "/Groups/"+gid, "").must(t, 404)
	gid = e.do("POST", "/Groups", `{"displayName":"Test SCIMv2","members":[{"value":"`+u1+`"},{"value":"`+u2+`"}]}`).must(t, 201).str("id")
	// Remove of members without a value (RFC) empties the group.
	e.do("PATCH", "/Groups/"+gid, patchOps(`{"op":"remove","path":"members"}`)).must(t, 204)
	if got := e.memberIDs(gid); len(got) != 0 {
		t.Errorf("after remove all: %v", got)
	}
}

func TestOktaImportPagingIsStable(t *testing.T) { forEachBackend(t, testOktaImportPagingIsStable) }

func testOktaImportPagingIsStable(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := range 7 {
		ids = append(ids, e.createUser(fmt.Sprintf("p%d@okta.local", i)))
	}
	// Renames must not move users between pages.
	e.do("PATCH", "/Users/"+ids[0], patchOps(`{"op":"replace","path":"userName","value":"zzz@okta.local"}`)).must(t, 204)
	var got []string
	for start := 1; start <= 7; start += 3 {
		r := e.do("GET", fmt.Sprintf("/Users?startIndex=%d&count=3", start), "").must(t, 200)
		if r.num("totalResults") != 7 || r.num("startIndex") != start {
			t.Fatalf("page %d: %s", start, r.raw)
		}
		res, _ := r.get("Resources").([]any)
		if r.num("itemsPerPage") != len(res) {
			t.Errorf("itemsPerPage %d for %d resources", r.num("itemsPerPage"), len(res))
		}
		for _, x := range res {
			got = append(got, x.(map[string]any)["id"].(string))
		}
	}
	if strings.Join(got, ",") != strings.Join(ids, ",") {
		t.Errorf("paging order\n got %v\nwant %v", got, ids)
	}
	r := e.do("GET", "/Users?count=0", "").must(t, 200)
	if r.num("totalResults") != 7 || r.num("itemsPerPage") != 0 || !strings.Contains(r.raw, `"Resources":[]`) {
		t.Errorf("count=0: %s", r.raw)
	}
	r = e.do("GET", "/Users?startIndex=100", "").must(t, 200)
	if r.num("totalResults") != 7 || !strings.Contains(r.raw, `"Resources":[]`) {
		t.Errorf("past the end: %s", r.raw)
	}
}

func TestJumpCloudTestConnection(t *testing.T) { forEachBackend(t, testJumpCloudTestConnection) }

func testJumpCloudTestConnection(t *testing.T) {
	e := newEnv(t)
	uid := e.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jc-test@example.com","emails":[{"value":"jc-test@example.com","type":"work","primary":true}],"name":{"givenName":"JC","familyName":"Test"}}`).must(t, 201).str("id")
	gid := e.do("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"jc-test-group"}`).must(t, 201).str("id")
	e.do("PATCH", "/Groups/"+gid, patchOps(`{"op":"add","path":"members","value":[{"value":"`+uid+`"}]}`)).must(t, 204)
	e.do("PATCH", "/Groups/"+gid, patchOps(`{"op":"remove","path":"members","value":[{"value":"`+uid+`"}]}`)).must(t, 204)
	e.do("DELETE", "/Users/"+uid, "").must(t, 204)
	e.do("DELETE", "/Groups/"+gid, "").must(t, 204)
	// Running Test Connection again works: the names are free.
	e.do("POST", "/Users", `{"userName":"jc-test@example.com"}`).must(t, 201)
	e.do("POST", "/Groups", `{"displayName":"jc-test-group"}`).must(t, 201)
}

func TestOneLoginTemplate(t *testing.T) { forEachBackend(t, testOneLoginTemplate) }

func testOneLoginTemplate(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"id":null,"meta":{"resourceType":"User"},"userName":"jdoe@example.com","name":{"givenName":"Jane","familyName":"Doe"},"emails":[{"value":"jdoe@example.com","type":"work","primary":true}],"active":"true","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Support","managerId":"00u123"}}`).must(t, 201)
	if r.get("active") != true || r.str(enterpriseURN+".department") != "Support" || strings.Contains(r.raw, "managerId") {
		t.Errorf("create: %s", r.raw)
	}
	id := r.str("id")
	e.do("PATCH", "/Users/"+id, patchOps(`{"op":"replace","path":"active","value":"false"}`)).must(t, 204)
	if e.do("GET", "/Users/"+id, "").get("active") != false {
		t.Errorf("string false not applied")
	}
	// "yes" is not a boolean.
	e.do("POST", "/Users", `{"userName":"x@example.com","active":"yes"}`).must(t, 400)
}

func TestGoogleSetup(t *testing.T) { forEachBackend(t, testGoogleSetup) }

func testGoogleSetup(t *testing.T) {
	e := newEnv(t)
	e.createUser("g@example.com")
	r := e.do("GET", "/Users?count=1", "").must(t, 200)
	if r.num("itemsPerPage") != 1 {
		t.Errorf("%s", r.raw)
	}
}
