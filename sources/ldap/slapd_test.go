package ldap_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rostersync/rostersync/sources"
	"github.com/rostersync/rostersync/sources/ldap"
	"github.com/rostersync/rostersync/sources/ldap/ldaptest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	stopSamba()
	os.Exit(code)
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// memCursors is a CursorStore in memory.
type memCursors struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (c *memCursors) Get(_ context.Context, name string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[name]
	return v, ok, nil
}

func (c *memCursors) Put(_ context.Context, name string, v []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	c.m[name] = append([]byte(nil), v...)
	return nil
}

func slapdConfig(s *ldaptest.Slapd) ldap.Config {
	return ldap.Config{
		URL:              s.URL,
		BindDN:           s.ReaderDN,
		BindPasswordFile: s.ReaderPasswordFile,
		PageSize:         1000,
		RetryBackoff:     50 * time.Millisecond,
		People:           ldap.Search{BaseDN: s.PeopleDN},
		Groups:           ldap.GroupSearch{Search: ldap.Search{BaseDN: s.GroupsDN}},
		Nested:           true,
		Attributes:       []string{"uid", "cn", "mail", "givenName", "sn", "departmentNumber", "title"},
	}
}

func fetch(t testing.TB, src *ldap.Source) *sources.Snapshot {
	t.Helper()
	snap, err := src.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func mustNew(t testing.TB, cfg ldap.Config, opts ...ldap.Option) *ldap.Source {
	t.Helper()
	src, err := ldap.New("corp", cfg, append([]ldap.Option{ldap.WithLogger(testLogger(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func byOrigin(snap *sources.Snapshot) map[string]sources.Record {
	m := map[string]sources.Record{}
	for _, r := range snap.Records {
		m[strings.ToLower(r.Origin)] = r
	}
	return m
}

func names(gs []sources.Group) string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Name)
	}
	return strings.Join(out, ",")
}

func TestSlapdReadsPeopleAndNestedGroups(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{Users: 1000})
	for _, memberOf := range []bool{false, true} {
		t.Run(fmt.Sprint("member_of=", memberOf), func(t *testing.T) {
			cfg := slapdConfig(s)
			cfg.MemberOf = memberOf
			snap := fetch(t, mustNew(t, cfg))
			if !snap.Health.Complete || snap.Health.Count != 1000 {
				t.Fatalf("health %+v", snap.Health)
			}
			r := byOrigin(snap)[s.UserDN(1)]
			if len(r.Key) != 36 || r.Get("uid") != "user000001" || r.Get("departmentNumber") != "D01" {
				t.Fatalf("record %+v", r)
			}
			if got := names(r.Groups); got != strings.Join(sortedByKey(r.Groups), ",") || !sameSet(got, "team-00001,dept-01,all-departments") {
				t.Errorf("groups %s", got)
			}
			for _, g := range r.Groups {
				if len(g.Key) != 36 || strings.Join(g.Path, "/") != "groups" {
					t.Errorf("group %+v", g)
				}
			}
			if got := r.Values(ldap.AttrOU); len(got) != 0 { // directly under the people base DN
				t.Errorf("_ou %q", got)
			}
		})
	}
}

func sortedByKey(gs []sources.Group) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Name)
	}
	return out
}

func sameSet(a, b string) bool {
	as, bs := strings.Split(a, ","), strings.Split(b, ",")
	if len(as) != len(bs) {
		return false
	}
	m := map[string]bool{}
	for _, x := range as {
		m[x] = true
	}
	for _, x := range bs {
		if !m[x] {
			return false
		}
	}
	return true
}

func TestSlapdRenameAndMoveKeepTheKey(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{Users: 1000})
	src := mustNew(t, slapdConfig(s))
	before := byOrigin(fetch(t, src))
	admin := s.Admin(t)

	// Rename user 5 (uid is the RDN) and change the cn; move user 7 to ou=sales.
	if err := admin.ModifyDN(goldap.NewModifyDNRequest(s.UserDN(5), "uid=renamed000005", true, "")); err != nil {
		t.Fatal(err)
	}
	m := goldap.NewModifyRequest("uid=renamed000005,"+s.PeopleDN, nil)
	m.Replace("cn", []string{"Renamed Person"})
	if err := admin.Modify(m); err != nil {
		t.Fatal(err)
	}
	if err := admin.ModifyDN(goldap.NewModifyDNRequest(s.UserDN(7), "uid="+s.UID(7), true, "ou=sales,"+s.PeopleDN)); err != nil {
		t.Fatal(err)
	}
	afterSnap := fetch(t, src)
	if !afterSnap.Health.Complete || afterSnap.Health.Count != 1000 {
		t.Fatalf("health %+v", afterSnap.Health)
	}
	after := map[string]sources.Record{}
	for _, r := range afterSnap.Records {
		after[r.Key] = r
	}
	renamed := after[before[s.UserDN(5)].Key]
	if renamed.Get("uid") != "renamed000005" || renamed.Get("cn") != "Renamed Person" || !strings.HasPrefix(renamed.Origin, "uid=renamed000005,") {
		t.Errorf("renamed person under the old key: %+v", renamed)
	}
	moved := after[before[s.UserDN(7)].Key]
	if got := strings.Join(moved.Values(ldap.AttrOU), "/"); got != "sales" || moved.Get("uid") != s.UID(7) {
		t.Errorf("moved person under the old key: _ou %s, %+v", got, moved)
	}
	// memberof-refint rewrote the member values: groups survive the move.
	if !strings.Contains(names(moved.Groups), "team-00001") || !strings.Contains(names(renamed.Groups), "team-00001") {
		t.Errorf("groups after rename/move: %s / %s", names(renamed.Groups), names(moved.Groups))
	}
	for k := range after {
		found := false
		for _, r := range before {
			if r.Key == k {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("new key %s after rename/move", k)
		}
	}
}

func TestSlapdTLS(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{Users: 20, TLS: true})
	for _, tc := range []struct {
		name string
		mod  func(*ldap.Config)
		ok   bool
	}{
		{"ldaps with CA file", func(c *ldap.Config) { c.URL = s.LDAPSURL; c.CAFile = s.CAFile }, true},
		{"starttls with CA file and ServerName", func(c *ldap.Config) { c.StartTLS = true; c.CAFile = s.CAFile; c.ServerName = "ldap.test" }, true},
		{"ldaps without the CA", func(c *ldap.Config) { c.URL = s.LDAPSURL }, false},
		{"ldaps with a ServerName the certificate lacks", func(c *ldap.Config) { c.URL = s.LDAPSURL; c.CAFile = s.CAFile; c.ServerName = "other.test" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := slapdConfig(s)
			cfg.Retries = -1 + 1
			tc.mod(&cfg)
			src := mustNew(t, cfg)
			snap, err := src.Fetch(context.Background())
			if tc.ok {
				if err != nil || !snap.Health.Complete || snap.Health.Count != 20 {
					t.Fatalf("err %v snap %+v", err, snap)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("want a certificate error, got %v", err)
			}
		})
	}
}

func TestSlapdSizeLimitIsIncomplete(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{Users: 500, LimitedPagedTotal: 200})
	cfg := slapdConfig(s)
	cfg.BindDN, cfg.BindPasswordFile, cfg.PageSize = s.LimitedDN, s.LimitedPasswordFile, 50
	snap := fetch(t, mustNew(t, cfg))
	if snap.Health.Complete || !strings.Contains(snap.Health.Reason, "size limit exceeded") {
		t.Fatalf("health %+v", snap.Health)
	}
	t.Logf("health: %+v", snap.Health)
}

// killingClient kills slapd once the source has received `after` entries.
type killingClient struct {
	goldap.Client
	seen  *atomic.Int64
	after int64
	kill  func()
}

func (c killingClient) SearchAsync(ctx context.Context, req *goldap.SearchRequest, n int) goldap.Response {
	return killingResponse{Response: c.Client.SearchAsync(ctx, req, n), c: c}
}

type killingResponse struct {
	goldap.Response
	c killingClient
}

func (r killingResponse) Next() bool {
	ok := r.Response.Next()
	if ok && r.Entry() != nil && r.c.seen.Add(1) == r.c.after {
		r.c.kill()
	}
	return ok
}

func TestSlapdKilledMidReadIsNeverComplete(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{Users: 3000})
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprint("restarted=", restart), func(t *testing.T) {
			if restart {
				s.Restart(t)
			}
			var seen atomic.Int64
			var once sync.Once
			kill := func() {
				once.Do(func() {
					s.Kill()
					if restart {
						s.Restart(t)
					}
				})
			}
			dial := func(ctx context.Context, cfg *ldap.Config) (goldap.Client, error) {
				c, err := goldap.DialURL(cfg.URL)
				if err != nil {
					return nil, err
				}
				return killingClient{Client: c, seen: &seen, after: 1500, kill: kill}, nil
			}
			cfg := slapdConfig(s)
			cfg.PageSize = 250
			cfg.Retries = 2
			snap, err := mustNew(t, cfg, ldap.WithDialer(dial)).Fetch(context.Background())
			if restart {
				// Redialled after the restart and read everything again.
				if err != nil || !snap.Health.Complete || snap.Health.Count != 3000 {
					t.Fatalf("err %v health %+v", err, snap.Health)
				}
				return
			}
			if err != nil {
				t.Logf("error (acceptable): %v", err)
				return
			}
			if snap.Health.Complete {
				t.Fatalf("complete-looking snapshot of %d people from a killed server", snap.Health.Count)
			}
			t.Logf("health: %+v", snap.Health)
		})
	}
}

func recordsByKey(snap *sources.Snapshot) map[string]sources.Record {
	m := make(map[string]sources.Record, len(snap.Records))
	for _, r := range snap.Records {
		m[r.Key] = r
	}
	return m
}

func diffSnapshots(t *testing.T, got, want *sources.Snapshot) {
	t.Helper()
	if got.Health != want.Health {
		t.Errorf("health %+v, full read says %+v", got.Health, want.Health)
	}
	g, w := recordsByKey(got), recordsByKey(want)
	n := 0
	for k, wr := range w {
		if gr, ok := g[k]; !ok {
			t.Errorf("delta lacks %s (%s)", k, wr.Origin)
			n++
		} else if !reflect.DeepEqual(gr, wr) {
			t.Errorf("delta differs for %s:\n got %+v\nwant %+v", k, gr, wr)
			n++
		}
		if n > 5 {
			t.Fatal("too many differences")
		}
	}
	for k, gr := range g {
		if _, ok := w[k]; !ok {
			t.Errorf("delta has %s (%s), a full read does not", k, gr.Origin)
		}
	}
	if !reflect.DeepEqual(got.Records, want.Records) && !t.Failed() {
		t.Errorf("same records in a different order")
	}
}

func TestSlapdSyncreplDeltaEqualsAFullRead(t *testing.T) {
	for _, memberOf := range []bool{true, false} {
		t.Run(fmt.Sprint("member_of=", memberOf), func(t *testing.T) { testSyncreplDelta(t, memberOf) })
	}
}

func testSyncreplDelta(t *testing.T, memberOf bool) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{Users: 1000})
	cfg := slapdConfig(s)
	cfg.MemberOf = memberOf
	cfg.Delta = ldap.Delta{Mode: ldap.DeltaAuto}
	cursors := &memCursors{}
	src := mustNew(t, cfg, ldap.WithCursorStore(cursors))
	fullCfg := cfg
	fullCfg.Delta = ldap.Delta{}
	full := func() *sources.Snapshot { return fetch(t, mustNew(t, fullCfg)) }

	first := fetch(t, src)
	if st := src.Stats(); st.Mode != "full" || !first.Health.Complete {
		t.Fatalf("first pass %+v %+v", st, first.Health)
	}
	var cur struct{ Mode, Cookie string }
	if b, ok, _ := cursors.Get(context.Background(), "corp"); !ok || json.Unmarshal(b, &cur) != nil || cur.Mode != "syncrepl" || !strings.Contains(cur.Cookie, "csn=") {
		t.Fatalf("stored cursor %+v", cur)
	}

	// No change: a delta pass gives the same set.
	diffSnapshots(t, fetch(t, src), full())
	if st := src.Stats(); st.Mode != "delta" {
		t.Fatalf("second pass %+v", st)
	}

	admin := s.Admin(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(admin.ModifyDN(goldap.NewModifyDNRequest(s.UserDN(5), "uid=renamed000005", true, "")))
	must(admin.ModifyDN(goldap.NewModifyDNRequest(s.UserDN(7), "uid="+s.UID(7), true, "ou=support,"+s.PeopleDN)))
	must(admin.Del(goldap.NewDelRequest(s.UserDN(9), nil)))
	add := goldap.NewAddRequest("uid=newcomer,"+s.PeopleDN, nil)
	add.Attribute("objectClass", []string{"inetOrgPerson"})
	add.Attribute("uid", []string{"newcomer"})
	add.Attribute("cn", []string{"New Comer"})
	add.Attribute("sn", []string{"Comer"})
	must(admin.Add(add))
	m := goldap.NewModifyRequest(s.UserDN(11), nil)
	m.Replace("title", []string{"Team Leader"})
	must(admin.Modify(m))
	// A group change: user 12 joins team-00040 (memberOf is maintained on the person).
	gm := goldap.NewModifyRequest("cn=team-00040,"+s.GroupsDN, nil)
	gm.Add("member", []string{s.UserDN(12)})
	must(admin.Modify(gm))

	got := fetch(t, src)
	if st := src.Stats(); st.Mode != "delta" {
		t.Fatalf("pass after changes %+v", st)
	}
	want := full()
	diffSnapshots(t, got, want)
	if got.Health.Count != 1000 {
		t.Errorf("count %d, want 1000 (one deleted, one added)", got.Health.Count)
	}

	// An invalid cookie: whatever the server makes of it, the result is the full set.
	ldap.SetCursorCookie(src, "rid=000,csn=20000101000000.000000Z#000000#000#000000")
	diffSnapshots(t, fetch(t, src), want)
	t.Logf("after an old cookie: %+v", src.Stats())
	ldap.SetCursorCookie(src, "garbage")
	diffSnapshots(t, fetch(t, src), want)
	t.Logf("after a garbage cookie: %+v", src.Stats())
}
