package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The benchmark command, run as a user runs it on a small directory, prints its table: every
// row measured, each with the baseline the same run measured beside it.
func TestBenchPrintsItsTable(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs rostersync")
	}
	dir := t.TempDir()
	build := func(name string) string {
		bin := filepath.Join(dir, name)
		out, err := exec.Command("go", "build", "-o", bin, "github.com/rostersync/rostersync/cmd/"+name).CombinedOutput()
		if err != nil {
			t.Fatalf("go build %s: %v\n%s", name, err, out)
		}
		return bin
	}
	rs, bench := build("rostersync"), build("rostersync-bench")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bench, "-bin", rs, "-base", rs, "-base-adopt-max", "300", "-sizes", "300", "-runs", "1", "-skip", "ldap,scim,scim-daemon")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("rostersync-bench: %v\n%s", err, stderr.String())
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(stdout.String(), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows[cells[0]] = cells[1:]
	}
	for measure, baseline := range map[string]string{
		"Diff (in process)":            "(map-join)",
		"simulator seeding":            "",
		"adopt existing users (apply)": "(base build)",
		"plan, 1% drift: wall":         "(base build)",
		"plan, 1% drift: peak RSS":     "(base build)",
	} {
		r, ok := rows[measure]
		switch {
		case !ok:
			t.Errorf("no %q row in\n%s", measure, stdout.String())
		case r[0] != "300" || r[1] == "" || r[1] == "—":
			t.Errorf("%q: people %q, value %q; want 300 and a value", measure, r[0], r[1])
		case baseline != "" && !strings.HasSuffix(r[2], baseline):
			t.Errorf("%q: baseline %q, want one %s", measure, r[2], baseline)
		case baseline != "":
			if x, err := strconv.ParseFloat(strings.TrimSuffix(r[3], "×"), 64); err != nil || x <= 0 {
				t.Errorf("%q: ratio %q is not a ratio", measure, r[3])
			}
		}
	}
}
