// Package golden reads and checks the txtar golden plans of the reconcile
// packages: JSON input sections decoded strictly, and an expected output
// section compared with what the code renders, or rewritten with -update.
package golden

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"
)

// Case is one golden file.
type Case struct {
	Path    string
	Archive *txtar.Archive
}

// Load parses the golden file at path.
func Load(t testing.TB, path string) *Case {
	t.Helper()
	a, err := txtar.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return &Case{Path: path, Archive: a}
}

// Section returns the named section, failing the test when it is missing.
func (c *Case) Section(t testing.TB, name string) []byte {
	t.Helper()
	for _, f := range c.Archive.Files {
		if f.Name == name {
			return f.Data
		}
	}
	t.Fatalf("%s: section %q missing", c.Path, name)
	return nil
}

// Has reports whether the named section exists.
func (c *Case) Has(name string) bool {
	for _, f := range c.Archive.Files {
		if f.Name == name {
			return true
		}
	}
	return false
}

// Decode decodes the named JSON section into v; unknown fields are errors.
func (c *Case) Decode(t testing.TB, name string, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(c.Section(t, name)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %s: %v", c.Path, name, err)
	}
}

// Check compares got with the named section, or, with update, rewrites the
// file with got in that section. hint says how to accept a change.
func (c *Case) Check(t testing.TB, name, got string, update bool, hint string) {
	t.Helper()
	if update {
		for i := range c.Archive.Files {
			if c.Archive.Files[i].Name == name {
				c.Archive.Files[i].Data = []byte(got)
			}
		}
		if err := os.WriteFile(c.Path, txtar.Format(c.Archive), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if d := cmp.Diff(string(c.Section(t, name)), got); d != "" {
		t.Errorf("%s differs from %s (-want +got); %s:\n%s", name, c.Path, hint, d)
	}
}
