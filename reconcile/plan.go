package reconcile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Action is what an operation does. Its rune is its own symbol in text plans.
type Action rune

// Actions.
const (
	ActionCreate     Action = '+'
	ActionUpdate     Action = '~'
	ActionAdopt      Action = '&'
	ActionDeactivate Action = '-'
)

var actionNames = map[Action]string{
	ActionCreate:     "create",
	ActionUpdate:     "update",
	ActionAdopt:      "adopt",
	ActionDeactivate: "deactivate",
}

// String returns the action's name ("create").
func (a Action) String() string {
	if n, ok := actionNames[a]; ok {
		return n
	}
	return fmt.Sprintf("Action(%q)", rune(a))
}

// MarshalText encodes the action by name.
func (a Action) MarshalText() ([]byte, error) {
	if _, ok := actionNames[a]; !ok {
		return nil, fmt.Errorf("unknown action %q", rune(a))
	}
	return []byte(a.String()), nil
}

// UnmarshalText decodes an action name.
func (a *Action) UnmarshalText(b []byte) error {
	for k, v := range actionNames {
		if v == string(b) {
			*a = k
			return nil
		}
	}
	return fmt.Errorf("unknown action %q", b)
}

// Kind is the kind of object an operation touches.
type Kind string

// Kinds.
const (
	KindUser  Kind = "user"
	KindTeam  Kind = "team"
	KindQueue Kind = "queue"
)

// Status says whether an operation will be applied.
type Status string

// Statuses. An empty status means the operation is ready to apply.
const (
	StatusReady Status = ""
	// StatusHeld: dangerous, waiting for approval.
	StatusHeld Status = "held"
	// StatusSuppressed: not applied this pass (e.g. a deactivation from an incomplete source).
	StatusSuppressed Status = "suppressed"
	// StatusUnsupported: the target has no way to do it.
	StatusUnsupported Status = "unsupported"
	// StatusWaiting: an operation it needs (Op.Needs) is held, suppressed,
	// unsupported or waiting itself, so it is not sent this pass.
	StatusWaiting Status = "waiting"
)

// Change is one attribute's old and new value, rendered for people.
type Change struct {
	Field Field  `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// Op is one operation of a plan.
type Op struct {
	Action Action `json:"action"`
	Kind   Kind   `json:"kind"`
	// Key is the stable source key of the object (a user or team key, or a
	// queue name).
	Key string `json:"key"`
	// ID is the platform id of an existing object; empty for creates.
	ID string `json:"id,omitempty"`
	// Name is a human label: a username, a team name, a queue name.
	Name    string   `json:"name"`
	Changes []Change `json:"changes,omitempty"`
	// From names, by field, the source and record a change's new value
	// came from, when the sources were merged ("wfm wfm.csv:4").
	From map[Field]string `json:"from,omitempty"`
	// Reason is Why in words, written into the JSON for its readers; code
	// never reads it back.
	Reason string `json:"reason"`
	// Why is the reason as data: a code and its details.
	Why    Reason `json:"why,omitzero"`
	Status Status `json:"status,omitempty"`
	// Fields are the platform fields an update writes (derived from Changes).
	Fields []Field `json:"fields,omitempty"`
	// User and Team carry the desired object for creates and updates; their
	// Team/Parent are keys, resolved to ids when applied.
	User *User `json:"user,omitempty"`
	Team *Team `json:"team,omitempty"`
	// Add and Remove are user keys joining or leaving a queue.
	Add    []string `json:"add,omitempty"`
	Remove []string `json:"remove,omitempty"`
	// Replace, when set, is the queue's whole membership after the op (user
	// keys), written in one request instead of an add and a remove.
	Replace []string `json:"replace,omitempty"`
	// Fingerprint is a digest of the platform object as it was planned
	// against; a saved plan is refused if it changed since.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Needs are the OpIDs of the operations that must succeed before this
	// one is sent (its edges in the plan's dependency graph): a group after
	// its parent, a user after their team, a queue addition after the
	// user is active, a user's deactivation after their queue removals, a
	// group's deactivation after its children and agents have left.
	Needs []string `json:"needs,omitempty"`
	// Waits names, for a waiting op, the prerequisites that are not ready
	// and their status ("deactivate user E7: held").
	Waits []Wait `json:"waits,omitempty"`
}

// Wait is one prerequisite a waiting op waits for.
type Wait struct {
	Op     string `json:"op"`     // its OpID
	Name   string `json:"name"`   // its label: the kind and name of the object
	Status Status `json:"status"` // why it is not ready
}

// Ready reports whether Apply should execute the operation.
func (o *Op) Ready() bool { return o.Status == StatusReady }

// Summary counts a plan's operations.
type Summary struct {
	Create      int `json:"create"`
	Update      int `json:"update"`
	Adopt       int `json:"adopt"`
	Deactivate  int `json:"deactivate"`
	Held        int `json:"held"`
	Suppressed  int `json:"suppressed"`
	Unsupported int `json:"unsupported"`
	Waiting     int `json:"waiting,omitempty"`
	Unchanged   int `json:"unchanged"`
}

// Pending is the number of operations planned but not ready: held,
// suppressed, unsupported or waiting.
func (s Summary) Pending() int { return s.Held + s.Suppressed + s.Unsupported + s.Waiting }

// Changes is the number of operations that would be applied.
func (s Summary) Changes() int { return s.Create + s.Update + s.Adopt + s.Deactivate }

// Problem is something in the desired state that cannot be planned, such as
// an agent mapped to a group that is not at the agent level.
type Problem struct {
	Kind Kind   `json:"kind"`
	Key  string `json:"key"`
	// Origin is where the source record came from ("people.csv:12"), when
	// known.
	Origin  string `json:"origin,omitempty"`
	Message string `json:"message"`
}

// ProblemList is a plan's problems; it is written as [] when empty, never
// as null, so that a reader can count on the list.
type ProblemList []Problem

// MarshalJSON writes the list, [] when empty.
func (l ProblemList) MarshalJSON() ([]byte, error) {
	if len(l) == 0 {
		return []byte("[]"), nil
	}
	return json.Marshal([]Problem(l))
}

// Plan is the result of Diff: data, sorted, every op with a reason.
type Plan struct {
	FormatVersion int       `json:"format_version"`
	Target        string    `json:"target"`
	CreatedAt     time.Time `json:"created_at"`
	Ops           []Op      `json:"ops"`
	Summary       Summary   `json:"summary"`
	// Notes explain plan-wide decisions (suppressed deactivations and why).
	Notes    []string    `json:"notes,omitempty"`
	Problems ProblemList `json:"problems"`
	// TeamIDs resolves team keys to platform ids known when the plan was made.
	TeamIDs map[string]string `json:"team_ids"`
	// UserIDs resolves the user keys the plan's queue operations name to
	// the platform ids known when the plan was made.
	UserIDs map[string]string `json:"user_ids"`
	// QueueIDs resolves queue names to platform ids.
	QueueIDs map[string]string `json:"queue_ids,omitempty"`
	// Requests counts the platform calls the plan needs, by endpoint.
	Requests map[string]int `json:"requests,omitempty"`
	// MAC authenticates a saved plan (see SignPlans); empty otherwise.
	MAC string `json:"mac,omitempty"`

	// Population is how many platform users, as listed, were active and
	// owned when the plan was made: the base of the deactivation limits
	// (GuardInput.Population). Not saved.
	Population int `json:"-"`
	// Matches are Diff's matches of user keys to platform users, sorted by
	// key (MatchOf finds one); nil for a plan decoded from a file. Not
	// saved. A slice, not a map: a pass over a million people matches a
	// million of them.
	Matches []Match `json:"-"`
}

// Match is how Diff matched a user key to a platform user.
type Match struct {
	Key string
	ID  string
	How MatchHow
	// Claimed says the desired user took the platform user in this plan
	// (kept in line, adopted, or deactivated as gone); a match left alone
	// (protected, or not owned and not adoptable) is not claimed.
	Claimed bool
}

// MatchHow is how a key matched: by the ledger, third-party id, username or
// email.
type MatchHow uint8

// Ways to match.
const (
	ByLedger MatchHow = iota
	ByThirdPartyID
	ByUsername
	ByEmail
)

var matchHows = [...]string{ByLedger: "ledger", ByThirdPartyID: "third_party_id", ByUsername: "username", ByEmail: "email"}

func (h MatchHow) String() string { return matchHows[h] }

// findMatch returns the position of key's match in ms, sorted by key.
func findMatch(ms []Match, key string) (int, bool) {
	return slices.BinarySearchFunc(ms, key, func(m Match, k string) int { return strings.Compare(m.Key, k) })
}

// MatchOf returns the platform user Diff matched to the user key, and
// how, as the plan was made; ok is false when it matched none (or the
// plan was decoded from a file).
func (p *Plan) MatchOf(key string) (m Match, ok bool) {
	if i, ok := findMatch(p.Matches, key); ok {
		return p.Matches[i], true
	}
	return Match{}, false
}

// PlanFormatVersion is the version of the JSON plan schema.
const PlanFormatVersion = 1

// Empty reports whether nothing would be applied.
func (p *Plan) Empty() bool { return p.Summary.Changes() == 0 }

// ReadyCount returns how many operations Apply would execute, without
// copying them as ReadyOps does.
func (p *Plan) ReadyCount() int {
	n := 0
	for i := range p.Ops {
		if p.Ops[i].Ready() {
			n++
		}
	}
	return n
}

// ReadyOps returns the operations Apply would execute.
func (p *Plan) ReadyOps() []Op {
	// Counted first: an Op is large, and a plan may hold 100k of them.
	n := p.ReadyCount()
	if n == 0 {
		return nil
	}
	out := make([]Op, 0, n)
	for _, o := range p.Ops {
		if o.Ready() {
			out = append(out, o)
		}
	}
	return out
}

// Encode returns the plan as indented JSON.
func (p *Plan) Encode() ([]byte, error) { return json.MarshalIndent(p, "", "  ") }

// DecodePlan reads a plan written by Encode.
func DecodePlan(b []byte) (*Plan, error) {
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("decode plan: %w", err)
	}
	if p.FormatVersion != PlanFormatVersion {
		return nil, fmt.Errorf("decode plan: format_version %d, this rostersync reads %d", p.FormatVersion, PlanFormatVersion)
	}
	return &p, nil
}

// EachOp calls fn with each operation of a plan written by Encode, decoded
// one at a time: a stored plan of 100k operations is read without holding
// it decoded. The plan's other fields are skipped. On an error (a file
// that is not such a plan, or of another format version) fn may have been
// called for the operations before it.
func EachOp(b []byte, fn func(*Op)) error { return EachOpFrom(bytes.NewReader(b), fn) }

// EachOpFrom is EachOp over a plan read from r as it is decoded: a stored
// plan is never held whole, encoded or decoded.
func EachOpFrom(r io.Reader, fn func(*Op)) error {
	_, err := DecodePlanOps(r, fn)
	return err
}

// DecodePlanOps reads a plan written by Encode from r as DecodePlan does,
// but calls fn with each operation, decoded one at a time, instead of
// keeping them: the plan returned has every field but Ops. On an error fn
// may have been called for the operations before it.
func DecodePlanOps(r io.Reader, fn func(*Op)) (*Plan, error) {
	dec := json.NewDecoder(r)
	bad := func(err error) error { return fmt.Errorf("decode plan: %w", err) }
	if t, err := dec.Token(); err != nil {
		return nil, bad(err)
	} else if t != json.Delim('{') {
		return nil, bad(errors.New("not a JSON object"))
	}
	// The other fields are gathered as they are and decoded together at
	// the end, as json.Unmarshal would decode them.
	head := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, bad(err)
		}
		if t != "ops" {
			name, _ := t.(string)
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, bad(err)
			}
			head[name] = raw
			continue
		}
		if t, err := dec.Token(); err != nil {
			return nil, bad(err)
		} else if t == nil {
			continue
		} else if t != json.Delim('[') {
			return nil, bad(errors.New("ops is not a list"))
		}
		for dec.More() {
			var op Op
			if err := dec.Decode(&op); err != nil {
				return nil, bad(err)
			}
			fn(&op)
		}
		if _, err := dec.Token(); err != nil {
			return nil, bad(err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, bad(err)
	}
	hb, err := json.Marshal(head)
	if err != nil {
		return nil, bad(err)
	}
	var p Plan
	if err := json.Unmarshal(hb, &p); err != nil {
		return nil, bad(err)
	}
	if p.FormatVersion != PlanFormatVersion {
		return nil, fmt.Errorf("decode plan: format_version %d, this rostersync reads %d", p.FormatVersion, PlanFormatVersion)
	}
	p.Ops = nil
	return &p, nil
}

// WriteCompact writes the plan to w as json.Marshal writes it, byte for
// byte, one operation at a time: a plan of 100k operations is written
// without its encoding ever being held whole.
func (p *Plan) WriteCompact(w io.Writer) error {
	head := *p
	head.Ops = nil
	hb, err := json.Marshal(&head)
	if err != nil {
		return err
	}
	// As in EncodeCompact: the first "ops":null is the field's own.
	at := bytes.Index(hb, []byte(`"ops":null`))
	if at < 0 {
		return errors.New("encode plan: no ops field")
	}
	at += len(`"ops":`)
	if p.Ops == nil {
		_, err := w.Write(hb)
		return err
	}
	if _, err := w.Write(hb[:at]); err != nil {
		return err
	}
	sep := []byte{'['}
	for i := range p.Ops {
		b, err := json.Marshal(&p.Ops[i])
		if err != nil {
			return err
		}
		if _, err := w.Write(sep); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		sep[0] = ','
	}
	if len(p.Ops) == 0 {
		if _, err := w.Write(sep); err != nil {
			return err
		}
	}
	if _, err := w.Write([]byte{']'}); err != nil {
		return err
	}
	_, err = w.Write(hb[at+len("null"):])
	return err
}

// EncodeCompact returns the plan as json.Marshal writes it, byte for byte,
// built one operation at a time into a buffer of its final size: a plan of
// 100k operations is encoded without the encoder's growing copies of the
// whole document.
func (p *Plan) EncodeCompact() ([]byte, error) {
	head := *p
	head.Ops = nil
	hb, err := json.Marshal(&head)
	if err != nil {
		return nil, err
	}
	// Ops encodes as "ops":null; a quote inside a string is escaped, so the
	// first such bytes are the field's own.
	at := bytes.Index(hb, []byte(`"ops":null`))
	if at < 0 {
		return nil, errors.New("encode plan: no ops field")
	}
	at += len(`"ops":`)
	if p.Ops == nil {
		return hb, nil
	}
	// Each op is encoded twice, once to measure and once into place, so that
	// only one op's encoding is ever held beside the document.
	size := len(hb) - len("null") + 2 + max(len(p.Ops)-1, 0)
	for i := range p.Ops {
		b, err := json.Marshal(&p.Ops[i])
		if err != nil {
			return nil, err
		}
		size += len(b)
	}
	out := make([]byte, 0, size)
	out = append(out, hb[:at]...)
	out = append(out, '[')
	for i := range p.Ops {
		if i > 0 {
			out = append(out, ',')
		}
		b, err := json.Marshal(&p.Ops[i])
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	out = append(out, ']')
	return append(out, hb[at+len("null"):]...), nil
}
