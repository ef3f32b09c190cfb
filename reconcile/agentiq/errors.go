package agentiq

import (
	"errors"
	"fmt"
	"time"
)

// ErrNotFound matches (with errors.Is) a 404.
var ErrNotFound = errors.New("not found")

// ErrUseApplyBatch is returned by the per-object write methods of
// reconcile.Target: Agent IQ writes only through the CSV import, which
// reconcile.Apply reaches through ApplyBatch.
var ErrUseApplyBatch = errors.New("agentiq: writes go through the CSV import: use ApplyBatch")

// ErrUnsupported matches an operation the Agent IQ API has no way to make
// (deactivation, reactivation, team or queue changes). Nothing is sent for it.
var ErrUnsupported = errors.New("not supported by the Agent IQ API")

// ErrOutcomeUnknown matches an upload that failed in transit (a timeout, a
// network error, a 5xx): it may or may not have been applied. It is never
// resent; list again and plan again, which the import's upsert makes safe.
var ErrOutcomeUnknown = errors.New("the upload may or may not have been applied; it was not resent: list and plan again")

// APIError is a response the server refused: a 4xx other than 401, 403 and
// 429, or a 5xx of a read once retries are spent. A 404 matches ErrNotFound.
type APIError struct {
	Status   int
	Endpoint string
	// Op says what the client was doing ("export agents", "import users").
	Op string
	// Message is the body's error or message member, or the start of the
	// body when it has neither.
	Message string
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "no error detail"
	}
	return fmt.Sprintf("agentiq: %s: %s: %s (%d)", e.Op, e.Endpoint, msg, e.Status)
}

// Is makes a 404 match ErrNotFound.
func (e *APIError) Is(target error) bool { return target == ErrNotFound && e.Status == 404 }

// AuthError is a 401 or 403: the API key is wrong, revoked, or not for this
// institution's host. It is fatal for the run and never retried.
type AuthError struct {
	Status   int
	Endpoint string
	Message  string
}

func (e *AuthError) Error() string {
	detail := ""
	if e.Message != "" {
		detail = ": " + e.Message
	}
	return fmt.Sprintf("agentiq: %s: authentication failed (%d)%s; check the API key file and that the base URL is the institution's own host", e.Endpoint, e.Status, detail)
}

// Fatal tells the applier that no further request can succeed this run.
func (e *AuthError) Fatal() bool { return true }

// RateLimitError says the server kept answering 429 (or 503) and waiting
// longer would pass Config.MaxWait.
type RateLimitError struct {
	Endpoint string
	Wait     time.Duration // the next wait asked for
	Waited   time.Duration // already waited for this request
	MaxWait  time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("agentiq: %s: rate limited; a further wait of %s after %s already would pass the %s ceiling (MaxWait)",
		e.Endpoint, e.Wait, e.Waited, e.MaxWait)
}

// Fatal tells the applier to stop: every further request would wait too.
func (e *RateLimitError) Fatal() bool { return true }

// RowError is one row of an upload that the import refused.
type RowError struct {
	// Row is the data row in its upload, counted from 1 after the header.
	Row int
	// Message is the import's own error for the row.
	Message string
}

func (e *RowError) Error() string {
	return fmt.Sprintf("agentiq: import refused row %d: %s", e.Row, e.Message)
}
