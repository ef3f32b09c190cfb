package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"

	"github.com/rostersync/rostersync/config"
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

// TestEnvExample holds systemd/rostersync.env.example to the code and the
// unit: every value it shows is the default, and every credential path it
// names is the unit's.
func TestEnvExample(t *testing.T) {
	b, err := os.ReadFile("../../systemd/rostersync.env.example")
	if err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(env map[string]string) envconfig.Lookuper {
		return envconfig.LookuperFunc(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	}
	base := map[string]string{"HOME": "/home/x"}
	def, err := config.LoadEnv(t.Context(), lookup(base))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, line := range strings.Split(string(b), "\n") {
		if m := regexp.MustCompile(`LoadCredential=([\w-]+:/\S+)`).FindStringSubmatch(line); m != nil {
			if !strings.Contains(string(unit), "LoadCredential="+m[1]+"\n") {
				t.Errorf("env example line %d: LoadCredential=%s is not the unit's", i+1, m[1])
			}
		}
		name, val, ok := strings.Cut(strings.TrimPrefix(line, "#"), "=")
		if !ok || !strings.HasPrefix(name, config.EnvPrefix) || val == "" {
			continue
		}
		n++
		env := map[string]string{"HOME": "/home/x", name: val}
		got, err := config.LoadEnv(t.Context(), lookup(env))
		if err != nil {
			t.Errorf("env example line %d: %s=%s: %v", i+1, name, val, err)
			continue
		}
		if !reflect.DeepEqual(got, def) {
			t.Errorf("env example line %d: %s=%s is not the default", i+1, name, val)
		}
	}
	if n < 20 {
		t.Errorf("only %d variables with a value in the env example", n)
	}
	if strings.Contains(string(b), "Every variable is optional;") {
		t.Error("the env example calls every variable optional, but the key id is required")
	}
}
