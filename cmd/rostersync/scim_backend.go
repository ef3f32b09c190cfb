package main

import (
	"context"

	"github.com/rostersync/rostersync/sources/scim"
	"github.com/rostersync/rostersync/state"
)

// The SCIM store follows the state's backend: the SQLite file in the state
// directory, or the PostgreSQL database of ROSTERSYNC_STATE_URL, where two
// hosts share it.

// openSCIMStore opens the SCIM store on the state's backend.
func (a *app) openSCIMStore() (*scim.Store, error) {
	var password string
	if a.env.StatePostgres() {
		var err error
		if password, err = a.env.StatePassword(a.log); err != nil {
			return nil, err
		}
	}
	return scim.OpenStoreURL(context.Background(), a.env.StateDir, a.env.StateURL, password)
}

// watchSCIM triggers a pass when the shared SCIM store changes on
// PostgreSQL, so that a push another host received reaches the host that
// runs passes. This process's own pushes trigger through the endpoint's
// onChange as well; two triggers within the debounce are one pass. On
// SQLite there is no other host and nothing to watch.
func (d *server) watchSCIM(ctx context.Context) {
	if d.scimStore == nil || d.scimStore.Backend() != state.BackendPostgres {
		return
	}
	for range d.scimStore.Changes(ctx) {
		d.sched.Trigger()
	}
}
