package evaluagent

import (
	"bytes"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// userElem is one element of a streamed user listing, decoded member by member from the
// decoder's tokens by decodeUserElem. The listing of a large account is the longest part of a
// pass; decoding it through reflection took 1.2 µs and 8 allocations a user, most of them strings
// that were looked up and dropped at once (role and team ids, start dates, common names).
//
// The leniency is that of the other responses, read with encoding/json-like options: member names
// match whatever their case, dashes and underscores; a repeated member's last value counts, an
// object's members merging into what an earlier one gave; null is accepted for every member; ids,
// start_date and third_party_id may be strings or numbers; unknown members are skipped.
//
// One value is reused for every element: the byte fields keep their room, and hold what was read
// only until the next element.
type userElem struct {
	ID, Username, ThirdPartyID string
	Active                     bool
	// Email, the names and the start date are often shared with another user; the listing
	// looks them up before making a string of them.
	Email, Forename, Surname, StartDate []byte
	// RoleIDs are the role ids of relationships.roles.data in order, each followed by a 0 byte:
	// the key under which the listing shares role sets.
	RoleIDs []byte
	// Team is the id of relationships.agent-team.data when HasTeam.
	HasTeam bool
	Team    []byte

	name, value, id []byte // scratch
}

// decodeUserElem decodes the next element of a user listing into e, reset first.
func decodeUserElem(dec *jsontext.Decoder, e *userElem) error {
	e.reset()
	if err := e.decode(dec); err != nil {
		return fmt.Errorf("user after %q: %w", e.ID, err)
	}
	return nil
}

func (e *userElem) reset() {
	e.ID, e.Username, e.ThirdPartyID, e.Active = "", "", "", false
	e.resetAttributes()
	e.RoleIDs, e.HasTeam, e.Team = e.RoleIDs[:0], false, e.Team[:0]
}

func (e *userElem) resetAttributes() {
	e.Username, e.ThirdPartyID, e.Active = "", "", false
	e.Email, e.Forename, e.Surname, e.StartDate = e.Email[:0], e.Forename[:0], e.Surname[:0], e.StartDate[:0]
}

func (e *userElem) decode(dec *jsontext.Decoder) error {
	if dec.PeekKind() == 'n' {
		return readNull(dec) // a user with nothing set, as the reflection decoder reads null
	}
	if err := e.enter(dec, "a user"); err != nil {
		return err
	}
	for {
		more, err := e.next(dec)
		if !more || err != nil {
			return err
		}
		switch string(e.name) {
		case "TYPE":
			err = stringOrNull(dec, "type")
		case "ID":
			var v []byte
			if v, err = e.flex(dec, "id"); err == nil {
				e.ID = string(v)
			}
		case "ATTRIBUTES":
			err = e.attributes(dec)
		case "RELATIONSHIPS":
			err = e.relationships(dec)
		default:
			err = dec.SkipValue()
		}
		if err != nil {
			return err
		}
	}
}

func (e *userElem) attributes(dec *jsontext.Decoder) error {
	if dec.PeekKind() == 'n' {
		e.resetAttributes()
		return readNull(dec)
	}
	if err := e.enter(dec, "attributes"); err != nil {
		return err
	}
	for {
		more, err := e.next(dec)
		if !more || err != nil {
			return err
		}
		var v []byte
		switch string(e.name) {
		case "FORENAME":
			e.Forename, err = e.str(dec, "forename", e.Forename)
		case "SURNAME":
			e.Surname, err = e.str(dec, "surname", e.Surname)
		case "USERNAME":
			if v, err = e.text(dec, "username"); err == nil {
				e.Username = string(v)
			}
		case "EMAIL":
			e.Email, err = e.str(dec, "email", e.Email)
		case "STARTDATE":
			if v, err = e.flex(dec, "start_date"); err == nil {
				e.StartDate = append(e.StartDate[:0], v...)
			}
		case "THIRDPARTYID":
			if v, err = e.flex(dec, "third_party_id"); err == nil {
				e.ThirdPartyID = string(v)
			}
		case "ACTIVE":
			e.Active, err = boolean(dec, "active")
		default:
			err = dec.SkipValue()
		}
		if err != nil {
			return err
		}
	}
}

func (e *userElem) relationships(dec *jsontext.Decoder) error {
	if dec.PeekKind() == 'n' {
		e.RoleIDs, e.HasTeam, e.Team = e.RoleIDs[:0], false, e.Team[:0]
		return readNull(dec)
	}
	if err := e.enter(dec, "relationships"); err != nil {
		return err
	}
	for {
		more, err := e.next(dec)
		if !more || err != nil {
			return err
		}
		switch string(e.name) {
		case "ROLES":
			err = e.roles(dec)
		case "AGENTTEAM":
			err = e.team(dec)
		default:
			err = dec.SkipValue()
		}
		if err != nil {
			return err
		}
	}
}

// roles reads relationships.roles: {"data": [identifier, ...]}.
func (e *userElem) roles(dec *jsontext.Decoder) error {
	if dec.PeekKind() == 'n' {
		e.RoleIDs = e.RoleIDs[:0]
		return readNull(dec)
	}
	if err := e.enter(dec, "roles"); err != nil {
		return err
	}
	for {
		more, err := e.next(dec)
		if !more || err != nil {
			return err
		}
		if string(e.name) != "DATA" {
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		e.RoleIDs = e.RoleIDs[:0]
		switch dec.PeekKind() {
		case 'n':
			if err := readNull(dec); err != nil {
				return err
			}
			continue
		case '[':
		default:
			return wrongKind(dec, "roles data", "an array")
		}
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		for dec.PeekKind() != ']' {
			id, _, err := e.identifier(dec, "role identifier")
			if err != nil {
				return err
			}
			e.RoleIDs = append(append(e.RoleIDs, id...), 0)
		}
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
	}
}

// team reads relationships.agent-team: {"data": identifier or null}.
func (e *userElem) team(dec *jsontext.Decoder) error {
	if dec.PeekKind() == 'n' {
		e.HasTeam, e.Team = false, e.Team[:0]
		return readNull(dec)
	}
	if err := e.enter(dec, "agent-team"); err != nil {
		return err
	}
	for {
		more, err := e.next(dec)
		if !more || err != nil {
			return err
		}
		switch {
		case string(e.name) != "DATA":
			err = dec.SkipValue()
		case dec.PeekKind() == 'n':
			e.HasTeam, e.Team = false, e.Team[:0]
			err = readNull(dec)
		default:
			if !e.HasTeam {
				e.HasTeam, e.Team = true, e.Team[:0]
			}
			var id []byte
			var hasID bool
			id, hasID, err = e.identifier(dec, "agent-team identifier")
			if hasID {
				e.Team = append(e.Team[:0], id...)
			}
		}
		if err != nil {
			return err
		}
	}
}

// identifier reads a resource identifier ({"type": ..., "id": ...} or null) and returns its id,
// valid until the next read, and whether it named one. what names it in errors.
func (e *userElem) identifier(dec *jsontext.Decoder, what string) (id []byte, hasID bool, err error) {
	if dec.PeekKind() == 'n' {
		return nil, false, readNull(dec)
	}
	if err := e.enter(dec, what); err != nil {
		return nil, false, err
	}
	e.id = e.id[:0]
	for {
		more, err := e.next(dec)
		if !more || err != nil {
			return e.id, hasID, err
		}
		var v []byte
		switch string(e.name) {
		case "TYPE":
			err = stringOrNull(dec, what)
		case "ID":
			if v, err = e.flex(dec, what); err == nil {
				e.id, hasID = append(e.id[:0], v...), true
			}
		default:
			err = dec.SkipValue()
		}
		if err != nil {
			return e.id, hasID, err
		}
	}
}

// enter reads the start of an object, which what must be.
func (e *userElem) enter(dec *jsontext.Decoder, what string) error {
	if dec.PeekKind() != '{' {
		return wrongKind(dec, what, "an object")
	}
	_, err := dec.ReadToken()
	return err
}

// next reads the next member's name into e.name, folded (see fold), and reports whether there
// was one: at the end of the object it reads the end and returns false.
func (e *userElem) next(dec *jsontext.Decoder) (bool, error) {
	if dec.PeekKind() == '}' {
		_, err := dec.ReadToken()
		return false, err
	}
	raw, err := dec.ReadValue()
	if err != nil {
		return false, err
	}
	e.name = fold(e.name[:0], unquote(&e.value, raw))
	return true, nil
}

// str reads a string or null ("") and appends it to dst[:0].
func (e *userElem) str(dec *jsontext.Decoder, what string, dst []byte) ([]byte, error) {
	v, err := e.text(dec, what)
	return append(dst[:0], v...), err
}

// text reads a string or null (""), valid until the next read.
func (e *userElem) text(dec *jsontext.Decoder, what string) ([]byte, error) {
	switch dec.PeekKind() {
	case 'n':
		return nil, readNull(dec)
	case '"':
		raw, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		return unquote(&e.value, raw), nil
	}
	return nil, wrongKind(dec, what, "a string")
}

// stringOrNull reads a string or null, which it drops.
func stringOrNull(dec *jsontext.Decoder, what string) error {
	switch dec.PeekKind() {
	case 'n', '"':
		_, err := dec.ReadValue()
		return err
	}
	return wrongKind(dec, what, "a string")
}

// flex reads a string, a number (as written) or null (""), valid until the next read.
func (e *userElem) flex(dec *jsontext.Decoder, what string) ([]byte, error) {
	switch dec.PeekKind() {
	case 'n':
		return nil, readNull(dec)
	case '"':
		raw, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		return unquote(&e.value, raw), nil
	case '0':
		raw, err := dec.ReadValue()
		return raw, err
	}
	return nil, wrongKind(dec, what, "a string, number or null")
}

func boolean(dec *jsontext.Decoder, what string) (bool, error) {
	switch dec.PeekKind() {
	case 'n':
		return false, readNull(dec)
	case 't', 'f':
		tok, err := dec.ReadToken()
		if err != nil {
			return false, err
		}
		return tok.Bool(), nil
	}
	return false, wrongKind(dec, what, "true, false or null")
}

func readNull(dec *jsontext.Decoder) error {
	_, err := dec.ReadToken()
	return err
}

// wrongKind reads the value the decoder is on, which is not what was wanted, and says so.
func wrongKind(dec *jsontext.Decoder, what, want string) error {
	raw, err := dec.ReadValue()
	if err != nil {
		return err
	}
	return fmt.Errorf("%s: want %s, got %s", what, want, truncate(string(raw), 40))
}

// unquote returns the contents of the JSON string raw: a part of raw itself when it holds no
// escapes, or else decoded into *scratch. Invalid UTF-8, which the listing's decoder lets
// through, comes out as U+FFFD, as encoding/json gives it.
func unquote(scratch *[]byte, raw jsontext.Value) []byte {
	in := raw[1 : len(raw)-1]
	if bytes.IndexByte(in, '\\') < 0 && utf8.Valid(in) {
		return in
	}
	out, _ := jsontext.AppendUnquote((*scratch)[:0], raw) // its only error is invalid UTF-8, replaced
	*scratch = out
	return out
}

// fold is a member name as the listing matches it: without dashes and underscores, each letter
// in the smallest form of its case folding (upper case for ASCII), so that "agent-team",
// "Agent_Team" and "AGENTTEAM" are one name, as encoding/json-like case-insensitive matching has
// them.
func fold(dst, name []byte) []byte {
	for i := 0; i < len(name); {
		c := name[i]
		if c < utf8.RuneSelf {
			if c != '_' && c != '-' {
				if 'a' <= c && c <= 'z' {
					c -= 'a' - 'A'
				}
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(name[i:])
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		dst = utf8.AppendRune(dst, r)
		i += n
	}
	return dst
}
