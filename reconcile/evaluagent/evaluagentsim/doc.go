// Package evaluagentsim is an in-memory simulator of the Evaluagent REST API, served over real
// HTTP. It implements the contract in spec/evaluagent-api.md as strictly as the contract is
// written, so that a client bug shows up here rather than against a customer's account. It
// stands alone: it imports nothing from the rest of rostersync.
//
// A Server is an http.Handler. It serves the API under /v1 (§7: ping, users, groups, roles,
// levels, abilities, work-queue templates and their agents, the token endpoints of §3.2), with
// the wire format of §2, the errors of §6, the authentication states of §3, the rate limits of §4
// and the domain rules D1-D17 of §9. Every rule violation is a 422 with a source.pointer and
// changes nothing.
//
//	srv, err := evaluagentsim.New(evaluagentsim.DefaultConfig())
//	ts := httptest.NewServer(srv)
//	// base URL: ts.URL + "/v1", credentials DemoKeyID:DemoKeySecret
//
// # Choices where the contract leaves room
//
// Requests are checked in this order: route (unknown path 404), credentials (401), IP allow-list
// (403), method (405), a forced status (ForceStatus), rate limit (429), content type of a body
// (415), body structure (400), type and id (409), the resource (404), values and rules (422).
//
//   - A create body carrying data.id, or a PATCH whose data.id is missing or differs from the
//     URL, is a 409. A resource identifier of the wrong type in the primary data is a 409; inside
//     a relationship it is a 422.
//   - Read-only attributes (users: fullname; groups: level, parent, has_children,
//     is_custom_reporting_group) are refused with a 422 when written. Other unknown attributes
//     are ignored.
//   - email, when not null, must be a plain address (net/mail); an empty string is invalid, null
//     clears it. start_date must be YYYY-MM-DD or null. third_party_id is a string, a number or
//     null and is returned exactly as sent.
//   - An inactive user holds no roles and no team: roles or a team sent in a request that leaves
//     the user inactive are discarded (D6). Removing the agent role keeps WQT membership.
//   - A group's level may change on update unless it would give a Team children or leave agents
//     outside a Team. A group cannot be moved under itself or a descendant, and a move keeps the
//     whole subtree within 7 levels. Reactivating a group needs an active parent.
//   - A group's has_children counts inactive children too, as D12 does.
//   - W6 ignores ids that are not assigned, whether or not they name a user; W4 and W5 check
//     every id against D15.
//   - With Config.PageSize set, the /org lists (users, groups, roles, levels, abilities) are
//     paged by page[number]; links are absolute URLs built from the request's Host. Work-queue
//     templates are never paged.
//   - Request counts (Counts, StatusCounts, Writes, GET /_sim/counts, POST /_sim/reset-counts)
//     cover every /v1 request whatever its outcome; /_sim requests are neither counted, nor
//     authenticated, nor rate limited. Writes counts successful POST, PATCH, PUT and DELETE
//     requests, token endpoints included.
//   - Only the per-endpoint limits of §4 exist: the shared groups of imported contacts and
//     analytics concern endpoints the simulator does not serve.
//
// # Seed format
//
// Config.Seed (or LoadSeed from a file) sets the starting data. The JSON object has six sections;
// a section left out takes the default of DefaultSeed, a section given (even []) replaces it.
// Every "id" is optional: when left out a random UUIDv4 is minted. Objects refer to each other by
// id or by name (case-insensitive; a name shared by two objects must be replaced by an id), and a
// reference must point at an object in an earlier section or, for groups, earlier in the list.
// Unknown keys are errors, and the data must pass the same rules as the API (unique usernames,
// agents in an active Team-level group, ...).
//
//	{
//	  "levels":    [{"id": "…", "name": "Business"}, {"name": "Site"}, {"name": "Department"}, {"name": "Team"}],
//	  "abilities": [{"name": "platform.login", "title": "Log in to the platform"}],
//	  "roles":     [{"name": "agent", "title": "Agent", "abilities": ["platform.login"]}],
//	  "groups": [
//	    {"name": "Acme Contact Centre", "level": "Business"},
//	    {"id": "…", "name": "North", "level": "Site", "parent": "Acme Contact Centre"},
//	    {"name": "Team North", "level": "Team", "parent": "North", "active": true,
//	     "is_custom_reporting_group": false}
//	  ],
//	  "users": [
//	    {"id": "…", "forename": "Ada", "surname": "Lovelace", "username": "ada@example.com",
//	     "email": "ada@example.com", "start_date": "2024-01-15", "third_party_id": "WFM-1001",
//	     "active": true, "roles": ["agent", "system_access"], "team": "Team North"}
//	  ],
//	  "work_queue_templates": [{"name": "Inbound Calls", "active": true, "agents": ["ada@example.com"]}]
//	}
//
// The first group is the root (no "parent"); every other group names its parent. A group with
// "active": false is deactivated once the whole tree stands. A user's "roles" are role ids or
// machine names and "team" a group id or name; an empty "email" or "start_date" is null. A
// template's "agents" are user ids or usernames. The default seed has the levels Business, Site,
// Department and Team; six abilities; the roles administrator, manager, team_leader, agent,
// quality_analyst and system_access; the root "Acme Contact Centre" (Business) with "Test Team 1"
// (Team) under it; the templates "Inbound Calls" and "Complaints"; and no users.
package evaluagentsim
