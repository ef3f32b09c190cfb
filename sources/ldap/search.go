package ldap

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
)

// IncompleteError says a read ended early for a reason that makes the
// snapshot untrustworthy as a complete set (a size or time limit, a
// referral, a dropped connection, a page without a paging control). It is
// turned into an incomplete Health, not a failed pass.
type IncompleteError struct {
	// Search names what was being read ("people", "groups", a DN).
	Search string
	// Entries is how many entries had arrived before the read ended.
	Entries int
	// Reason is a short human explanation.
	Reason string
	// ConnLost is true when the connection went away; a new connection may
	// complete the read.
	ConnLost bool
	// Err is the underlying error, if any.
	Err error
}

func (e *IncompleteError) Error() string {
	s := fmt.Sprintf("%s: %s after %d entries", e.Search, e.Reason, e.Entries)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *IncompleteError) Unwrap() error { return e.Err }

// search is one configured search, ready to be streamed.
type search struct {
	what   string // "people", "groups", ...
	base   string
	scope  int
	filter string
	attrs  []string
}

// streamPaged runs sp with the simple paged results control (RFC 2696),
// re-issuing the request with the server's cookie until it returns an empty
// one, and hands each entry to fn as it arrives: nothing but the entry in
// hand is kept. It returns nil only when the server said the last page was
// the last.
func (s *Source) streamPaged(ctx context.Context, c goldap.Client, sp search, fn func(*goldap.Entry) error) error {
	s.logSearch(sp, true)
	paging := goldap.NewControlPaging(uint32(s.cfg.PageSize))
	n := 0
	var referrals []string
	for page := 1; ; page++ {
		req := goldap.NewSearchRequest(sp.base, sp.scope, goldap.NeverDerefAliases, 0, 0, false,
			sp.filter, sp.attrs, []goldap.Control{paging})
		pctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		resp := c.SearchAsync(pctx, req, 64)
		var pagingResp *goldap.ControlPaging
		var ferr error
		for resp.Next() {
			if e := resp.Entry(); e != nil {
				n++
				if ferr = fn(e); ferr != nil {
					break
				}
			}
			if r := resp.Referral(); r != "" {
				if s.cfg.Flavor == FlavorAD && adPartitionReference(r) {
					s.log.Debug("ldap: ignoring a reference to an AD system partition", "source", s.name, "ref", r)
				} else {
					referrals = append(referrals, r)
				}
			}
			if pc, ok := goldap.FindControl(resp.Controls(), goldap.ControlTypePaging).(*goldap.ControlPaging); ok {
				pagingResp = pc
			}
		}
		err := resp.Err()
		timedOut := pctx.Err() != nil && ctx.Err() == nil
		cancel()
		switch {
		case ferr != nil:
			return ferr
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			return s.classify(sp, n, err)
		case timedOut:
			return &IncompleteError{Search: sp.what, Entries: n, Reason: fmt.Sprintf("page %d timed out after %s", page, s.cfg.Timeout)}
		case pagingResp == nil:
			// SearchAsync closes its stream without an error when the
			// connection is closing; the paging control in SearchResultDone
			// is the only proof the page really ended.
			if c.IsClosing() {
				return &IncompleteError{Search: sp.what, Entries: n, Reason: fmt.Sprintf("connection closed during page %d", page), ConnLost: true}
			}
			return &IncompleteError{Search: sp.what, Entries: n, Reason: fmt.Sprintf("page %d ended without a paging control (does the server support paged results?)", page)}
		}
		if len(pagingResp.Cookie) == 0 {
			break
		}
		paging.SetCookie(pagingResp.Cookie)
	}
	if len(referrals) > 0 {
		return &IncompleteError{Search: sp.what, Entries: n, Reason: fmt.Sprintf("server returned %d referral(s), first %s; referrals are not followed", len(referrals), referrals[0])}
	}
	return nil
}

// adPartitionReference reports whether a continuation reference points at
// one of AD's own partitions (Configuration, DomainDnsZones,
// ForestDnsZones), which AD returns for every subtree search from the
// domain root and which hold no people. Any other reference may hide
// entries and makes the read incomplete.
func adPartitionReference(ref string) bool {
	u, err := url.Parse(ref)
	if err != nil {
		return false
	}
	dn := strings.ToLower(strings.TrimPrefix(u.Path, "/"))
	for _, p := range []string{"cn=configuration,", "dc=domaindnszones,", "dc=forestdnszones,"} {
		if strings.HasPrefix(dn, p) {
			return true
		}
	}
	return false
}

// classify turns a search error into an IncompleteError when it means
// "partial answer", and into a named error otherwise.
func (s *Source) classify(sp search, n int, err error) error {
	var le *goldap.Error
	if errors.As(err, &le) {
		switch le.ResultCode {
		case goldap.LDAPResultSizeLimitExceeded:
			return &IncompleteError{Search: sp.what, Entries: n, Reason: "size limit exceeded", Err: err}
		case goldap.LDAPResultTimeLimitExceeded:
			return &IncompleteError{Search: sp.what, Entries: n, Reason: "time limit exceeded", Err: err}
		case goldap.LDAPResultAdminLimitExceeded:
			return &IncompleteError{Search: sp.what, Entries: n, Reason: "administrative limit exceeded", Err: err}
		case goldap.LDAPResultReferral:
			return &IncompleteError{Search: sp.what, Entries: n, Reason: "referral", Err: err}
		}
	}
	if isConnectionError(err) {
		return &IncompleteError{Search: sp.what, Entries: n, Reason: "connection lost", ConnLost: true, Err: err}
	}
	return fmt.Errorf("%s: search %s: %w", s.prefix(), sp.base, err)
}

// completeRanges fetches the rest of every ranged attribute in e (Active
// Directory returns at most MaxValRange values, as "member;range=0-1499"),
// asking for "attr;range=N-*" until the returned range ends in "*". The
// entry is rewritten in place to carry plain attribute names.
func (s *Source) completeRanges(ctx context.Context, c goldap.Client, e *goldap.Entry) error {
	for _, a := range e.Attributes {
		name, _, hi, ok := parseRange(a.Name)
		if !ok {
			continue
		}
		values, raw := a.Values, a.ByteValues
		for round := 0; hi != "*"; round++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			last, err := strconv.Atoi(hi)
			if err != nil || round > 1_000_000 {
				return fmt.Errorf("%s: %s: bad range end %q", s.prefix(), e.DN, hi)
			}
			want := fmt.Sprintf("%s;range=%d-*", name, last+1)
			req := goldap.NewSearchRequest(e.DN, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
				"(objectClass=*)", []string{want}, nil)
			res, err := c.Search(req)
			if err != nil {
				return s.classify(search{what: "range of " + name + " on " + e.DN, base: e.DN}, len(values), err)
			}
			found := false
			for _, re := range res.Entries {
				for _, ra := range re.Attributes {
					if n2, _, h2, ok := parseRange(ra.Name); ok && strings.EqualFold(n2, name) {
						values = append(values, ra.Values...)
						raw = append(raw, ra.ByteValues...)
						hi, found = h2, true
					}
				}
			}
			if !found {
				return &IncompleteError{Search: e.DN, Entries: len(values), Reason: fmt.Sprintf("ranged attribute %s stopped after %s values", name, strconv.Itoa(len(values)))}
			}
		}
		a.Name, a.Values, a.ByteValues = name, values, raw
	}
	return nil
}

// parseRange splits "member;range=0-1499" into member, "0", "1499".
func parseRange(attr string) (name, lo, hi string, ok bool) {
	i := strings.Index(strings.ToLower(attr), ";range=")
	if i < 0 {
		return "", "", "", false
	}
	lo, hi, ok = strings.Cut(attr[i+len(";range="):], "-")
	if !ok || lo == "" || hi == "" {
		return "", "", "", false
	}
	return attr[:i], lo, hi, true
}

// ldapsearchLine renders sp as an ldapsearch command an operator can paste
// (the password is asked for with -W, never printed).
func (s *Source) ldapsearchLine(sp search, paged bool) string {
	var b strings.Builder
	if s.cfg.CAFile != "" {
		b.WriteString("LDAPTLS_CACERT=" + shellQuote(s.cfg.CAFile) + " ")
	}
	if s.cfg.InsecureSkipVerify {
		b.WriteString("LDAPTLS_REQCERT=never ")
	}
	b.WriteString("ldapsearch -LLL -x -H " + shellQuote(s.cfg.URL))
	if s.cfg.StartTLS {
		b.WriteString(" -ZZ")
	}
	if s.cfg.BindDN != "" {
		b.WriteString(" -D " + shellQuote(s.cfg.BindDN) + " -W")
	}
	b.WriteString(" -b " + shellQuote(sp.base) + " -s " + [...]string{"base", "one", "sub"}[sp.scope])
	if paged {
		fmt.Fprintf(&b, " -E pr=%d/noprompt", s.cfg.PageSize)
	}
	b.WriteString(" " + shellQuote(sp.filter))
	for _, a := range sp.attrs {
		b.WriteString(" " + shellQuote(a))
	}
	return b.String()
}

// logSearch logs the pasteable command for each kind of search once.
func (s *Source) logSearch(sp search, paged bool) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	if s.logged[sp.what] {
		return
	}
	s.logged[sp.what] = true
	s.log.Info("ldap search", "source", s.name, "search", sp.what, "cmd", s.ldapsearchLine(sp, paged))
}

func shellQuote(v string) string {
	if v != "" && strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/=@%+") == "" {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
