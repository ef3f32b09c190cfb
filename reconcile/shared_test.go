package reconcile

import (
	"strings"
	"testing"
	"unsafe"
)

// Shared hands out the first copy of a value it holds, and holds no more than Limit values.
func TestShared(t *testing.T) {
	same := func(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }
	fresh := func(s string) string { return strings.Clone(s) }
	var s Shared
	first := s.Of(fresh("2024-01-15"))
	if again := s.Of(fresh("2024-01-15")); again != first || !same(again, first) {
		t.Error("a value seen before is not handed out as the copy held")
	}
	lim := Shared{Limit: 2}
	a, b := lim.Of(fresh("a")), lim.Of(fresh("b"))
	c1, c2 := lim.Of(fresh("c")), fresh("c")
	if got := lim.Of(c2); !same(got, c2) || same(got, c1) {
		t.Error("a value past the limit was held")
	}
	if !same(lim.Of(fresh("a")), a) || !same(lim.Of(fresh("b")), b) {
		t.Error("values within the limit are not shared")
	}
}
