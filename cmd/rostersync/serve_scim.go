package main

import "net/http"

// scimEndpoint returns the SCIM 2.0 endpoint to serve under /scim/v2/, with
// onChange called after every write an identity provider makes, or nil when
// the configuration has no SCIM source. onChange is the scheduler's Trigger:
// a push is reconciled a debounce later.
//
// The SCIM source is not part of this build yet; until it is, pushes reach
// the daemon through POST /trigger.
func scimEndpoint(_ *app, onChange func()) (http.Handler, error) {
	_ = onChange
	return nil, nil
}
