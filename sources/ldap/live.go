package ldap

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// LiveMode selects how a running daemon hears of directory changes.
type LiveMode string

const (
	// LiveNone: changes are seen at the next scheduled pass (default).
	LiveNone LiveMode = "none"
	// LiveSyncrepl: RFC 4533 content synchronisation in refreshAndPersist
	// mode (OpenLDAP with the syncprov overlay).
	LiveSyncrepl LiveMode = "syncrepl"
	// LiveNotify: Active Directory's change notification control
	// (LDAP_SERVER_NOTIFICATION_OID), on the domain's naming context.
	LiveNotify LiveMode = "notify"
	// LiveAuto: syncrepl on OpenLDAP, notify on AD.
	LiveAuto LiveMode = "auto"
)

// DefaultLiveReconnectMax caps the wait between reconnection attempts.
const DefaultLiveReconnectMax = time.Minute

// Live is the live: block of an LDAP source.
//
//	live: {mode: auto, reconnect_max: 1m}
type Live struct {
	// Mode is none (default), syncrepl, notify or auto.
	Mode LiveMode `yaml:"mode" json:"mode"`
	// ReconnectMax caps the exponential wait between attempts to restore
	// a lost watch (starting at retry_backoff); default 1m. Meanwhile the
	// scheduled passes go on.
	ReconnectMax time.Duration `yaml:"reconnect_max" json:"reconnect_max"`
}

func (l Live) withDefaults(f Flavor) Live {
	if l.Mode == "" {
		l.Mode = LiveNone
	}
	if l.Mode == LiveAuto {
		l.Mode = LiveSyncrepl
		if f == FlavorAD {
			l.Mode = LiveNotify
		}
	}
	if l.ReconnectMax == 0 {
		l.ReconnectMax = DefaultLiveReconnectMax
	}
	return l
}

func (l Live) validate(f Flavor) error {
	switch l.Mode {
	case LiveNone:
	case LiveSyncrepl:
		if f == FlavorAD {
			return errors.New("live.mode syncrepl needs an OpenLDAP server (flavor: openldap); on AD use notify")
		}
	case LiveNotify:
		if f != FlavorAD {
			return errors.New("live.mode notify needs flavor: ad; on OpenLDAP use syncrepl")
		}
	default:
		return fmt.Errorf("live.mode %q: must be none, syncrepl, notify or auto", l.Mode)
	}
	if l.ReconnectMax < 0 {
		return fmt.Errorf("live.reconnect_max %s: must not be negative", l.ReconnectMax)
	}
	return nil
}

// Watch follows the directory until ctx ends, calling changed after each
// change it hears of (a person or, with groups configured, a group added,
// modified, renamed or deleted). It only says that something changed: the
// pass it starts reads the directory as any pass does, so its result is
// what a full pass would give.
//
// A lost or refused connection is retried with exponential backoff (from
// retry_backoff up to live.reconnect_max); until it is back the scheduled
// passes are the only ones, and once it is back changed is called once
// for what may have been missed. Watch returns nil when ctx ends, and
// returns at once when live.mode is none.
func (s *Source) Watch(ctx context.Context, changed func()) error {
	mode := s.cfg.Live.Mode
	if mode == LiveNone {
		return nil
	}
	wait := s.cfg.RetryBackoff
	var cookies map[string][]byte // syncrepl: per base, to resume without a full refresh
	lost := false
	for {
		up := time.Now()
		err := s.watchOnce(ctx, mode, &cookies, func() {
			if lost {
				lost = false
				s.log.Info("live changes: watching again", "source", s.name, "mode", mode)
				changed() // what happened while nobody was listening
			}
		}, changed)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(up) > s.cfg.Live.ReconnectMax {
			wait = s.cfg.RetryBackoff
		}
		lost = true
		s.log.Warn("live changes: watch lost; scheduled passes go on, reconnecting", "source", s.name, "mode", mode, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(wait*2, s.cfg.Live.ReconnectMax)
	}
}

// watchOnce dials, starts the persistent searches, calls ready once they
// are running, and follows them until one ends.
func (s *Source) watchOnce(ctx context.Context, mode LiveMode, cookies *map[string][]byte, ready, changed func()) error {
	c, err := s.dialOnce(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetTimeout(0) // a persistent search waits as long as the directory is quiet
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var searches []*goldap.SearchRequest
	switch mode {
	case LiveSyncrepl:
		scope, _ := scopeValue(s.cfg.People.Scope)
		searches = append(searches, goldap.NewSearchRequest(s.cfg.People.BaseDN, scope, goldap.NeverDerefAliases, 0, 0, false,
			s.cfg.People.Filter, []string{"1.1"}, nil))
		if g := s.cfg.Groups; g.BaseDN != "" && !strings.EqualFold(normDN(g.BaseDN), normDN(s.cfg.People.BaseDN)) {
			gscope, _ := scopeValue(g.Scope)
			searches = append(searches, goldap.NewSearchRequest(g.BaseDN, gscope, goldap.NeverDerefAliases, 0, 0, false,
				g.Filter, []string{"1.1"}, nil))
		}
	case LiveNotify:
		// AD notifies on a subtree search only at the head of a naming
		// context, with the filter (objectClass=*).
		root, err := s.readBase(c, "", "defaultNamingContext")
		if err != nil {
			return err
		}
		nc := root.GetAttributeValue("defaultNamingContext")
		if nc == "" {
			return errors.New("the server names no defaultNamingContext: is it Active Directory?")
		}
		searches = append(searches, goldap.NewSearchRequest(nc, goldap.ScopeWholeSubtree, goldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"1.1"}, []goldap.Control{goldap.NewControlMicrosoftNotification()}))
	}
	if *cookies == nil {
		*cookies = map[string][]byte{}
	}
	errc := make(chan error, len(searches))
	var mu sync.Mutex // guards cookies
	for _, req := range searches {
		go func() {
			errc <- s.follow(wctx, c, mode, req, cookies, &mu, changed)
		}()
	}
	ready()
	err = <-errc
	cancel()
	return err
}

// follow reads one persistent search until it ends.
func (s *Source) follow(ctx context.Context, c goldap.Client, mode LiveMode, req *goldap.SearchRequest, cookies *map[string][]byte, mu *sync.Mutex, changed func()) error {
	var resp goldap.Response
	base := req.BaseDN
	refreshing := false
	if mode == LiveSyncrepl {
		mu.Lock()
		cookie := (*cookies)[base]
		mu.Unlock()
		// Without a cookie the refresh phase sends every entry, which is
		// no change; with one it sends what changed since, which is.
		refreshing = cookie == nil
		resp = c.Syncrepl(ctx, req, 64, goldap.SyncRequestModeRefreshAndPersist, cookie, false)
	} else {
		resp = c.SearchAsync(ctx, req, 64)
	}
	keep := func(cookie []byte) {
		if len(cookie) > 0 {
			mu.Lock()
			(*cookies)[base] = cookie
			mu.Unlock()
		}
	}
	for resp.Next() {
		for _, ctl := range resp.Controls() {
			switch ctl := ctl.(type) {
			case *goldap.ControlSyncState:
				keep(ctl.Cookie)
			case *goldap.ControlSyncDone:
				keep(ctl.Cookie)
			case *goldap.ControlSyncInfo:
				switch {
				case ctl.NewCookie != nil:
					keep(ctl.NewCookie.Cookie)
				case ctl.RefreshDelete != nil:
					keep(ctl.RefreshDelete.Cookie)
					refreshing = refreshing && !ctl.RefreshDelete.RefreshDone
				case ctl.RefreshPresent != nil:
					keep(ctl.RefreshPresent.Cookie)
					refreshing = refreshing && !ctl.RefreshPresent.RefreshDone
				case ctl.SyncIdSet != nil:
					keep(ctl.SyncIdSet.Cookie)
					if !refreshing {
						changed() // a batch of deletes or presents
					}
				}
			}
		}
		if e := resp.Entry(); e != nil && !refreshing {
			s.log.Debug("live changes: entry changed", "source", s.name, "dn", e.DN)
			changed()
		}
	}
	if err := resp.Err(); err != nil {
		if mode == LiveSyncrepl && strings.Contains(err.Error(), "Content Sync Refresh Required") {
			mu.Lock()
			delete(*cookies, base)
			mu.Unlock()
		}
		return fmt.Errorf("%s: %w", base, err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%s: the server ended the persistent search", base)
}
