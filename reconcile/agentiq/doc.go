// Package agentiq is the client for the Agent IQ platform. It implements
// reconcile.Target for reading and reconcile.Batcher for writing: it lists
// agents from the agents export and writes creates and updates through the
// CSV import, all the changes of a pass in as few uploads as possible. Block
// is a target's agentiq: block, with its checks; cmd/rostersync's registry
// opens the client from it.
//
// The contract it builds to is shared/spec/agentiq-api.md. The points that
// shape this package:
//
//   - Authentication is the x-api-key header; the key comes from a file and
//     is never logged. 401 and 403 give a fatal *AuthError.
//   - Every path lives in one route table (Routes), which configuration may
//     override, because all of them are inferred. Response bodies whose shape
//     is inferred are decoded in wire.go only.
//   - List walks the export (X1) in creation-time windows from Config.Epoch,
//     Config.Window at a time, and de-duplicates by id keeping the latest
//     updated_at. Every request names both bounds, and the walk goes on until
//     a window ends more than a day past now: end_date is exclusive, so an
//     agent created in the current second, or stamped by a server clock
//     ahead of ours, is still listed. An agent is active when deactivated_at
//     and deleted_at are both blank.
//   - Agent IQ has no team ids, no hierarchy and no writable roles: a listed
//     user's Team is its team name (several names are joined with ", ", and
//     writing one name replaces them), Key and ThirdPartyID are external_id,
//     and Username is the email.
//   - ApplyBatch writes one CSV of banker-only rows (the twelve columns in the
//     contract's order), split at Config.MaxRows rows per upload, and turns
//     the per-row success and failure back into per-operation results. An
//     upload is resent only after a 429 (the server refused it unread); after
//     a timeout, a network error or a 5xx it is never resent, because it may
//     have been applied: re-list and plan again, the upsert makes that safe.
//   - The API cannot deactivate, reactivate or clear a field. Capabilities
//     tells reconcile.Diff so, which plans such operations as unsupported;
//     ApplyBatch refuses them should one reach it anyway, and never guesses a
//     substitute.
//
// A Client is safe for concurrent use.
package agentiq
