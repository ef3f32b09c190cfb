package evaluagent

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	json2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// refUserElem is a listed user as the reflection decoder reads it with the listings' options:
// the reference decodeUserElem is held to.
type refUserElem struct {
	Type       string     `json:"type"`
	ID         flexString `json:"id"`
	Attributes struct {
		Forename     string     `json:"forename"`
		Surname      string     `json:"surname"`
		Username     string     `json:"username"`
		Email        string     `json:"email"`
		StartDate    flexString `json:"start_date"`
		Active       bool       `json:"active"`
		ThirdPartyID flexString `json:"third_party_id"`
	} `json:"attributes"`
	Relationships struct {
		Roles struct {
			Data []identifier `json:"data"`
		} `json:"roles"`
		AgentTeam struct {
			Data *identifier `json:"data"`
		} `json:"agent-team"`
	} `json:"relationships"`
}

func (r *refUserElem) String() string {
	var roles []string
	for _, id := range r.Relationships.Roles.Data {
		roles = append(roles, string(id.ID))
	}
	team := "none"
	if t := r.Relationships.AgentTeam.Data; t != nil {
		team = fmt.Sprintf("%q", string(t.ID))
	}
	a := &r.Attributes
	return fmt.Sprintf("id=%q username=%q email=%q names=%q/%q start=%q active=%t tpid=%q roles=%q team=%s",
		string(r.ID), a.Username, a.Email, a.Forename, a.Surname, string(a.StartDate), a.Active, string(a.ThirdPartyID), roles, team)
}

func (e *userElem) String() string {
	var roles []string
	for id := range bytes.SplitSeq(e.RoleIDs, []byte{0}) {
		roles = append(roles, string(id))
	}
	roles = roles[:len(roles)-1] // after the last 0
	team := "none"
	if e.HasTeam {
		team = fmt.Sprintf("%q", string(e.Team))
	}
	return fmt.Sprintf("id=%q username=%q email=%q names=%q/%q start=%q active=%t tpid=%q roles=%q team=%s",
		e.ID, e.Username, e.Email, e.Forename, e.Surname, e.StartDate, e.Active, e.ThirdPartyID, roles, team)
}

// sameAsReflection decodes the elements of the JSON array body with decodeUserElem and with the
// reflection decoder, each element into one reused value, and fails where they differ: in what
// they read, in whether they fail, or in where they stop.
func sameAsReflection(t *testing.T, body []byte) {
	t.Helper()
	got := jsontext.NewDecoder(bytes.NewReader(body), lenient...)
	want := jsontext.NewDecoder(bytes.NewReader(body), lenient...)
	if got.PeekKind() != '[' {
		return
	}
	if _, err := got.ReadToken(); err != nil {
		return
	}
	if _, err := want.ReadToken(); err != nil {
		t.Fatalf("reference: %v", err)
	}
	var e userElem
	var r refUserElem
	for i := 0; got.PeekKind() != ']' && got.PeekKind() != 0; i++ {
		gotErr := decodeUserElem(got, &e)
		roles := r.Relationships.Roles.Data[:0]
		r = refUserElem{}
		r.Relationships.Roles.Data = roles
		wantErr := json2.UnmarshalDecode(want, &r, lenient...)
		if (gotErr != nil) != (wantErr != nil) {
			t.Fatalf("element %d of %q: decodeUserElem says %v, reflection says %v", i, body, gotErr, wantErr)
		}
		if gotErr != nil {
			return
		}
		if g, w := e.String(), r.String(); g != w {
			t.Fatalf("element %d of %q:\n got %s\nwant %s", i, body, g, w)
		}
		if g, w := got.InputOffset(), want.InputOffset(); g != w {
			t.Fatalf("element %d of %q: stopped at %d, reflection at %d", i, body, g, w)
		}
	}
}

var userElemSeeds = []string{
	`[` + strings.TrimSuffix(strings.TrimPrefix(usersPage(0, 2, ""), `{"meta":{"page":{"total":1}},"data":[`), `],"links":{"next":null}}`) + `]`,
	`[{"type":"users","id":7,"attributes":{"forename":null,"surname":"S","username":"u","email":"u@x","start_date":null,"active":null,"third_party_id":12.5e3},"relationships":{"roles":{"data":null},"agent-team":{"data":null}}}]`,
	// Names in any case, with or without their dashes and underscores.
	`[{"TYPE":"users","Id":"a","ATTRIBUTES":{"ForeName":"F","START-DATE":"2024-01-15","Third_Party_ID":"t","ACTIVE":true,"UserName":"u","e_mail":"x"},"Relationships":{"ROLES":{"DATA":[{"ID":"r1"},{"id":"r2","type":"roles"}]},"AgentTeam":{"Data":{"ID":"g"}},"agent_team":{"data":{"type":"groups"}}}}]`,
	// Repeated members: the last value counts, objects merge, null clears.
	`[{"id":"a","id":"b","attributes":{"username":"u1","email":"e"},"attributes":{"username":"u2"},"relationships":{"roles":{"data":["x"]}}}]`,
	`[{"id":"a","attributes":{"username":"u1","email":"e"},"attributes":null,"attributes":{"surname":"s"},"relationships":{"agent-team":{"data":{"id":"g1"}},"agent-team":{"data":{"type":"t"}}}}]`,
	`[{"id":"a","relationships":{"roles":{"data":[{"id":"r1"}]},"roles":{"links":{}},"roles":{"data":[null,{"id":3}]}}}]`,
	// Escapes, invalid UTF-8 and unknown members of every kind.
	`[{"id":"\u0041\n","attributes":{"username":"caf\u00e9","forename":"\xff\xfe","x":[1,{"y":null}],"z":"\"q\""},"meta":{"deep":[[[]]]}}]`,
	// Wrong kinds, each of which fails.
	`[{"id":true}]`, `[{"id":{}}]`, `[{"attributes":[]}]`, `[{"attributes":{"username":5}}]`, `[{"attributes":{"active":"yes"}}]`,
	`[{"attributes":{"start_date":[]}}]`, `[{"relationships":{"roles":{"data":{}}}}]`, `[{"relationships":{"roles":{"data":[5]}}}]`,
	`[{"relationships":{"agent-team":{"data":[]}}}]`, `[{"relationships":{"agent-team":{"data":{"id":false}}}}]`, `[{"type":1}]`,
	`[5]`, `["user"]`, `[null,{"id":"after a null"}]`, `[{"id":"a"},{"attributes":{"username":"second, reset"}}]`,
	// Broken syntax.
	`[{"id":"a",}]`, `[{"id":"a"`, `[{"attributes":{"username":"u"]}]`,
}

// TestDecodeUserElemMatchesReflection holds the hand-written listing decoder to the reflection
// decoder it replaced, on listings written to reach each rule of its leniency.
func TestDecodeUserElemMatchesReflection(t *testing.T) {
	for _, s := range userElemSeeds {
		sameAsReflection(t, []byte(s))
	}
}

// TestDecodeUserElemReads checks a few readings outright, so that a fault shared by both
// decoders cannot pass unseen.
func TestDecodeUserElemReads(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{userElemSeeds[2], `id="a" username="u" email="x" names="F"/"" start="2024-01-15" active=true tpid="t" roles=["r1" "r2"] team="g"`},
		{userElemSeeds[4], `id="a" username="" email="" names=""/"s" start="" active=false tpid="" roles=[] team="g1"`},
		{userElemSeeds[5], `id="a" username="" email="" names=""/"" start="" active=false tpid="" roles=["" "3"] team=none`},
	} {
		dec := jsontext.NewDecoder(strings.NewReader(tc.body), lenient...)
		if _, err := dec.ReadToken(); err != nil {
			t.Fatal(err)
		}
		var e userElem
		if err := decodeUserElem(dec, &e); err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		if got := e.String(); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.body, got, tc.want)
		}
	}
}

// FuzzDecodeUserElem holds decodeUserElem to the reflection decoder on any listing.
func FuzzDecodeUserElem(f *testing.F) {
	for _, s := range userElemSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sameAsReflection(t, body)
	})
}
