package main

import (
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
		cmd := args[0]
		code := r.run(args...)
		out := r.stderr.String()
		if code != 1 || !strings.Contains(out, "ROSTERSYNC_MAX_DROP: NaN") ||
			!strings.Contains(out, "ROSTERSYNC_HOLD_DEACTIVATIONS_PERCENT: NaN") ||
			!strings.Contains(out, `ROSTERSYNC_ABSENT_PASSES: "lots" is not a whole number`) {
			t.Errorf("%s: exit %d\n%s", cmd, code, out)
		}
	}
	if w := r.sim.Writes(); w != 0 {
		t.Errorf("%d writes to the platform", w)
	}
}
