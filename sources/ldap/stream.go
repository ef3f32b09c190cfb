package ldap

import (
	"context"
	"errors"
	"fmt"

	"github.com/rostersync/rostersync/sources"
)

var _ sources.Streamer = (*Source)(nil)

// Stream reads every person as Fetch does and hands each to fn as it
// arrives, groups resolved, keeping none: the record passed to fn is
// overwritten by the next one. With a delta configured the previous set
// is kept between passes anyway, so the set is read as Fetch reads it and
// then handed over.
//
// A connection lost before the first record reached fn is retried as in
// Fetch; after that the records already handed over cannot be taken back,
// so the read ends with an incomplete Health instead.
func (s *Source) Stream(ctx context.Context, fn func(*sources.Record) error) (sources.Health, error) {
	if s.cfg.Delta.Mode != DeltaNone {
		snap, err := s.Fetch(ctx)
		if err != nil {
			return sources.Health{}, err
		}
		for i := range snap.Records {
			if err := fn(&snap.Records[i]); err != nil {
				return snap.Health, err
			}
		}
		return snap.Health, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	start := s.now()
	seen := map[string]struct{}{}
	dups := 0
	var fnErr error
	emit := func(p *person) error {
		if _, dup := seen[p.rec.Key]; dup {
			dups++
			return nil
		}
		seen[p.rec.Key] = struct{}{}
		if err := fn(&p.rec); err != nil {
			fnErr = err
			return err
		}
		return nil
	}
	var res *readResult
	reason := ""
	for attempt := 0; ; attempt++ {
		c, err := s.client(ctx)
		if err != nil {
			return sources.Health{}, err
		}
		var inc *IncompleteError
		var nk errNoKey
		res, err = s.read(ctx, c, emit)
		switch {
		case err == nil:
		case fnErr != nil:
			return sources.Health{}, fnErr
		case ctx.Err() != nil:
			return sources.Health{}, fmt.Errorf("%s: %w", s.prefix(), ctx.Err())
		case errors.As(err, &inc):
			if inc.ConnLost {
				s.dropConn()
				if len(seen) == 0 && attempt < s.cfg.Retries {
					s.log.Warn("ldap connection lost mid-read; reading again", "source", s.name, "attempt", attempt+1, "reason", inc.Error())
					continue
				}
			}
			reason = inc.Error()
		case errors.As(err, &nk):
			reason = err.Error()
		default:
			return sources.Health{}, err
		}
		break
	}
	if dups > 0 && reason == "" {
		reason = fmt.Sprintf("%d entries share a key with another entry", dups)
	}
	h := sources.Health{Complete: reason == "", Reason: reason, Count: len(seen)}
	s.stats.Mode, s.stats.People, s.stats.Groups = res.mode, h.Count, len(res.groups.groups)
	s.stats.Duration = s.now().Sub(start)
	if reason != "" {
		s.log.Warn("ldap read incomplete; no departures may be inferred", "source", s.name, "people", h.Count, "reason", reason)
	} else {
		s.log.Info("ldap read", "source", s.name, "mode", res.mode, "people", h.Count, "groups", len(res.groups.groups), "duration", s.stats.Duration)
	}
	return h, nil
}
