package csv

import (
	"errors"
	"testing"

	"github.com/rostersync/rostersync/config/block"
)

// A block that validates opens, and one that does not is refused by New
// for the same key: validation is the constructor's own checks.
func TestBlockValidateIsNewsChecks(t *testing.T) {
	for _, d := range []string{"", ",", ";", "\t", "|", "é", "\uFEFF", `"`, "\n", "\r", ";;", "\xff"} {
		b := Block{Path: "people.csv", Key: "id", Delimiter: d}
		verr := b.Validate()
		_, nerr := New("hr", b.Config(nil))
		if verr == nil && nerr != nil {
			t.Errorf("delimiter %q: Validate accepts it, New refuses it: %v", d, nerr)
		}
		if verr != nil {
			var p *block.Problem
			if !errors.As(verr, &p) || p.Key != "delimiter" {
				t.Errorf("delimiter %q: Validate = %v, want a problem with key delimiter", d, verr)
			}
			if d != ";;" && d != "\xff" && nerr == nil {
				t.Errorf("delimiter %q: Validate refuses it, New accepts it", d)
			}
		}
	}
}

func TestBlockValidateReportsEveryKey(t *testing.T) {
	b := Block{Delimiter: "\uFEFF", MinRows: -1, MaxBytes: -2}
	var keys []string
	for _, e := range b.Validate().(interface{ Unwrap() []error }).Unwrap() {
		var p *block.Problem
		if !errors.As(e, &p) {
			t.Fatalf("%v is not a block.Problem", e)
		}
		keys = append(keys, p.Key)
	}
	want := []string{"path", "key", "delimiter", "min_rows", "max_bytes"}
	if len(keys) != len(want) {
		t.Fatalf("keys = %q, want %q", keys, want)
	}
	for i := range want {
		if keys[i] != want[i] {
			t.Fatalf("keys = %q, want %q", keys, want)
		}
	}
}
