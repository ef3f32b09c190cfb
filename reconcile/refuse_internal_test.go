package reconcile

import (
	"net/mail"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzPlainEmail checks that the quick test for common addresses never
// accepts what net/mail would refuse or change, and that badEmail gives the
// same answer with and without it.
func FuzzPlainEmail(f *testing.F) {
	for _, s := range []string{
		"ann@x.example", "a.b+c_d-e@mail.example.org", "E0000001@example.com",
		".ann@x.example", "ann.@x.example", "a..b@x.example", "ann@x..example", "ann@.x.example",
		"ann@x.example.", "ann@localhost", "@x.example", "ann@", "ann", "a b@x.example",
		"Ann <ann@x.example>", "ann@x.example ", "\"a b\"@x.example", "ann@[10.0.0.1]", "ann@@x.example",
		"ann@x_y.example", "ann@-x.example", "änn@x.example",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := mail.ParseAddress(s)
		parsed := err == nil && a.Address == s && a.Name == ""
		if plainEmail(s) && !parsed {
			t.Fatalf("plainEmail accepts %q, which net/mail parses as %v, %v", s, a, err)
		}
		ok := utf8.RuneCountInString(s) <= MaxEmail && parsed && strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".")
		if got := badEmail(s); (got == "") != ok {
			t.Fatalf("badEmail(%q) = %q; net/mail alone says ok=%v", s, got, ok)
		}
	})
}

// FuzzRolesNormal checks that a role list called normal is one normRoles
// leaves as it is.
func FuzzRolesNormal(f *testing.F) {
	f.Add("agent", "", "")
	f.Add("agent", "supervisor", "")
	f.Add("Agent", " b", "b")
	f.Add("a", "a", "b")
	f.Add("b", "a", "")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		for _, rs := range [][]string{{a}, {a, b}, {a, b, c}} {
			if rolesNormal(rs) && !slices.Equal(normRoles(rs).List(), rs) {
				t.Fatalf("rolesNormal(%q) but normRoles gives %q", rs, normRoles(rs))
			}
		}
	})
}
