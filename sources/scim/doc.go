// Package scim serves a SCIM 2.0 endpoint (RFC 7643, RFC 7644) that identity
// providers (Microsoft Entra ID, Okta, OneLogin, JumpCloud, Google Workspace)
// push Users and Groups to, and offers what they pushed to the reconciler as a
// sources.Source.
//
// The HTTP layer is github.com/elimity-com/scim, used as a router and
// validator. Everything it leaves to the application lives here: a store
// (Store: its own SQLite file scim.db, or the schema rostersync_scim of the
// PostgreSQL database that holds rostersync's state, shared by the hosts of
// a pair), filter evaluation as parameterised SQL
// on a whitelist, paging in a stable creation order, a PATCH applier that
// understands what the identity providers really send, and a middleware chain
// (auth, bodyLimit, normalise, rewriteFilter, rewriteBody, rewriteResponse)
// that works around the gaps of the pinned library commit (G1–G11 in the
// endpoint contract).
//
// The SCIM layer records desired state only; it never calls the QA platform.
// A deactivation (active false) or a DELETE becomes visible to the reconciler
// on its next pass, where the usual safety rules apply.
//
// # Wiring
//
// The daemon opens the store once (OpenStore(dir) creates dir/scim.db;
// OpenStoreURL opens it on PostgreSQL instead), mounts NewServer(cfg,
// store, WithLogger(l), WithOnChange(f)) at "/scim/v2/" behind TLS, and
// registers NewSource(name, store) with the other sources. f is called
// after every write that changed something; the daemon debounces reconcile
// passes on it. On PostgreSQL it also reads Store.Changes, which hears the
// writes of the other hosts. A CLI command such as plan may open the same
// store while the daemon runs.
//
// # Record attributes
//
// NewSource turns every stored User into a sources.Record whose Key is the
// SCIM id and whose Origin is "scim:Users/<id>". Attrs holds these names
// (single values unless noted; absent when the User has no such value):
//
//	userName          the SCIM userName
//	externalId        the identity provider's own id (not unique)
//	displayName, nickName, title, userType, locale, preferredLanguage, timezone
//	name.givenName, name.familyName, name.middleName, name.formatted
//	email             the primary email, else the work email, else the first
//	emails.work       the work email (likewise emails.home, emails.other, …
//	                  for every type present)
//	active            "true" or "false"
//	employeeNumber, department, division, costCenter, organization
//	                  from the enterprise extension, without the URN prefix
//	manager           the SCIM id of the manager (enterprise manager.value)
//	connection        the name of the IdP connection (token) that wrote the
//	                  User last
//
// Groups lists the SCIM Groups the User is a direct member of, as
// {Key: group id, Name: displayName}, sorted by Name then Key. The store is
// authoritative, so a Snapshot is always complete.
package scim
