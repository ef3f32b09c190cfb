package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDemoFlex runs the Flex demo through the CLI: adoption with Insights
// attributes, a reorganisation written as minimal attribute changes, a
// leaver reported (nothing sent) and then deprovisioned, and an empty plan
// after every apply.
func TestDemoFlex(t *testing.T) {
	r := newRig(t)
	r.mustRun("demo", "-scenario", "flex", "-testdata", filepath.Join("..", "..", "testdata"))
	out := r.stdout.String()
	for _, want := range []string{
		"Apply complete for flex: 11 applied",
		`attributes.team_name: "North (set by hand)" → "North"`,
		`attributes.manager: "Amira Khan" → "Daniel Evans"`,
		`attributes.team_name_in_hierarchy: "Leeds ▸ Sales ▸ Outbound" → "Glasgow ▸ Retentions ▸ Saves"`,
		"Harry's worker now: team_name_in_hierarchy=Glasgow ▸ Retentions ▸ Saves, department_name=Retentions, location=Glasgow, manager=Isla Johnston, channel.voice.capacity=1",
		`deactivation is turned off (deprovision: report)`,
		"Apply complete for flex: 0 applied, 0 failed, 0 skipped, 1 not applicable.",
		"ben.carter@example.com is deactivated in Flex",
		"Insights QM calls: 0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	for _, step := range []string{"== 1.", "== 2.", "== 4."} {
		i := strings.Index(out, step)
		rest := out[i:]
		end := strings.Index(rest[1:], "\n== ")
		if end < 0 {
			end = len(rest) - 1
		}
		again := rest[strings.Index(rest, "-- plan again:"):end]
		if strings.Count(again, "No changes.") != 2 {
			t.Errorf("after step %s the plan is not empty for both platforms:\n%s", step, again)
		}
	}
	if !strings.Contains(out, `note: audit: Flex user "contractor@example.com" (roles agent) is known to no source`) {
		t.Error("the audit does not name the Flex user no source knows")
	}
	if regexp.MustCompile(`(create|update|adopt|deactivate) user "contractor@`).MatchString(out) {
		t.Error("an operation was planned for the Flex user no source knows")
	}
	if !strings.Contains(out, `note: audit: "liam.macleod@example.com" has Insights roles []; the directory's QA roles call for [wfo.quality_manager]`) {
		t.Error("the audit does not report the missing Insights role")
	}
}
