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
		for _, r := range w.Roles {
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
	if utf8.RuneCountInString(s) > MaxEmail {
		return fmt.Sprintf("email %q has more than %d characters", truncateRunes(s, 40), MaxEmail)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		return fmt.Sprintf("email %q is not an address such as name@example.com", s)
	}
	return ""
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
