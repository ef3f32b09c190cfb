package scim

import (
	"net/url"
	"testing"
)

func TestQuickUserName(t *testing.T) {
	for f, want := range map[string]string{
		`userName eq "ada@example.com"`:   "ada@example.com",
		`USERNAME EQ "Ada"`:               "Ada",
		`  userName   eq   "with space" `: "with space",
		`userName eq ""`:                  "",
		`userName eq "Zoë"`:               "Zoë",
	} {
		if got, ok := quickUserName(f); !ok || got != want {
			t.Errorf("quickUserName(%q) = %q, %v; want %q", f, got, ok, want)
		}
	}
	for _, f := range []string{
		`userName eq "a\"b"`, `userName eq "a\\b"`, `userName ne "ada"`, `userName eq ada`,
		`(userName eq "ada")`, `userName eq "ada" and active eq true`, `displayName eq "ada"`,
		`userName eq "ada" or userName eq "bob"`, `userName eq "a"b"`, `userName eq "` + "\x01" + `"`,
		"userName eq \"\xff\"", `userName.value eq "ada"`, `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ada"`,
	} {
		if v, ok := quickUserName(f); ok {
			t.Errorf("quickUserName(%q) = %q, want it left to the general parser", f, v)
		}
	}
}

// The quick lookup answers exactly what the general filter path answers.
func TestQuickLookupAnswersAsTheGeneralPath(t *testing.T) {
	forEachBackend(t, testQuickLookupAnswersAsTheGeneralPath)
}

func testQuickLookupAnswersAsTheGeneralPath(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"Ada@Example.com","name":{"givenName":"Ada","familyName":"L"}}`).must(t, 201)
	e.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bob@example.com"}`).must(t, 201)
	q := func(f string) string { return "/Users?filter=" + url.QueryEscape(f) }
	for _, tc := range []struct{ quick, general string }{
		{`userName eq "ada@example.com"`, `(userName eq "ada@example.com")`},
		{`USERNAME eq "ADA@EXAMPLE.COM"`, `userName eq "ada@example.com" and userName eq "ada@example.com"`},
		{`userName eq "nobody@example.com"`, `(userName eq "nobody@example.com")`},
	} {
		got := e.do("GET", q(tc.quick), "").must(t, 200)
		want := e.do("GET", q(tc.general), "").must(t, 200)
		if got.raw != want.raw {
			t.Errorf("%s answered\n%s\nwant what %s answers\n%s", tc.quick, got.raw, tc.general, want.raw)
		}
	}
	if r := e.do("GET", q(`userName eq "ada@example.com"`), "").must(t, 200); r.get("totalResults") != float64(1) {
		t.Errorf("lookup found %v users, want 1: %s", r.get("totalResults"), r.raw)
	}
	// Paging parameters still apply.
	if r := e.do("GET", q(`userName eq "ada@example.com"`)+"&count=0", "").must(t, 200); r.get("totalResults") != float64(1) || len(r.body["Resources"].([]any)) != 0 {
		t.Errorf("count=0: %s, want the total and no resources", r.raw)
	}
	// The same filter on Groups is an error, as before.
	e.do("GET", "/Groups?filter="+url.QueryEscape(`userName eq "ada@example.com"`), "").must(t, 400)
}
