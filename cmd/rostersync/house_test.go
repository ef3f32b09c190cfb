package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The house rules of DESIGN.md, checked over the whole module with the go
// command: what each package must not depend on (directly, or through any
// other package), that each package the design names is still there, and
// that every package says what it is for in a doc comment.

const module = "github.com/rostersync/rostersync"

// rule is one row of DESIGN.md's package table: the packages it governs
// (a path and everything below it, less the exempt sub-trees) must not
// depend on deps (a package and everything below it), nor import imports
// themselves.
type rule struct {
	pkg     string
	exempt  []string
	deps    []string
	imports []string
}

// leaves are packages below config that import nothing of the project, so
// any package may depend on them; each has a rule of its own that keeps it
// so.
var leaves = []string{"config/block", "config/safefile"}

// houseRules are DESIGN.md's rules for the packages pkgs holds. Targets
// (each package directly below reconcile/, with its simulator below it) and
// source adapters (each directly below sources/) are found, not listed: a
// new one is governed from its first commit.
func houseRules(pkgs map[string]*listed) (rules []rule, targets []string) {
	targets = children(pkgs, "reconcile", "internal", "targettest")
	adapters := children(pkgs, "sources", "internal")
	notSourceSide := []string{"reconcile", "mapping", "state", "config"}
	rules = []rule{
		// The leaves every adapter may use (how a block reports its
		// problems, how a named file is read): they import nothing of the
		// project, so depending on them brings in nothing a rule forbids.
		{pkg: "config/block", deps: []string{"reconcile", "sources", "mapping", "state", "cmd", "config"}},
		{pkg: "config/safefile", deps: []string{"reconcile", "sources", "mapping", "state", "cmd", "config"}},
		// config decodes and validates; it imports the adapters' packages
		// for their block types but opens none (no constructor is called;
		// the registry in cmd/rostersync opens them) and does no network
		// I/O itself (it may parse an address with package net).
		{pkg: "config", deps: []string{"state", "cmd"}, imports: []string{"net/http"}},
		{pkg: "sources", exempt: adapters, deps: notSourceSide},
		// mapping is pure: no files, no network, no platform.
		{pkg: "mapping", deps: slices.Concat([]string{"net/http", "state", "config"}, adapters, targets),
			imports: []string{"os", "io/fs", "os/exec", "syscall", "net"}},
		// reconcile is the vocabulary and the loop; the targets below it
		// are the one place that speaks HTTP.
		{pkg: "reconcile", exempt: append([]string{"reconcile/internal/httpx"}, targets...),
			deps: []string{"sources", "config", "state", "mapping", "net/http"}},
		{pkg: "state", deps: []string{"reconcile", "sources", "mapping", "config", "cmd"}},
	}
	for _, a := range adapters {
		rules = append(rules, rule{pkg: a, deps: notSourceSide})
	}
	for _, t := range targets {
		rules = append(rules, rule{pkg: t, deps: []string{"sources", "mapping", "config", "state"}})
	}
	return rules, targets
}

// children lists the packages' directories directly below parent, less
// the names skipped.
func children(pkgs map[string]*listed, parent string, skip ...string) []string {
	var out []string
	for rel := range pkgs {
		rest, ok := strings.CutPrefix(rel, parent+"/")
		if !ok {
			continue
		}
		name, _, _ := strings.Cut(rest, "/")
		if c := parent + "/" + name; !slices.Contains(skip, name) && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// named are the packages and directories DESIGN.md names at the top level.
var named = []string{
	"cmd/rostersync", "config", "sources", "sources/csv", "sources/ldap", "sources/scim", "mapping",
	"reconcile", "reconcile/evaluagent", "reconcile/agentiq", "reconcile/targettest", "state",
}

var namedDirs = []string{"systemd", "testdata"}

type listed struct {
	ImportPath string
	Dir        string
	Doc        string
	Imports    []string
	Deps       []string
}

// goList lists every package of the module with its imports and its
// transitive dependencies.
func goList(t *testing.T) map[string]*listed {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the go command")
	}
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Dir,Doc,Imports,Deps", "./...")
	cmd.Dir = filepath.Join("..", "..")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]*listed{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rel, ok := strings.CutPrefix(p.ImportPath, module+"/")
		if !ok {
			continue
		}
		pkgs[rel] = &p
	}
	if len(pkgs) < len(named) {
		t.Fatalf("go list found %d packages: the listing is broken", len(pkgs))
	}
	return pkgs
}

// under says whether path is p or below it; project paths are relative to
// the module.
func under(path, p string) bool { return path == p || strings.HasPrefix(path, p+"/") }

// project returns path relative to the module, or path itself (standard
// library and other modules).
func project(path string) string {
	if rel, ok := strings.CutPrefix(path, module+"/"); ok {
		return rel
	}
	return path
}

func TestHouseImportRules(t *testing.T) {
	pkgs := goList(t)
	rules, targets := houseRules(pkgs)
	if len(targets) < 2 {
		t.Fatalf("found targets %q below reconcile/: the discovery is broken", targets)
	}
	checked := 0
	for rel, p := range pkgs {
		for _, r := range rules {
			if !under(rel, r.pkg) || slices.ContainsFunc(r.exempt, func(e string) bool { return under(rel, e) }) {
				continue
			}
			checked++
			for _, d := range p.Deps {
				d = project(d)
				for _, bad := range r.deps {
					if under(d, bad) && !slices.ContainsFunc(leaves, func(l string) bool { return under(d, l) }) {
						t.Errorf("%s depends on %s (directly or through another package), which DESIGN.md forbids for %s", rel, d, r.pkg)
					}
				}
			}
			for _, imp := range p.Imports {
				if slices.Contains(r.imports, imp) {
					t.Errorf("%s imports %s, which DESIGN.md forbids for %s", rel, imp, r.pkg)
				}
			}
		}
	}
	if checked < len(rules) {
		t.Fatalf("only %d package(s) were checked against %d rules: a rule names a package that is gone", checked, len(rules))
	}
}

// TestHouseRulesCanFail: the walk sees a forbidden dependency where there
// is one (mapping depends on reconcile, which a rule could forbid).
func TestHouseRulesCanFail(t *testing.T) {
	pkgs := goList(t)
	m := pkgs["mapping"]
	if m == nil || !slices.ContainsFunc(m.Deps, func(d string) bool { return project(d) == "reconcile" }) {
		t.Fatalf("mapping's dependencies %q do not include reconcile: the listing is not transitive", m.Deps)
	}
	if c := pkgs["config"]; c == nil || !slices.Contains(c.Deps, "net/http") {
		t.Fatalf("config's dependencies lack net/http, which it reaches through sources/scim: the listing is not transitive")
	}
}

func TestHouseNamedPackagesExist(t *testing.T) {
	pkgs := goList(t)
	for _, n := range named {
		if pkgs[n] == nil {
			t.Errorf("package %s, which DESIGN.md names, is gone", n)
		}
	}
	for _, d := range namedDirs {
		if fi, err := statDir(filepath.Join("..", "..", d)); err != nil || !fi {
			t.Errorf("directory %s/, which DESIGN.md names, is gone", d)
		}
	}
}

func TestHousePackageDocs(t *testing.T) {
	for rel, p := range goList(t) {
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("package %s (%s) has no doc comment: say in a line what it is for", rel, p.Dir)
		}
	}
}

func statDir(path string) (bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return fi.IsDir(), nil
}

// TestHouseTopLevel: the repository's top level is the design card's, plus
// dotfiles; a new room belongs inside one of these.
func TestHouseTopLevel(t *testing.T) {
	want := []string{"README.md", "cmd", "config", "go.mod", "go.sum", "mapping", "reconcile", "sources", "state", "systemd", "testdata"}
	entries, err := os.ReadDir(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if name := e.Name(); !strings.HasPrefix(name, ".") && !slices.Contains(want, name) {
			if e.IsDir() || strings.HasSuffix(name, ".go") || name == "LICENSE" || name == "Makefile" {
				t.Errorf("%s at the top level of the repository: DESIGN.md fixes the top level as %v (plus dotfiles); put it inside one of them", name, want)
			}
		}
	}
}
