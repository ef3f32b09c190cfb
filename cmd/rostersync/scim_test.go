package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/sources/scim"
)

const scimConfig = `sources:
  - name: entra
    type: scim
    scim:
      tokens_file: scim-tokens
mapping:
  user:
    username: userName
    email: email
    forename: name.givenName
    surname: name.familyName
    third_party_id: externalId
    active: {attr: active, values: ["true"]}
  roles:
    default: [agent]
  team:
    group_pattern: "^Team (.+)$"
`

// scimPush sends one request to the SCIM endpoint as an identity provider.
func scimPush(t *testing.T, base, method, path, body string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer entra-token")
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	var out map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return out
}

// scimTestEndpoint serves store as the SCIM endpoint with the rig's
// scim-tokens file, as another host (or a daemon) would, and returns its
// base URL; it stops when t ends.
func scimTestEndpoint(t *testing.T, r *rig, store *scim.Store) string {
	t.Helper()
	h, err := scim.NewServer(scim.Config{TokensFile: filepath.Join(r.dir, "scim-tokens")}, store, scim.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", h)
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts.URL + "/scim/v2"
}

// scimPushAgent pushes, as Entra does, one active user (email, given and
// family name, externalId "e-" + the email's local part) and then the group
// "Team <team>" holding them; it returns the user's id.
func scimPushAgent(t *testing.T, base, email, given, family, team string) string {
	t.Helper()
	local := email[:strings.IndexByte(email, '@')]
	id := scimPush(t, base, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
 "userName":"`+email+`","externalId":"e-`+local+`","active":true,
 "emails":[{"primary":true,"type":"work","value":"`+email+`"}],
 "name":{"familyName":"`+family+`","givenName":"`+given+`"}}`)["id"].(string)
	scimPush(t, base, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
 "displayName":"Team `+team+`","members":[{"value":"`+id+`"}]}`)
	return id
}

// TestSCIMPushToPlatform: what Entra pushes (a create, a group with members,
// a membership change, a deactivation) becomes plans on the platform, and
// each apply converges.
func TestSCIMPushToPlatform(t *testing.T) {
	r := newRig(t)
	if err := os.WriteFile(filepath.Join(r.dir, "mapping.yaml"), []byte(scimConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.dir, "scim-tokens"), []byte("entra:entra-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stateDir := r.env["ROSTERSYNC_STATE_DIR"]
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	store, err := scim.OpenStore(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	base := scimTestEndpoint(t, r, store)

	user := func(name, given, ext string) string {
		return `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
 "externalId":"` + ext + `","userName":"` + name + `","active":true,
 "emails":[{"primary":true,"type":"work","value":"` + name + `"}],
 "name":{"formatted":"` + given + ` Tester","familyName":"Tester","givenName":"` + given + `"},
 "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Support"}}`
	}
	ada := scimPush(t, base, "POST", "/Users", user("ada@contoso.com", "Ada", "e-ada"))["id"].(string)
	bob := scimPush(t, base, "POST", "/Users", user("bob@contoso.com", "Bob", "e-bob"))["id"].(string)
	group := scimPush(t, base, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
 "displayName":"Team North","members":[{"value":"`+ada+`"}]}`)["id"].(string)
	scimPush(t, base, "PATCH", "/Groups/"+group, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
 "Operations":[{"op":"Add","path":"members","value":[{"value":"`+bob+`"}]}]}`)

	p := r.planJSON()
	if p.Summary.Create != 3 || p.Summary.Changes() != 3 {
		t.Fatalf("after the pushes: %+v, want a team and two agents created\n%s", p.Summary, r.stdout.String())
	}
	r.mustRun("apply", "-yes")
	if code := r.run("plan", "-detailed-exitcode"); code != 0 {
		t.Fatalf("second plan: exit %d\n%s", code, r.stdout.String())
	}

	// Entra deactivates Ada the way it does without the RFC flag: a string boolean.
	scimPush(t, base, "PATCH", "/Users/"+ada, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
 "Operations":[{"op":"Replace","path":"active","value":"False"}]}`)
	p = r.planJSON()
	var deactivated []string
	for _, op := range p.Ops {
		if op.Action == reconcile.ActionDeactivate && op.Kind == reconcile.KindUser {
			deactivated = append(deactivated, op.Name)
		}
	}
	if len(deactivated) != 1 || deactivated[0] != "ada@contoso.com" || p.Summary.Changes() != 1 {
		t.Fatalf("after the deactivation: %+v %v\n%s", p.Summary, deactivated, r.stdout.String())
	}
	r.mustRun("apply", "-yes")
	if code := r.run("plan", "-detailed-exitcode"); code != 0 {
		t.Fatalf("plan after the deactivation: exit %d\n%s", code, r.stdout.String())
	}
	for _, u := range r.sim.Users() {
		if u.Username == "ada@contoso.com" && u.Active {
			t.Error("Ada is still active on the platform")
		}
	}
}
