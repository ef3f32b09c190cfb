package main

import (
	"context"
	"fmt"
	"os"

	"github.com/rostersync/rostersync/config"
	"github.com/rostersync/rostersync/sources/scim"
)

// The SCIM store follows the state's backend: the SQLite file in the state
// directory, or the PostgreSQL database of ROSTERSYNC_STATE_URL, where two
// hosts share it.

const (
	stateURLEnv          = config.EnvPrefix + "STATE_URL"
	statePasswordFileEnv = config.EnvPrefix + "STATE_PASSWORD_FILE"
	// statePasswordCredential is the password file's default name in
	// $CREDENTIALS_DIRECTORY.
	statePasswordCredential = "state-password"
)

// stateBackend returns the PostgreSQL URL of the state and its password
// (from ROSTERSYNC_STATE_PASSWORD_FILE, else the state-password
// credential, else none: the URL's own), or "" for SQLite.
func (a *app) stateBackend() (url, password string, err error) {
	url, _ = a.c.lookupEnv(stateURLEnv)
	if url == "" {
		return "", "", nil
	}
	path, _ := a.c.lookupEnv(statePasswordFileEnv)
	if path == "" {
		if p := a.env.Credential(statePasswordCredential); p != "" {
			if _, err := os.Stat(p); err == nil {
				path = p
			}
		}
	}
	if path == "" {
		return url, "", nil
	}
	password, err = config.ReadSecretWarn(path, a.log)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", statePasswordFileEnv, err)
	}
	return url, password, nil
}

// openSCIMStore opens the SCIM store on the state's backend.
func (a *app) openSCIMStore() (*scim.Store, error) {
	url, password, err := a.stateBackend()
	if err != nil {
		return nil, err
	}
	return scim.OpenStoreURL(context.Background(), a.env.StateDir, url, password)
}

// watchSCIM triggers a pass when the shared SCIM store changes on
// PostgreSQL, so that a push another host received reaches the host that
// runs passes. This process's own pushes trigger through the endpoint's
// onChange as well; two triggers within the debounce are one pass. On
// SQLite there is no other host and nothing to watch.
func (d *server) watchSCIM(ctx context.Context) {
	if d.scimStore == nil || d.scimStore.Backend() != "postgres" {
		return
	}
	for range d.scimStore.Changes(ctx) {
		d.sched.Trigger()
	}
}
