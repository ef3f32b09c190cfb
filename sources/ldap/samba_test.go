package ldap_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rostersync/rostersync/sources"
	"github.com/rostersync/rostersync/sources/ldap"
	"github.com/rostersync/rostersync/sources/ldap/ldaptest"
)

// One Samba DC per test binary: provisioning takes seconds and its LDAP
// port is fixed. It is started by the first test that needs it and stopped
// by TestMain. Tests that change it say so and keep to their own people.
var (
	sambaOnce sync.Once
	sambaSrv  *ldaptest.SambaAD
	sambaErr  error
	sambaDir  string
)

const sambaUsers = 20

func samba(t *testing.T) *ldaptest.SambaAD {
	t.Helper()
	ldaptest.Need(t, ldaptest.SambaInstall, ldaptest.SambaPrograms...)
	sambaOnce.Do(func() {
		start := time.Now()
		sambaDir, sambaErr = os.MkdirTemp("", "rostersync-samba-")
		if sambaErr == nil {
			sambaSrv, sambaErr = ldaptest.StartSambaAD(sambaDir, sambaUsers)
		}
		t.Logf("samba AD provisioned and loaded in %s", time.Since(start).Round(time.Millisecond))
	})
	if sambaErr != nil {
		t.Fatalf("samba AD: %v", sambaErr)
	}
	return sambaSrv
}

func stopSamba() {
	sambaSrv.Stop()
	if sambaDir != "" {
		os.RemoveAll(sambaDir)
	}
}

func adConfig(s *ldaptest.SambaAD) ldap.Config {
	return ldap.Config{
		URL:              s.URL,
		Flavor:           ldap.FlavorAD,
		BindDN:           s.AdminUPN,
		BindPasswordFile: s.AdminPasswordFile,
		PageSize:         1000,
		People:           ldap.Search{BaseDN: s.PeopleDN},
		Groups:           ldap.GroupSearch{Search: ldap.Search{BaseDN: s.GroupsDN}},
		Nested:           true,
		Attributes:       []string{"sAMAccountName", "displayName", "mail", "department", "title"},
	}
}

func bySam(snap *sources.Snapshot) map[string]sources.Record {
	m := map[string]sources.Record{}
	for _, r := range snap.Records {
		m[r.Get("sAMAccountName")] = r
	}
	return m
}

func TestSambaADKeysActiveAndNestedGroups(t *testing.T) {
	s := samba(t)
	want := map[string]string{
		"user001": "company,dept-x,team-a",
		"user006": "company,team-b",
		"user011": "",
	}
	for _, mode := range []string{"in_chain", "member lists", "member_of"} {
		t.Run(mode, func(t *testing.T) {
			cfg := adConfig(s)
			cfg.InChain = mode == "in_chain"
			cfg.MemberOf = mode == "member_of"
			snap := fetch(t, mustNew(t, cfg))
			if !snap.Health.Complete {
				t.Fatalf("health %+v", snap.Health)
			}
			got := bySam(snap)
			for sam, groups := range want {
				r, ok := got[sam]
				if !ok {
					t.Fatalf("%s missing", sam)
				}
				var gs []string
				for _, g := range r.Groups {
					gs = append(gs, g.Name)
					if len(g.Key) != 36 || strings.Join(g.Path, "/") != "Groups" {
						t.Errorf("%s: group %+v", sam, g)
					}
				}
				if !sameSet(strings.Join(gs, ","), groups) && !(groups == "" && len(gs) == 0) {
					t.Errorf("%s groups %v, want %s", sam, gs, groups)
				}
			}
		})
	}
}

func TestSambaADObjectGUIDAndDisabledAccounts(t *testing.T) {
	s := samba(t)
	snap := fetch(t, mustNew(t, adConfig(s)))
	got := bySam(snap)
	for i := 1; i <= 15; i++ { // 16 and up belong to tests that change them
		r, ok := got[s.Sam(i)]
		if !ok {
			t.Fatalf("%s missing", s.Sam(i))
		}
		if want := fmt.Sprint(!ldaptest.Disabled(i)); r.Get(ldap.AttrActive) != want {
			t.Errorf("%s: _active %q, want %s", s.Sam(i), r.Get(ldap.AttrActive), want)
		}
	}
	// Samba's own rendering of the GUID, read from its database.
	guid, err := s.ShowGUID("user002")
	if err != nil {
		t.Fatal(err)
	}
	if got["user002"].Key != guid {
		t.Errorf("key %s, samba-tool says objectGUID %s", got["user002"].Key, guid)
	}
}

func TestSambaADDomainRootSearchIsComplete(t *testing.T) {
	s := samba(t)
	cfg := adConfig(s)
	cfg.People.BaseDN = s.BaseDN
	snap := fetch(t, mustNew(t, cfg))
	if !snap.Health.Complete {
		t.Fatalf("health %+v", snap.Health)
	}
	if _, ok := bySam(snap)["Administrator"]; !ok {
		t.Errorf("Administrator not found from the domain root")
	}
}

func TestSambaADRenameAndMoveKeepTheKey(t *testing.T) {
	s := samba(t)
	src := mustNew(t, adConfig(s))
	before := bySam(fetch(t, src))
	admin, err := s.Admin()
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// This test owns user016 and user017.
	if err := admin.ModifyDN(goldap.NewModifyDNRequest(s.UserDN(16), "CN=Renamed Sixteen", true, "")); err != nil {
		t.Fatal(err)
	}
	m := goldap.NewModifyRequest("CN=Renamed Sixteen,"+s.PeopleDN, nil)
	m.Replace("sAMAccountName", []string{"renamed16"})
	if err := admin.Modify(m); err != nil {
		t.Fatal(err)
	}
	if err := admin.ModifyDN(goldap.NewModifyDNRequest(s.UserDN(17), "CN="+s.Sam(17), true, "OU=Sales,"+s.PeopleDN)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin, err := s.Admin()
		if err != nil {
			return
		}
		defer admin.Close()
		admin.ModifyDN(goldap.NewModifyDNRequest("CN="+s.Sam(17)+",OU=Sales,"+s.PeopleDN, "CN="+s.Sam(17), true, s.PeopleDN))
	})
	after := recordsByKey(fetch(t, src))
	r16 := after[before["user016"].Key]
	if r16.Get("sAMAccountName") != "renamed16" || !strings.HasPrefix(r16.Origin, "CN=Renamed Sixteen,") {
		t.Errorf("renamed: %+v", r16)
	}
	r17 := after[before["user017"].Key]
	if got := strings.Join(r17.Values(ldap.AttrOU), "/"); got != "Sales" {
		t.Errorf("moved: _ou %s (%+v)", got, r17)
	}
}

func TestSambaADUSNDeltaEqualsAFullRead(t *testing.T) {
	s := samba(t)
	for _, memberOf := range []bool{false, true} {
		t.Run(fmt.Sprint("member_of=", memberOf), func(t *testing.T) {
			cfg := adConfig(s)
			cfg.MemberOf = memberOf
			cfg.Delta = ldap.Delta{Mode: ldap.DeltaAuto}
			cursors := &memCursors{}
			src := mustNew(t, cfg, ldap.WithCursorStore(cursors))
			fullCfg := cfg
			fullCfg.Delta = ldap.Delta{}
			full := func() *sources.Snapshot { return fetch(t, mustNew(t, fullCfg)) }

			fetch(t, src)
			if st := src.Stats(); st.Mode != "full" {
				t.Fatalf("first pass %+v", st)
			}
			if _, ok, _ := cursors.Get(context.Background(), "corp"); !ok {
				t.Fatal("no cursor stored")
			}
			diffSnapshots(t, fetch(t, src), full())
			if st := src.Stats(); st.Mode != "delta" {
				t.Fatalf("second pass %+v", st)
			}

			admin, err := s.Admin()
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close()
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			// This test owns user018..user020 and team-b's membership of user018.
			tag := fmt.Sprint(time.Now().UnixNano())
			m := goldap.NewModifyRequest(s.UserDN(18), nil)
			m.Replace("title", []string{"Team Leader " + tag})
			must(admin.Modify(m))
			uac := goldap.NewModifyRequest(s.UserDN(19), nil)
			uac.Replace("userAccountControl", []string{"546"})
			must(admin.Modify(uac))
			newDN := "CN=newcomer" + tag[len(tag)-6:] + "," + s.PeopleDN
			add := goldap.NewAddRequest(newDN, nil)
			add.Attribute("objectClass", []string{"user"})
			add.Attribute("sAMAccountName", []string{"new" + tag[len(tag)-6:]})
			add.Attribute("userAccountControl", []string{"544"})
			must(admin.Add(add))
			t.Cleanup(func() {
				if c, err := s.Admin(); err == nil {
					c.Del(goldap.NewDelRequest(newDN, nil))
					c.Close()
				}
			})
			// A group change moves no uSNChanged on the person.
			op := goldap.NewModifyRequest(s.GroupDN("team-b"), nil)
			if memberOf {
				op.Delete("member", []string{s.UserDN(18)}) // added by the member_of=false run
			} else {
				op.Add("member", []string{s.UserDN(18)})
			}
			must(admin.Modify(op))

			got := fetch(t, src)
			if st := src.Stats(); st.Mode != "delta" {
				t.Fatalf("pass after changes %+v", st)
			}
			diffSnapshots(t, got, full())

			// Deleting a person is seen as well.
			must(admin.Del(goldap.NewDelRequest(newDN, nil)))
			got = fetch(t, src)
			diffSnapshots(t, got, full())

			// A USN from the future (another DC's, a restored database) must not hide changes.
			ldap.SetCursorUSN(src, 1<<40)
			m = goldap.NewModifyRequest(s.UserDN(20), nil)
			m.Replace("title", []string{"Trainer " + tag})
			must(admin.Modify(m))
			diffSnapshots(t, fetch(t, src), full())
			if st := src.Stats(); st.Mode != "full" || !strings.Contains(st.Fallback, "below the cursor") {
				t.Errorf("after a future USN: %+v", st)
			}
		})
	}
}
