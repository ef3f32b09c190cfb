package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestExpressionErrorsNameTheLine loads a file whose expressions do not
// type-check: every one is reported at its own line, at load.
func TestExpressionErrorsNameTheLine(t *testing.T) {
	path := writeConfig(t, `sources:
  - name: ldap
    type: csv
    csv: {path: people.csv, key: id}
mapping:
  computed:
    username: lowerAscii(ldp.mail)
    count: 'ldap.mail.size()'
    ok: 'ldap.givenName + "." + ldap.sn'
  user: {username: username, forename: givenName, surname: sn}
  scope:
    - {expr: 'ldap.status'}
    - {expr: 'has(ldap.status) && ldap.status == "active"'}
  roles: {default: [agent]}
  queues:
    - name: Inbound
      when: {expr: 'ldap.skills.contains(1)'}
`)
	f, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	err = f.Validate()
	if err == nil {
		t.Fatal("Validate accepted expressions that do not type-check")
	}
	got := strings.Split(strings.ReplaceAll(err.Error(), path, "FILE"), "\n")
	want := []string{
		`FILE:8: mapping.computed["count"]: "ldap.mail.size()" gives int, not string`,
		`FILE:7: mapping.computed["username"]: expression 1:12: undeclared reference to 'ldp' (in container '')`,
		`FILE:12: mapping.scope[0].expr: "ldap.status" gives string, not bool`,
		`FILE:17: mapping.queues[0].when.expr: expression 1:21: found no matching overload for 'contains' applied to 'string.(int)'`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("errors (-want +got):\n%s", d)
	}
}

// TestMergeFile checks the merge: block's validation and what each source
// is asked for: a contributor's CSV needs only its join column, and an
// expression's source.attribute goes to that source alone.
func TestMergeFile(t *testing.T) {
	path := writeConfig(t, `sources:
  - {name: ad, type: csv, csv: {path: ad.csv, key: guid}}
  - {name: wfm, type: csv, csv: {path: wfm.csv, key: agent_id}}
merge:
  authority: ad
  join: {ad: employeeID, wfm: employee_id, hr: emp_no}
  fields: {team: [wfm.team, ad.department]}
mapping:
  computed: {username: lowerAscii(ad.mail)}
  user: {username: username, forename: givenName, surname: sn}
  roles: {attr: qa_role, passthrough: true}
`)
	f, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	err = f.Validate()
	if err == nil || !strings.Contains(strings.ReplaceAll(err.Error(), path, "FILE"),
		`FILE:6: merge.join["hr"]: "hr" is not a configured source (sources: ad, wfm)`) {
		t.Fatalf("Validate = %v, want the unknown source in merge.join at line 6", err)
	}
	delete(f.Merge.Join, "hr")
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	wfm, err := f.CSV(1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(wfm.Required, []string{"employee_id"}) {
		t.Errorf("wfm requires %q, want only its join column", wfm.Required)
	}
	if got, want := f.sourceAttributes(0), []string{"department", "employeeID", "givenName", "mail", "qa_role", "sn"}; !slices.Equal(got, want) {
		t.Errorf("ad is asked for %q, want %q", got, want)
	}
	if got, want := f.sourceAttributes(1), []string{"employee_id", "givenName", "qa_role", "sn", "team"}; !slices.Equal(got, want) {
		t.Errorf("wfm is asked for %q, want %q", got, want)
	}
}
