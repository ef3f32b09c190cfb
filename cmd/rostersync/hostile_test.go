package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUnboundedReadsRefused: a CSV path, the configuration file or a secret
// pointing at /dev/zero (which never ends) or at a file over its limit is
// refused with an error naming it, instead of reading until memory runs out.
func TestUnboundedReadsRefused(t *testing.T) {
	t.Run("csv /dev/zero", func(t *testing.T) {
		r := newRig(t)
		r.editMapping("path: people.csv", "path: /dev/zero")
		if code := r.run("plan"); code != 1 || !strings.Contains(r.stderr.String(), "/dev/zero: not a regular file (it is a character device)") {
			t.Fatalf("exit %d\n%s", code, r.stderr.String())
		}
	})
	t.Run("csv over max_bytes", func(t *testing.T) {
		r := newRig(t)
		r.editMapping("min_rows: 10", "min_rows: 10\n      max_bytes: 100")
		if code := r.run("plan"); code != 1 || !strings.Contains(r.stderr.String(), "over the limit of 100") ||
			!strings.Contains(r.stderr.String(), "raise csv.max_bytes") {
			t.Fatalf("exit %d\n%s", code, r.stderr.String())
		}
		r.editMapping("max_bytes: 100", "max_bytes: -1")
		if code := r.run("plan"); code != 1 || !strings.Contains(r.stderr.String(), "mapping.yaml:9: sources[0].csv.max_bytes: -1 is negative") {
			t.Fatalf("exit %d\n%s", code, r.stderr.String())
		}
	})
	t.Run("secret /dev/zero", func(t *testing.T) {
		r := newRig(t)
		r.env["ROSTERSYNC_EVALUAGENT_KEY_SECRET_FILE"] = "/dev/zero"
		if code := r.run("plan"); code != 1 || !strings.Contains(r.stderr.String(), "/dev/zero: not a regular file") {
			t.Fatalf("exit %d\n%s", code, r.stderr.String())
		}
	})
	t.Run("mapping /dev/zero", func(t *testing.T) {
		r := newRig(t)
		r.env["ROSTERSYNC_MAPPING"] = "/dev/zero"
		if code := r.run("plan"); code != 1 || !strings.Contains(r.stderr.String(), "/dev/zero: not a regular file") {
			t.Fatalf("exit %d\n%s", code, r.stderr.String())
		}
	})
	t.Run("secret too large", func(t *testing.T) {
		r := newRig(t)
		big := filepath.Join(r.dir, "big-secret")
		if err := os.WriteFile(big, []byte(strings.Repeat("x", 1<<20)), 0o600); err != nil {
			t.Fatal(err)
		}
		r.env["ROSTERSYNC_EVALUAGENT_KEY_SECRET_FILE"] = big
		if code := r.run("plan"); code != 1 || !strings.Contains(r.stderr.String(), "big-secret: file too large: 1048576 bytes, over the limit of 65536") {
			t.Fatalf("exit %d\n%s", code, r.stderr.String())
		}
	})
}

// TestLooseSecretWarns: a secret file the group or others may read works,
// with a warning that names it.
func TestLooseSecretWarns(t *testing.T) {
	r := newRig(t)
	secret := r.env["ROSTERSYNC_EVALUAGENT_KEY_SECRET_FILE"]
	r.mustRun("plan")
	if strings.Contains(r.stderr.String(), "readable by group or others") {
		t.Fatalf("0600 secret warned about:\n%s", r.stderr.String())
	}
	if err := os.Chmod(secret, 0o644); err != nil {
		t.Fatal(err)
	}
	r.mustRun("plan")
	if !strings.Contains(r.stderr.String(), "secret file is readable by group or others") ||
		!strings.Contains(r.stderr.String(), secret) || !strings.Contains(r.stderr.String(), "0644") {
		t.Fatalf("no warning naming the file:\n%s", r.stderr.String())
	}
}

// TestNaNGuardsRefused: NaN once switched the safety guards off; now any
// command refuses it, naming every bad variable at once.
func TestNaNGuardsRefused(t *testing.T) {
	r := newRig(t)
	r.env["ROSTERSYNC_MAX_DROP"] = "NaN"
	r.env["ROSTERSYNC_HOLD_DEACTIVATIONS_PERCENT"] = "NaN"
	r.env["ROSTERSYNC_ABSENT_PASSES"] = "lots"
	for _, args := range [][]string{{"plan"}, {"apply", "-yes"}} {
		code := r.run(args...)
		out := r.stderr.String()
		if code != 1 || !strings.Contains(out, `ROSTERSYNC_ABSENT_PASSES: "lots" is not a whole number`) {
			t.Errorf("%s: exit %d\n%s", args[0], code, out)
		}
	}
	// A variable that does not parse and a problem in the file: both are
	// reported in one run, by plan and by check.
	r.editMapping("min_rows: 10", "min_rows: -3")
	for _, cmd := range []string{"plan", "check"} {
		code := r.run(cmd)
		out := r.stderr.String() + r.stdout.String()
		if code != 1 || !strings.Contains(out, `ROSTERSYNC_ABSENT_PASSES: "lots" is not a whole number`) ||
			!strings.Contains(out, "mapping.yaml:8: sources[0].csv.min_rows: -3 is negative") {
			t.Errorf("%s with an unparsable variable and a bad file: exit %d\n%s", cmd, code, out)
		}
	}
	// Once every variable parses, the environment's and the file's problems
	// are reported together.
	r.env["ROSTERSYNC_ABSENT_PASSES"] = "0"
	if code := r.run("plan"); code != 1 || !strings.Contains(r.stderr.String(), "ROSTERSYNC_ABSENT_PASSES: 0") ||
		!strings.Contains(r.stderr.String(), "mapping.yaml:8: sources[0].csv.min_rows: -3 is negative") {
		t.Errorf("environment and file together: exit %d\n%s", code, r.stderr.String())
	}
	for _, args := range [][]string{{"plan"}, {"apply", "-yes"}} {
		cmd := args[0]
		code := r.run(args...)
		out := r.stderr.String()
		if code != 1 || !strings.Contains(out, "ROSTERSYNC_MAX_DROP: NaN") ||
			!strings.Contains(out, "ROSTERSYNC_HOLD_DEACTIVATIONS_PERCENT: NaN") {
			t.Errorf("%s: exit %d\n%s", cmd, code, out)
		}
	}
	if w := r.sim.Writes(); w != 0 {
		t.Errorf("%d writes to the platform", w)
	}
}

// TestProblemsListedInEveryFormat: people the mapping cannot map (one email
// twice, an empty forename) and values the platform would refuse (an email
// that is not an address, a 300-character surname, a role it does not have)
// are listed as problems with their source line in text, JSON and Markdown;
// nothing is sent for them, so no request fails on every pass.
func TestProblemsListedInEveryFormat(t *testing.T) {
	r := newRig(t)
	// JSON of a clean plan: the list is there, empty.
	r.mustRun("plan", "-format", "json")
	if !strings.Contains(r.stdout.String(), `"problems": []`) {
		t.Fatalf("clean plan: no empty problems list\n%s", r.stdout.String())
	}
	r.editMapping("username: email", "username: employee_id")
	r.editMapping("Quality Analyst: quality_analyst", "Quality Analyst: quality_analyst\n      Janitor: janitor")
	csvPath := filepath.Join(r.dir, "people.csv")
	b, err := os.ReadFile(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	first := strings.Count(string(b), "\n") + 1 // the line of the first added row
	rows := []struct{ row, key, want string }{
		{"E2001,Dup,Email,amira.khan@example.com,2024-01-01,active,Agent,Leeds,Support,North", "E2001", `email "amira.khan@example.com" is already used by E1001`},
		{"E2002,,Noname,noname@example.com,2024-01-01,active,Agent,Leeds,Support,North", "E2002", `no forename: attribute "first_name" is empty`},
		{"E2003,Bad,Email,not an email,2024-01-01,active,Agent,Leeds,Support,North", "E2003", `email "not an email" is not an address`},
		{"E2004,Long," + strings.Repeat("s", 300) + ",long@example.com,2024-01-01,active,Agent,Leeds,Support,North", "E2004", "surname of \"E2004\" has 300 characters; at most 255 are sent"},
		{"E2005,Role,Less,janitor@example.com,2024-01-01,active,Janitor,Leeds,Support,North", "E2005", `role "janitor" of "E2005" does not exist on`},
	}
	for _, row := range rows {
		r.addRow(row.row)
	}
	p := r.planJSON()
	for i, row := range rows {
		line := fmt.Sprintf("people.csv:%d", first+i)
		found := false
		for _, pr := range p.Problems {
			if pr.Key == row.key && strings.HasSuffix(pr.Origin, line) && strings.Contains(pr.Message, row.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no problem at %s saying %q in %+v", row.key, line, row.want, p.Problems)
		}
		for _, op := range p.Ops {
			if op.Key == row.key {
				t.Errorf("%s: planned %s", row.key, op.Action)
			}
		}
	}
	for _, format := range []string{"text", "markdown"} {
		r.mustRun("plan", "-format", format)
		for i, row := range rows {
			if !strings.Contains(r.stdout.String(), fmt.Sprintf("people.csv:%d", first+i)) || !strings.Contains(r.stdout.String(), row.key) {
				t.Errorf("%s plan: no problem for %s at line %d\n%s", format, row.key, first+i, r.stdout.String())
			}
		}
	}
	r.mustRun("apply", "-yes")
	if !strings.Contains(r.stdout.String(), " 0 failed") {
		t.Fatalf("apply: %s", r.stdout.String())
	}
	for _, u := range r.sim.Users() {
		if strings.HasPrefix(u.Username, "E20") {
			t.Errorf("%s was sent to the platform", u.Username)
		}
	}
}

// TestPlanCannotBeMadeToLie: a CSV whose values hold a line break and a
// forged operation, terminal escapes, a right-to-left override and HTML
// renders them escaped: the text plan gains no line, the Markdown plan no
// markup.
func TestPlanCannotBeMadeToLie(t *testing.T) {
	r := newRig(t)
	forged := "\n  - deactivate user \"\"ceo@example.com\"\"\n      reason: no longer in source"
	r.addRow(`E3001,"<script>alert(1)</script>","Evil` + "\x1b[2K\r\u202e" + `",evil@example.com,2024-01-01,active,Agent,Leeds,Support,"North` + forged + `"`)
	r.mustRun("plan")
	text := r.stdout.String()
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimLeft(l, " "), "- deactivate") {
			t.Fatalf("forged line in the text plan: %q\n%s", l, text)
		}
	}
	for _, bad := range []string{"\x1b", "\r", "\u202e"} {
		if strings.Contains(text, bad) {
			t.Fatalf("text plan holds %q:\n%s", bad, text)
		}
	}
	if !strings.Contains(text, `North\n  - deactivate user \"ceo@example.com\"`) || !strings.Contains(text, `Evil\x1b[2K\r\u202e`) {
		t.Fatalf("values not shown escaped:\n%s", text)
	}
	r.mustRun("plan", "-format", "markdown")
	md := r.stdout.String()
	if strings.Contains(md, "<script") || !strings.Contains(md, "&lt;script&gt;") {
		t.Fatalf("markdown plan passes HTML:\n%s", md)
	}
}
