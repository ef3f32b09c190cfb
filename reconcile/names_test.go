package reconcile

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestNamesIsASetOfNames holds Names to the sorted, distinct []string it
// replaced: made in any order, with repeats, it lists each name once in
// order; equal sets are Equal however they were made; and a User writes
// its roles as an array (empty for none) and leaves out queues it has
// none of, reading both back.
func TestNamesIsASetOfNames(t *testing.T) {
	n := NamesOf("sup", "agent", "sup", "qa")
	if got := n.List(); !slices.Equal(got, []string{"agent", "qa", "sup"}) || n.Len() != 3 {
		t.Fatalf("NamesOf lists %q", got)
	}
	if !n.Has("qa") || n.Has("admin") || n.IsZero() {
		t.Fatalf("Has/IsZero wrong for %v", n)
	}
	if !n.Equal(NamesOf("qa", "agent", "sup")) || n.Equal(NamesOf("agent", "qa")) || n.Equal(Names{}) {
		t.Fatal("Equal compares the pointers, not the names")
	}
	if z := NamesOf(); !z.IsZero() || z.List() != nil || !z.Equal(Names{}) || z.String() != "[]" {
		t.Fatalf("NamesOf() = %v", z)
	}
	u := User{Username: "a", Roles: NamesOf("agent"), Queues: NamesOf("inbound", "complaints")}
	b, err := json.Marshal(u)
	if err != nil || string(b) != `{"username":"a","forename":"","surname":"","active":false,"roles":["agent"],"queues":["complaints","inbound"]}` {
		t.Fatalf("marshal: %s, %v", b, err)
	}
	var back User
	if err := json.Unmarshal(b, &back); err != nil || !back.Roles.Equal(u.Roles) || !back.Queues.Equal(u.Queues) {
		t.Fatalf("unmarshal: %+v, %v", back, err)
	}
	if b, _ := json.Marshal(User{Username: "a"}); string(b) != `{"username":"a","forename":"","surname":"","active":false,"roles":[]}` {
		t.Fatalf("marshal with no roles or queues: %s", b)
	}
	if err := json.Unmarshal([]byte(`{"roles":null}`), &back); err != nil || !back.Roles.IsZero() {
		t.Fatalf("unmarshal of null roles: %v, %v", back.Roles, err)
	}
}
