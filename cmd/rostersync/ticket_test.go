package main

import (
	"strings"
	"testing"
)

// TestMarkdownPlanIsAChangeTicket: 'plan -format markdown' heads the plan
// with what a reviewer approves from: the sources and their health, the
// safety settings and the time the apply needs.
func TestMarkdownPlanIsAChangeTicket(t *testing.T) {
	r := newRig(t)
	r.mustRun("plan", "-format", "markdown")
	md := r.stdout.String()
	for _, want := range []string{
		"# rostersync plan for evaluagent\n",
		"| Mode | sync |",
		"| Sources | hr (csv): 12 records, healthy |",
		"| Health | every source healthy: deactivations may be applied |",
		"| Safety | Removals are held for approval when a plan has more than 10 removals.<br>A person is deactivated after being missing from 1 healthy passes.",
		"| Time needed | about ",
		": 21 requests |",
		"| `+` | create | 20 |",
		"<summary><strong>+ Create</strong>: 9 teams, 11 users</summary>",
		"| `E1002` | user | ben.carter@example.com | Ben Carter<br>team `Leeds / Support / North`<br>roles agent |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the Markdown plan lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "forename") {
		t.Error("creates list every field")
	}
}
