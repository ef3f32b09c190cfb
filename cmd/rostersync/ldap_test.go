package main

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rostersync/rostersync/reconcile/evaluagent/evaluagentsim"
	"github.com/rostersync/rostersync/sources/ldap/ldaptest"
)

// ldapRig points the CLI at a real slapd and a simulator whose rate limit
// is raised, so that a thousand creates do not take ten minutes.
func ldapRig(t *testing.T, s *ldaptest.Slapd) *rig {
	t.Helper()
	cfg := evaluagentsim.DefaultConfig()
	cfg.RatePerMinute = 100_000
	sim, err := evaluagentsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	dir := t.TempDir()
	conf := fmt.Sprintf(`sources:
  - name: corp
    type: ldap
    ldap:
      url: %s
      bind_dn: %s
      bind_password_file: %s
      people: {base_dn: "%s"}
      groups: {base_dn: "%s"}
mapping:
  user:
    username: uid
    email: mail
    forename: givenName
    surname: sn
    third_party_id: employeeNumber
  roles:
    default: [agent]
  team:
    group_pattern: "^team-(.+)$"
`, s.URL, s.ReaderDN, s.ReaderPasswordFile, s.PeopleDN, s.GroupsDN)
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(evaluagentsim.DemoKeySecret), 0o600); err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, sim: sim, url: ts.URL + "/v1", dir: dir, env: map[string]string{
		"ROSTERSYNC_MAPPING":                    filepath.Join(dir, "config.yaml"),
		"ROSTERSYNC_STATE_DIR":                  filepath.Join(dir, "state"),
		"ROSTERSYNC_EVALUAGENT_BASE_URL":        ts.URL + "/v1",
		"ROSTERSYNC_EVALUAGENT_KEY_ID":          evaluagentsim.DemoKeyID,
		"ROSTERSYNC_EVALUAGENT_KEY_SECRET_FILE": secret,
		"ROSTERSYNC_EVALUAGENT_RATE_PER_MINUTE": "100000",
		"ROSTERSYNC_LOG_FORMAT":                 "text",
	}}
}

// TestLDAPSourceEndToEnd: a thousand people and forty team groups on a real
// slapd are planned, applied and converge; a rename and a move on the server
// are updates of the same person, never a deactivation and a create.
func TestLDAPSourceEndToEnd(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{Users: 1000, TeamSize: 25})
	r := ldapRig(t, s)

	p := r.planJSON()
	if p.Summary.Create != 1000+40 || p.Summary.Changes() != 1040 {
		t.Fatalf("first plan %+v, want 1000 users and 40 teams created", p.Summary)
	}
	if r.sim.Writes() != 0 {
		t.Fatalf("plan wrote %d times", r.sim.Writes())
	}
	r.mustRun("apply", "-yes")
	if code := r.run("plan", "-detailed-exitcode"); code != 0 {
		t.Fatalf("second plan: exit %d, want 0\n%s", code, r.stdout.String())
	}

	// Rename user 5 (uid and cn) and move user 7 to another OU with a new
	// given name.
	admin := s.Admin(t)
	if err := admin.ModifyDN(goldap.NewModifyDNRequest(s.UserDN(5), "uid=renamed005", true, "")); err != nil {
		t.Fatal(err)
	}
	mod := goldap.NewModifyRequest("uid=renamed005,"+s.PeopleDN, nil)
	mod.Replace("cn", []string{"Renamed Person"})
	if err := admin.Modify(mod); err != nil {
		t.Fatal(err)
	}
	if err := admin.ModifyDN(goldap.NewModifyDNRequest(s.UserDN(7), "uid="+s.UID(7), true, "ou=sales,"+s.PeopleDN)); err != nil {
		t.Fatal(err)
	}
	mod = goldap.NewModifyRequest("uid="+s.UID(7)+",ou=sales,"+s.PeopleDN, nil)
	mod.Replace("givenName", []string{"Moved"})
	if err := admin.Modify(mod); err != nil {
		t.Fatal(err)
	}
	p = r.planJSON()
	if p.Summary.Create != 0 || p.Summary.Deactivate != 0 || p.Summary.Update != 2 {
		t.Fatalf("after a rename and a move: %+v, want exactly 2 updates\n%s", p.Summary, r.stdout.String())
	}
	var fields []string
	for _, op := range p.Ops {
		for _, c := range op.Changes {
			fields = append(fields, fmt.Sprintf("%s %s→%s", c.Field, c.Old, c.New))
		}
	}
	got := strings.Join(fields, "; ")
	if !strings.Contains(got, "username user000005→renamed005") || !strings.Contains(got, "→Moved") || len(fields) != 2 {
		t.Errorf("changes: %s", got)
	}
	r.mustRun("apply", "-yes")
	if code := r.run("plan", "-detailed-exitcode"); code != 0 {
		t.Fatalf("plan after applying the rename: exit %d\n%s", code, r.stdout.String())
	}

	// The directory goes away: the pass fails and nothing is planned.
	s.Stop()
	r.sim.ResetCounts()
	if code := r.run("plan"); code != 1 || !strings.Contains(r.stderr.String(), "corp") {
		t.Errorf("plan with slapd down: exit %d, stderr:\n%s", code, r.stderr.String())
	}
	if r.sim.Writes() != 0 {
		t.Errorf("a plan with the directory down wrote %d times", r.sim.Writes())
	}
}
