package reconcile

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Names is a set of names (a user's role or work-queue template machine
// names), sorted and each once, that never changes once made. It is one
// pointer: a User held two 24-byte slice headers for its roles and
// queues, and most people share one of a handful of role sets, which a
// producer makes once and hands to each (see Shared's Names). The zero
// Names is the empty set. Compare with Equal, not ==.
type Names struct{ p *[]string }

// NamesOf makes the set of names, taking names over: it is sorted and
// compacted in place. No names make the zero Names.
func NamesOf(names ...string) Names {
	if len(names) == 0 {
		return Names{}
	}
	if !slices.IsSorted(names) {
		slices.Sort(names)
	}
	names = slices.Clip(slices.Compact(names))
	return Names{p: &names}
}

// List returns the names in order, nil for none. The slice is shared:
// never change it (an append copies, as it is clipped).
func (n Names) List() []string {
	if n.p == nil {
		return nil
	}
	return *n.p
}

// Len returns how many names there are.
func (n Names) Len() int { return len(n.List()) }

// IsZero reports whether there are no names.
func (n Names) IsZero() bool { return n.Len() == 0 }

// Has reports whether name is one of the names.
func (n Names) Has(name string) bool {
	_, ok := slices.BinarySearch(n.List(), name)
	return ok
}

// Equal reports whether n and o hold the same names.
func (n Names) Equal(o Names) bool { return n.p == o.p || slices.Equal(n.List(), o.List()) }

// String formats the names as a []string does.
func (n Names) String() string { return fmt.Sprint(n.List()) }

// MarshalJSON writes the names as an array, [] for none.
func (n Names) MarshalJSON() ([]byte, error) {
	if n.p == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(*n.p)
}

// UnmarshalJSON reads an array of names (or null, for none).
func (n *Names) UnmarshalJSON(b []byte) error {
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return err
	}
	*n = NamesOf(names...)
	return nil
}
