package mapping

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rostersync/rostersync/sources"
)

// TestMapAttributes: user.attributes names platform attributes and the
// source attribute each comes from; empty values are left out, and a spec
// without attributes gives users none.
func TestMapAttributes(t *testing.T) {
	spec := base()
	spec.User.Attributes = map[string]string{"location": "office", "manager": "mgr", "department_name": "dept"}
	rules, err := Compile(spec)
	if err != nil {
		t.Fatal(err)
	}
	res := rules.Map([]*sources.Snapshot{snap(person("1", "office", " Leeds ", "mgr", "Amira Khan"), person("2"))})
	if len(res.Desired.Users) != 2 {
		t.Fatalf("%d users mapped, want 2: %v", len(res.Desired.Users), res.Problems)
	}
	want := map[string]string{"location": "Leeds", "manager": "Amira Khan"}
	if d := cmp.Diff(want, res.Desired.Users[0].Attributes); d != "" {
		t.Errorf("attributes of person 1 (-want +got):\n%s", d)
	}
	if a := res.Desired.Users[1].Attributes; a != nil {
		t.Errorf("person 2 has no mapped values but got attributes %v", a)
	}
	plain, err := Compile(base())
	if err != nil {
		t.Fatal(err)
	}
	if a := plain.Map([]*sources.Snapshot{snap(person("1", "office", "Leeds"))}).Desired.Users[0].Attributes; a != nil {
		t.Errorf("a spec without attributes mapped %v", a)
	}
}

func TestCompileAttributesNeedASource(t *testing.T) {
	spec := base()
	spec.User.Attributes = map[string]string{"location": " "}
	if _, err := Compile(spec); err == nil || !strings.Contains(err.Error(), "user.attributes.location") {
		t.Errorf("an attribute with no source compiles: %v", err)
	}
}
