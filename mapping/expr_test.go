package mapping

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/sources"
)

func exprSpec() Spec {
	s := base()
	s.Vars = []string{"ldap", "wfm"}
	s.Computed = map[string]string{
		"username": `lowerAscii(ldap.mail)`,
		"login":    `ldap.givenName + "." + ldap.sn`,
		"team":     `has(wfm.team) ? wfm.team : ldap.department`,
	}
	s.User = UserSpec{Username: "username", Forename: "givenName", Surname: "sn"}
	s.Team = TeamSpec{Attr: "team"}
	s.Scope = []Condition{{Expr: `!has(ldap.status) || ldap.status != "disabled"`}}
	s.Queues = []QueueSpec{{Name: "Inbound", When: Condition{Expr: `"inbound" in record.skills.split(";")`}}}
	return s
}

func TestComputedFields(t *testing.T) {
	r, err := Compile(exprSpec())
	if err != nil {
		t.Fatal(err)
	}
	res := r.Map([]*sources.Snapshot{snap(
		rec("1", "mail", "Ann.Khan@Example.COM", "givenName", "Ann", "sn", "Khan", "department", "Support", "skills", "email;inbound"),
		rec("2", "mail", "Bob@Example.com", "givenName", "Bob", "sn", "Lee", "department", "Sales", "status", "disabled"),
		rec("3", "givenName", "Cat", "sn", "Ng", "department", "Sales"), // no mail: no username
	)})
	want := []reconcile.User{{
		Key: "1", ThirdPartyID: "1", Username: "ann.khan@example.com", Forename: "Ann", Surname: "Khan",
		Active: true, Roles: reconcile.NamesOf("agent"), Team: "Support", Queues: reconcile.NamesOf("Inbound"), Origin: "p.csv:1",
	}}
	if d := cmp.Diff(want, res.Desired.Users); d != "" {
		t.Errorf("users (-want +got):\n%s", d)
	}
	if res.OutOfScope != 1 {
		t.Errorf("out of scope = %d, want 1 (the disabled account)", res.OutOfScope)
	}
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Message, `no username: attribute "username" is empty`) {
		t.Errorf("problems = %v, want the missing username of 3", res.Problems)
	}

	ex := r.Explain(rec("1", "mail", "Ann.Khan@Example.COM", "givenName", "Ann", "sn", "Khan", "department", "Support"))
	wantComputed := []ComputedValue{
		{Name: "login", Expr: `ldap.givenName + "." + ldap.sn`, Inputs: []string{`ldap.givenName = "Ann"`, `ldap.sn = "Khan"`}, Result: "Ann.Khan"},
		{Name: "team", Expr: `has(wfm.team) ? wfm.team : ldap.department`, Inputs: []string{"wfm.team (absent)", `ldap.department = "Support"`}, Result: "Support"},
		{Name: "username", Expr: `lowerAscii(ldap.mail)`, Inputs: []string{`ldap.mail = "Ann.Khan@Example.COM"`}, Result: "ann.khan@example.com"},
	}
	if d := cmp.Diff(wantComputed, ex.Computed); d != "" {
		t.Errorf("explain computed (-want +got):\n%s", d)
	}
}

// TestCostLimit: an expression that would run away stops at the cost limit
// and is a problem for that person, who is neither mapped nor dropped
// from scope.
func TestCostLimit(t *testing.T) {
	s := base()
	s.Vars = []string{"hr"}
	s.Computed = map[string]string{
		"first": `hr.tags.split(",").map(a, hr.tags.split(",").map(b, a + b)).size() > 0 ? hr.first : ""`,
	}
	r, err := Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	small := person("1", "tags", "a,b,c")
	if ex := r.Explain(small); ex.User == nil || ex.User.Forename != "F1" {
		t.Fatalf("a cheap record: %+v", ex)
	}
	big := person("2", "tags", strings.Repeat("x,", 2000)+"x")
	res := r.Map([]*sources.Snapshot{snap(small, big)})
	if len(res.Desired.Users) != 1 || len(res.Problems) == 0 {
		t.Fatalf("users %d, problems %v; want 1 and the cost limit", len(res.Desired.Users), res.Problems)
	}
	if msg := res.Problems[0].Message; !strings.Contains(msg, "cost limit") || !strings.Contains(msg, `computed["first"]`) {
		t.Errorf("problem = %q, want the cost limit of computed[\"first\"]", msg)
	}
	if len(res.Desired.Incomplete) == 0 {
		t.Error("a person lost to the cost limit did not make the desired state incomplete")
	}

	// In a scope rule, a breach is a problem too, never out of scope.
	s = base()
	s.Vars = []string{"hr"}
	s.Scope = []Condition{{Expr: `hr.tags.split(",").map(a, hr.tags.split(",").map(b, a + b)).size() > 0`}}
	if r, err = Compile(s); err != nil {
		t.Fatal(err)
	}
	ex := r.Explain(big)
	if !ex.InScope || len(ex.Problems) != 1 || !strings.Contains(ex.Problems[0], "cost limit") {
		t.Errorf("scope breach: %+v", ex)
	}
}

func TestComputedProvenanceAndStaleness(t *testing.T) {
	r, err := Compile(exprSpec())
	if err != nil {
		t.Fatal(err)
	}
	merged := sources.Record{
		Key: "g1", Origin: "CN=Ann",
		Attrs: map[string][]string{
			"ldap.mail": {"Ann@X.com"}, "ldap.givenName": {"Ann"}, "ldap.sn": {"Khan"}, "ldap.department": {"Support"},
			"givenName": {"Ann"}, "sn": {"Khan"}, "mail": {"Ann@X.com"}, "department": {"Support"},
		},
		Provenance: map[string]string{"ldap.mail": "ldap CN=Ann", "ldap.department": "ldap CN=Ann", "sn": "ldap CN=Ann", "givenname": "ldap CN=Ann"},
		Stale:      map[string]string{"wfm.team": "source wfm: unreadable", "wfm.*": "source wfm: unreadable", "*": "source wfm: unreadable"},
	}
	ex := r.Explain(merged)
	if ex.User == nil {
		t.Fatalf("not mapped: %+v", ex)
	}
	want := map[reconcile.Field]FieldSource{
		reconcile.FieldUsername: {From: "computed username from ldap CN=Ann"},
		reconcile.FieldSurname:  {From: "ldap CN=Ann"},
		reconcile.FieldForename: {From: "ldap CN=Ann"},
		reconcile.FieldTeam:     {From: "computed team from ldap CN=Ann", Stale: "source wfm: unreadable"},
		FieldQueues:             {Stale: "source wfm: unreadable"},
	}
	if d := cmp.Diff(want, ex.Fields); d != "" {
		t.Errorf("fields (-want +got):\n%s", d)
	}
}
