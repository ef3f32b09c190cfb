package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The benchmark command, run as a user runs it on two small directories, prints its table: every
// row measured at each size, each with the baseline the same run measured beside it, and the
// larger size's plan against the smaller's in paired runs.
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
	cmd := exec.Command(bench, "-bin", rs, "-base", rs, "-base-adopt-max", "600", "-sizes", "300,600", "-runs", "1", "-skip", "ldap,scim,scim-daemon")
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
		rows[cells[0]+" @"+cells[1]] = cells[1:]
	}
	type want struct{ people, baseline string }
	checks := map[string]want{
		"plan, 1% drift: wall, × the 300 run (paired runs) @600":     {"600", "2× the people"},
		"plan, 1% drift: peak RSS, × the 300 run (paired runs) @600": {"600", "2× the people"},
	}
	for _, n := range []string{"300", "600"} {
		for measure, baseline := range map[string]string{
			"Diff (in process)":            "(map-join)",
			"simulator seeding":            "",
			"adopt existing users (apply)": "(base build)",
			"plan, 1% drift: wall":         "(base build)",
			"plan, 1% drift: peak RSS":     "(base build)",
		} {
			checks[measure+" @"+n] = want{n, baseline}
		}
	}
	for key, w := range checks {
		r, ok := rows[key]
		switch {
		case !ok:
			t.Errorf("no %q row in\n%s", key, stdout.String())
		case r[0] != w.people || r[1] == "" || r[1] == "—":
			t.Errorf("%q: people %q, value %q; want %s and a value", key, r[0], r[1], w.people)
		case w.baseline != "" && !strings.HasSuffix(r[2], w.baseline):
			t.Errorf("%q: baseline %q, want one %s", key, r[2], w.baseline)
		case w.baseline != "":
			if x, err := strconv.ParseFloat(strings.TrimSuffix(r[3], "×"), 64); err != nil || x <= 0 {
				t.Errorf("%q: ratio %q is not a ratio", key, r[3])
			}
		}
	}
}
