package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/rostersync/rostersync"

// forbidden is DESIGN.md's table of what each package must not import.
// Prefixes match sub-packages too.
var forbidden = map[string][]string{
	"config":               {module + "/reconcile/evaluagent", module + "/reconcile/agentiq", "net/http"},
	"sources":              {module + "/reconcile", module + "/mapping", module + "/state"},
	"mapping":              {"net", "net/http", "os", module + "/reconcile/evaluagent", module + "/reconcile/agentiq", module + "/state", module + "/config"},
	"reconcile":            {module + "/sources/", module + "/config", module + "/state", "net/http"},
	"reconcile/evaluagent": {module + "/sources", module + "/mapping", module + "/config"},
	"reconcile/agentiq":    {module + "/sources", module + "/mapping", module + "/config"},
	"state":                {module + "/reconcile", module + "/sources", module + "/mapping", module + "/config"},
}

// exempt lists packages below a guarded one that are allowed what their
// parent is not (a target's client is the one place that speaks HTTP).
var exempt = []string{"reconcile/evaluagent", "reconcile/agentiq", "reconcile/internal/httpx"}

func TestImportRules(t *testing.T) {
	root := filepath.Join("..", "..")
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for pkg, bad := range forbidden {
			if rel != pkg && !strings.HasPrefix(rel, pkg+"/") {
				continue
			}
			if pkg != rel && isExempt(rel, pkg) {
				continue
			}
			checked++
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				for _, b := range bad {
					if p == b || strings.HasSuffix(b, "/") && strings.HasPrefix(p, b) || !strings.HasSuffix(b, "/") && strings.HasPrefix(p, b+"/") && strings.HasPrefix(b, module) {
						t.Errorf("%s imports %s, which DESIGN.md forbids for %s", path, p, pkg)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no files were checked: the walk is broken")
	}
}

func isExempt(rel, pkg string) bool {
	for _, e := range exempt {
		if pkg == "reconcile" && (rel == e || strings.HasPrefix(rel, e+"/")) {
			return true
		}
	}
	return false
}
