// Package agentiqsim is an in-memory simulator of the Agent IQ REST API, served over real HTTP.
// It implements the contract in spec/agentiq-api.md as strictly as the contract is written, so
// that a client bug shows up here rather than against an institution's hosts. It stands alone:
// it imports nothing from the rest of rostersync.
//
//	srv, err := agentiqsim.New(agentiqsim.DefaultConfig())
//	ts := httptest.NewServer(srv)
//	// base URL: ts.URL, header x-api-key: DemoAPIKey
//
// It serves, under /api:
//
//   - X1 GET /api/exports/agents: a bare JSON array of every agent matching the filters, sorted
//     by id. Parameters combine with AND; start_date/updated_start_date are inclusive lower
//     bounds on created_at/updated_at, end_date/updated_end_date exclusive upper bounds;
//     end_date defaults to now. name matches first, last or full name and email the address,
//     both case-insensitively and for equality. Deactivated and deleted agents are included.
//   - A1 GET /api/agents (query, limit, offset, exclude[]), A2 GET /api/agents/{id} and
//     GET /api/agents/me (the agent the key belongs to, 404 when none).
//   - I1 POST /api/imports/users and its alias POST /api/ingestion/users: a multipart upload with
//     one part "file" (a .csv file name, content type text/csv) whose header row is exactly the
//     twelve columns of §7.2. A missing part or any other header row refuses the whole upload
//     with 400; otherwise the answer is 200 with per-row success and failure.
//
// # Choices where the contract leaves room
//
// Requests are checked in this order: the x-api-key header (401 {"error":"Unauthorized"}), the
// route (404), the method (405), a forced status (Force), the parameters or the upload (400).
//
//   - Timestamps in parameters must be exactly YYYY-MM-DDTHH:MM:SSZ; anything else is a 400.
//     limit must be 1..1000 and offset at least 0.
//   - Rows are checked one by one and a failing row changes nothing. A row must have 12 cells.
//     A row with a banker cell filled needs a Banker Email that is a plain address; a row with a
//     customer cell filled needs a CustomerMapID. A row with no cell filled fails.
//   - A banker row matches an agent by BankerMapID (external_id), else by Banker Email
//     (case-insensitive), and updates it; with no match it creates an agent. An email that
//     belongs to another agent than the one matched fails the row: emails are unique.
//   - Empty cells leave stored values alone; a non-empty BankerTeam sets the teams to exactly
//     that one name (trimmed). updated_at moves only when something changed. Import never touches
//     deactivated_at, deleted_at, roles or watcher_teams.
//   - Customers are stored by CustomerMapID and never exported: the synchronizer sends none.
//   - Request counts (Counts, Writes, GET /_sim/counts, POST /_sim/reset-counts) cover every /api
//     request whatever its outcome; /_sim requests are neither counted nor authenticated. Writes
//     counts uploads answered with 200; RowsReceived counts their data rows.
//   - An agent the import creates holds the role "agent"; roles are otherwise never written.
//   - There is no deactivation route. SetDeactivated and SetDeleted stand in for the Agent IQ UI.
//
// # Seed
//
// Config.Seed lists the starting agents (Agent, the X1 shape). Ids left at 0 are assigned in
// order; created_at and updated_at left zero take the clock's now.
package agentiqsim
