package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// buildInfo is what the binary knows of its own build.
type buildInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Time     string `json:"commit_time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

// describeBuild is the version: the one set at link time (-X
// main.version=…) if any, else the module version the go command stamped
// (a tag, or a pseudo-version from the commit), with the VCS revision.
func describeBuild(linked string, bi *debug.BuildInfo, ok bool) buildInfo {
	out := buildInfo{Version: linked, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if !ok || bi == nil {
		return out
	}
	out.Go = bi.GoVersion
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			out.Commit = s.Value
		case "vcs.time":
			out.Time = s.Value
		case "vcs.modified":
			out.Modified = s.Value == "true"
		case "GOOS":
			out.Platform = s.Value + out.Platform[strings.Index(out.Platform, "/"):]
		case "GOARCH":
			out.Platform = out.Platform[:strings.Index(out.Platform, "/")+1] + s.Value
		}
	}
	if out.Version == "dev" || out.Version == "" {
		switch v := bi.Main.Version; {
		case v != "" && v != "(devel)":
			out.Version = v
		case out.Commit != "":
			out.Version = "dev-" + out.Commit[:min(12, len(out.Commit))]
			if out.Modified {
				out.Version += "+dirty"
			}
		}
	}
	return out
}

func currentBuild() buildInfo {
	bi, ok := debug.ReadBuildInfo()
	return describeBuild(version, bi, ok)
}

func init() {
	// Everything that reports the version (/metrics, /status, the status
	// page) reports this one.
	version = currentBuild().Version
}

func (b buildInfo) String() string {
	s := "rostersync " + b.Version
	var extra []string
	if b.Commit != "" && !strings.Contains(b.Version, b.Commit[:min(12, len(b.Commit))]) {
		c := "commit " + b.Commit[:min(12, len(b.Commit))]
		if b.Modified {
			c += " (modified)"
		}
		extra = append(extra, c)
	}
	if b.Time != "" {
		extra = append(extra, b.Time)
	}
	extra = append(extra, b.Go, b.Platform)
	return s + " (" + strings.Join(extra, ", ") + ")"
}

func cmdVersion(_ context.Context, args []string, c *cli) error {
	fs := newFlagSet(c, "version", "[-json]", "Prints the version: the release tag, or the commit it was built from.")
	asJSON := fs.Bool("json", false, "print the build as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("version takes no arguments, got %q", fs.Args())
	}
	b := currentBuild()
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(b)
	}
	fmt.Fprintln(c.stdout, b)
	return nil
}
