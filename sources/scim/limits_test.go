package scim

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// deepFilter is a filter of n nested parentheses around one comparison.
func deepFilter(n int) string {
	return strings.Repeat("(", n) + `userName eq "a"` + strings.Repeat(")", n)
}

func TestFilterBoundsBeforeParsing(t *testing.T) { forEachBackend(t, testFilterBoundsBeforeParsing) }

func testFilterBoundsBeforeParsing(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/Users", `{"userName":"a"}`).must(t, 201)
	for _, tc := range []struct {
		name, filter, detail string
	}{
		// Parsed unbounded, 100,000 parentheses overflowed the stack.
		{"100k nested parentheses", deepFilter(100_000), "at most 4096"},
		{"100k nested, no comparison", strings.Repeat("(", 100_000), "at most 4096"},
		{"depth 33", deepFilter(MaxFilterDepth + 1), "more than 32 deep"},
		{"brackets", strings.Repeat("emails[", 40) + `value eq "x"` + strings.Repeat("]", 40), "more than 32 deep"},
		{"long", `userName eq "` + strings.Repeat("x", MaxFilterLength) + `"`, "at most 4096"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("GET", "/Users?filter="+url.QueryEscape(tc.filter), "").must(t, 400)
			if r.str("scimType") != "invalidFilter" || !strings.Contains(r.str("detail"), tc.detail) {
				t.Fatalf("got %s, want invalidFilter naming %q", r.raw, tc.detail)
			}
		})
	}
	// At the bounds the filter is parsed and answered; parentheses inside a
	// quoted value do not count.
	r := e.do("GET", "/Users?filter="+url.QueryEscape(deepFilter(MaxFilterDepth)), "").must(t, 200)
	if r.num("totalResults") != 1 {
		t.Fatalf("depth %d: %s", MaxFilterDepth, r.raw)
	}
	e.do("GET", "/Users?filter="+url.QueryEscape(`userName eq "`+strings.Repeat("(", 100)+`"`), "").must(t, 200)
}

func TestListParameterBounds(t *testing.T) { forEachBackend(t, testListParameterBounds) }

func testListParameterBounds(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/Users", `{"userName":"a"}`).must(t, 201)
	many := strings.Repeat("userName,", MaxAttributes) + "id"
	for _, tc := range []struct {
		query, detail string
	}{
		{"attributes=" + many, "at most 64"},
		{"excludedAttributes=" + many, "at most 64"},
		{"attributes=" + strings.Repeat("x", MaxAttributesLength+1), "at most 2048"},
		{"count=99999999999999999999999", "count must be an integer"},
		{"count=ten", "count must be an integer"},
		{"startIndex=" + strconv.Itoa(MaxStartIndex+1), "at most 1000000000"},
		{"startIndex=-99999999999999999999999", "startIndex must be an integer"},
	} {
		r := e.do("GET", "/Users?"+tc.query, "").must(t, 400)
		if r.str("scimType") != "invalidValue" || !strings.Contains(r.str("detail"), tc.detail) {
			t.Errorf("%.60s: got %s, want invalidValue naming %q", tc.query, r.raw, tc.detail)
		}
	}
	// Large counts are lowered to max_results; negative ones mean 0.
	r := e.do("GET", "/Users?count=9000000000", "").must(t, 200)
	if r.num("itemsPerPage") != 1 {
		t.Fatalf("count lowered: %s", r.raw)
	}
	r = e.do("GET", "/Users?count=-9000000000", "").must(t, 200)
	if r.num("itemsPerPage") != 0 || r.num("totalResults") != 1 {
		t.Fatalf("negative count: %s", r.raw)
	}
	e.do("GET", "/Users?startIndex="+strconv.Itoa(MaxStartIndex), "").must(t, 200)
}

func TestBodyBounds(t *testing.T) { forEachBackend(t, testBodyBounds) }

func testBodyBounds(t *testing.T) {
	e := newEnv(t)
	id := e.do("POST", "/Users", `{"userName":"a"}`).must(t, 201).str("id")

	deep := `{"userName":"b","x":` + strings.Repeat("[", MaxJSONDepth) + strings.Repeat("]", MaxJSONDepth) + "}"
	r := e.do("POST", "/Users", deep).must(t, 400)
	if r.str("scimType") != "invalidSyntax" || !strings.Contains(r.str("detail"), "more than 32 deep") {
		t.Fatalf("deep body: %s", r.raw)
	}
	// Brackets inside strings do not count.
	e.do("POST", "/Users", `{"userName":"`+strings.Repeat("[", 100)+`"}`).must(t, 201)

	e.do("POST", "/Users", `{"userName":"big","title":"`+strings.Repeat("x", DefaultMaxBodyBytes)+`"}`).must(t, 413)

	path := strings.Repeat("(", 100_000)
	r = e.do("PATCH", "/Users/"+id, patchOps(`{"op":"replace","path":"emails[`+path+`].value","value":"x"}`)).must(t, 400)
	if r.str("scimType") != "invalidPath" || !strings.Contains(r.str("detail"), "Operation 1") {
		t.Fatalf("deep path: %s", r.raw)
	}
	r = e.do("PATCH", "/Users/"+id, patchOps(`{"op":"replace","value":{"emails[`+strings.Repeat("(", 40)+`":"x"}}`)).must(t, 400)
	if r.str("scimType") != "invalidPath" {
		t.Fatalf("deep value key: %s", r.raw)
	}
	ops := strings.TrimSuffix(strings.Repeat(`{"op":"replace","path":"title","value":"t"},`, MaxPatchOperations+1), ",")
	r = e.do("PATCH", "/Users/"+id, patchOps(ops)).must(t, 400)
	if !strings.Contains(r.str("detail"), "at most 1000") {
		t.Fatalf("too many operations: %s", r.raw)
	}
	e.do("GET", "/Users/"+id, "").must(t, 200)
}

func TestUserNameUniqueUnderNormalisation(t *testing.T) {
	forEachBackend(t, testUserNameUniqueUnderNormalisation)
}

func testUserNameUniqueUnderNormalisation(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/Users", `{"userName":"José@example.com"}`).must(t, 201) // precomposed é
	for _, name := range []string{
		"Jose\u0301@example.com", // e + combining acute accent
		"JOSE\u0301@EXAMPLE.COM",
		"JOSÉ@example.com",
	} {
		r := e.do("POST", "/Users", mustJSON(t, map[string]any{"userName": name})).must(t, 409)
		if r.str("scimType") != "uniqueness" {
			t.Errorf("%q: %s", name, r.raw)
		}
	}
	// A filter written in the other form finds the user.
	r := e.do("GET", "/Users?filter="+url.QueryEscape(`userName eq "JOSE`+"\u0301"+`@example.com"`), "").must(t, 200)
	if r.num("totalResults") != 1 {
		t.Fatalf("filter in decomposed form: %s", r.raw)
	}
}

func TestCheckExpression(t *testing.T) {
	for _, tc := range []struct {
		s  string
		ok bool
	}{
		{deepFilter(MaxFilterDepth), true},
		{deepFilter(MaxFilterDepth + 1), false},
		{`a eq "` + strings.Repeat("(", 50) + `"`, true},
		{`a eq "\"` + strings.Repeat("(", 50) + `"`, true},
		{`a eq "\\"` + strings.Repeat("(", 50), false},
		{strings.Repeat("()", 1000), true},
	} {
		if err := checkExpression("f", tc.s); (err == nil) != tc.ok {
			t.Errorf("%.40q: err %v, want ok %v", tc.s, err, tc.ok)
		}
	}
}

// BenchmarkDeepFilter is the cost of refusing 100,000 nested parentheses
// (reported per request: time and allocated bytes).
func BenchmarkDeepFilter(b *testing.B) {
	st, err := OpenStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	h, err := NewServer(Config{}, st, WithTokens(map[string]string{"b": testToken}),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		b.Fatal(err)
	}
	target := "http://scim.test/scim/v2/Users?filter=" + url.QueryEscape(deepFilter(100_000))
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", target, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 400 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}

// TestStoreRefoldsOldKeys: a store written before keys were normalised is
// re-keyed when opened, so the uniqueness and filters hold for old users.
func TestStoreRefoldsOldKeys(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewServer(Config{}, st, WithTokens(map[string]string{"t": testToken}),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	serve := func(h http.Handler, method, target, body string) *httptest.ResponseRecorder {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req := httptest.NewRequest(method, "http://scim.test/scim/v2"+target, rd)
		req.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	decomposed := "Jose\u0301@example.com"
	if w := serve(h, "POST", "/Users", `{"userName":"`+decomposed+`","emails":[{"value":"`+decomposed+`"}]}`); w.Code != 201 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	// As an older version stored it: lower case only, and schema version 1.
	old := strings.ToLower(decomposed)
	for _, q := range []string{
		`UPDATE resources SET name_lc = '` + old + `'`, `UPDATE emails SET value_lc = '` + old + `'`, `PRAGMA user_version = 1`,
	} {
		if _, err := st.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	st, err = OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h, err = NewServer(Config{}, st, WithTokens(map[string]string{"t": testToken}),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if w := serve(h, "POST", "/Users", `{"userName":"JOSÉ@example.com"}`); w.Code != 409 {
		t.Fatalf("precomposed duplicate of an old user: %d %s", w.Code, w.Body)
	}
	w := serve(h, "GET", "/Users?filter="+url.QueryEscape(`emails.value eq "josé@example.com"`), "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"totalResults":1`) {
		t.Fatalf("email filter after refold: %d %s", w.Code, w.Body)
	}
}
