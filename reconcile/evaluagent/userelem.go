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
	hasID           bool   // whether the identifier read last named an id (in id)
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
	return e.members(dec, "a user", userMember)
}

// members reads an object, which what must be, calling member with each member's name folded
// in e.name (see fold) and the decoder on its value, which member must read. The member
// functions take e and dec rather than close over them: a closure made for each object would be
// an allocation each.
func (e *userElem) members(dec *jsontext.Decoder, what string, member func(*userElem, *jsontext.Decoder) error) error {
	if dec.PeekKind() != '{' {
		return wrongKind(dec, what, "an object")
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	for dec.PeekKind() != '}' {
		raw, err := dec.ReadValue()
		if err != nil {
			return err
		}
		e.name = fold(e.name[:0], unquote(&e.value, raw))
		if err := member(e, dec); err != nil {
			return err
		}
	}
	_, err := dec.ReadToken()
	return err
}

func userMember(e *userElem, dec *jsontext.Decoder) error {
	switch string(e.name) {
	case "TYPE":
		return stringOrNull(dec, "type")
	case "ID":
		v, err := e.flex(dec, "id")
		if err == nil {
			e.ID = string(v)
		}
		return err
	case "ATTRIBUTES":
		if dec.PeekKind() == 'n' {
			e.resetAttributes()
			return readNull(dec)
		}
		return e.members(dec, "attributes", attributeMember)
	case "RELATIONSHIPS":
		if dec.PeekKind() == 'n' {
			e.RoleIDs, e.HasTeam, e.Team = e.RoleIDs[:0], false, e.Team[:0]
			return readNull(dec)
		}
		return e.members(dec, "relationships", relationshipMember)
	}
	return dec.SkipValue()
}

func attributeMember(e *userElem, dec *jsontext.Decoder) error {
	var v []byte
	var err error
	switch string(e.name) {
	case "FORENAME":
		e.Forename, err = e.str(dec, "forename", e.Forename)
	case "SURNAME":
		e.Surname, err = e.str(dec, "surname", e.Surname)
	case "USERNAME":
		v, err = e.text(dec, "username")
		e.Username = string(v)
	case "EMAIL":
		e.Email, err = e.str(dec, "email", e.Email)
	case "STARTDATE":
		v, err = e.flex(dec, "start_date")
		e.StartDate = append(e.StartDate[:0], v...)
	case "THIRDPARTYID":
		v, err = e.flex(dec, "third_party_id")
		e.ThirdPartyID = string(v)
	case "ACTIVE":
		e.Active, err = boolean(dec, "active")
	default:
		err = dec.SkipValue()
	}
	return err
}

func relationshipMember(e *userElem, dec *jsontext.Decoder) error {
	switch string(e.name) {
	case "ROLES": // {"data": [identifier, ...]}
		if dec.PeekKind() == 'n' {
			e.RoleIDs = e.RoleIDs[:0]
			return readNull(dec)
		}
		return e.members(dec, "roles", rolesMember)
	case "AGENTTEAM": // {"data": identifier or null}
		if dec.PeekKind() == 'n' {
			e.HasTeam, e.Team = false, e.Team[:0]
			return readNull(dec)
		}
		return e.members(dec, "agent-team", teamMember)
	}
	return dec.SkipValue()
}

func rolesMember(e *userElem, dec *jsontext.Decoder) error {
	if string(e.name) != "DATA" {
		return dec.SkipValue()
	}
	e.RoleIDs = e.RoleIDs[:0]
	switch dec.PeekKind() {
	case 'n':
		return readNull(dec)
	case '[':
	default:
		return wrongKind(dec, "roles data", "an array")
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	for dec.PeekKind() != ']' {
		if err := e.identifier(dec, "role identifier"); err != nil {
			return err
		}
		e.RoleIDs = append(append(e.RoleIDs, e.id...), 0)
	}
	_, err := dec.ReadToken()
	return err
}

func teamMember(e *userElem, dec *jsontext.Decoder) error {
	switch {
	case string(e.name) != "DATA":
		return dec.SkipValue()
	case dec.PeekKind() == 'n':
		e.HasTeam, e.Team = false, e.Team[:0]
		return readNull(dec)
	}
	if !e.HasTeam {
		e.HasTeam, e.Team = true, e.Team[:0]
	}
	err := e.identifier(dec, "agent-team identifier")
	if e.hasID {
		e.Team = append(e.Team[:0], e.id...)
	}
	return err
}

// identifier reads a resource identifier ({"type": ..., "id": ...} or null) into e.id, and
// whether it named one into e.hasID. what names it in errors.
func (e *userElem) identifier(dec *jsontext.Decoder, what string) error {
	e.id, e.hasID = e.id[:0], false
	if dec.PeekKind() == 'n' {
		return readNull(dec)
	}
	return e.members(dec, what, identifierMember)
}

func identifierMember(e *userElem, dec *jsontext.Decoder) error {
	switch string(e.name) {
	case "TYPE":
		return stringOrNull(dec, "type of an identifier")
	case "ID":
		v, err := e.flex(dec, "id of an identifier")
		e.id, e.hasID = append(e.id[:0], v...), err == nil
		return err
	}
	return dec.SkipValue()
}

// str reads a string or null ("") and appends it to dst[:0].
func (e *userElem) str(dec *jsontext.Decoder, what string, dst []byte) ([]byte, error) {
	v, err := e.text(dec, what)
	return append(dst[:0], v...), err
}

// text reads a string or null (""), valid until the next read.
func (e *userElem) text(dec *jsontext.Decoder, what string) ([]byte, error) {
	return e.scalar(dec, what, false)
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
	return e.scalar(dec, what, true)
}

// scalar reads a string or null (""), and a number (as written) when numbers is set.
func (e *userElem) scalar(dec *jsontext.Decoder, what string, numbers bool) ([]byte, error) {
	switch k := dec.PeekKind(); {
	case k == 'n':
		return nil, readNull(dec)
	case k == '"':
		raw, err := dec.ReadValue()
		if err != nil {
			return nil, err
		}
		return unquote(&e.value, raw), nil
	case k == '0' && numbers:
		return dec.ReadValue()
	}
	if numbers {
		return nil, wrongKind(dec, what, "a string, number or null")
	}
	return nil, wrongKind(dec, what, "a string")
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
