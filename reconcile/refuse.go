package reconcile

import (
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxPersonName bounds a forename or surname, in characters. Evaluagent
// documents no limit; a longer value is far more likely a broken export than
// a name, and is reported rather than sent.
const MaxPersonName = 255

// MaxEmail is the longest email address (RFC 5321's path limit).
const MaxEmail = 254

// refused says why the platform would refuse the active desired user w, or
// "": an email that is not an address, a forename or surname empty or over
// MaxPersonName, a username outside the platform's length limits, or a role
// the platform does not have (when the policy knows the platform's roles).
// Such a person is a plan problem: nothing is sent that would fail on every
// pass.
func (d *differ) refused(w *User) string {
	caps := d.pol.Target
	if caps.holds(FieldUsername) {
		if why := d.badName("username", w.Username, caps.usernameLen()); why != "" {
			return why
		}
	}
	if caps.holds(FieldEmail) && w.Email != "" {
		if why := badEmail(w.Email); why != "" {
			return why
		}
	}
	for _, f := range []struct {
		field Field
		value string
	}{{FieldForename, w.Forename}, {FieldSurname, w.Surname}} {
		if !caps.holds(f.field) {
			continue
		}
		n := utf8.RuneCountInString(f.value)
		switch {
		case strings.TrimSpace(f.value) == "":
			return fmt.Sprintf("%s of %q is empty; %s requires one", f.field, w.Username, caps.platform())
		case n > MaxPersonName:
			return fmt.Sprintf("%s of %q has %d characters; at most %d are sent", f.field, w.Username, n, MaxPersonName)
		}
	}
	if caps.holds(FieldRoles) && d.pol.KnownRoles != nil {
		for _, r := range w.Roles.List() {
			if !slices.ContainsFunc(d.pol.KnownRoles, func(k string) bool { return strings.EqualFold(k, r) }) {
				return fmt.Sprintf("role %q of %q does not exist on %s (it has: %s)", r, w.Username, caps.platform(),
					strings.Join(d.pol.KnownRoles, ", "))
			}
		}
	}
	return ""
}

// badEmail says why s is not a plain email address (local@domain, no
// display name, no spaces), or "".
func badEmail(s string) string {
	if len(s) <= MaxEmail && plainEmail(s) {
		return ""
	}
	if utf8.RuneCountInString(s) > MaxEmail {
		return fmt.Sprintf("email %q has more than %d characters", truncateRunes(s, 40), MaxEmail)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		return fmt.Sprintf("email %q is not an address such as name@example.com", s)
	}
	return ""
}

// plainEmail reports whether s is an address of the commonest form, which
// net/mail accepts unchanged: a local part of letters, digits and . _ + -,
// an @, and a domain of letters, digits, . and - with at least one dot;
// neither part starts or ends with a dot or holds two in a row. It saves
// the full parser for the rest, whose answer it never contradicts.
func plainEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 {
		return false
	}
	return dotAtom(s[:at], "._+-") && dotAtom(s[at+1:], ".-") && strings.IndexByte(s[at+1:], '.') >= 0
}

// dotAtom reports whether s is non-empty, holds only ASCII letters, digits
// and the bytes in extra, and has no dot at either end or two in a row.
func dotAtom(s, extra string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.' && s[i-1] == '.':
			return false
		case strings.IndexByte(extra, c) >= 0:
		default:
			return false
		}
	}
	return true
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
