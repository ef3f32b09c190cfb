package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// complete runs the bash completion function on a command line whose last
// word is being completed, and returns the candidates.
func complete(t *testing.T, script string, words ...string) []string {
	t.Helper()
	var quoted []string
	for _, w := range words {
		quoted = append(quoted, "'"+w+"'")
	}
	prog := "source " + script + "\nCOMP_WORDS=(" + strings.Join(quoted, " ") + ")\nCOMP_CWORD=" +
		strconv.Itoa(len(words)-1) + "\n_rostersync\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
	out, err := exec.Command("bash", "--norc", "--noprofile", "-c", prog).CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

func TestBashCompletionCompletes(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	r := newRig(t)
	r.mustRun("completion", "bash")
	script := filepath.Join(t.TempDir(), "rostersync.bash")
	if err := os.WriteFile(script, r.stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		words []string
		want  string
	}{
		{[]string{"rostersync", "hi"}, "history"},
		{[]string{"rostersync", "held", ""}, "approve list reject"},
		{[]string{"rostersync", "plan", "-format", ""}, "json markdown text"},
		{[]string{"rostersync", "demo", "-scenario", "t"}, "two-platforms"},
		{[]string{"rostersync", "history", "-pe"}, "-person"},
		{[]string{"rostersync", "held", "approve", "-no"}, "-no-pass"},
		{[]string{"rostersync", "completion", ""}, "bash zsh"},
	}
	for _, c := range cases {
		got := complete(t, script, c.words...)
		if strings.Join(slices.Sorted(slices.Values(got)), " ") != c.want {
			t.Errorf("completing %q: %q, want %q", strings.Join(c.words, " "), got, c.want)
		}
	}
}

func TestZshCompletionIsValid(t *testing.T) {
	if _, err := exec.LookPath("zsh"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no zsh; CI must install it (apt-get install zsh)")
		}
		t.Skip("no zsh: install it to check the zsh completion script")
	}
	r := newRig(t)
	r.mustRun("completion", "zsh")
	script := filepath.Join(t.TempDir(), "_rostersync")
	if err := os.WriteFile(script, r.stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("zsh", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v\n%s", err, out)
	}
	s := r.stdout.String()
	for _, want := range []string{"#compdef rostersync", "'history:what changed when", "'-person[", ":format:(text json markdown)", "'1:held:(list approve reject)'"} {
		if !strings.Contains(s, want) {
			t.Errorf("the zsh script lacks %q", want)
		}
	}
	if code := r.run("completion", "fish"); code == 0 || !strings.Contains(r.stderr.String(), "want bash or zsh") {
		t.Errorf("completion fish: exit %d, %s", code, r.stderr.String())
	}
}
