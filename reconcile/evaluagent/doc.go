// Package evaluagent is the JSON:API client for the Evaluagent QA platform. It
// implements reconcile.Target: it lists users, groups, roles, levels and the
// agents of work-queue templates, and writes the minimal requests a plan asks
// for. It owns its configuration too: Settings (the ROSTERSYNC_EVALUAGENT_*
// variables, with their checks) and Block (a target's evaluagent: block,
// which overrides them); cmd/rostersync's registry opens the client from
// them.
//
// The contract it builds to is shared/spec/evaluagent-api.md. The points that
// shape this package:
//
//   - Authentication is HTTP Basic with an access key id and secret unless
//     Config.Bearer puts the key in bearer-token mode (auth.go). In basic
//     mode the client never calls the /auth/token endpoints: creating a token
//     disables Basic for the key for good (§3.3). In bearer mode every request
//     carries the token of a TokenStore, refreshed under the store's lock once
//     it is 20 hours old; a token is created (CreateToken) or revoked
//     (RevokeToken) only when an operator's command asks. Ping checks
//     credentials with GET /ping.
//   - Every path lives in one route table (Routes), which configuration may
//     override, because many of them are inferred rather than documented.
//     Response bodies whose shape is inferred are decoded in wire.go only.
//   - Requests are paced per endpoint (method plus path template) below the
//     server's per-minute limit. A 429 is waited out, honouring Retry-After,
//     unless the wait exceeds Config.MaxWait, which yields a *RateLimitError.
//   - Only idempotent requests (GET, PATCH, PUT, DELETE) are retried on 5xx
//     and network errors. A POST is never retried blindly: a create that may
//     or may not have happened is reported, and the caller re-lists.
//   - 401 and 403 give a fatal *AuthError, 404 an error matching ErrNotFound,
//     other 4xx an *APIError that names the object and the offending field.
//
// A Client is safe for concurrent use.
package evaluagent
