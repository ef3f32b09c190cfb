package ticket

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"

	"github.com/rostersync/rostersync/reconcile"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func samplePlan() *reconcile.Plan {
	p := &reconcile.Plan{Target: "evaluagent", CreatedAt: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	p.Ops = []reconcile.Op{
		{Action: reconcile.ActionCreate, Kind: reconcile.KindTeam, Key: "Leeds / Support / North", Name: "North",
			Team: &reconcile.Team{Name: "North", Parent: "Leeds / Support", Level: "Team"}, Reason: "new in source"},
		{Action: reconcile.ActionCreate, Kind: reconcile.KindUser, Key: "E2001", Name: "nadia.osei@example.com",
			User:   &reconcile.User{Username: "nadia.osei@example.com", Email: "nadia.osei@example.com", Team: "Leeds / Support / North", Roles: reconcile.NamesOf("agent")},
			Reason: "new in source (people.csv:14)"},
		{Action: reconcile.ActionUpdate, Kind: reconcile.KindUser, Key: "E1005", Name: "ella.fraser@example.com",
			Changes: []reconcile.Change{{Field: "team", Old: "South", New: "North"}}, Reason: "changed in source (people.csv:6)"},
		{Action: reconcile.ActionUpdate, Kind: reconcile.KindQueue, Key: "Inbound Calls", Name: "Inbound Calls",
			Add: []string{"E2001"}, Remove: []string{"E1006"}, Reason: "queue rules changed membership"},
		{Action: reconcile.ActionDeactivate, Kind: reconcile.KindUser, Key: "E1006", Name: "finn.gallagher@example.com",
			Changes: []reconcile.Change{{Field: "active", Old: "true", New: "false"}}, Status: reconcile.StatusHeld,
			Reason: "no longer in source; held for approval: 12 removals in one plan, more than 10"},
		{Action: reconcile.ActionDeactivate, Kind: reconcile.KindUser, Key: "E1007", Name: "grace|hughes@example.com",
			Status: reconcile.StatusSuppressed, Reason: "no longer in source; not applied: source hr is incomplete"},
	}
	p.Ops = append(p.Ops, reconcile.Op{Action: reconcile.ActionDeactivate, Kind: reconcile.KindTeam, Key: "Leeds / Support / East", Name: "East",
		Status: reconcile.StatusWaiting, Needs: []string{reconcile.OpID(&p.Ops[5])},
		Reason: `no longer in source; waits for deactivate user "grace|hughes@example.com" (suppressed)`})
	p.Summary = reconcile.Summary{Create: 2, Update: 2, Held: 1, Suppressed: 1, Waiting: 1, Unchanged: 30}
	p.Notes = []string{"1 operation(s) newly held for approval"}
	p.Problems = []reconcile.Problem{{Kind: reconcile.KindUser, Key: "E3000", Message: "agent has no team"}}
	return p
}

func sampleHeader() Header {
	last := 120
	return Header{
		Mode: "sync",
		Sources: []Source{
			{Name: "hr", Type: "csv", Records: 14, Complete: true, Healthy: true},
			{Name: "corp", Type: "ldap", Records: 80, Complete: true, Healthy: false, LastHealthy: &last},
		},
		Safety:     []string{"Removals are held for approval when a plan has more than 10 removals."},
		TimeNeeded: "about 3s: 6 requests",
	}
}

func TestTicketGolden(t *testing.T) {
	var got bytes.Buffer
	if err := Render(&got, samplePlan(), sampleHeader()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "ticket.txtar")
	if *update {
		a := &txtar.Archive{Comment: []byte("The change ticket of a small plan: go test ./cmd/rostersync/internal/ticket -update rewrites it.\n"),
			Files: []txtar.File{{Name: "ticket.md", Data: got.Bytes()}}}
		if err := os.WriteFile(path, txtar.Format(a), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	a, err := txtar.ParseFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(a.Files[0].Data), got.String()); diff != "" {
		t.Errorf("ticket differs from %s (-want +got):\n%s", path, diff)
	}
}

func TestTicketContents(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, samplePlan(), sampleHeader()); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{
		"| Sources | hr (csv): 14 records, healthy<br>corp (ldap): 80 records, **unhealthy**: down from 120 at the last healthy read |",
		"**not every source is healthy: no deactivations or removals are applied**",
		"| Time needed | about 3s: 6 requests |",
		"<details open>\n<summary><strong>! Held for approval</strong>: 1 user</summary>",
		"<summary><strong>+ Create</strong>: 1 team, 1 user</summary>",
		"| `E1005` | user | ella.fraser@example.com | team: South → North<br><em>changed in source (people.csv:6)</em> |",
		`grace\|hughes@example.com`, "joining: E2001<br>leaving: E1006",
		"| `Leeds / Support / East` | team | East | after: deactivate user grace\\|hughes@example.com<br><em>no longer in source; waits for",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the ticket lacks %q:\n%s", want, s)
		}
	}
}

func TestTicketValuesAreInert(t *testing.T) {
	p := &reconcile.Plan{Target: "evaluagent", Ops: []reconcile.Op{{Action: reconcile.ActionCreate, Kind: reconcile.KindUser,
		Key: "E3|001\x1b", Name: "evil@example.com",
		User: &reconcile.User{Forename: "<script>alert(1)</script>", Surname: "Evil\x1b[2K\r\u202e", Team: "North\n  - deactivate"}}}}
	var b bytes.Buffer
	if err := Render(&b, p, Header{}); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, bad := range []string{"<script", "\x1b", "\r", "\u202e", "\n  - deactivate"} {
		if strings.Contains(s, bad) {
			t.Errorf("the ticket holds %q:\n%s", bad, s)
		}
	}
	for _, want := range []string{"&lt;script&gt;", `Evil\u001b[2K\u000d\u202e`, "`E3\\|001\\u001b`", `North\n  - deactivate`} {
		if !strings.Contains(s, want) {
			t.Errorf("the ticket lacks %q:\n%s", want, s)
		}
	}
}

// TestTicketStaysSmall: 331 creates make a ticket a reviewer can read, a
// row each with the key, not every field of every new user.
func TestTicketStaysSmall(t *testing.T) {
	p := &reconcile.Plan{Target: "evaluagent", CreatedAt: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	for i := range 331 {
		u := fmt.Sprintf("agent%03d@example.com", i)
		p.Ops = append(p.Ops, reconcile.Op{Action: reconcile.ActionCreate, Kind: reconcile.KindUser, Key: fmt.Sprintf("E%05d", i), Name: u,
			User: &reconcile.User{Username: u, Email: u, Forename: "A", Surname: "B", StartDate: 20260101, Team: "Leeds / Support / North", Roles: reconcile.NamesOf("agent")},
			Changes: []reconcile.Change{{Field: "username", New: u}, {Field: "email", New: u}, {Field: "forename", New: "A"}, {Field: "surname", New: "B"},
				{Field: "start_date", New: "2026-01-01"}, {Field: "roles", New: "agent"}, {Field: "team", New: "North"}},
			Reason: fmt.Sprintf("new in source (people.csv:%d)", i+2)})
	}
	p.Summary.Create = 331
	var b bytes.Buffer
	if err := Render(&b, p, sampleHeader()); err != nil {
		t.Fatal(err)
	}
	t.Logf("331 creates: %d bytes", b.Len())
	if per := b.Len() / 331; per > 120 {
		t.Errorf("%d bytes per create; a row should carry the key, the name, the team and the roles, not every field", per)
	}
	if n := strings.Count(b.String(), "| `E"); n != 331 {
		t.Errorf("%d rows with a key, want 331", n)
	}
}
