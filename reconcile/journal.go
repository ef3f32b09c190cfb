package reconcile

import (
	"context"
	"errors"
	"slices"
	"strings"
)

// Outcome is what became of a journalled write.
type Outcome string

// Outcomes.
const (
	OutcomeOK     Outcome = "ok"
	OutcomeFailed Outcome = "failed"
	// OutcomeUnknown: the write was sent but its effect is not known (the
	// connection dropped, the process was told to stop mid-request). It
	// must be checked on the platform before it is sent again.
	OutcomeUnknown Outcome = "unknown"
)

// Journal records every write before it is sent and its outcome after, so
// that a crash mid-apply leaves a trace of the writes in flight. An entry
// begun and never finished, or finished as unknown, is resolved against a
// fresh listing (see Recover) before anything is sent again.
type Journal interface {
	Begin(ctx context.Context, op *Op) (entry int64, err error)
	Finish(ctx context.Context, entry int64, outcome Outcome, resultID string, opErr error) error
}

// Uncertain is implemented by errors after which a write may or may not
// have taken effect: a create whose response was lost.
type Uncertain interface{ Uncertain() bool }

// OutcomeOf classifies an operation's error for the journal.
func OutcomeOf(err error) Outcome {
	var u Uncertain
	switch {
	case err == nil:
		return OutcomeOK
	case errors.As(err, &u) && u.Uncertain(),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return OutcomeUnknown
	}
	return OutcomeFailed
}

// Interrupted is a journalled create whose outcome is not known.
type Interrupted struct {
	Entry int64
	Op    Op
}

// Recovered is an interrupted create found on the platform: it took effect.
type Recovered struct {
	Interrupted
	ID string
	// How says how it was found: "third_party_id", "username" or "name".
	How string
}

// Recover looks for interrupted creates in a fresh listing of the
// platform: a user by third_party_id, then username; a team by name and
// level when exactly one matches; a work queue by name. Those found took effect and must be owned,
// not created again; the rest did not and may be planned afresh. It is pure.
func Recover(ops []Interrupted, current *Snapshot) (found []Recovered, missing []Interrupted) {
	ix := recoveryIndex(ops, current.Users)
	for _, in := range ops {
		switch {
		case in.Op.Kind == KindUser && in.Op.User != nil:
			u := in.Op.User
			tpid := lookupTPID(u)
			if c := ix.byTPID[tpid]; tpid != "" && c != nil {
				found = append(found, Recovered{in, c.ID, "third_party_id"})
				continue
			}
			if c := ix.byUsername[strings.ToLower(u.Username)]; c != nil {
				found = append(found, Recovered{in, c.ID, "username"})
				continue
			}
		case in.Op.Kind == KindTeam && in.Op.Team != nil:
			var match []string
			for _, t := range current.Teams {
				if strings.EqualFold(t.Name, in.Op.Team.Name) && strings.EqualFold(t.Level, in.Op.Team.Level) {
					match = append(match, t.ID)
				}
			}
			if len(match) == 1 {
				found = append(found, Recovered{in, match[0], "name"})
				continue
			}
		case in.Op.Kind == KindQueue:
			// Queues are matched by name: a found one is planned as it is.
			if i := slices.IndexFunc(current.Queues, func(q Queue) bool { return strings.EqualFold(q.Name, in.Op.Name) }); i >= 0 {
				found = append(found, Recovered{in, current.Queues[i].ID, "name"})
				continue
			}
		}
		missing = append(missing, in)
	}
	return found, missing
}

// recoveryIndex indexes the platform users an interrupted user create could
// have made, by third-party id and lower-case username: only users holding
// a value one of ops looks for, so that a pass with nothing to recover (the
// usual case) indexes nobody.
func recoveryIndex(ops []Interrupted, us []User) userIndex {
	want := wanted{tpids: map[string]bool{}, names: map[string]bool{}}
	for _, in := range ops {
		if u := in.Op.User; in.Op.Kind == KindUser && u != nil {
			want.add(u)
		}
	}
	return want.index(us)
}
