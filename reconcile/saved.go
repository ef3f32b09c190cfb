package reconcile

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// A saved plan file is only ever a request: SignPlans authenticates the
// file rostersync writes, VerifyPlans refuses one that was edited, and
// Rejudge accepts only the operations the current pass would make itself.

// ErrPlanMAC marks a saved plan whose MAC is missing or wrong.
var ErrPlanMAC = errors.New("the saved plan's MAC does not match")

// macOf is the hex HMAC-SHA256 of the plans' encoding without MACs.
func macOf(plans []*Plan, key []byte) (string, error) {
	clean := make([]*Plan, len(plans))
	for i, p := range plans {
		c := *p
		c.MAC = ""
		clean[i] = &c
	}
	b, err := EncodePlans(clean)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil)), nil
}

// SignPlans encodes the plans as EncodePlans does, with a MAC keyed by key
// over everything else in the file ("mac" at the top level).
func SignPlans(plans []*Plan, key []byte) ([]byte, error) {
	if len(key) == 0 {
		return nil, errors.New("sign plan: empty key")
	}
	mac, err := macOf(plans, key)
	if err != nil {
		return nil, err
	}
	if len(plans) == 1 {
		c := *plans[0]
		c.MAC = mac
		return c.Encode()
	}
	return json.MarshalIndent(PlanSet{FormatVersion: PlanFormatVersion, Targets: plans, MAC: mac}, "", "  ")
}

// VerifyPlans decodes a file SignPlans wrote and checks its MAC. A file
// without a MAC, or whose content changed in any way that matters (any
// field, any op), is refused with ErrPlanMAC. Layout changes (spacing, key
// order) do not matter: the MAC covers the plans' canonical encoding.
func VerifyPlans(b []byte, key []byte) ([]*Plan, error) {
	plans, err := DecodePlans(b)
	if err != nil {
		return nil, err
	}
	var probe struct {
		MAC string `json:"mac"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("decode plan: %w", err)
	}
	if probe.MAC == "" {
		return nil, fmt.Errorf("%w: the file carries no MAC; only plans saved by 'rostersync plan -out' with this state directory are applied", ErrPlanMAC)
	}
	want, err := macOf(plans, key)
	if err != nil {
		return nil, err
	}
	got, err := hex.DecodeString(probe.MAC)
	w, _ := hex.DecodeString(want)
	if err != nil || !hmac.Equal(got, w) {
		return nil, fmt.Errorf("%w: the file was edited after 'rostersync plan -out' wrote it, or saved with another state directory; make a new plan", ErrPlanMAC)
	}
	for _, p := range plans {
		p.MAC = ""
	}
	return plans, nil
}

// RejudgeError lists the operations of a saved plan that the current pass
// would not make as they are written.
type RejudgeError struct {
	Problems []string
}

func (e *RejudgeError) Error() string {
	return fmt.Sprintf("the saved plan asks for %d operation(s) the current pass would not make as written: %s",
		len(e.Problems), strings.Join(e.Problems, "; "))
}

// Rejudge checks a saved plan (whose MAC VerifyPlans checked) against
// current, the plan the current pass makes for the same target: diffed and
// guarded with today's ownership, exclusions, suppressions and holds.
// Every op the saved plan would apply must be one current would apply now
// on the same object: same identity (OpID), action, kind, key and platform
// id, and ready. Approval lives in the state, never in the file: an op
// current holds, suppresses, or does not plan at all (a user rostersync
// does not own, an excluded one) is refused. It returns a *RejudgeError
// naming every op it refuses, or nil. What the saved ops write is the
// file's, which the MAC vouches for and Verify checked is not stale.
func Rejudge(saved, current *Plan) error {
	byID := map[string][]*Op{}
	for i := range current.Ops {
		o := &current.Ops[i]
		byID[OpID(o)] = append(byID[OpID(o)], o)
	}
	var problems []string
	for i := range saved.Ops {
		s := &saved.Ops[i]
		if !s.Ready() {
			continue
		}
		why := "the current pass does not plan it (not owned by rostersync, excluded, or no longer wanted by the sources)"
		for _, c := range byID[OpID(s)] {
			switch {
			case c.Action != s.Action || c.Kind != s.Kind || c.Key != s.Key || c.ID != s.ID:
				continue
			case c.Ready():
				why = ""
			default:
				why = fmt.Sprintf("it is %s in the current pass", c.Status)
				if c.Status == StatusHeld {
					why += "; approval is given with 'rostersync held approve', never in the file"
				}
			}
			break
		}
		if why != "" {
			problems = append(problems, fmt.Sprintf("%s %s %s%s: %s", s.Action, s.Kind, quote(s.Name), keyNote(s), why))
		}
	}
	if len(problems) > 0 {
		return &RejudgeError{Problems: problems}
	}
	return nil
}
