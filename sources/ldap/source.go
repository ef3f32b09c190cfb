// Package ldap is the LDAP and Active Directory source: it reads people and
// their groups from OpenLDAP, Active Directory or Samba AD and returns them
// as sources.Records keyed by a stable identity (entryUUID, or objectGUID in
// its canonical string form), so renames and moves are updates.
//
// A read streams every page of a simple paged search (RFC 2696) through
// SearchAsync, re-issuing the request with the server's cookie, and converts
// each entry as it arrives; only the attributes the mapping asked for are
// requested. The people search has a connection of its own, decoded in
// place by the internal wire package; Stream hands each person on as it
// arrives instead of holding the set. Groups come from member/uniqueMember lists or from memberOf,
// nesting resolved on the client (cycle-safe) or, on AD, on the server with
// the in-chain matching rule; AD's ranged attributes are read to the end.
//
// Anything that makes a read partial — a size, time or administrative limit,
// a referral, a connection lost mid-stream, a page without a paging control,
// an entry without its key — yields a Snapshot whose Health is incomplete
// and says why, so no departure is inferred from it. Configuration and
// protocol errors are returned as errors naming the search.
//
// Optionally a pass is made cheaper by a delta (RFC 4533 refreshOnly content
// synchronisation on OpenLDAP, uSNChanged on AD) applied to the set kept from
// the previous pass; the result is always the complete set, any doubt falls
// back to a full read, and a full read is forced periodically. The price of
// a delta is memory: the previous set is held between passes (about 1 KiB
// a person as records), and Stream then hands over a set it holds anyway.
package ldap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rostersync/rostersync/sources"
	"github.com/rostersync/rostersync/sources/ldap/internal/wire"
)

// CursorStore keeps delta cursors between passes and restarts; the state
// package satisfies it.
type CursorStore interface {
	Get(ctx context.Context, name string) ([]byte, bool, error)
	Put(ctx context.Context, name string, v []byte) error
}

// Option configures a Source.
type Option func(*Source)

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(s *Source) { s.log = l } }

// WithCursorStore sets where delta cursors are kept.
func WithCursorStore(cs CursorStore) Option { return func(s *Source) { s.cursors = cs } }

// WithCredentialsDir sets the directory a relative bind_password_file is
// read from: $CREDENTIALS_DIRECTORY, as the caller's environment gives it.
func WithCredentialsDir(dir string) Option { return func(s *Source) { s.credentialsDir = dir } }

// WithDialer replaces the network dialer (tests use a fake client).
func WithDialer(d Dialer) Option { return func(s *Source) { s.dial = d } }

// WithClock replaces time.Now.
func WithClock(now func() time.Time) Option { return func(s *Source) { s.now = now } }

// Stats describes the last Fetch.
type Stats struct {
	// Mode is "full" or "delta".
	Mode string
	// People and Groups are the numbers of entries in the snapshot.
	People, Groups int
	// Fallback says why a delta was not used, when one was configured.
	Fallback string
	// Duration is the wall time of the Fetch.
	Duration time.Duration
}

// Source reads one directory. It is safe for concurrent use; Fetches are
// serialised.
type Source struct {
	name    string
	cfg     Config
	log     *slog.Logger
	dial    Dialer
	cursors CursorStore
	now     func() time.Time
	// credentialsDir is where a relative bind_password_file is read from.
	credentialsDir string
	// wire is true when the people search reads its own connection with
	// the wire package (a real network dialer; fakes go through go-ldap).
	wire bool

	logMu  sync.Mutex
	logged map[string]bool
	// pwWarn warns once about a bind password file others may read.
	pwWarn sync.Once

	mu    sync.Mutex
	conn  goldap.Client
	stats Stats
	delta deltaState
}

var _ sources.Source = (*Source)(nil)

// New checks cfg and returns a Source. It does no I/O: the password file,
// CA file and server are first touched by Fetch.
func New(name string, cfg Config, opts ...Option) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("source ldap %s: config: %w", name, err)
	}
	s := &Source{
		name:   name,
		cfg:    cfg.withDefaults(),
		log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		now:    time.Now,
		logged: map[string]bool{},
	}
	for _, o := range opts {
		o(s)
	}
	if s.dial == nil {
		s.dial, s.wire = dialNetwork, true
	}
	return s, nil
}

// Name returns the configured name.
func (s *Source) Name() string { return s.name }

// Stats describes the last Fetch.
func (s *Source) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Close closes the connection kept between Fetches.
func (s *Source) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropConn()
	return nil
}

func (s *Source) prefix() string {
	if s.name == "" || s.name == "ldap" {
		return "source ldap"
	}
	return "source ldap " + s.name
}

func (s *Source) dropConn() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// client returns the live connection, dialling (with backoff) when there is
// none or it has gone away.
func (s *Source) client(ctx context.Context) (goldap.Client, error) {
	if s.conn != nil && !s.conn.IsClosing() {
		return s.conn, nil
	}
	s.dropConn()
	c, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	s.conn = c
	return c, nil
}

// Fetch reads every person in scope with their groups. A read cut short by
// a dropped connection is started again on a new connection (up to Retries
// times); when that cannot be done the partial snapshot is returned marked
// incomplete.
func (s *Source) Fetch(ctx context.Context) (*sources.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := s.now()
	var lost *IncompleteError
	var partial *readResult
	for attempt := 0; ; attempt++ {
		c, err := s.client(ctx)
		if err != nil {
			if lost != nil && ctx.Err() == nil {
				return s.snapshot(partial, start, fmt.Sprintf("%s; reconnect failed: %v", lost.Error(), err)), nil
			}
			return nil, err
		}
		res, err := s.read(ctx, c, nil)
		var inc *IncompleteError
		switch {
		case err == nil:
			return s.snapshot(res, start, ""), nil
		case ctx.Err() != nil:
			return nil, fmt.Errorf("%s: %w", s.prefix(), ctx.Err())
		case errors.As(err, &inc):
			if inc.ConnLost && attempt < s.cfg.Retries {
				s.log.Warn("ldap connection lost mid-read; reading again", "source", s.name, "attempt", attempt+1, "reason", inc.Error())
				s.dropConn()
				lost, partial = inc, res
				continue
			}
			if inc.ConnLost {
				s.dropConn()
			}
			return s.snapshot(res, start, inc.Error()), nil
		default:
			var ne errNoKey
			if errors.As(err, &ne) {
				return s.snapshot(res, start, err.Error()), nil
			}
			return nil, err
		}
	}
}

// readResult is what one read produced, complete or not.
type readResult struct {
	people []*person
	groups *groupTable
	mode   string
}

// read reads the groups, then the people. With emit, each person is handed
// to emit as it is converted (its groups resolved) and none is kept;
// emit is used only for a full read.
func (s *Source) read(ctx context.Context, c goldap.Client, emit func(*person) error) (*readResult, error) {
	res := &readResult{groups: newGroupTable(), mode: "full"}
	t, err := s.readGroups(ctx, c)
	if t != nil {
		res.groups = t
	}
	if err != nil {
		return res, err
	}
	if emit != nil {
		s.stats.Fallback = ""
		err = s.readFull(ctx, c, true, func(p *person) error {
			p.rec.Groups = s.groupsOf(res.groups, p)
			return emit(p)
		})
		return res, err
	}
	res.people, res.mode, err = s.readPeople(ctx, c)
	return res, err
}

func (s *Source) peopleSearch(attrs []string, filter string) search {
	scope, _ := scopeValue(s.cfg.People.Scope)
	if filter == "" {
		filter = s.cfg.People.Filter
	}
	return search{what: "people", base: s.cfg.People.BaseDN, scope: scope, filter: filter, attrs: attrs}
}

// readPeople uses the delta when it can and a full read otherwise.
func (s *Source) readPeople(ctx context.Context, c goldap.Client) ([]*person, string, error) {
	s.stats.Fallback = ""
	if s.cfg.Delta.Mode != DeltaNone {
		if why := s.deltaBlocked(ctx); why != "" {
			s.stats.Fallback = why
			s.log.Info("ldap full read", "source", s.name, "reason", why)
		} else {
			people, err := s.readDelta(ctx, c)
			if err == nil {
				return people, "delta", nil
			}
			var inc *IncompleteError
			if ctx.Err() != nil || (errors.As(err, &inc) && inc.ConnLost) {
				return nil, "delta", err
			}
			s.stats.Fallback = "delta failed: " + err.Error()
			s.log.Warn("ldap delta read failed; falling back to a full read", "source", s.name, "reason", err)
			s.delta.reset()
		}
	}
	var people []*person
	err := s.readFull(ctx, c, false, func(p *person) error {
		people = append(people, p)
		return nil
	})
	return people, "full", err
}

// readFull streams every person to keep. When reuse is set (a streamed
// read without a delta) the person handed to keep is overwritten by the
// next entry.
func (s *Source) readFull(ctx context.Context, c goldap.Client, reuse bool, keep func(*person) error) error {
	var cur *cursor
	var people []*person
	if s.cfg.Delta.Mode != DeltaNone {
		var err error
		if cur, err = s.startCursor(ctx, c); err != nil {
			s.log.Warn("ldap delta cursor unavailable; next pass reads everything again", "source", s.name, "err", err)
			cur = nil
		}
	}
	conv := newConverter(&s.cfg)
	conv.reuse = reuse && cur == nil
	var noKey []errNoKey
	add := func(e *wire.Entry) error {
		if conv.ranged(e) {
			ge := toGoldap(e)
			if err := s.completeRanges(ctx, c, ge); err != nil {
				return err
			}
			e = fromGoldap(ge, &wire.Entry{})
		}
		p, err := conv.convert(e)
		if err != nil {
			// Only here: a target errors.As fills escapes, and made for
			// every entry it was 32 bytes of garbage a person.
			var nk errNoKey
			if errors.As(err, &nk) {
				noKey = append(noKey, nk)
				return nil
			}
			return err
		}
		if cur != nil {
			people = append(people, p)
		}
		return keep(p)
	}
	if err := s.streamEntries(ctx, c, s.peopleSearch(conv.peopleAttrs(), ""), add); err != nil {
		return err
	}
	if len(noKey) > 0 {
		return fmt.Errorf("%d entries skipped, e.g. %w", len(noKey), noKey[0])
	}
	if cur != nil {
		s.delta.keep(people, cur, s.now())
		s.saveCursor(ctx, cur)
	}
	return nil
}

// snapshot assembles the records, resolves groups and states the health.
func (s *Source) snapshot(res *readResult, start time.Time, reason string) *sources.Snapshot {
	if res == nil {
		res = &readResult{groups: newGroupTable(), mode: "full"}
	}
	recs := make([]sources.Record, 0, len(res.people))
	for _, p := range res.people {
		r := p.rec
		r.Groups = s.groupsOf(res.groups, p)
		recs = append(recs, r)
	}
	sources.SortRecords(recs)
	// Two entries with one key (an alias, an overlapping base) would look
	// like one person twice; keep the first and say so.
	dups := 0
	out := recs[:0]
	for i := range recs {
		if i > 0 && recs[i].Key == recs[i-1].Key {
			dups++
			continue
		}
		out = append(out, recs[i])
	}
	if dups > 0 && reason == "" {
		reason = fmt.Sprintf("%d entries share a key with another entry", dups)
	}
	snap := &sources.Snapshot{
		Source:  s.name,
		Records: out,
		Health:  sources.Health{Complete: reason == "", Reason: reason, Count: len(out)},
	}
	s.stats.Mode, s.stats.People, s.stats.Groups = res.mode, len(out), len(res.groups.groups)
	s.stats.Duration = s.now().Sub(start)
	if reason != "" {
		s.log.Warn("ldap read incomplete; no departures may be inferred", "source", s.name, "people", len(out), "reason", reason)
	} else {
		s.log.Info("ldap read", "source", s.name, "mode", res.mode, "people", len(out), "groups", len(res.groups.groups), "duration", s.stats.Duration)
	}
	return snap
}
