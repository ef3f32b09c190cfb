package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestHeldRefusesAStateDirWithoutState(t *testing.T) {
	r := newRig(t)
	missing := filepath.Join(r.dir, "no-such-state")
	r.env["ROSTERSYNC_STATE_DIR"] = missing
	if code := r.run("held", "list"); code != 1 || !strings.Contains(r.stderr.String(), "does not exist; nothing was created") ||
		!strings.Contains(r.stderr.String(), "ROSTERSYNC_STATE_DIR") {
		t.Errorf("held list on a missing directory: exit %d, stdout %q, stderr %q", code, r.stdout.String(), r.stderr.String())
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("held list created %s", missing)
	}
	empty := t.TempDir()
	if code := r.run("held", "list", "-state-dir", empty); code != 1 || !strings.Contains(r.stderr.String(), "holds no state database") {
		t.Errorf("held list on an empty directory: exit %d, stderr %q", code, r.stderr.String())
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("held list wrote into %s: %v", empty, ents)
	}
}

func TestHeldFindsTheServiceStateDir(t *testing.T) {
	r := newRig(t)
	r.env["ROSTERSYNC_HOLD_DEACTIVATIONS_OVER"] = "0"
	r.mustRun("apply", "-yes")
	r.leave("E1002")
	r.mustRun("apply", "-yes")
	dir := r.env["ROSTERSYNC_STATE_DIR"]

	// As systemd runs it: STATE_DIRECTORY.
	delete(r.env, "ROSTERSYNC_STATE_DIR")
	r.env["STATE_DIRECTORY"] = dir
	if held := r.heldIDs(); len(held) != 1 {
		t.Errorf("with STATE_DIRECTORY: holds %v, want Ben's", held)
	}
	// From an operator's shell: nothing set, the unit's directory exists.
	delete(r.env, "STATE_DIRECTORY")
	old := serviceStateDir
	serviceStateDir = dir
	t.Cleanup(func() { serviceStateDir = old })
	if held := r.heldIDs(); len(held) != 1 {
		t.Errorf("from the service's directory: holds %v, want Ben's", held)
	}
	serviceStateDir = filepath.Join(r.dir, "not-installed")
	if code := r.run("held", "list"); code != 1 || !strings.Contains(r.stderr.String(), "does not exist") {
		t.Errorf("without the service's directory: exit %d, stderr %q", code, r.stderr.String())
	}
}

func TestHeldApproveAsksTheDaemonForAPass(t *testing.T) {
	r := newRig(t)
	r.env["ROSTERSYNC_HOLD_DEACTIVATIONS_OVER"] = "0"
	d := startServe(t, r, map[string]string{
		"ROSTERSYNC_SERVE_MODE": "apply", "ROSTERSYNC_DELTA_INTERVAL": "0",
		"ROSTERSYNC_DEBOUNCE": "100ms", "ROSTERSYNC_INTERVAL": "1h",
	})
	d.waitLog(`msg="pass finished" kind=full result=ok`, 60*time.Second)
	r.leave("E1002")
	d.post("/trigger")
	d.waitLog(`msg="pass finished" kind=trigger`, 60*time.Second)
	held := r.heldIDs()
	if len(held) != 1 {
		t.Fatalf("holds %v, want Ben's", held)
	}

	r.env["ROSTERSYNC_LISTEN"] = strings.TrimPrefix(d.base, "http://")
	r.mustRun("held", "approve", strings.Fields(held["E1002"])[0])
	if !strings.Contains(r.stdout.String(), "Asked the daemon at "+d.base+" for a pass") {
		t.Errorf("held approve says:\n%s", r.stdout.String())
	}
	deadline := time.Now().Add(60 * time.Second)
	for r.active()["ben.carter@example.com"] {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not apply the approval\n%s", d.logText())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// No daemon listening: the approval stands and the output says when it
	// is applied.
	d.waitMetric(`rostersync_passes_total{kind="trigger",result="ok"}`, 2, 60*time.Second)
	r.leave("E1003")
	d.post("/trigger")
	d.waitMetric(`rostersync_passes_total{kind="trigger",result="ok"}`, 3, 60*time.Second)
	if held = r.heldIDs(); len(held) != 1 {
		t.Fatalf("holds %v, want Chloe's", held)
	}
	r.env["ROSTERSYNC_LISTEN"] = "127.0.0.1:1"
	r.mustRun("held", "approve", "-all")
	if out := r.stdout.String(); !strings.Contains(out, "Approved 1 operation.") || !strings.Contains(out, "No daemon answered at http://127.0.0.1:1") {
		t.Errorf("held approve without a daemon says:\n%s", out)
	}
}

// TestAskForPassSendsTheAdminToken: a daemon whose admin endpoints need
// the bearer token still hears 'held approve' asking for a pass.
func TestAskForPassSendsTheAdminToken(t *testing.T) {
	r := newRig(t)
	tok := filepath.Join(r.dir, "admin-token")
	if err := os.WriteFile(tok, []byte("s3cret-admin-token-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r.env["ROSTERSYNC_ADMIN_TOKEN_FILE"] = tok
	d := startServe(t, r, map[string]string{"ROSTERSYNC_INTERVAL": "1h", "ROSTERSYNC_DELTA_INTERVAL": "0", "ROSTERSYNC_DEBOUNCE": "50ms"})
	d.waitLog(`msg="pass finished" kind=full`, 60*time.Second)
	if code := d.post("/trigger"); code != 401 {
		t.Fatalf("POST /trigger without the token: %d, want 401", code)
	}
	r.env["ROSTERSYNC_LISTEN"] = strings.TrimPrefix(d.base, "http://")
	c := &cli{stdout: &r.stdout, stderr: &r.stderr, lookupEnv: func(k string) (string, bool) { v, ok := r.env[k]; return v, ok }, now: time.Now}
	env, err := loadEnv(t.Context(), c, commonFlags{})
	if err != nil {
		t.Fatal(err)
	}
	r.stdout.Reset()
	askForPass(t.Context(), c, env)
	if !strings.Contains(r.stdout.String(), "Asked the daemon at "+d.base+" for a pass") {
		t.Errorf("with the admin token: %s", r.stdout.String())
	}
	d.waitLog(`msg="pass finished" kind=trigger`, 30*time.Second) // the pass it asked for
}
