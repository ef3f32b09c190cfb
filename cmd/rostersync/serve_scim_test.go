package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rostersync/rostersync/sources/scim"
	"github.com/rostersync/rostersync/state/pgtest"
)

// TestServeHearsAPushToTheOtherHost: with the state on PostgreSQL, the SCIM
// store is shared; a push received by another host (here a second store
// and endpoint on the same database) triggers a pass on the serving one,
// which writes the user to the platform. The interval is an hour: only the
// push can have caused that pass.
func TestServeHearsAPushToTheOtherHost(t *testing.T) {
	srv := pgtest.Start(t)
	full := srv.Database(t)
	db := full[strings.LastIndex(full, "/")+1 : strings.Index(full, "?")]
	r := newRig(t)
	pwFile := filepath.Join(r.dir, "state-password")
	for name, body := range map[string]string{"mapping.yaml": scimConfig, "scim-tokens": "entra:entra-token\n", "state-password": pgtest.Password + "\n"} {
		if err := os.WriteFile(filepath.Join(r.dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d := startServe(t, r, map[string]string{
		"ROSTERSYNC_SERVE_MODE":          "apply",
		"ROSTERSYNC_DEBOUNCE":            "200ms",
		"ROSTERSYNC_INTERVAL":            "1h",
		"ROSTERSYNC_STATE_URL":           srv.URLWithout(db, false),
		"ROSTERSYNC_STATE_PASSWORD_FILE": pwFile,
	})
	d.waitLog(`msg="pass finished" kind=full result=ok`, 60*time.Second)

	other, err := scim.OpenStoreURL(context.Background(), t.TempDir(), full, "")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	start := time.Now()
	ada := scimPushAgent(t, scimTestEndpoint(t, r, other), "ada@contoso.com", "Ada", "Lovelace", "North")
	r.waitUser("ada@contoso.com", 60*time.Second)
	t.Logf("push to the other host to platform write: %s (debounce 200ms)", time.Since(start).Round(time.Millisecond))
	// The serving host's own endpoint reads the same store.
	if got := scimPush(t, d.base+"/scim/v2", "GET", "/Users/"+ada, ""); got["userName"] != "ada@contoso.com" {
		t.Errorf("the serving host does not see the push: %v", got)
	}
	d.signal(syscall.SIGTERM)
	if err := d.wait(30 * time.Second); err != nil {
		t.Fatalf("serve did not exit cleanly: %v", err)
	}
}

// TestPlanReadsTheSharedSCIMStore: a command (plan) opens the SCIM store on
// the state's PostgreSQL database too, with the password from its file; a
// password file that cannot be read is named.
func TestPlanReadsTheSharedSCIMStore(t *testing.T) {
	srv := pgtest.Start(t)
	full := srv.Database(t)
	db := full[strings.LastIndex(full, "/")+1 : strings.Index(full, "?")]
	r := newRig(t)
	for name, body := range map[string]string{"mapping.yaml": scimConfig, "scim-tokens": "entra:entra-token\n", "state-password": pgtest.Password + "\n"} {
		if err := os.WriteFile(filepath.Join(r.dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	store, err := scim.OpenStoreURL(context.Background(), "", full, "")
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	scimPushAgent(t, scimTestEndpoint(t, r, store), "grace@contoso.com", "Grace", "Hopper", "South")

	r.env["ROSTERSYNC_STATE_URL"] = srv.URLWithout(db, false)
	r.env["ROSTERSYNC_STATE_PASSWORD_FILE"] = filepath.Join(r.dir, "state-password")
	if p := r.planJSON(); p.Summary.Create != 2 {
		t.Fatalf("plan over the shared store: %+v, want Team South and grace created\n%s", p.Summary, r.stdout.String())
	}
	r.env["ROSTERSYNC_STATE_PASSWORD_FILE"] = filepath.Join(r.dir, "missing")
	if code := r.run("plan"); code == 0 || !strings.Contains(r.stderr.String(), "ROSTERSYNC_STATE_PASSWORD_FILE") {
		t.Errorf("missing password file: exit %d\n%s", code, r.stderr.String())
	}
}
