package ldap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rostersync/rostersync/config/block"
	"github.com/rostersync/rostersync/sources"
)

func groupNames(r sources.Record) []string {
	var out []string
	for _, g := range r.Groups {
		out = append(out, g.Name)
	}
	return out
}

func TestPagingIsReissuedWithTheServersCookie(t *testing.T) {
	all := people(2500)
	fc := &fakeClient{handle: func(*goldap.SearchRequest) fakeResult { return fakeResult{entries: all} }}
	d, _ := dialFake(fc)
	s := newTestSource(t, Config{PageSize: 1000, Attributes: []string{"uid", "cn"}}, d)
	snap, err := s.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Health.Complete || snap.Health.Count != 2500 || len(snap.Records) != 2500 {
		t.Fatalf("health %+v, %d records", snap.Health, len(snap.Records))
	}
	reqs := fc.searches()
	if len(reqs) != 3 {
		t.Fatalf("%d searches, want 3 pages", len(reqs))
	}
	wantCookies := []string{"", "1000", "2000"}
	for i, r := range reqs {
		p := goldap.FindControl(r.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging)
		if p.PagingSize != 1000 || string(p.Cookie) != wantCookies[i] {
			t.Errorf("page %d: size %d cookie %q, want 1000 %q", i+1, p.PagingSize, p.Cookie, wantCookies[i])
		}
		if got := strings.Join(r.Attributes, ","); got != "uid,cn,entryUUID" {
			t.Errorf("page %d requested %s", i+1, got)
		}
	}
	r := snap.Records[0]
	if r.Key != "00000000-0000-0000-0000-000000000001" || r.Get("uid") != "user00001" || r.Origin != "uid=user00001,ou=people,dc=example,dc=org" {
		t.Errorf("first record %+v", r)
	}
	if got := r.Values(AttrOU); len(got) != 0 { // directly under the people base DN
		t.Errorf("_ou = %q", got)
	}
	if r.Get("entryUUID") != "" {
		t.Errorf("entryUUID was not asked for by the mapping but is in Attrs")
	}
}

func TestPageSizeAboveADLimitIsRejected(t *testing.T) {
	err := Config{URL: "ldap://x", People: Search{BaseDN: "dc=x"}, PageSize: 1500}.Validate()
	if err == nil || !strings.Contains(err.Error(), "page_size") {
		t.Fatalf("err = %v", err)
	}
}

func TestSizeLimitMakesTheSnapshotIncomplete(t *testing.T) {
	all := people(300)
	fc := &fakeClient{handle: func(*goldap.SearchRequest) fakeResult {
		return fakeResult{entries: all, err: goldap.NewError(goldap.LDAPResultSizeLimitExceeded, fmt.Errorf("size limit")), errAfter: 250}
	}}
	d, _ := dialFake(fc)
	s := newTestSource(t, Config{PageSize: 100}, d)
	snap, err := s.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Health.Complete || !strings.Contains(snap.Health.Reason, "size limit exceeded after 250 entries") || snap.Health.Count != 250 {
		t.Fatalf("health %+v", snap.Health)
	}
}

func TestReferralsMakeTheSnapshotIncomplete(t *testing.T) {
	for _, tc := range []struct {
		name string
		res  fakeResult
		want string
	}{
		{"reference", fakeResult{entries: people(10), referrals: []string{"ldap://other.example.org/ou=people,dc=example,dc=org"}}, "referral(s)"},
		{"result", fakeResult{entries: people(10), err: goldap.NewError(goldap.LDAPResultReferral, fmt.Errorf("referral")), errAfter: 5}, "referral after 5 entries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := &fakeClient{handle: func(*goldap.SearchRequest) fakeResult { return tc.res }}
			d, _ := dialFake(fc)
			snap, err := newTestSource(t, Config{}, d).Fetch(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if snap.Health.Complete || !strings.Contains(snap.Health.Reason, tc.want) {
				t.Fatalf("health %+v", snap.Health)
			}
		})
	}
}

func TestPageWithoutPagingControlIsIncomplete(t *testing.T) {
	fc := &fakeClient{handle: func(*goldap.SearchRequest) fakeResult { return fakeResult{entries: people(10), noPaging: true} }}
	d, _ := dialFake(fc)
	snap, err := newTestSource(t, Config{}, d).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Health.Complete || !strings.Contains(snap.Health.Reason, "without a paging control") {
		t.Fatalf("health %+v", snap.Health)
	}
}

func TestConnectionLostMidReadIsReadAgainOnANewConnection(t *testing.T) {
	all := people(50)
	drop := &fakeClient{handle: func(*goldap.SearchRequest) fakeResult { return fakeResult{entries: all, dropAfter: 30} }}
	good := &fakeClient{handle: func(*goldap.SearchRequest) fakeResult { return fakeResult{entries: all} }}
	d, dials := dialFake(drop, good)
	s := newTestSource(t, Config{PageSize: 20}, d)
	snap, err := s.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Health.Complete || snap.Health.Count != 50 || *dials != 2 {
		t.Fatalf("health %+v after %d dials", snap.Health, *dials)
	}
}

func TestConnectionLostAndServerGoneIsIncompleteNotComplete(t *testing.T) {
	drop := &fakeClient{handle: func(*goldap.SearchRequest) fakeResult { return fakeResult{entries: people(50), dropAfter: 30} }}
	d, _ := dialFake(drop) // every later dial is refused
	s := newTestSource(t, Config{PageSize: 20, Retries: 2}, d)
	snap, err := s.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Health.Complete || snap.Health.Count != 30 || !strings.Contains(snap.Health.Reason, "connection lost") || !strings.Contains(snap.Health.Reason, "reconnect failed") {
		t.Fatalf("health %+v", snap.Health)
	}
}

func TestUnreachableServerIsAnError(t *testing.T) {
	d, dials := dialFake()
	_, err := newTestSource(t, Config{Retries: 2}, d).Fetch(context.Background())
	if err == nil || !strings.Contains(err.Error(), "connect ldap://127.0.0.1:1") || *dials != 3 {
		t.Fatalf("err %v after %d dials", err, *dials)
	}
}

func TestEntryWithoutKeyMakesTheSnapshotIncomplete(t *testing.T) {
	all := people(3)
	all = append(all, entry("uid=nokey,ou=people,dc=example,dc=org", map[string][]string{"uid": {"nokey"}}))
	fc := &fakeClient{handle: func(*goldap.SearchRequest) fakeResult { return fakeResult{entries: all} }}
	d, _ := dialFake(fc)
	snap, err := newTestSource(t, Config{}, d).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if snap.Health.Complete || !strings.Contains(snap.Health.Reason, "uid=nokey,ou=people,dc=example,dc=org has no entryUUID") || snap.Health.Count != 3 {
		t.Fatalf("health %+v", snap.Health)
	}
}

// adGroupServer serves one AD group with n members handed out 1500 at a time,
// as Active Directory does with MaxValRange.
func rangedValues(all []string, lo int) (string, []string) {
	hi := lo + 1500
	if hi >= len(all) {
		return fmt.Sprintf("member;range=%d-*", lo), all[lo:]
	}
	return fmt.Sprintf("member;range=%d-%d", lo, hi-1), all[lo:hi]
}

func TestADRangedMemberIsReadToTheEnd(t *testing.T) {
	const n = 3200
	var members []string
	var ppl []*goldap.Entry
	for i := range n {
		dn := fmt.Sprintf("CN=user%05d,OU=People,DC=example,DC=org", i)
		members = append(members, dn)
		guid := make([]byte, 16)
		guid[14], guid[15] = byte(i>>8), byte(i)
		e := entry(dn, map[string][]string{"sAMAccountName": {fmt.Sprintf("user%05d", i)}, "userAccountControl": {"512"}})
		e.Attributes = append(e.Attributes, &goldap.EntryAttribute{Name: "objectGUID", Values: []string{string(guid)}, ByteValues: [][]byte{guid}})
		ppl = append(ppl, e)
	}
	groupDN := "CN=big,OU=Groups,DC=example,DC=org"
	gguid := bytes.Repeat([]byte{0xab}, 16)
	fc := &fakeClient{}
	fc.handle = func(req *goldap.SearchRequest) fakeResult {
		switch {
		case req.BaseDN == "OU=Groups,DC=example,DC=org":
			name, vals := rangedValues(members, 0)
			e := entry(groupDN, map[string][]string{"cn": {"big"}, name: vals})
			e.Attributes = append(e.Attributes, &goldap.EntryAttribute{Name: "objectGUID", Values: []string{string(gguid)}, ByteValues: [][]byte{gguid}})
			return fakeResult{entries: []*goldap.Entry{e}}
		case req.BaseDN == groupDN:
			var lo int
			if _, err := fmt.Sscanf(req.Attributes[0], "member;range=%d-*", &lo); err != nil {
				t.Errorf("ranged request %q", req.Attributes)
			}
			name, vals := rangedValues(members, lo)
			return fakeResult{entries: []*goldap.Entry{entry(groupDN, map[string][]string{name: vals})}}
		default:
			return fakeResult{entries: ppl}
		}
	}
	d, _ := dialFake(fc)
	s := newTestSource(t, Config{Flavor: FlavorAD, People: Search{BaseDN: "OU=People,DC=example,DC=org"},
		Groups: GroupSearch{Search: Search{BaseDN: "OU=Groups,DC=example,DC=org"}}, Attributes: []string{"sAMAccountName"}}, d)
	snap, err := s.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Health.Complete || snap.Health.Count != n {
		t.Fatalf("health %+v", snap.Health)
	}
	for _, r := range snap.Records {
		if len(r.Groups) != 1 || r.Groups[0].Name != "big" || r.Groups[0].Key != "abababab-abab-abab-abab-abababababab" {
			t.Fatalf("%s groups %+v", r.Origin, r.Groups)
		}
		if r.Get(AttrActive) != "true" {
			t.Fatalf("%s _active %q", r.Origin, r.Get(AttrActive))
		}
	}
	var ranged []string
	for _, r := range fc.searches() {
		if r.BaseDN == groupDN {
			ranged = append(ranged, r.Attributes[0])
		}
	}
	if got := strings.Join(ranged, " "); got != "member;range=1500-* member;range=3000-*" {
		t.Errorf("ranged requests: %s", got)
	}
}

// TestMembersOfSeveralGroups reads people listed by none, one, two and
// four groups, some twice, and finds each person's groups whole.
func TestMembersOfSeveralGroups(t *testing.T) {
	const g = ",ou=groups,dc=example,dc=org"
	uid := func(i int) string { return fmt.Sprintf("uid=user%05d,ou=people,dc=example,dc=org", i) }
	in := map[string][]string{ // group → members
		"a": {uid(2), uid(3), uid(4)},
		"b": {uid(3), uid(4), uid(4)},
		"c": {uid(4)},
		"d": {uid(4), uid(1)},
	}
	var groups []*goldap.Entry
	for _, name := range []string{"a", "b", "c", "d"} {
		groups = append(groups, entry("cn="+name+g, map[string][]string{"cn": {name}, "entryUUID": {name + "-uuid"}, "member": in[name]}))
	}
	fc := &fakeClient{handle: func(req *goldap.SearchRequest) fakeResult {
		if strings.HasPrefix(req.BaseDN, "ou=groups") {
			return fakeResult{entries: groups}
		}
		return fakeResult{entries: people(5)}
	}}
	d, _ := dialFake(fc)
	s := newTestSource(t, Config{Groups: GroupSearch{Search: Search{BaseDN: "ou=groups,dc=example,dc=org"}}}, d)
	snap, err := s.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"user00001": "d", "user00002": "a", "user00003": "a,b", "user00004": "a,b,c,d", "user00005": ""}
	if len(snap.Records) != len(want) {
		t.Fatalf("read %d people, want %d", len(snap.Records), len(want))
	}
	for _, r := range snap.Records {
		uid := strings.TrimPrefix(strings.SplitN(r.Origin, ",", 2)[0], "uid=")
		if got := strings.Join(groupNames(r), ","); got != want[uid] {
			t.Errorf("%s: groups %s, want %s", uid, got, want[uid])
		}
	}
}

func TestNestedGroupsResolveThroughCycles(t *testing.T) {
	const g = ",ou=groups,dc=example,dc=org"
	ppl := people(3)
	groups := []*goldap.Entry{
		// a ⊃ b ⊃ c ⊃ a: a cycle; user1 is in c, user2 in a, user3 in none.
		entry("cn=a"+g, map[string][]string{"cn": {"a"}, "entryUUID": {"a-uuid"}, "member": {"cn=b" + g, "uid=user00002,ou=people,dc=example,dc=org"}}),
		entry("cn=b"+g, map[string][]string{"cn": {"b"}, "entryUUID": {"b-uuid"}, "member": {"CN=C" + g}}),
		entry("cn=c"+g, map[string][]string{"cn": {"c"}, "entryUUID": {"c-uuid"}, "member": {"cn=a" + g, "UID=user00001, ou=People,dc=example,dc=org"}}),
	}
	for _, nested := range []bool{true, false} {
		t.Run(fmt.Sprint("nested=", nested), func(t *testing.T) {
			fc := &fakeClient{handle: func(req *goldap.SearchRequest) fakeResult {
				if strings.HasPrefix(req.BaseDN, "ou=groups") {
					return fakeResult{entries: groups}
				}
				return fakeResult{entries: ppl}
			}}
			d, _ := dialFake(fc)
			s := newTestSource(t, Config{Nested: nested, Groups: GroupSearch{Search: Search{BaseDN: "ou=groups,dc=example,dc=org"}}}, d)
			snap, err := s.Fetch(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"user00001": "c", "user00002": "a", "user00003": ""}
			if nested {
				want = map[string]string{"user00001": "a,b,c", "user00002": "a,b,c", "user00003": ""}
			}
			for _, r := range snap.Records {
				uid := strings.TrimPrefix(strings.SplitN(r.Origin, ",", 2)[0], "uid=")
				if got := strings.Join(groupNames(r), ","); got != want[uid] {
					t.Errorf("%s: groups %s, want %s", uid, got, want[uid])
				}
			}
			if got := snap.Records[0].Groups[0].Path; len(got) != 1 || got[0] != "groups" {
				t.Errorf("group path %q", got)
			}
		})
	}
}

func TestMemberOfWithNestingAndNoGroupSearch(t *testing.T) {
	ppl := people(1)
	ppl[0].Attributes = append(ppl[0].Attributes, &goldap.EntryAttribute{Name: "memberOf", Values: []string{"cn=team-1,ou=teams,ou=groups,dc=example,dc=org"}})
	fc := &fakeClient{handle: func(*goldap.SearchRequest) fakeResult { return fakeResult{entries: ppl} }}
	d, _ := dialFake(fc)
	snap, err := newTestSource(t, Config{MemberOf: true, Nested: true}, d).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	gs := snap.Records[0].Groups
	if len(gs) != 1 || gs[0].Key != "cn=team-1,ou=teams,ou=groups,dc=example,dc=org" || gs[0].Name != "team-1" || strings.Join(gs[0].Path, "/") != "groups/teams" {
		t.Fatalf("groups %+v", gs)
	}
	if got := fc.searches()[0].Attributes; strings.Join(got, ",") != "entryUUID,memberOf" {
		t.Errorf("requested %q", got)
	}
}

func TestInChainFilterEscapesTheGroupDN(t *testing.T) {
	const gdn = `CN=R&D (EMEA)*\2C Ops,OU=Groups,DC=example,DC=org`
	gguid := bytes.Repeat([]byte{1}, 16)
	var chainFilters []string
	fc := &fakeClient{}
	fc.handle = func(req *goldap.SearchRequest) fakeResult {
		if req.BaseDN == "OU=Groups,DC=example,DC=org" {
			e := entry(gdn, map[string][]string{"cn": {"R&D (EMEA)*, Ops"}})
			e.Attributes = append(e.Attributes, &goldap.EntryAttribute{Name: "objectGUID", Values: []string{string(gguid)}, ByteValues: [][]byte{gguid}})
			return fakeResult{entries: []*goldap.Entry{e}}
		}
		if strings.Contains(req.Filter, InChainRule) {
			chainFilters = append(chainFilters, req.Filter)
		}
		return fakeResult{}
	}
	d, _ := dialFake(fc)
	s := newTestSource(t, Config{Flavor: FlavorAD, Nested: true, InChain: true,
		Groups: GroupSearch{Search: Search{BaseDN: "OU=Groups,DC=example,DC=org"}}}, d)
	if _, err := s.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(chainFilters) != 1 {
		t.Fatalf("in-chain filters %q", chainFilters)
	}
	f := chainFilters[0]
	want := `(memberOf:1.2.840.113556.1.4.1941:=CN=R&D \28EMEA\29\2a\5c2C Ops,OU=Groups,DC=example,DC=org)`
	if !strings.Contains(f, want) {
		t.Errorf("filter %s\nwant it to contain %s", f, want)
	}
	if _, err := goldap.CompileFilter(f); err != nil {
		t.Errorf("filter does not compile: %v", err)
	}
}

func TestFormatGUIDIsTheCanonicalMixedEndianForm(t *testing.T) {
	b := []byte{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}
	got, err := FormatGUID(b)
	if err != nil || got != "03020100-0504-0706-0809-0a0b0c0d0e0f" {
		t.Fatalf("FormatGUID = %q, %v", got, err)
	}
	// Microsoft's documentation example: the GUID {6ba7b810-9dad-11d1-80b4-00c04fd430c8}
	// is stored as 10 b8 a7 6b ad 9d d1 11 80 b4 00 c0 4f d4 30 c8.
	b = []byte{0x10, 0xb8, 0xa7, 0x6b, 0xad, 0x9d, 0xd1, 0x11, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	if got, _ := FormatGUID(b); got != "6ba7b810-9dad-11d1-80b4-00c04fd430c8" {
		t.Fatalf("FormatGUID = %q", got)
	}
	if _, err := FormatGUID(b[:15]); err == nil {
		t.Fatal("15 bytes accepted")
	}
}

func TestUserAccountControlDisabledBit(t *testing.T) {
	mk := func(uac string) *goldap.Entry {
		g := bytes.Repeat([]byte{byte(len(uac)), uac[2]}, 8)
		e := entry("CN=u"+uac+",CN=Users,DC=example,DC=org", map[string][]string{"userAccountControl": {uac}})
		e.Attributes = append(e.Attributes, &goldap.EntryAttribute{Name: "objectGUID", Values: []string{string(g)}, ByteValues: [][]byte{g}})
		return e
	}
	fc := &fakeClient{handle: func(*goldap.SearchRequest) fakeResult {
		return fakeResult{entries: []*goldap.Entry{mk("512"), mk("514"), mk("66050")}}
	}}
	d, _ := dialFake(fc)
	snap, err := newTestSource(t, Config{Flavor: FlavorAD}, d).Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range snap.Records {
		got[r.Origin] = r.Get(AttrActive)
		if _, ok := r.Attrs[AttrOU]; ok {
			t.Errorf("%s: _ou for an entry under CN=Users", r.Origin)
		}
	}
	want := map[string]string{"CN=u512,CN=Users,DC=example,DC=org": "true", "CN=u514,CN=Users,DC=example,DC=org": "false", "CN=u66050,CN=Users,DC=example,DC=org": "false"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: _active %q, want %q", k, got[k], v)
		}
	}
}

func TestOUPathIsOutermostFirst(t *testing.T) {
	got := ouPath(parentDN(`uid=a\,b,ou=Sales\, EMEA,ou=people,dc=example,dc=org`))
	if strings.Join(got, "|") != "people|Sales, EMEA" {
		t.Fatalf("ouPath = %q", got)
	}
}

func TestPasswordFileFromCredentialsDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ldap-bind"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fc := &fakeClient{handle: func(*goldap.SearchRequest) fakeResult { return fakeResult{entries: people(1)} }}
	d, _ := dialFake(fc)
	var logs bytes.Buffer
	s, err := New("corp", Config{URL: "ldap://127.0.0.1:389", BindDN: "cn=reader,dc=example,dc=org", BindPasswordFile: "ldap-bind",
		People: Search{BaseDN: "ou=people,dc=example,dc=org", Filter: "(&(objectClass=person)(o=O'Neil & Co))"}, Attributes: []string{"uid", "mail"}},
		WithDialer(d), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), WithCredentialsDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(fc.binds) != 1 || fc.binds[0] != "cn=reader,dc=example,dc=org:s3cret" {
		t.Fatalf("binds %q", fc.binds)
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Fatal("password logged")
	}
	line := s.ldapsearchLine(s.peopleSearch([]string{"uid", "mail", "entryUUID"}, ""), true)
	want := `ldapsearch -LLL -x -H ldap://127.0.0.1:389 -D cn=reader,dc=example,dc=org -W -b ou=people,dc=example,dc=org -s sub -E pr=500/noprompt '(&(objectClass=person)(o=O'\''Neil & Co))' uid mail entryUUID`
	if line != want {
		t.Errorf("ldapsearch line\n got %s\nwant %s", line, want)
	}
	if n := strings.Count(logs.String(), "ldapsearch -LLL"); n != 1 {
		t.Errorf("ldapsearch line logged %d times", n)
	}
	if _, err := s.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "ldapsearch -LLL"); n != 1 {
		t.Errorf("after two fetches the ldapsearch line was logged %d times, want once", n)
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	err := Config{URL: "http://x", PageSize: -1, Flavor: "novell", InChain: true, Delta: Delta{Mode: "usn"}, Attributes: []string{"cn", "bad attr"}}.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"url: \"http://x\": scheme must be ldap or ldaps", "people.base_dn: is required", "page_size: -1", `flavor: "novell"`, "in_chain: needs", "delta.mode: usn needs flavor: ad", `attributes: "bad attr"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	// Every problem names its key relative to the block, so the file can
	// give it its line.
	var keys []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var p *block.Problem
		if !errors.As(e, &p) {
			t.Errorf("%v is not keyed by the block", e)
			continue
		}
		keys = append(keys, p.Key)
	}
	if !slices.Contains(keys, "page_size") || !slices.Contains(keys, "people.base_dn") {
		t.Errorf("keys %v", keys)
	}
}

func TestNewDoesNoIO(t *testing.T) {
	d := func(context.Context, *Config) (goldap.Client, error) {
		t.Fatal("New dialled")
		return nil, nil
	}
	if _, err := New("x", Config{URL: "ldaps://h", People: Search{BaseDN: "dc=x"}, CAFile: "/nonexistent", BindPasswordFile: "/nonexistent"}, WithDialer(d)); err != nil {
		t.Fatal(err)
	}
}

func TestADSystemPartitionReferencesAreNotPartialReads(t *testing.T) {
	refs := []string{"ldap://example.org/CN=Configuration,DC=example,DC=org", "ldap://DomainDnsZones.example.org/DC=DomainDnsZones,DC=example,DC=org"}
	for _, tc := range []struct {
		flavor   Flavor
		refs     []string
		complete bool
	}{
		{FlavorAD, refs, true},
		{FlavorAD, append(refs, "ldap://child.example.org/DC=child,DC=example,DC=org"), false},
		{FlavorOpenLDAP, refs, false},
	} {
		ppl := people(2)
		for _, e := range ppl {
			g := bytes.Repeat([]byte(e.DN[12:13]), 16)
			e.Attributes = append(e.Attributes, &goldap.EntryAttribute{Name: "objectGUID", Values: []string{string(g)}, ByteValues: [][]byte{g}})
		}
		fc := &fakeClient{handle: func(*goldap.SearchRequest) fakeResult { return fakeResult{entries: ppl, referrals: tc.refs} }}
		d, _ := dialFake(fc)
		snap, err := newTestSource(t, Config{Flavor: tc.flavor}, d).Fetch(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if snap.Health.Complete != tc.complete {
			t.Errorf("%s with %d references: health %+v", tc.flavor, len(tc.refs), snap.Health)
		}
	}
}

func TestSyncreplRefreshRequiredFallsBackToAFullRead(t *testing.T) {
	all := people(30)
	fc := &fakeClient{}
	fc.handle = func(req *goldap.SearchRequest) fakeResult {
		switch req.BaseDN {
		case "":
			return fakeResult{entries: []*goldap.Entry{entry("", map[string][]string{"namingContexts": {"dc=example,dc=org"}})}}
		case "dc=example,dc=org":
			return fakeResult{entries: []*goldap.Entry{entry("dc=example,dc=org", map[string][]string{"contextCSN": {"20260101000000.000000Z#000000#000#000000"}})}}
		}
		return fakeResult{entries: all}
	}
	d, _ := dialFake(fc)
	s := newTestSource(t, Config{Delta: Delta{Mode: DeltaAuto}}, d)
	for pass := 1; pass <= 2; pass++ {
		snap, err := s.Fetch(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !snap.Health.Complete || snap.Health.Count != 30 {
			t.Fatalf("pass %d: health %+v", pass, snap.Health)
		}
	}
	st := s.Stats()
	if st.Mode != "full" || !strings.Contains(st.Fallback, "cookie no longer valid") {
		t.Fatalf("stats %+v", st)
	}
	if len(fc.cookies) != 1 || fc.cookies[0] != "rid=000,csn=20260101000000.000000Z#000000#000#000000" {
		t.Fatalf("cookies sent: %q", fc.cookies)
	}
}

// TestGroupsOfAllocatesOnlyItsResult resolves the groups of people again
// and again: beyond the slice it returns, groupsOf allocates nothing a
// person, as the few bytes it would drop share the allocator's blocks with
// the short strings people keep, and are held with them.
func TestGroupsOfAllocatesOnlyItsResult(t *testing.T) {
	tab := newGroupTable()
	for i, name := range []string{"a", "b", "c"} {
		tab.groups = append(tab.groups, sources.Group{Key: name + "-uuid", Name: name})
		tab.addParent(tab.print("uid=p1"), int32(i))
	}
	tab.addParent(tab.print("uid=p1"), 1) // listed twice by b
	tab.addParent(tab.print("uid=p2"), 2)
	s := &Source{}
	p1, p2 := &person{dn: "uid=p1"}, &person{dn: "uid=p2"}
	if got := groupKeys(s.groupsOf(tab, p1)); got != "a-uuid,b-uuid,c-uuid" {
		t.Fatalf("groups of p1: %s", got)
	}
	allocs := testing.AllocsPerRun(100, func() {
		s.groupsOf(tab, p1)
		s.groupsOf(tab, p2)
	})
	if allocs > 2 {
		t.Errorf("groupsOf allocates %.0f times for two people, want 2 (their results)", allocs)
	}
	// A person a streamed read reuses has their groups in a reused slice.
	p1.reused, p2.reused = true, true
	if got := groupKeys(s.groupsOf(tab, p2)); got != "c-uuid" {
		t.Fatalf("groups of reused p2: %s", got)
	}
	if got := groupKeys(s.groupsOf(tab, p1)); got != "a-uuid,b-uuid,c-uuid" {
		t.Fatalf("groups of reused p1 after p2: %s", got)
	}
	allocs = testing.AllocsPerRun(100, func() {
		s.groupsOf(tab, p1)
		s.groupsOf(tab, p2)
	})
	if allocs != 0 {
		t.Errorf("groupsOf allocates %.0f times for two reused people, want 0", allocs)
	}
}

// TestGroupTableMatchesMap holds the table's threaded edges to a map
// from member to the groups listing it, newest first, over generated
// memberships (members listed twice, members of no group, lookups
// between additions).
func TestGroupTableMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 3))
	for round := range 100 {
		tab := newGroupTable()
		want := map[string][]int32{}
		members := 1 + r.IntN(200)
		for range r.IntN(600) {
			m, g := fmt.Sprintf("uid=p%d,ou=people", r.IntN(members)), int32(r.IntN(20))
			tab.addParent(tab.print(m), g)
			want[m] = append([]int32{g}, want[m]...)
			if r.IntN(50) == 0 {
				tab.parentsOf(tab.print(m), nil) // links, then more are added
			}
		}
		for i := range members + 5 {
			m := fmt.Sprintf("uid=p%d,ou=people", i)
			if got := tab.parentsOf(tab.print(m), nil); !slices.Equal(got, want[m]) {
				t.Fatalf("round %d: parents of %s = %v, want %v", round, m, got, want[m])
			}
		}
	}
}

// TestPrintRawIsPrintOfNormDN holds the group table's short cut for raw
// member values to the DN normalisation people are looked up by: a member
// value and a person's DN that normalise alike must print alike, and
// others not.
func TestPrintRawIsPrintOfNormDN(t *testing.T) {
	tab := newGroupTable()
	dns := []string{
		"uid=p1,ou=people,dc=example,dc=com",
		"UID=P1,OU=People,DC=Example,DC=com",
		"uid=p2,ou=people,dc=example,dc=com",
		"CN=Smith\\, Jo,OU=Users,DC=corp,DC=example",
		"cn=smith\\, jo,ou=users,dc=corp,dc=example",
		"cn=Zoë Ü,ou=people,dc=example,dc=com",
		"cn=zoë ü, ou=people, dc=example, dc=com",
		"cn=a+sn=b,dc=x",
		"uid=p1 ,ou=people,dc=example,dc=com",
		"",
	}
	for _, dn := range dns {
		if got, want := tab.printRaw([]byte(dn)), tab.print(normDN(dn)); got != want {
			t.Errorf("printRaw(%q) = %x, want print(normDN) = %x", dn, got, want)
		}
	}
	for i, a := range dns {
		for _, b := range dns[i+1:] {
			if same := normDN(a) == normDN(b); same != (tab.printRaw([]byte(a)) == tab.printRaw([]byte(b))) {
				t.Errorf("%q and %q: normalised alike %v, printed alike %v", a, b, same, !same)
			}
		}
	}
	if tab.print("uid=p1") == newGroupTable().print("uid=p1") {
		t.Error("two tables print alike: the seeds are not new for each table")
	}
}

func groupKeys(gs []sources.Group) string {
	var ks []string
	for _, g := range gs {
		ks = append(ks, g.Key)
	}
	return strings.Join(ks, ",")
}
