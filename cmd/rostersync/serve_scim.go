package main

import (
	"net/http"

	"github.com/rostersync/rostersync/sources/scim"
)

// scimEndpoint returns the SCIM 2.0 endpoint to serve under /scim/v2/, with
// onChange called after every write an identity provider makes, or nil when
// the configuration has no SCIM source. onChange is the scheduler's Trigger:
// a push is reconciled a debounce later.
//
// The endpoint is built once, at start: a SIGHUP reload keeps serving it
// with the tokens it was started with (a new tokens file needs a restart).
func scimEndpoint(a *app, onChange func()) (http.Handler, error) {
	_, cfg, ok := a.file.SCIM()
	if !ok || a.scim == nil {
		return nil, nil
	}
	return scim.NewServer(*cfg, a.scim, scim.WithLogger(a.log.With("component", "scim")), scim.WithOnChange(onChange))
}
