package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionComesFromTheBuild(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs.revision", Value: "466fc31abcdef0123456789abcdef0123456789a"},
		{Key: "vcs.time", Value: "2026-12-04T21:00:00Z"}, {Key: "vcs.modified", Value: "false"},
		{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"},
	}
	cases := []struct {
		linked, main string
		settings     []debug.BuildSetting
		want         string
	}{
		{"dev", "v1.4.0", vcs, "rostersync v1.4.0 (commit 466fc31abcde, 2026-12-04T21:00:00Z, go1.26.8, linux/arm64)"},
		{"dev", "v0.0.0-20261204210000-466fc31abcde", vcs, "rostersync v0.0.0-20261204210000-466fc31abcde (2026-12-04T21:00:00Z, go1.26.8, linux/arm64)"},
		{"dev", "(devel)", vcs, "rostersync dev-466fc31abcde (2026-12-04T21:00:00Z, go1.26.8, linux/arm64)"},
		{"dev", "(devel)", append(vcs[:2:2], debug.BuildSetting{Key: "vcs.modified", Value: "true"}),
			"rostersync dev-466fc31abcde+dirty (2026-12-04T21:00:00Z, go1.26.8, "},
		{"1.5.0", "(devel)", vcs, "rostersync 1.5.0 (commit 466fc31abcde, "},
		{"dev", "(devel)", nil, "rostersync dev (go1.26.8, "},
	}
	for _, c := range cases {
		got := describeBuild(c.linked, &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: c.main}, Settings: c.settings}, true).String()
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("linked %q, module %q: %q, want %q…", c.linked, c.main, got, c.want)
		}
	}
}

func TestVersionCommandAndFlag(t *testing.T) {
	r := newRig(t)
	r.mustRun("version")
	out := r.stdout.String()
	if !strings.HasPrefix(out, "rostersync ") || !strings.Contains(out, "go1.") {
		t.Errorf("version: %q", out)
	}
	r.mustRun("--version")
	if r.stdout.String() != out {
		t.Errorf("--version %q differs from version %q", r.stdout.String(), out)
	}
	r.mustRun("version", "-json")
	if !strings.Contains(r.stdout.String(), `"version":`) {
		t.Errorf("version -json: %s", r.stdout.String())
	}
}
