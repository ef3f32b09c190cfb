package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/sources/ldap/ldaptest"
)

var uuid = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of cmd/rostersync")

// mergeRig is the CLI rig over the three-source example of testdata/merge.
func mergeRig(t *testing.T) *rig {
	t.Helper()
	r := newRig(t)
	for _, name := range []string{"mapping.yaml", "ad.csv", "wfm.csv", "hr.csv"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "merge", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(r.dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *rig) edit(file, old, new string) {
	r.t.Helper()
	p := filepath.Join(r.dir, file)
	b, err := os.ReadFile(p)
	if err != nil {
		r.t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		r.t.Fatalf("%s has no %q", file, old)
	}
	if err := os.WriteFile(p, bytes.Replace(b, []byte(old), []byte(new), 1), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

// goldenSections compares got (section name → text) with the txtar file at
// path, or rewrites it with -update.
func goldenSections(t *testing.T, path string, names []string, got map[string]string) {
	t.Helper()
	if *updateGolden {
		a := &txtar.Archive{Comment: []byte("Plans and explain output of the three-source example (testdata/merge), step by step.\nRegenerate with: go test ./cmd/rostersync -run TestMergeGolden -update\n")}
		for _, n := range names {
			a.Files = append(a.Files, txtar.File{Name: n, Data: []byte(got[n])})
		}
		if err := os.WriteFile(path, txtar.Format(a), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	a, err := txtar.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, f := range a.Files {
		want[f.Name] = string(f.Data)
	}
	for _, n := range names {
		if d := cmp.Diff(want[n], got[n]); d != "" {
			t.Errorf("%s: section %s (-want +got):\n%s", path, n, d)
		}
	}
}

// TestMergeGolden runs the three-source example through plan, apply and
// explain: provenance on every change, a directory/WFM conflict settled by
// precedence, a WFM row that joins nobody, and an unreadable WFM export
// whose fields are left alone.
func TestMergeGolden(t *testing.T) {
	r := mergeRig(t)
	got := map[string]string{}
	var names []string
	step := func(name string, args ...string) {
		t.Helper()
		code := r.run(args...)
		if code != 0 && code != 2 {
			t.Fatalf("rostersync %s: exit %d\n%s\n%s", strings.Join(args, " "), code, r.stdout.String(), r.stderr.String())
		}
		got[name] = uuid.ReplaceAllString(strings.ReplaceAll(r.stdout.String(), r.dir, "$DIR"), "<platform id>")
		names = append(names, name)
	}
	step("plan-initial", "plan")
	r.mustRun("apply", "-yes")
	if p := r.planJSON(); !p.Empty() {
		t.Fatalf("after apply the plan is not empty: %+v", p.Summary)
	}

	// The WFM moves Ben to a new team, the directory renames Chloe and HR
	// corrects Grace's start date; Grace's site now comes from HR alone.
	r.edit("wfm.csv", "W-18,E1002,North,Leeds,Agent,inbound", "W-18,E1002,Escalations,Leeds,Agent,email")
	r.edit("ad.csv", "Chloe,Davies", "Chloe,Davies-Reid")
	r.edit("hr.csv", "E1004,2017-05-08", "E1004,2017-05-15")
	step("plan-changed", "plan")
	p := r.planJSON()
	from := map[string]string{}
	for _, o := range p.Ops {
		for f, s := range o.From {
			from[o.Name+" "+string(f)] = s
		}
	}
	for k, want := range map[string]string{
		"ben.carter@example.com team":         "wfm wfm.csv:3",
		"chloe.davies@example.com surname":    "ad ad.csv:4",
		"grace.hughes@example.com start_date": "hr hr.csv:5",
	} {
		if !strings.HasPrefix(from[k], want) && !strings.Contains(from[k], want) {
			t.Errorf("provenance of %s = %q, want %q", k, from[k], want)
		}
	}
	step("explain-ben", "explain", "ben.carter@example.com")

	// The WFM export is gone: the pass goes on, but nothing it feeds
	// changes, and nobody leaves a queue.
	if err := os.Remove(filepath.Join(r.dir, "wfm.csv")); err != nil {
		t.Fatal(err)
	}
	step("plan-wfm-unreadable", "plan")
	step("explain-chloe-wfm-unreadable", "explain", "chloe.davies@example.com")
	p = r.planJSON()
	for _, o := range p.Ops {
		for _, c := range o.Changes {
			if c.Field == reconcile.FieldTeam || o.Kind == reconcile.KindQueue {
				t.Errorf("with the WFM export unreadable the plan still changes %s of %s", c.Field, o.Name)
			}
		}
	}
	// Applying while the WFM export is unreadable writes the directory's
	// and HR's changes only; once it is back, Ben's move is still to do.
	r.mustRun("apply", "-yes")
	if strings.Contains(r.stderr.String(), "skipped") {
		t.Errorf("apply with the WFM export unreadable skipped an operation:\n%s", r.stderr.String())
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "merge", "wfm.csv"))
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("W-18,E1002,North,Leeds,Agent,inbound"), []byte("W-18,E1002,Escalations,Leeds,Agent,email"), 1)
	if err := os.WriteFile(filepath.Join(r.dir, "wfm.csv"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	step("plan-wfm-back", "plan")
	p = r.planJSON()
	var left []string
	for _, o := range p.Ops {
		left = append(left, o.Action.String()+" "+string(o.Kind)+" "+o.Name)
	}
	if want := []string{"create team Escalations", "update user ben.carter@example.com", "update queue Inbound Calls"}; !cmp.Equal(left, want) {
		t.Errorf("with the WFM export back the plan is %q, want %q", left, want)
	}
	goldenSections(t, filepath.Join("testdata", "merge.txtar"), names, got)
}

// TestMergeSickAuthority: with the directory's export short of its
// min_rows, the merged read is incomplete: a person gone from it is not
// deactivated, and the plan says why.
func TestMergeSickAuthority(t *testing.T) {
	r := mergeRig(t)
	r.mustRun("apply", "-yes")
	r.edit("ad.csv", "3f1c2a10-0004,E1004,gHughes,Grace.Hughes@Example.com,Grace,Hughes,Sales,512\n", "")
	gone := func(p *reconcile.Plan) (ready, suppressed int) {
		for _, o := range p.Ops {
			if o.Kind == reconcile.KindUser && o.Action == reconcile.ActionDeactivate && o.Name == "grace.hughes@example.com" {
				if o.Status == reconcile.StatusReady {
					ready++
				} else {
					suppressed++
				}
			}
		}
		return
	}
	if ready, _ := gone(r.planJSON()); ready != 1 {
		t.Fatalf("with the directory whole, Grace's departure is not a ready deactivation")
	}
	r.edit("mapping.yaml", "csv: {path: ad.csv, key: objectGUID}", "csv: {path: ad.csv, key: objectGUID, min_rows: 5}")
	if ready, suppressed := gone(r.planJSON()); ready != 0 || suppressed != 1 {
		t.Errorf("with the directory short, Grace's deactivation: %d ready, %d suppressed; want it suppressed", ready, suppressed)
	}
	r.mustRun("plan")
	if !strings.Contains(r.stdout.String(), "source ad") {
		t.Errorf("the plan does not say the directory was short:\n%s", r.stdout.String())
	}
}

// TestMergeCheck: check reads each joined source on its own, so a
// contributor that cannot be read fails it even though a pass would go on.
func TestMergeCheck(t *testing.T) {
	r := mergeRig(t)
	r.mustRun("check")
	for _, want := range []string{"ok   source ad (csv): 5 records", "ok   source wfm (csv): 5 records", "ok   source hr (csv): 5 records"} {
		if !strings.Contains(r.stdout.String(), want) {
			t.Errorf("check says\n%s\nwant a line %q", r.stdout.String(), want)
		}
	}
	r.edit("hr.csv", "E1002,2021-06-14", "E1002,\"2021-06-14")
	if code := r.run("check"); code != 1 || !strings.Contains(r.stdout.String(), "FAIL source hr (csv)") {
		t.Errorf("check with hr.csv broken: exit %d\n%s", code, r.stdout.String())
	}
}

// TestMergeLDAPAndCSV joins a real slapd (the authority) with a WFM CSV on
// employeeNumber: the plan names the DN of what came from the directory and
// the file and line of what came from the export.
func TestMergeLDAPAndCSV(t *testing.T) {
	s := ldaptest.StartSlapd(t, ldaptest.SlapdOptions{Users: 10, TeamSize: 5})
	r := ldapRig(t, s)
	wfm := "agent_id,employee_id,team,skills\nW-1,1,North Desk,inbound\nW-3,3,South Desk,email\nW-99,99,Nowhere,inbound\n"
	if err := os.WriteFile(filepath.Join(r.dir, "wfm.csv"), []byte(wfm), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`sources:
  - name: corp
    type: ldap
    ldap:
      url: %s
      bind_dn: %s
      bind_password_file: %s
      people: {base_dn: "%s"}
  - name: wfm
    type: csv
    csv: {path: wfm.csv, key: agent_id}
merge:
  authority: corp
  join: {corp: employeeNumber, wfm: employee_id}
mapping:
  computed:
    username: lowerAscii(corp.uid) + "@example.com"
    team: 'has(wfm.team) ? wfm.team : "Desk " + corp.departmentNumber'
  user: {username: username, email: mail, forename: givenName, surname: sn}
  roles: {default: [agent]}
  team: {attr: team}
  queues:
    - name: Inbound Calls
      when: {expr: 'has(wfm.skills) && wfm.skills == "inbound"'}
`, s.URL, s.ReaderDN, s.ReaderPasswordFile, s.PeopleDN)
	if err := os.WriteFile(filepath.Join(r.dir, "config.yaml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p := r.planJSON()
	from := map[string]string{}
	for _, o := range p.Ops {
		for f, src := range o.From {
			from[o.Name+" "+string(f)] = src
		}
	}
	for k, want := range map[string]string{
		"user000001@example.com team":     "computed team from wfm wfm.csv:2",
		"user000001@example.com surname":  "corp " + s.UserDN(1),
		"user000002@example.com team":     "computed team from corp " + s.UserDN(2),
		"user000003@example.com username": "computed username from corp " + s.UserDN(3),
	} {
		if !strings.EqualFold(from[k], want) {
			t.Errorf("%s from %q, want %q", k, from[k], want)
		}
	}
	var problems []string
	for _, pr := range p.Problems {
		problems = append(problems, pr.Origin+": "+pr.Message)
	}
	if want := `wfm wfm.csv:4: source wfm: joins nobody in corp on "99"`; len(problems) != 1 || !strings.HasPrefix(problems[0], want) {
		t.Errorf("problems %q, want one: %q", problems, want)
	}
	r.mustRun("apply", "-yes")
	// Converged, but the record that joins nobody is still unmappable:
	// exit 2 with nothing else to do.
	if code := r.run("plan", "-detailed-exitcode"); code != 2 || !strings.Contains(r.stdout.String(), "No changes") {
		t.Errorf("after apply: exit %d, want 2 (a problem pending) and no changes\n%s", code, r.stdout.String())
	}
}
