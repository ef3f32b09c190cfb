package ldap

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

// cursor is where the next delta starts. It is kept in memory with the set
// it belongs to and written to the CursorStore for operators and restarts.
type cursor struct {
	V      int       `json:"v"`
	Mode   DeltaMode `json:"mode"`
	Query  string    `json:"query"`            // fingerprint of what was read
	Cookie string    `json:"cookie,omitempty"` // syncrepl
	Server string    `json:"server,omitempty"` // usn: dsServiceName of the DC
	USN    int64     `json:"usn,omitempty"`    // usn: highestCommittedUSN before the read
	FullAt time.Time `json:"full_at"`          // when the last full read started
}

// deltaState is the previous complete set and its cursor.
type deltaState struct {
	base     map[string]*person
	cur      *cursor
	lastFull time.Time
	checked  bool // the CursorStore was consulted
}

func (d *deltaState) reset() { *d = deltaState{checked: d.checked} }

func (d *deltaState) keep(people []*person, cur *cursor, now time.Time) {
	d.base = make(map[string]*person, len(people))
	for _, p := range people {
		d.base[p.rec.Key] = p
	}
	d.cur, d.lastFull = cur, now
	cur.FullAt = now
}

// fingerprint identifies the people query a cursor belongs to.
func (s *Source) fingerprint() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%s\x00%v\x00%s", s.cfg.URL, s.cfg.Flavor, s.cfg.People.BaseDN,
		s.cfg.People.Scope, s.cfg.People.Filter, s.cfg.KeyAttr, s.cfg.MemberOf, strings.ToLower(strings.Join(s.cfg.Attributes, ",")))
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// deltaBlocked says why this pass must read everything, or "".
func (s *Source) deltaBlocked(ctx context.Context) string {
	if !s.delta.checked && s.cursors != nil {
		s.delta.checked = true
		if b, ok, err := s.cursors.Get(ctx, s.name); err != nil {
			s.log.Warn("ldap cursor store", "source", s.name, "err", err)
		} else if ok {
			var c cursor
			if json.Unmarshal(b, &c) == nil {
				s.log.Info("ldap stored cursor found; a delta needs the set read by this process, so this pass reads everything",
					"source", s.name, "mode", c.Mode, "last_full", c.FullAt)
			}
		}
	}
	switch {
	case s.delta.base == nil || s.delta.cur == nil:
		return "no previous complete read to apply a delta to"
	case s.delta.cur.Query != s.fingerprint():
		return "configuration changed since the cursor was taken"
	case s.now().Sub(s.delta.lastFull) >= s.cfg.Delta.FullInterval:
		return fmt.Sprintf("periodic full read (every %s)", s.cfg.Delta.FullInterval)
	}
	return ""
}

func (s *Source) saveCursor(ctx context.Context, cur *cursor) {
	if s.cursors == nil {
		return
	}
	b, err := json.Marshal(cur)
	if err == nil {
		err = s.cursors.Put(ctx, s.name, b)
	}
	if err != nil {
		s.log.Warn("ldap cursor not saved", "source", s.name, "err", err)
	}
}

// startCursor records, before a full read starts, where a later delta must
// begin: changes made during the read are then seen again, never missed.
func (s *Source) startCursor(ctx context.Context, c goldap.Client) (*cursor, error) {
	cur := &cursor{V: 1, Mode: s.cfg.Delta.Mode, Query: s.fingerprint()}
	switch s.cfg.Delta.Mode {
	case DeltaSyncrepl:
		csn, err := s.contextCSN(ctx, c)
		if err != nil {
			return nil, err
		}
		// The cookie syncprov hands out, minus the replica and server ids it
		// does not need from a consumer that is not a replica.
		cur.Cookie = "rid=000,csn=" + strings.Join(csn, ";")
	case DeltaUSN:
		server, usn, err := s.usnState(ctx, c)
		if err != nil {
			return nil, err
		}
		cur.Server, cur.USN = server, usn
	}
	return cur, nil
}

func (s *Source) readBase(c goldap.Client, dn string, attrs ...string) (*goldap.Entry, error) {
	res, err := c.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", attrs, nil))
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", dn, err)
	}
	if len(res.Entries) != 1 {
		return nil, fmt.Errorf("read %q: %d entries", dn, len(res.Entries))
	}
	return res.Entries[0], nil
}

// contextCSN reads the contextCSN of the database holding the people base.
func (s *Source) contextCSN(_ context.Context, c goldap.Client) ([]string, error) {
	root, err := s.readBase(c, "", "namingContexts")
	if err != nil {
		return nil, err
	}
	people := normDN(s.cfg.People.BaseDN)
	suffix := ""
	for _, nc := range root.GetEqualFoldAttributeValues("namingContexts") {
		n := normDN(nc)
		if (people == n || strings.HasSuffix(people, ","+n)) && len(n) > len(suffix) {
			suffix = nc
		}
	}
	if suffix == "" {
		return nil, fmt.Errorf("no naming context holds %s", s.cfg.People.BaseDN)
	}
	e, err := s.readBase(c, suffix, "contextCSN")
	if err != nil {
		return nil, err
	}
	csn := e.GetEqualFoldAttributeValues("contextCSN")
	if len(csn) == 0 {
		return nil, fmt.Errorf("%s has no contextCSN (is the syncprov overlay loaded?)", suffix)
	}
	return csn, nil
}

// usnState reads which DC answers (its NTDS Settings DN and invocationId,
// which changes when its database is restored) and its highest committed
// USN. USNs are per DC and per database incarnation: a cursor from any
// other is meaningless.
func (s *Source) usnState(_ context.Context, c goldap.Client) (string, int64, error) {
	root, err := s.readBase(c, "", "highestCommittedUSN", "dsServiceName")
	if err != nil {
		return "", 0, err
	}
	usn, err := strconv.ParseInt(root.GetAttributeValue("highestCommittedUSN"), 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("rootDSE highestCommittedUSN: %w", err)
	}
	dsa := root.GetAttributeValue("dsServiceName")
	server := dsa
	if ntds, err := s.readBase(c, dsa, "invocationId"); err == nil {
		if raw := ntds.GetRawAttributeValue("invocationId"); len(raw) == 16 {
			id, _ := FormatGUID(raw)
			server += "#" + id
		}
	}
	return server, usn, nil
}

// readDelta applies the server's changes since the cursor to the kept set.
// Nothing is changed unless the whole delta arrived.
func (s *Source) readDelta(ctx context.Context, c goldap.Client) ([]*person, error) {
	switch s.cfg.Delta.Mode {
	case DeltaSyncrepl:
		return s.readSyncrepl(ctx, c)
	case DeltaUSN:
		return s.readUSN(ctx, c)
	}
	return nil, fmt.Errorf("delta mode %s", s.cfg.Delta.Mode)
}

// resultSyncRefreshRequired is what syncprov answers to a cookie it cannot serve.
const resultSyncRefreshRequired = 4096

// readSyncrepl runs an RFC 4533 refreshOnly search with the stored cookie.
// The server sends changed entries in full, and either the deleted entries
// (delete phase) or every unchanged entry as "present" (present phase); the
// SyncDone control says which.
func (s *Source) readSyncrepl(ctx context.Context, c goldap.Client) ([]*person, error) {
	conv := newConverter(&s.cfg)
	sp := s.peopleSearch(conv.peopleAttrs(), "")
	sp.what = "people (syncrepl refreshOnly)"
	s.logSearch(sp, false)
	req := goldap.NewSearchRequest(sp.base, sp.scope, goldap.NeverDerefAliases, 0, 0, false, sp.filter, sp.attrs, nil)
	sctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	resp := c.Syncrepl(sctx, req, 64, goldap.SyncRequestModeRefreshOnly, []byte(s.delta.cur.Cookie), false)
	upserts := map[string]*person{}
	deleted := map[string]bool{}
	present := map[string]bool{}
	var done *goldap.ControlSyncDone
	cookie := s.delta.cur.Cookie
	n := 0
	for resp.Next() {
		ctrls := resp.Controls()
		if e := resp.Entry(); e != nil {
			n++
			st, ok := goldap.FindControl(ctrls, goldap.ControlTypeSyncState).(*goldap.ControlSyncState)
			if !ok {
				return nil, fmt.Errorf("entry %s without a sync state control", e.DN)
			}
			key := st.EntryUUID.String()
			switch st.State {
			case goldap.SyncStatePresent:
				present[key] = true
			case goldap.SyncStateAdd, goldap.SyncStateModify:
				if err := s.completeRanges(ctx, c, e); err != nil {
					return nil, err
				}
				p, err := conv.convert(e)
				if err != nil {
					return nil, err
				}
				upserts[p.rec.Key] = p
			case goldap.SyncStateDelete:
				deleted[key] = true
			}
			if len(st.Cookie) > 0 {
				cookie = string(st.Cookie)
			}
			continue
		}
		if r := resp.Referral(); r != "" {
			return nil, &IncompleteError{Search: sp.what, Entries: n, Reason: "referral " + r}
		}
		for _, ctl := range ctrls {
			switch v := ctl.(type) {
			case *goldap.ControlSyncInfo:
				switch {
				case v.NewCookie != nil:
					cookie = string(v.NewCookie.Cookie)
				case v.SyncIdSet != nil:
					for _, u := range v.SyncIdSet.SyncUUIDs {
						if v.SyncIdSet.RefreshDeletes {
							deleted[u.String()] = true
						} else {
							present[u.String()] = true
						}
					}
					if len(v.SyncIdSet.Cookie) > 0 {
						cookie = string(v.SyncIdSet.Cookie)
					}
				case v.RefreshDelete != nil && len(v.RefreshDelete.Cookie) > 0:
					cookie = string(v.RefreshDelete.Cookie)
				case v.RefreshPresent != nil && len(v.RefreshPresent.Cookie) > 0:
					cookie = string(v.RefreshPresent.Cookie)
				}
			case *goldap.ControlSyncDone:
				done = v
			}
		}
	}
	if err := resp.Err(); err != nil {
		if goldap.IsErrorWithCode(err, resultSyncRefreshRequired) {
			return nil, fmt.Errorf("server wants a full refresh (cookie no longer valid): %w", err)
		}
		return nil, s.classify(sp, n, err)
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if done == nil {
		if c.IsClosing() {
			return nil, &IncompleteError{Search: sp.what, Entries: n, Reason: "connection closed before syncDone", ConnLost: true}
		}
		return nil, &IncompleteError{Search: sp.what, Entries: n, Reason: "refresh ended without a syncDone control"}
	}
	if len(done.Cookie) > 0 {
		cookie = string(done.Cookie)
	}
	next := make(map[string]*person, len(s.delta.base)+len(upserts))
	if done.RefreshDeletes {
		for k, p := range s.delta.base {
			if !deleted[k] {
				next[k] = p
			}
		}
	} else {
		for k, p := range s.delta.base {
			if present[k] {
				next[k] = p
			}
		}
	}
	for k, p := range upserts {
		next[k] = p
	}
	if s.cfg.MemberOf {
		// A group change need not touch the person's change stamp: OpenLDAP's
		// memberof overlay writes memberOf beneath syncprov, so the refresh
		// does not report it. memberOf is read again for everyone.
		now, err := s.readKeys(ctx, c, "people memberOf (syncrepl delta)")
		if err != nil {
			return nil, err
		}
		for k, p := range next {
			if n, ok := now[k]; ok {
				next[k] = withMemberOf(conv, p, n)
			}
		}
	}
	s.log.Info("ldap syncrepl delta", "source", s.name, "changed", len(upserts), "deleted", len(deleted), "present", len(present),
		"phase", map[bool]string{true: "delete", false: "present"}[done.RefreshDeletes])
	s.delta.base = next
	s.delta.cur.Cookie = cookie
	s.saveCursor(ctx, s.delta.cur)
	return values(next), nil
}

// readUSN lists the keys in scope (cheap: one attribute) and then reads in
// full only what changed since the cursor's USN. Keys are listed first, so
// an entry created in between arrives as a change and is kept; one deleted
// in between lingers for one pass at most.
func (s *Source) readUSN(ctx context.Context, c goldap.Client) ([]*person, error) {
	server, usn, err := s.usnState(ctx, c)
	if err != nil {
		return nil, err
	}
	if server != s.delta.cur.Server {
		return nil, fmt.Errorf("answered by %q, cursor is from %q", server, s.delta.cur.Server)
	}
	if usn < s.delta.cur.USN {
		return nil, fmt.Errorf("highestCommittedUSN %d is below the cursor's %d (database restored?)", usn, s.delta.cur.USN)
	}
	conv := newConverter(&s.cfg)
	present, err := s.readKeys(ctx, c, "people keys (usn delta)")
	if err != nil {
		return nil, err
	}
	upserts := map[string]*person{}
	sp := s.peopleSearch(conv.peopleAttrs(), fmt.Sprintf("(&%s(uSNChanged>=%d))", s.cfg.People.Filter, s.delta.cur.USN+1))
	sp.what = "people changes (usn delta)"
	err = s.streamPaged(ctx, c, sp, func(e *goldap.Entry) error {
		if err := s.completeRanges(ctx, c, e); err != nil {
			return err
		}
		p, err := conv.convert(e)
		if err != nil {
			return err
		}
		upserts[p.rec.Key] = p
		return nil
	})
	if err != nil {
		return nil, err
	}
	next := make(map[string]*person, len(present)+len(upserts))
	for k, now := range present {
		if p, ok := upserts[k]; ok {
			next[k] = p
			continue
		}
		old, ok := s.delta.base[k]
		if !ok {
			return nil, fmt.Errorf("%s is in scope but neither kept nor changed", k)
		}
		next[k] = withMemberOf(conv, old, now)
	}
	for k, p := range upserts {
		next[k] = p
	}
	s.log.Info("ldap usn delta", "source", s.name, "changed", len(upserts), "in_scope", len(present), "from_usn", s.delta.cur.USN, "to_usn", usn)
	s.delta.base = next
	s.delta.cur.USN = usn
	s.saveCursor(ctx, s.delta.cur)
	return values(next), nil
}

// readKeys lists every person in scope with only the key (and, in memberOf
// mode, memberOf): far less than a full read.
func (s *Source) readKeys(ctx context.Context, c goldap.Client, what string) (map[string]*person, error) {
	attrs := []string{s.cfg.KeyAttr}
	if s.cfg.MemberOf {
		attrs = append(attrs, "memberOf")
	}
	conv := newConverter(&Config{KeyAttr: s.cfg.KeyAttr, Flavor: s.cfg.Flavor, MemberOf: s.cfg.MemberOf, Attributes: attrs})
	out := map[string]*person{}
	sp := s.peopleSearch(attrs, "")
	sp.what = what
	err := s.streamPaged(ctx, c, sp, func(e *goldap.Entry) error {
		if err := s.completeRanges(ctx, c, e); err != nil {
			return err
		}
		p, err := conv.convert(e)
		if err != nil {
			return err
		}
		out[p.rec.Key] = p
		return nil
	})
	return out, err
}

// withMemberOf returns old with the memberOf values of now, sharing
// everything else; old itself is left alone.
func withMemberOf(conv *converter, old, now *person) *person {
	if !conv.memberOf || sameStrings(old.memberOf, now.memberOf) {
		return old
	}
	cp := *old
	cp.memberOf = now.memberOf
	if name, ok := conv.wanted["memberof"]; ok {
		attrs := make(map[string][]string, len(old.rec.Attrs))
		for a, v := range old.rec.Attrs {
			attrs[a] = v
		}
		attrs[name] = now.rec.Values("memberOf")
		cp.rec.Attrs = attrs
	}
	return &cp
}

func values(m map[string]*person) []*person {
	out := make([]*person, 0, len(m))
	for _, p := range m {
		out = append(out, p)
	}
	return out
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
