package ldap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rostersync/rostersync/sources/ldap/internal/wire"
)

// wireConn is a connection of its own for the people and group searches,
// read with the wire package instead of go-ldap: decoding a whole
// directory through go-ldap's packet trees costs several times what the
// server spends sending it, and a group of 10,000 members is a tree of
// 10,000 packets. Everything else (in-chain searches, cursors, ranges,
// deltas) stays on the go-ldap connection.
type wireConn struct {
	nc net.Conn
	r  *wire.Reader
	id int64
}

// readBufferSize is the read buffer of a wire connection; a page of 1000
// entries is a few hundred KiB, so 64 KiB means few reads per page.
const readBufferSize = 64 << 10

func (w *wireConn) next() int64 {
	w.id++
	return w.id
}

func (w *wireConn) close() {
	w.nc.SetDeadline(time.Now().Add(time.Second))
	w.nc.Write(wire.Unbind(w.next()))
	w.nc.Close()
}

// dialWire opens and binds a wire connection the way dialNetwork and
// dialOnce open and bind the go-ldap one.
func (s *Source) dialWire(ctx context.Context) (*wireConn, error) {
	tlsConf, err := tlsConfig(&s.cfg)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(s.cfg.URL)
	if err != nil {
		return nil, err
	}
	host := u.Host
	if u.Port() == "" {
		port := goldap.DefaultLdapPort
		if u.Scheme == "ldaps" {
			port = goldap.DefaultLdapsPort
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	dctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	var nc net.Conn
	if u.Scheme == "ldaps" {
		nc, err = (&tls.Dialer{NetDialer: &net.Dialer{}, Config: tlsConf}).DialContext(dctx, "tcp", host)
	} else {
		nc, err = (&net.Dialer{}).DialContext(dctx, "tcp", host)
	}
	if err != nil {
		return nil, err
	}
	w := &wireConn{nc: nc, r: wire.NewReader(nc, readBufferSize)}
	if dl, ok := dctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	if s.cfg.StartTLS {
		if _, err := w.call(wire.StartTLS(w.next()), wire.OpExtendedResponse); err != nil {
			nc.Close()
			return nil, fmt.Errorf("starttls: %w", err)
		}
		tc := tls.Client(nc, tlsConf)
		if err := tc.HandshakeContext(dctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("starttls: %w", err)
		}
		w.nc, w.r = tc, wire.NewReader(tc, readBufferSize)
	}
	pw, err := s.readPassword()
	if err != nil {
		w.nc.Close()
		return nil, err
	}
	if s.cfg.BindDN != "" {
		if pw == "" {
			w.nc.Close()
			return nil, errors.New("bind: empty password (an unauthenticated bind is not allowed)")
		}
		if _, err := w.call(wire.SimpleBind(w.next(), s.cfg.BindDN, pw), wire.OpBindResponse); err != nil {
			w.nc.Close()
			return nil, fmt.Errorf("bind as %s: %w", s.cfg.BindDN, err)
		}
	}
	w.nc.SetDeadline(time.Time{})
	return w, nil
}

// call sends one request and reads its LDAPResult, which must succeed.
func (w *wireConn) call(req []byte, tag int) (wire.Result, error) {
	if _, err := w.nc.Write(req); err != nil {
		return wire.Result{}, err
	}
	for {
		m, err := w.r.Next()
		if err != nil {
			return wire.Result{}, err
		}
		if m.ID != w.id && m.ID != 0 {
			continue
		}
		if m.Tag != tag && m.Tag != wire.OpExtendedResponse {
			return wire.Result{}, fmt.Errorf("unexpected response (application tag %d)", m.Tag)
		}
		res, err := wire.ParseResult(m.Op)
		if err != nil {
			return res, err
		}
		if res.Code != 0 {
			return res, resultError(res)
		}
		return res, nil
	}
}

func resultError(r wire.Result) error {
	return &goldap.Error{ResultCode: uint16(r.Code), MatchedDN: r.MatchedDN, Err: errors.New(r.Diagnostic)}
}

// streamEntries streams sp's entries to fn: over a wire connection of its
// own when the source dials the network, else through c (decoded by
// go-ldap, then handed over in the same form). The entry passed to fn is
// overwritten by the next one.
func (s *Source) streamEntries(ctx context.Context, c goldap.Client, sp search, fn func(*wire.Entry) error) error {
	if s.wire {
		return s.streamWire(ctx, sp, fn)
	}
	var we wire.Entry
	return s.streamPaged(ctx, c, sp, func(e *goldap.Entry) error { return fn(fromGoldap(e, &we)) })
}

// streamWire is streamPaged over a wire connection of its own: the same
// paging, the same verdicts on limits, referrals and lost connections.
// The entry handed to fn is valid only until fn returns.
func (s *Source) streamWire(ctx context.Context, sp search, fn func(*wire.Entry) error) error {
	s.logSearch(sp, true)
	filter, err := goldap.CompileFilter(sp.filter)
	if err != nil {
		return fmt.Errorf("%s: search %s: filter %q: %w", s.prefix(), sp.base, sp.filter, err)
	}
	fb := filter.Bytes()
	w, err := s.dialWire(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return s.classify(sp, 0, err)
	}
	defer w.close()
	stop := context.AfterFunc(ctx, func() { w.nc.SetDeadline(time.Now()) })
	defer stop()

	var e wire.Entry
	var cookie []byte
	var referrals []string
	n := 0
	for page := 1; ; page++ {
		id := w.next()
		w.nc.SetDeadline(time.Now().Add(s.cfg.Timeout))
		if ctx.Err() != nil {
			return ctx.Err()
		}
		lost := func(err error) error {
			switch {
			case ctx.Err() != nil:
				return ctx.Err()
			case errors.Is(err, os.ErrDeadlineExceeded):
				return &IncompleteError{Search: sp.what, Entries: n, Reason: fmt.Sprintf("page %d timed out after %s", page, s.cfg.Timeout)}
			case errors.Is(err, wire.ErrMalformed):
				return fmt.Errorf("%s: search %s: page %d: %w", s.prefix(), sp.base, page, err)
			}
			return &IncompleteError{Search: sp.what, Entries: n, Reason: fmt.Sprintf("connection lost during page %d", page), ConnLost: true, Err: err}
		}
		req := wire.Search(id, wire.SearchRequest{Base: sp.base, Scope: sp.scope, Filter: fb, Attrs: sp.attrs, PageSize: s.cfg.PageSize, Cookie: cookie})
		if _, err := w.nc.Write(req); err != nil {
			return lost(err)
		}
		paged := false
	read:
		for {
			m, err := w.r.Next()
			if err != nil {
				return lost(err)
			}
			if m.ID == 0 {
				// A notice of disconnection (RFC 4511 4.4.1).
				res, _ := wire.ParseResult(m.Op)
				return &IncompleteError{Search: sp.what, Entries: n, Reason: fmt.Sprintf("server ended the connection during page %d: %s", page, res.Diagnostic), ConnLost: true}
			}
			if m.ID != id {
				continue
			}
			switch m.Tag {
			case wire.OpSearchResultEntry:
				if err := e.Decode(m.Op); err != nil {
					return lost(err)
				}
				n++
				if err := fn(&e); err != nil {
					return err
				}
			case wire.OpSearchResultRef:
				refs, err := wire.References(m.Op)
				if err != nil {
					return lost(err)
				}
				for _, r := range refs {
					if s.cfg.Flavor == FlavorAD && adPartitionReference(r) {
						s.log.Debug("ldap: ignoring a reference to an AD system partition", "source", s.name, "ref", r)
					} else {
						referrals = append(referrals, r)
					}
				}
			case wire.OpIntermediateResponse:
			case wire.OpSearchResultDone:
				res, err := wire.ParseResult(m.Op)
				if err != nil {
					return lost(err)
				}
				if res.Code != 0 {
					return s.classify(sp, n, resultError(res))
				}
				v, ok, err := wire.Control(m.Controls, wire.PagingOID)
				if err == nil && ok {
					var c []byte
					if c, err = wire.PagingCookie(v); err == nil {
						cookie, paged = append(cookie[:0], c...), true
					}
				}
				if err != nil {
					return lost(err)
				}
				break read
			default:
				return lost(fmt.Errorf("%w: unexpected application tag %d in a search", wire.ErrMalformed, m.Tag))
			}
		}
		if !paged {
			return &IncompleteError{Search: sp.what, Entries: n, Reason: fmt.Sprintf("page %d ended without a paging control (does the server support paged results?)", page)}
		}
		if len(cookie) == 0 {
			break
		}
	}
	if len(referrals) > 0 {
		return &IncompleteError{Search: sp.what, Entries: n, Reason: fmt.Sprintf("server returned %d referral(s), first %s; referrals are not followed", len(referrals), referrals[0])}
	}
	return nil
}
