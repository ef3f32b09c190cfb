package ldap_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rostersync/rostersync/sources/ldap"
	"github.com/rostersync/rostersync/sources/ldap/ldaptest"
)

// watchHears starts src.Watch and modifies the directory with modify every
// 200ms until Watch reports a change (the first modifications may come
// before the watch is set up), failing after a minute.
func watchHears(t *testing.T, src *ldap.Source, modify func(n int) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var changes atomic.Int32
	done := make(chan error, 1)
	go func() { done <- src.Watch(ctx, func() { changes.Add(1) }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch returned %v after its context ended, want nil", err)
		}
	}()
	for n := 0; changes.Load() == 0; n++ {
		if n == 300 {
			t.Fatal("no change heard within a minute of modifying the directory")
		}
		if n%10 == 0 {
			if err := modify(n); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLiveSyncreplHearsChanges(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{Users: 10})
	cfg := slapdConfig(s)
	cfg.Live = ldap.Live{Mode: ldap.LiveAuto}
	admin := s.Admin(t)
	t.Run("person", func(t *testing.T) {
		watchHears(t, mustNew(t, cfg), func(n int) error {
			m := goldap.NewModifyRequest(s.UserDN(3), nil)
			m.Replace("sn", []string{fmt.Sprintf("Changed%d", n)})
			return admin.Modify(m)
		})
	})
	t.Run("group", func(t *testing.T) {
		watchHears(t, mustNew(t, cfg), func(n int) error {
			m := goldap.NewModifyRequest("cn=team-00001,"+s.GroupsDN, nil)
			if n%20 == 0 {
				m.Delete("member", []string{s.UserDN(4)})
			} else {
				m.Add("member", []string{s.UserDN(4)})
			}
			return admin.Modify(m)
		})
	})
}

func TestSambaADLiveNotify(t *testing.T) {
	s := samba(t)
	cfg := adConfig(s)
	cfg.Live = ldap.Live{Mode: ldap.LiveAuto}
	admin, err := s.Admin()
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// description is read by no other test.
	watchHears(t, mustNew(t, cfg), func(n int) error {
		m := goldap.NewModifyRequest(s.UserDN(1), nil)
		m.Replace("description", []string{fmt.Sprintf("live %d", n)})
		return admin.Modify(m)
	})
}

func TestLiveConfig(t *testing.T) {
	for _, c := range []struct {
		flavor ldap.Flavor
		live   ldap.Live
		err    string
	}{
		{ldap.FlavorAD, ldap.Live{Mode: ldap.LiveSyncrepl}, "live.mode syncrepl needs an OpenLDAP server"},
		{ldap.FlavorOpenLDAP, ldap.Live{Mode: ldap.LiveNotify}, "live.mode notify needs flavor: ad"},
		{ldap.FlavorOpenLDAP, ldap.Live{Mode: "push"}, `live.mode "push": must be none, syncrepl, notify or auto`},
		{ldap.FlavorOpenLDAP, ldap.Live{Mode: ldap.LiveAuto, ReconnectMax: -time.Second}, "live.reconnect_max -1s: must not be negative"},
		{ldap.FlavorAD, ldap.Live{Mode: ldap.LiveAuto}, ""},
	} {
		cfg := ldap.Config{URL: "ldap://127.0.0.1", Flavor: c.flavor, People: ldap.Search{BaseDN: "dc=example,dc=com"}, Live: c.live}
		err := cfg.Validate()
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s %+v: %v", c.flavor, c.live, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s %+v: error %v, want %q", c.flavor, c.live, err, c.err)
		}
	}
}
