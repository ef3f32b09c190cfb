package scim

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rostersync/rostersync/state/pgtest"
)

// fuzzEnv is an in-process endpoint with one user and one group.
type fuzzEnv struct {
	h        http.Handler
	uid, gid string
}

// fuzzBackendEnv set to "postgres" fuzzes the store on PostgreSQL (a
// database of the shared test server) instead of SQLite.
const fuzzBackendEnv = "SCIM_FUZZ_BACKEND"

func newFuzzEnv(f *testing.F) *fuzzEnv {
	url := ""
	if os.Getenv(fuzzBackendEnv) == "postgres" {
		url = pgtest.Shared(f).Database(f)
	}
	st, err := OpenStoreURL(context.Background(), f.TempDir(), url, "")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	h, err := NewServer(Config{}, st, WithTokens(map[string]string{"f": testToken}),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		f.Fatal(err)
	}
	fe := &fuzzEnv{h: h}
	fe.uid = fe.create(f, "/Users", `{"userName":"fuzz@example.com","emails":[{"value":"fuzz@example.com","type":"work"}]}`)
	fe.create(f, "/Users", `{"userName":"other@example.com"}`)
	fe.gid = fe.create(f, "/Groups", `{"displayName":"Fuzz","members":[{"value":"`+fe.uid+`"}]}`)
	return fe
}

func (fe *fuzzEnv) serve(method, target, body string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://scim.test/scim/v2"+target, rd)
	req.Header.Set("Authorization", "Bearer "+testToken)
	w := httptest.NewRecorder()
	fe.h.ServeHTTP(w, req)
	return w
}

func (fe *fuzzEnv) create(f *testing.F, path, body string) string {
	w := fe.serve("POST", path, body)
	if w.Code != 201 {
		f.Fatalf("seed %s: %d %s", path, w.Code, w.Body)
	}
	var r resp
	r.body = map[string]any{}
	decodeJSON(w.Body.Bytes(), &r.body)
	return r.str("id")
}

func FuzzFilter(f *testing.F) {
	fe := newFuzzEnv(f)
	for _, s := range []string{
		`userName eq "fuzz@example.com"`,
		`emails[type eq "work"].value eq "fuzz@example.com"`,
		`emails[type eq "work" and value eq "x"] or externalId eq "y"`,
		`meta.lastModified gt "2011-05-13T04:42:34Z"`,
		`(userName eq "a" or userName eq "b") and active eq true`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1"`,
		`userName sw O`, `not(id eq "1")`, `emails[value eq "\"quoted\""]`, `displayName eq "x\\y"`,
		`userName eq "a" and (`, `]`, `[[`, `a.b.c eq 1`, `meta.created ge "2015-10-10T14:38:21.8617979-07:00"`,
		// Deep nesting: refused before parsing, whatever the depth.
		deepFilter(MaxFilterDepth), deepFilter(MaxFilterDepth + 1), deepFilter(100_000),
		strings.Repeat("(", 100_000), strings.Repeat("not(", 1000) + `id eq "1"`,
		strings.Repeat(`emails[`, 40) + `value eq "x"`, strings.Repeat(`(userName eq "a" or `, 30) + `id eq "1"` + strings.Repeat(")", 30),
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, filter string, users bool) {
		ep := "/Groups"
		if users {
			ep = "/Users"
		}
		done := make(chan *httptest.ResponseRecorder, 1)
		go func() {
			done <- fe.serve("GET", ep+"?filter="+url.QueryEscape(filter)+"&excludedAttributes=members", "")
		}()
		var w *httptest.ResponseRecorder
		select {
		case w = <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("filter %q: no answer within 5s", filter)
		}
		if w.Code >= 500 {
			t.Fatalf("filter %q: %d %s", filter, w.Code, w.Body)
		}
		if w.Code != 200 && w.Code != 400 {
			t.Fatalf("filter %q: unexpected %d %s", filter, w.Code, w.Body)
		}
	})
}

func FuzzPatch(f *testing.F) {
	fe := newFuzzEnv(f)
	for _, s := range []string{
		patchOps(`{"op":"Replace","path":"emails[type eq \"work\"].value","value":"a@b.c"}`),
		patchOps(`{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m"}`),
		patchOps(`{"op":"replace","value":{"active":"False","name.givenName":"x"}}`),
		patchOps(`{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"QA"}}}`),
		patchOps(`{"op":"Add","path":"members","value":[{"$ref":null,"value":"MEMBER"}]}`),
		patchOps(`{"op":"Remove","path":"members","value":[{"value":"MEMBER"}]}`),
		patchOps(`{"op":"remove","path":"members[value eq \"MEMBER\"]"}`),
		patchOps(`{"op":"replace","path":"members","value":[]}`),
		patchOps(`{"op":"replace","value":{"id":"x","displayName":"Fuzz"}}`),
		patchOps(`{"op":"remove","path":"emails[type eq \"work\" or primary eq true].display"}`),
		patchOps(`{"op":"add","path":"phoneNumbers","value":{"value":"1","type":"work","primary":"true"}}`),
		patchOps(`{"op":"add","path":"members","value":"string id 1"}`),
		`{"Operations":[{"op":"remove"}]}`, `{`, `[]`, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[null,1,"x"]}`,
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, body string, user bool) {
		target := "/Groups/" + fe.gid
		if user {
			target = "/Users/" + fe.uid
		}
		body = strings.ReplaceAll(body, "MEMBER", fe.uid)
		w := fe.serve("PATCH", target, body)
		if w.Code >= 500 {
			t.Fatalf("patch %s: %d %s", body, w.Code, w.Body)
		}
		// The resource is still readable and valid afterwards.
		if g := fe.serve("GET", target, ""); g.Code != 200 {
			t.Fatalf("after patch %s: GET %d %s", body, g.Code, g.Body)
		}
	})
}
