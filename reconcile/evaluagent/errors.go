package evaluagent

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrNotFound matches (with errors.Is) a 404: the object changed underneath
// since it was listed. Re-plan; do not retry.
var ErrNotFound = errors.New("not found")

// ErrUnknownRole matches an error for a role machine name that Evaluagent does
// not define. ErrUnknownLevel is the same for a level name.
var (
	ErrUnknownRole  = errors.New("unknown role")
	ErrUnknownLevel = errors.New("unknown level")
)

// ErrorObject is one JSON:API error object of an error response (§6).
type ErrorObject struct {
	Status string `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	// Pointer is source.pointer, such as "/data/attributes/username".
	Pointer string `json:"pointer,omitempty"`
}

// Field is the name the pointer points at: "username" for
// "/data/attributes/username", "agent-team" for
// "/data/relationships/agent-team", "data[2]" for "/data/2"; "" without a
// pointer.
func (e ErrorObject) Field() string {
	p := e.Pointer
	for _, prefix := range []string{"/data/attributes/", "/data/relationships/"} {
		if rest, ok := strings.CutPrefix(p, prefix); ok {
			return strings.ReplaceAll(rest, "/", ".")
		}
	}
	p = strings.Trim(p, "/")
	if p == "" {
		return ""
	}
	parts := strings.Split(p, "/")
	var b strings.Builder
	b.WriteString(parts[0])
	for _, s := range parts[1:] {
		if s != "" && strings.Trim(s, "0123456789") == "" {
			fmt.Fprintf(&b, "[%s]", s)
		} else {
			b.WriteString("." + s)
		}
	}
	return b.String()
}

func (e ErrorObject) String() string {
	msg := e.Detail
	if msg == "" {
		msg = e.Title
	}
	if f := e.Field(); f != "" {
		return f + ": " + msg
	}
	return msg
}

// APIError is a response the server refused: a 4xx other than 401, 403 and
// 429, or a 5xx once retries (if any) are spent. A 404 matches ErrNotFound.
type APIError struct {
	Status int
	// Endpoint is the route's name, such as "POST /org/users".
	Endpoint string
	// Op is what the client was doing ("create", "update", "list").
	Op string
	// Object names what it was done to: `user "ada@example.com"`.
	Object string
	// Errors holds every error object of the body, for the report. A body
	// that is not JSON:API (a proxy's HTML page, a bare 5xx) gives one
	// object whose Detail is the start of the body.
	Errors []ErrorObject
	// Items are the ids of a body that is a list of identifiers (queue
	// agents), in the order sent: a pointer "/data/2" names Items[2], and
	// Error tells that id rather than the index.
	Items []string
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("evaluagent: ")
	b.WriteString(strings.TrimSpace(e.Op + " " + e.Object))
	b.WriteString(": ")
	var msgs []string
	for _, o := range e.Errors {
		if i, ok := itemIndex(o.Pointer); ok && i < len(e.Items) {
			o.Pointer = ""
			if s := o.String(); s != "" {
				msgs = append(msgs, fmt.Sprintf("user %s: %s", e.Items[i], s))
			}
			continue
		}
		if s := o.String(); s != "" {
			msgs = append(msgs, s)
		}
	}
	if len(msgs) == 0 {
		msgs = append(msgs, fmt.Sprintf("%s answered with no error detail", e.Endpoint))
	}
	b.WriteString(strings.Join(msgs, "; "))
	fmt.Fprintf(&b, " (%d)", e.Status)
	return b.String()
}

// itemIndex reads the index of a pointer "/data/N".
func itemIndex(ptr string) (int, bool) {
	rest, ok := strings.CutPrefix(ptr, "/data/")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	return i, err == nil && i >= 0
}

// Is makes a 404 match ErrNotFound.
func (e *APIError) Is(target error) bool {
	return target == ErrNotFound && e.Status == 404
}

// AuthError is a 401 or 403: the credentials are wrong, the key is in bearer
// mode or revoked, or the caller's IP is not allowed. It is fatal for the run
// and never retried.
type AuthError struct {
	Status   int
	Endpoint string
	Detail   string
	// Bearer says the request carried the stored bearer token.
	Bearer bool
}

func (e *AuthError) Error() string {
	hint := "check the access key id and secret, and that the key is still in Basic mode"
	if e.Bearer {
		hint = "the stored bearer token was refused: it expired, was revoked, or was replaced by a refresh whose answer was lost; " +
			"run \"rostersync check\"; if the token stays refused, only a new key made in Evaluagent recovers access"
	}
	if e.Status == 403 {
		hint = "the key is not allowed to do this (IP allow-list or key mode)"
	}
	detail := ""
	if e.Detail != "" {
		detail = ": " + e.Detail
	}
	return fmt.Sprintf("evaluagent: %s: authentication failed (%d)%s; %s", e.Endpoint, e.Status, detail, hint)
}

// RateLimitError says a request was refused with 429 and waiting it out
// would take longer than Config.MaxWait allows: the next wait alone, or added
// to what this request already waited. A daily limit shows up this way. Stop
// the run and try again after Wait.
type RateLimitError struct {
	Endpoint string
	// Wait is the wait the server (or the backoff) asked for next.
	Wait time.Duration
	// Waited is how long this request had already waited on 429s.
	Waited time.Duration
	// MaxWait is the ceiling.
	MaxWait time.Duration
}

func (e *RateLimitError) Error() string {
	already := ""
	if e.Waited > 0 {
		already = fmt.Sprintf(" after waiting %s already", e.Waited)
	}
	return fmt.Sprintf("evaluagent: %s: rate limited; the server asks for a wait of %s%s, beyond the %s ceiling (MaxWait)",
		e.Endpoint, e.Wait, already, e.MaxWait)
}

// Fatal tells the applier that no further request can succeed this run.
func (e *AuthError) Fatal() bool { return true }

// Fatal tells the applier to stop: waiting longer than the ceiling is the
// daily limit showing, and every further request would wait too.
func (e *RateLimitError) Fatal() bool { return true }

// UncertainError is a write that failed in a way that leaves its effect
// unknown: a POST whose connection dropped or that got a 5xx. It was not
// retried, since repeating a create could duplicate it; re-list first.
type UncertainError struct {
	Err error
}

func (e *UncertainError) Error() string {
	return e.Err.Error() + " (not retried: it may have taken effect; re-list before trying again)"
}

func (e *UncertainError) Unwrap() error { return e.Err }

// Uncertain tells the applier's journal that the write may have happened.
func (e *UncertainError) Uncertain() bool { return true }

// BudgetError says an endpoint's request budget (Config.Budget) is spent
// for longer than MaxWait: the day's requests are used up. Nothing was
// sent. Stop the run; the rest can go at Until.
type BudgetError struct {
	Endpoint string
	Until    time.Time
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("evaluagent: %s: the request budget is spent until %s", e.Endpoint, e.Until.UTC().Format(time.RFC3339))
}

// Fatal tells the applier to stop: every further request would wait too.
func (e *BudgetError) Fatal() bool { return true }
