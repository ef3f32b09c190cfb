package flex

import (
	"errors"
	"fmt"
	"time"
)

// ErrNotFound matches (with errors.Is) a 404.
var ErrNotFound = errors.New("not found")

// ErrUnsupported matches an operation Flex cannot make through its API or
// that the target never makes (team and queue writes, writing a username).
// Nothing is sent for it.
var ErrUnsupported = errors.New("not supported by the Twilio Flex target")

// ErrConflict matches a worker that kept changing between read and write:
// every If-Match write was refused (412). Nothing was overwritten; plan
// again.
var ErrConflict = errors.New("the worker changed while it was being written")

// APIError is a response the server refused: a 4xx other than 401, 403 and
// 429, or a 5xx of a read once retries are spent. Code is Twilio's error
// code (20001, 20404), 0 when the body had none.
type APIError struct {
	Status   int
	Code     int
	Endpoint string
	// Op says what the client was doing ("list users").
	Op      string
	Message string
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "no error detail"
	}
	code := ""
	if e.Code != 0 {
		code = fmt.Sprintf(", code %d", e.Code)
	}
	return fmt.Sprintf("flex: %s: %s: %s (%d%s)", e.Op, e.Endpoint, msg, e.Status, code)
}

// Is makes a 404 match ErrNotFound.
func (e *APIError) Is(target error) bool { return target == ErrNotFound && e.Status == 404 }

// AuthError is a 401 or 403: the key SID or secret is wrong or revoked. It
// is fatal for the run and never retried.
type AuthError struct {
	Status   int
	Endpoint string
	Message  string
}

func (e *AuthError) Error() string {
	return fmt.Sprintf("flex: %s: authentication failed (%d): %s; check api_key_sid and the secret file (an API key SK… with its secret, or the account SID with its auth token)",
		e.Endpoint, e.Status, e.Message)
}

// Fatal tells the applier that no further request can succeed this run.
func (e *AuthError) Fatal() bool { return true }

// RateLimitError says the server kept answering 429 (or 503) and waiting
// longer would pass Config.MaxWait.
type RateLimitError struct {
	Endpoint string
	Wait     time.Duration
	Waited   time.Duration
	MaxWait  time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("flex: %s: rate limited; a further wait of %s after %s already would pass the %s ceiling (max_wait)",
		e.Endpoint, e.Wait, e.Waited, e.MaxWait)
}

// Fatal tells the applier to stop, as on every other target: each further
// request would wait past the ceiling too.
func (e *RateLimitError) Fatal() bool { return true }

// AccountMismatchError says the credentials reach another Twilio account, or
// another Flex instance or workspace, than the configuration pins: nothing
// is read or written.
type AccountMismatchError struct {
	What, Want, Got string
}

func (e *AccountMismatchError) Error() string {
	return fmt.Sprintf("flex: the configuration names %s %s but the credentials reach %s; refusing to run against another account", e.What, e.Want, e.Got)
}

// Fatal: no request of this run may go on.
func (e *AccountMismatchError) Fatal() bool { return true }
