package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const unitPath = "../../systemd/rostersync.service"

// TestUnitFile holds systemd/rostersync.service to what the README promises.
func TestUnitFile(t *testing.T) {
	b, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	for _, want := range []string{
		"Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "WatchdogSec=",
		"DynamicUser=yes", "StateDirectory=rostersync", "EnvironmentFile=",
		"LoadCredential=evaluagent-key-secret:", "ProtectSystem=strict", "ProtectHome=yes",
		"PrivateTmp=yes", "NoNewPrivileges=yes", "RestrictAddressFamilies=",
		"SystemCallFilter=@system-service", "CapabilityBoundingSet=\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit lacks %q", strings.TrimSpace(want))
		}
	}
	// The stop timeout leaves room for the write in flight.
	m := regexp.MustCompile(`(?m)^TimeoutStopSec=(\d+)s$`).FindStringSubmatch(unit)
	if m == nil {
		t.Fatal("no TimeoutStopSec=Ns")
	}
	if n, _ := strconv.Atoi(m[1]); n <= int(stopGrace.Seconds()) {
		t.Errorf("TimeoutStopSec=%ds does not exceed the %s grace for the write in flight", n, stopGrace)
	}
}

// TestUnitSecurityScore runs systemd-analyze where it is installed: the
// unit must score 2.0 or lower.
func TestUnitSecurityScore(t *testing.T) {
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	abs, _ := filepath.Abs(unitPath)
	out, err := exec.Command(bin, "security", "--offline=true", abs).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for rostersync.service: (\d+\.\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no score in:\n%s", out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("exposure %.1f", score)
	if score > 2.0 {
		t.Errorf("exposure %.1f, want 2.0 or lower", score)
	}
}
