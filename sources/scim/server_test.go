package scim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/sources"
)

func TestAuth(t *testing.T) { forEachBackend(t, testAuth) }

func testAuth(t *testing.T) {
	e := newEnv(t)
	for _, auth := range []string{"", "Bearer wrong", "Basic " + testToken, "non-token", "Bearer"} {
		for _, path := range []string{"/Users", "/ServiceProviderConfig", "/Schemas"} {
			r := e.doAuth("GET", path, "", auth)
			if r.status != 401 || r.str("status") != "401" || r.str("detail") == "" ||
				r.get("schemas.0") != errorURN || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("auth %q %s: %d %v %s", auth, path, r.status, r.header, r.raw)
			}
		}
	}
	e.doAuth("GET", "/Users", "", "bearer "+testToken).must(t, 200) // scheme is case-insensitive
}

func TestTokensFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens")
	os.WriteFile(path, []byte("# IdP connections\nentra:tok-a\n\nplain-token\n"), 0o600)
	toks, err := loadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 2 || toks[0].name != "entra" || toks[1].name != "token4" {
		t.Errorf("tokens %+v", toks)
	}
	for _, bad := range []string{"", "# only a comment\n", "a:x\na:y\n", ":x\n", "a:\n", "a:b c\n"} {
		os.WriteFile(path, []byte(bad), 0o600)
		if _, err := loadTokens(path); err == nil {
			t.Errorf("tokens file %q accepted", bad)
		} else if strings.Contains(err.Error(), "x") && strings.Contains(bad, ":x") && strings.Contains(err.Error(), ":x") {
			t.Errorf("error leaks the token: %v", err)
		}
	}
	st, _ := OpenStore(t.TempDir())
	defer st.Close()
	if _, err := NewServer(Config{}, st); err == nil {
		t.Errorf("server without tokens started")
	}
}

func TestProtocolEdges(t *testing.T) { forEachBackend(t, testProtocolEdges) }

func testProtocolEdges(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("edge@example.com")
	// Trailing slash and lower-case endpoint (G5).
	r := e.do("GET", "/users/?filter="+q(`DisplayName eq "nobody"`), "").must(t, 200)
	if r.num("totalResults") != 0 {
		t.Error(r.raw)
	}
	e.do("GET", "/USERS/"+id+"/", "").must(t, 200)
	e.do("GET", "/v2/Users/"+id, "").must(t, 200)
	e.do("GET", "/Users/", "").must(t, 200)
	// 405 on discovery and unsupported methods (G6).
	for _, c := range []struct{ method, path string }{
		{"POST", "/ServiceProviderConfig"}, {"PUT", "/Schemas"}, {"DELETE", "/ResourceTypes"},
		{"DELETE", "/Users"}, {"POST", "/Users/" + id}, {"PATCH", "/Groups"},
	} {
		r := e.do(c.method, c.path, `{}`)
		if r.status != 405 || r.header.Get("Allow") == "" || r.str("status") != "405" {
			t.Errorf("%s %s: %d %s", c.method, c.path, r.status, r.raw)
		}
	}
	// Unknown resources and endpoints: 404 with detail.
	for _, p := range []string{"/Users/010101001010101011001010101011", "/Groups/nope", "/serviceConfiguration", "/Users/a/b"} {
		if r := e.do("GET", p, "").must(t, 404); r.str("detail") == "" {
			t.Errorf("%s: %s", p, r.raw)
		}
	}
	// Malformed input: 400 with a useful detail.
	for _, c := range []struct{ method, path, body, want string }{
		{"POST", "/Users", `{"userName":`, "not valid JSON"},
		{"POST", "/Users", `[1,2]`, "JSON object"},
		{"POST", "/Users", `{"userName":"x"} trailing`, "not valid JSON"},
		{"POST", "/Users", ` `, "empty"},
		{"PATCH", "/Users/" + id, `{"Operations":[{"op":"remove"}]}`, ""},
		{"PATCH", "/Users/" + id, patchOps(`{"op":"jump","path":"userName","value":"x"}`), ""},
		{"PATCH", "/Users/" + id, patchOps(`{"op":"remove","path":"userName"}`), "userName"},
		{"PATCH", "/Users/" + id, patchOps(`{"op":"remove"}`), ""},
		{"POST", "/Users", `{"name":{"givenName":"x"}}`, ""},
		{"PUT", "/Users/" + id, `{"displayName":"no userName"}`, ""},
	} {
		r := e.do(c.method, c.path, c.body)
		if r.status != 400 || r.str("detail") == "" || !strings.Contains(r.str("detail"), c.want) {
			t.Errorf("%s %s %s: %d %s", c.method, c.path, c.body, r.status, r.raw)
		}
	}
	// Filters outside the whitelist: 400 invalidFilter, never ignored.
	for _, f := range []string{`userName sw "O"`, `userName ne "x"`, `title eq "x"`, `not (userName eq "x")`,
		`userName pr`, `name.familyName eq "x"`, `userName eq O`, `meta.created gt "yesterday"`, `active eq "maybe"`,
		`emails[display eq "x"]`, `phoneNumbers[type eq "work"]`, `userName eq 1`} {
		r := e.do("GET", filterPath("/Users", f), "")
		if r.status != 400 || r.str("scimType") != "invalidFilter" {
			t.Errorf("filter %s: %d %s", f, r.status, r.raw)
		}
	}
	if r := e.do("GET", filterPath("/Groups", `members.value eq "x"`), ""); r.status != 400 {
		t.Errorf("group members filter: %d", r.status)
	}
	e.do("GET", "/Users?count=x", "").must(t, 400)
	// Body limit (G7): 413 from middleware, for every method.
	big := `{"userName":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`
	for _, m := range []string{"POST", "PUT", "PATCH"} {
		path := "/Users"
		if m != "POST" {
			path += "/" + id
		}
		if r := e.do(m, path, big); r.status != 413 || r.str("status") != "413" {
			t.Errorf("%s big body: %d %s", m, r.status, r.raw)
		}
	}
	// `attributes` is ignored, even when it is not valid syntax.
	e.do("GET", "/Users/"+id+"?attributes="+q(`emails[type eq "work"]`), "").must(t, 200)
	// Quoted dateTime filters on meta work.
	r = e.do("GET", filterPath("/Users", `meta.created gt "2015-10-10T14:38:21.8617979-07:00"`), "").must(t, 200)
	if r.num("totalResults") != 1 {
		t.Errorf("meta.created gt: %s", r.raw)
	}
	r = e.do("GET", filterPath("/Users", `meta.lastModified lt "2015-10-10T14:38:21Z"`), "").must(t, 200)
	if r.num("totalResults") != 0 {
		t.Errorf("meta.lastModified lt: %s", r.raw)
	}
}

func TestDiscovery(t *testing.T) { forEachBackend(t, testDiscovery) }

func testDiscovery(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/ServiceProviderConfig", "").must(t, 200)
	if r.get("patch.supported") != true || r.num("filter.maxResults") != 200 || r.str("authenticationSchemes.0.type") != "oauthbearertoken" ||
		r.str("authenticationSchemes.0.description") == "" || r.get("etag.supported") != false || r.num("bulk.maxOperations") == 0 {
		t.Errorf("SPC: %s", r.raw)
	}
	r = e.do("GET", "/ResourceTypes", "").must(t, 200)
	if r.str("Resources.0.endpoint") != "/Users" || r.str("Resources.1.endpoint") != "/Groups" ||
		r.str("Resources.0.schemaExtensions.0.schema") != enterpriseURN || r.get("Resources.0.schemaExtensions.0.required") != false {
		t.Errorf("ResourceTypes: %s", r.raw)
	}
	r = e.do("GET", "/Schemas", "").must(t, 200)
	if !strings.Contains(r.raw, "User Account") || !strings.Contains(r.raw, enterpriseURN) || !strings.Contains(r.raw, groupURN) {
		t.Errorf("Schemas: %s", r.raw)
	}
}

func TestRestartSurvival(t *testing.T) { forEachBackend(t, testRestartSurvival) }

func testRestartSurvival(t *testing.T) {
	e := newEnv(t)
	uid := e.createUser("keep@example.com")
	gid := e.do("POST", "/Groups", `{"displayName":"Keep","members":[{"value":"`+uid+`"}]}`).must(t, 201).str("id")
	before := e.do("GET", "/Users/"+uid, "").must(t, 200)
	e.srv.Close()
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	e.store = openTest(t, e.dir)
	e.start()
	after := e.do("GET", "/Users/"+uid, "").must(t, 200)
	if before.str("meta.created") != after.str("meta.created") || before.str("meta.version") != after.str("meta.version") ||
		after.str("userName") != "keep@example.com" {
		t.Errorf("before %s\nafter %s", before.raw, after.raw)
	}
	if got := e.memberIDs(gid); !sameSet(got, []string{uid}) {
		t.Errorf("members after restart: %v", got)
	}
	e.do("POST", "/Users", `{"userName":"KEEP@example.com"}`).must(t, 409)
}

func TestOnChange(t *testing.T) { forEachBackend(t, testOnChange) }

func testOnChange(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("c@example.com")
	if e.changes.Load() != 1 {
		t.Fatalf("changes after create: %d", e.changes.Load())
	}
	e.do("PATCH", "/Users/"+id, patchOps(`{"op":"replace","path":"active","value":true}`)).must(t, 204)
	if e.changes.Load() != 1 {
		t.Errorf("a no-op patch reported a change")
	}
	e.do("PATCH", "/Users/"+id, patchOps(`{"op":"replace","path":"active","value":false}`)).must(t, 204)
	e.do("POST", "/Users", `{"userName":"c@example.com"}`).must(t, 409)
	e.do("DELETE", "/Users/"+id, "").must(t, 204)
	if e.changes.Load() != 3 {
		t.Errorf("changes: %d, want 3", e.changes.Load())
	}
}

func TestSourceRecords(t *testing.T) { forEachBackend(t, testSourceRecords) }

func testSourceRecords(t *testing.T) {
	e := newEnv(t)
	mgr := e.createUser("boss@contoso.com")
	id := e.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"userName":"alice@contoso.com","externalId":"ext-1","displayName":"Alice Smith","title":"Agent",
		"name":{"givenName":"Alice","familyName":"Smith"},
		"emails":[{"value":"home@example.com","type":"home"},{"value":"alice@contoso.com","type":"work"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"4711","department":"QA","division":"CX","costCenter":"C1","organization":"Contoso","manager":"`+mgr+`"}}`).must(t, 201).str("id")
	g1 := e.do("POST", "/Groups", `{"displayName":"Team B","members":[{"value":"`+id+`"}]}`).must(t, 201).str("id")
	g2 := e.do("POST", "/Groups", `{"displayName":"Team A","members":[{"value":"`+id+`"},{"value":"`+mgr+`"}]}`).must(t, 201).str("id")
	e.do("PATCH", "/Users/"+mgr, patchOps(`{"op":"replace","path":"active","value":"False"}`)).must(t, 204)

	src := NewSource("idp", e.store)
	if src.Name() != "idp" {
		t.Errorf("name %q", src.Name())
	}
	snap, err := src.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Health.Complete || snap.Health.Count != 2 || len(snap.Records) != 2 || snap.Source != "idp" {
		t.Fatalf("snapshot %+v", snap)
	}
	var alice, boss sources.Record
	for _, r := range snap.Records {
		if r.Key == id {
			alice = r
		} else {
			boss = r
		}
	}
	want := map[string]string{
		"userName": "alice@contoso.com", "externalId": "ext-1", "displayName": "Alice Smith", "title": "Agent",
		"name.givenName": "Alice", "name.familyName": "Smith", "email": "alice@contoso.com",
		"emails.work": "alice@contoso.com", "emails.home": "home@example.com", "active": "true",
		"employeeNumber": "4711", "department": "QA", "division": "CX", "costCenter": "C1",
		"organization": "Contoso", "manager": mgr, "connection": "test",
	}
	for k, v := range want {
		if got := alice.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if alice.Origin != "scim:Users/"+id {
		t.Errorf("origin %q", alice.Origin)
	}
	if len(alice.Groups) != 2 || alice.Groups[0].Key != g2 || alice.Groups[0].Name != "Team A" || alice.Groups[1].Key != g1 || alice.Groups[1].Name != "Team B" {
		t.Errorf("groups %+v", alice.Groups)
	}
	if boss.Get("active") != "false" || len(boss.Groups) != 1 {
		t.Errorf("boss %+v", boss)
	}
	// A deleted user leaves the source; the reconciler deactivates it.
	e.do("DELETE", "/Users/"+mgr, "").must(t, 204)
	snap, _ = src.Fetch(context.Background())
	if snap.Health.Count != 1 || snap.Records[0].Key != id {
		t.Errorf("after delete: %+v", snap.Records)
	}
}

func TestConcurrentCreatesOfOneName(t *testing.T) { forEachBackend(t, testConcurrentCreatesOfOneName) }

func testConcurrentCreatesOfOneName(t *testing.T) {
	e := newEnv(t)
	const n = 8
	codes := make(chan int, n)
	for range n {
		go func() {
			req, _ := http.NewRequest("POST", e.srv.URL+"/scim/v2/Users", strings.NewReader(`{"userName":"race@example.com"}`))
			req.Header.Set("Authorization", "Bearer "+testToken)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				codes <- 0
				return
			}
			res.Body.Close()
			codes <- res.StatusCode
		}()
	}
	created := 0
	for range n {
		switch c := <-codes; c {
		case 201:
			created++
		case 409:
		default:
			t.Errorf("status %d", c)
		}
	}
	if created != 1 {
		t.Errorf("%d creates succeeded", created)
	}
}

func TestStoreOpenTwiceAndPrivate(t *testing.T) {
	dir := t.TempDir()
	errs := make(chan error, 2)
	stores := make(chan *Store, 2)
	for range 2 {
		go func() {
			s, err := OpenStore(dir)
			errs <- err
			stores <- s
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		if s := <-stores; s != nil {
			defer s.Close()
		}
	}
	fi, err := os.Stat(filepath.Join(dir, StoreFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("store mode %v", fi.Mode().Perm())
	}
}

func TestPublicBaseURLAndListShape(t *testing.T) { forEachBackend(t, testPublicBaseURLAndListShape) }

func testPublicBaseURLAndListShape(t *testing.T) {
	st := openTest(t, t.TempDir())
	defer st.Close()
	h, err := NewServer(Config{PublicBaseURL: "https://rs.example.com/scim/v2/"}, st, WithTokens(map[string]string{"t": testToken}))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: st}
	e.srv = httptest.NewServer(h)
	defer e.srv.Close()
	r := e.do("POST", "/Users", `{"userName":"base@example.com"}`).must(t, 201)
	want := "https://rs.example.com/scim/v2/Users/" + r.str("id")
	if r.str("meta.location") != want || r.header.Get("Location") != want {
		t.Errorf("location %q, header %q, want %q", r.str("meta.location"), r.header.Get("Location"), want)
	}
	r = e.do("GET", "/Users", "").must(t, 200)
	if r.str("Resources.0.meta.location") != want || r.num("itemsPerPage") != 1 {
		t.Errorf("list: %s", r.raw)
	}
	r = e.do("GET", "/ResourceTypes", "").must(t, 200)
	if r.num("itemsPerPage") != 2 || r.num("totalResults") != 2 {
		t.Errorf("resource types: %s", r.raw)
	}
	r = e.do("GET", "/Groups?count=0", "").must(t, 200)
	if r.num("itemsPerPage") != 0 || !strings.Contains(r.raw, `"Resources":[]`) {
		t.Errorf("empty groups: %s", r.raw)
	}
	e.do("DELETE", "/Users/"+e.do("GET", "/Users", "").str("Resources.0.id"), "").must(t, 204)
	if r := e.do("GET", "/Users", "").must(t, 200); r.num("totalResults") != 0 {
		t.Errorf("total after delete: %s", r.raw)
	}
}

func TestUncachedStatements(t *testing.T) { forEachBackend(t, testUncachedStatements) }

func testUncachedStatements(t *testing.T) {
	defer func(n int) { maxCachedStmts = n }(maxCachedStmts)
	maxCachedStmts = 0
	e := newEnv(t)
	id := e.createUser("nocache@example.com")
	gid := e.do("POST", "/Groups", `{"displayName":"NoCache","members":[{"value":"`+id+`"}]}`).must(t, 201).str("id")
	e.do("PATCH", "/Groups/"+gid, patchOps(`{"op":"remove","path":"members[value eq \"`+id+`\"]"}`)).must(t, 204)
	if r := e.do("GET", filterPath("/Users", `userName eq "NOCACHE@example.com"`), "").must(t, 200); r.num("totalResults") != 1 {
		t.Error(r.raw)
	}
	if len(e.store.rstmts) != 0 || len(e.store.wstmts) != 0 {
		t.Errorf("statements cached beyond the limit")
	}
}
