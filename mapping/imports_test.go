package mapping

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPure keeps the package free of files and network: mapping must be
// a pure function of its inputs.
func TestPure(t *testing.T) {
	forbidden := []string{"os", "io/fs", "net", "os/exec", "syscall"}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbidden {
				if path == bad || strings.HasPrefix(path, bad+"/") {
					t.Errorf("%s imports %s", f, path)
				}
			}
			if strings.Contains(path, "/config") || strings.Contains(path, "/sources/") || strings.Contains(path, "/state") {
				t.Errorf("%s imports %s", f, path)
			}
		}
	}
}
