package main

import (
	"strings"
	"testing"
)

// TestHelpHelps: every command's -h succeeds and says what it does, with no
// empty Flags section and without doing the command.
func TestHelpHelps(t *testing.T) {
	r := newRig(t)
	for _, c := range commands() {
		if code := r.run(c.name, "-h"); code != 0 {
			t.Errorf("%s -h: exit %d\n%s", c.name, code, r.stderr.String())
		}
		help := r.stderr.String()
		if !strings.Contains(help, "Usage: rostersync "+c.name) {
			t.Errorf("%s -h prints no usage:\n%s", c.name, help)
		}
		if strings.HasSuffix(strings.TrimSpace(help), "Flags:") {
			t.Errorf("%s -h ends with an empty Flags section:\n%s", c.name, help)
		}
		if r.stdout.Len() > 0 {
			t.Errorf("%s -h ran the command: stdout\n%s", c.name, r.stdout.String())
		}
	}
	r.run("plan", "-h")
	if !strings.Contains(r.stderr.String(), "$XDG_STATE_HOME/rostersync") {
		t.Errorf("-state-dir's help omits XDG_STATE_HOME:\n%s", r.stderr.String())
	}
	r.run("held", "-h")
	if !strings.Contains(r.stderr.String(), `rostersync held list -h`) {
		t.Errorf("held -h does not say where the flags are:\n%s", r.stderr.String())
	}
	if code := r.run("version", "extra"); code != 1 {
		t.Errorf("version extra: exit %d", code)
	}
}

// TestFlagsBeforeTheCommand: the common flags work before the command name
// as after it, and the command's own win.
func TestFlagsBeforeTheCommand(t *testing.T) {
	r := newRig(t)
	r.mustRun("--log-format=json", "plan")
	if !strings.Contains(r.stderr.String(), `"msg":"source read"`) {
		t.Errorf("--log-format=json before plan: stderr is not JSON:\n%s", r.stderr.String())
	}
	r.mustRun("-log-format", "json", "plan", "-log-format", "text")
	if !strings.Contains(r.stderr.String(), `msg="source read"`) {
		t.Errorf("the command's -log-format did not win:\n%s", r.stderr.String())
	}
	state := r.env["ROSTERSYNC_STATE_DIR"]
	delete(r.env, "ROSTERSYNC_STATE_DIR")
	r.mustRun("-state-dir", state, "held", "list")
	if !strings.Contains(r.stdout.String(), "No held operations.") {
		t.Errorf("held list with -state-dir before the command:\n%s", r.stdout.String())
	}
	if code := r.run("-nosuch", "plan"); code != 64 || !strings.Contains(r.stderr.String(), "-nosuch") {
		t.Errorf("an unknown flag before the command: exit %d\n%s", code, r.stderr.String())
	}
	if code := r.run("-h"); code != 0 || !strings.Contains(r.stdout.String(), "[-log-format FORMAT] <command>") {
		t.Errorf("-h: exit %d\n%s", code, r.stdout.String())
	}
}
