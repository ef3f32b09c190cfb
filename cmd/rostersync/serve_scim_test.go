package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
	h, err := scim.NewServer(scim.Config{TokensFile: filepath.Join(r.dir, "scim-tokens")}, other, scim.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", h)
	ts := httptest.NewServer(mux)
	defer ts.Close()
	base := ts.URL + "/scim/v2"
	ada := scimPush(t, base, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
 "userName":"ada@contoso.com","externalId":"e-ada","active":true,
 "emails":[{"primary":true,"type":"work","value":"ada@contoso.com"}],
 "name":{"familyName":"Lovelace","givenName":"Ada"}}`)["id"].(string)
	start := time.Now()
	scimPush(t, base, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
 "displayName":"Team North","members":[{"value":"`+ada+`"}]}`)
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
	h, err := scim.NewServer(scim.Config{TokensFile: filepath.Join(r.dir, "scim-tokens")}, store, scim.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", h)
	ts := httptest.NewServer(mux)
	defer ts.Close()
	grace := scimPush(t, ts.URL+"/scim/v2", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
 "userName":"grace@contoso.com","externalId":"e-grace","active":true,
 "emails":[{"primary":true,"type":"work","value":"grace@contoso.com"}],
 "name":{"familyName":"Hopper","givenName":"Grace"}}`)["id"].(string)
	scimPush(t, ts.URL+"/scim/v2", "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
 "displayName":"Team South","members":[{"value":"`+grace+`"}]}`)

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
