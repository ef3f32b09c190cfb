package scim

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/elimity-com/scim"
	"github.com/scim2/filter-parser/v2"
)

// nopMembers fails the test if a user PATCH touches members.
type nopMembers struct{ t *testing.T }

func (n nopMembers) addMembers([]memberRef) error           { n.t.Fatal("members"); return nil }
func (n nopMembers) removeMembers([]string) error           { n.t.Fatal("members"); return nil }
func (n nopMembers) removeMembersWhere(string, []any) error { n.t.Fatal("members"); return nil }
func (n nopMembers) replaceMembers([]memberRef) error       { n.t.Fatal("members"); return nil }

func op(t *testing.T, kind, path string, value any) scim.PatchOperation {
	t.Helper()
	o := scim.PatchOperation{Op: kind, Value: value}
	if path != "" {
		p, err := filter.ParsePath([]byte(path))
		if err != nil {
			t.Fatal(err)
		}
		o.Path = &p
	}
	return o
}

func doc(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestApplyPatchUser(t *testing.T) {
	for _, c := range []struct {
		name    string
		before  string
		ops     []scim.PatchOperation
		after   string
		wantErr bool
	}{
		{"replace work email value, case of filter names ignored", `{"emails":[{"type":"work","value":"a"},{"type":"home","value":"h"}]}`,
			[]scim.PatchOperation{op(t, "Replace", `emails[Type eq "Work"].value`, "b")},
			`{"emails":[{"type":"work","value":"b"},{"type":"home","value":"h"}]}`, false},
		{"add work email when none matches", `{"emails":[{"type":"home","value":"h"}]}`,
			[]scim.PatchOperation{op(t, "Add", `emails[Type eq "work"].value`, "w")},
			`{"emails":[{"type":"home","value":"h"},{"type":"work","value":"w"}]}`, false},
		{"no target with an or filter", `{}`,
			[]scim.PatchOperation{op(t, "replace", `emails[type eq "work" or type eq "home"].value`, "w")}, ``, true},
		{"add is idempotent", `{"emails":[{"type":"work","value":"a"}]}`,
			[]scim.PatchOperation{op(t, "add", "emails", []any{map[string]any{"type": "work", "value": "A"}})},
			`{"emails":[{"type":"work","value":"A"}]}`, false},
		{"one primary", `{"emails":[{"type":"work","value":"a","primary":true}]}`,
			[]scim.PatchOperation{op(t, "add", "emails", []any{map[string]any{"type": "home", "value": "h", "primary": true}})},
			`{"emails":[{"type":"work","value":"a","primary":false},{"type":"home","value":"h","primary":true}]}`, false},
		{"remove filtered elements", `{"emails":[{"type":"work","value":"a"},{"type":"home","value":"h"}]}`,
			[]scim.PatchOperation{op(t, "remove", `emails[type eq "work"]`, nil)},
			`{"emails":[{"type":"home","value":"h"}]}`, false},
		{"remove with no match is a no-op", `{"emails":[{"type":"home","value":"h"}]}`,
			[]scim.PatchOperation{op(t, "remove", `emails[type eq "work"]`, nil)},
			`{"emails":[{"type":"home","value":"h"}]}`, false},
		{"remove last element drops the attribute", `{"userName":"u","emails":[{"type":"home","value":"h"}]}`,
			[]scim.PatchOperation{op(t, "remove", `emails[value eq "H"]`, nil)}, `{"userName":"u"}`, false},
		{"sub-attribute of a complex attribute", `{"name":{"givenName":"a","familyName":"b"}}`,
			[]scim.PatchOperation{op(t, "replace", "name.familyName", "c"), op(t, "remove", "name.givenName", nil)},
			`{"name":{"familyName":"c"}}`, false},
		{"path-less replace merges complex values", `{"name":{"givenName":"a","familyName":"b"}}`,
			[]scim.PatchOperation{op(t, "replace", "", map[string]any{"name": map[string]any{"givenName": "x"}, "active": "False"})},
			`{"name":{"givenName":"x","familyName":"b"},"active":false}`, false},
		{"enterprise attribute by URN path", `{}`,
			[]scim.PatchOperation{op(t, "add", enterpriseURN+":department", "QA"), op(t, "add", enterpriseURN+":manager", map[string]any{"value": "m"})},
			`{"` + enterpriseURN + `":{"department":"QA","manager":{"value":"m"}}}`, false},
		{"remove the last enterprise attribute drops the extension", `{"` + enterpriseURN + `":{"department":"QA"}}`,
			[]scim.PatchOperation{op(t, "remove", enterpriseURN+":department", nil)}, `{}`, false},
		{"read-only attributes are ignored", `{"userName":"u"}`,
			[]scim.PatchOperation{op(t, "replace", "", map[string]any{"meta": map[string]any{"created": "x"}, "groups": []any{}})},
			`{"userName":"u"}`, false},
		{"unknown attribute", `{}`, []scim.PatchOperation{op(t, "add", "shoeSize", "44")}, ``, true},
		{"unknown op", `{}`, []scim.PatchOperation{op(t, "move", "userName", "x")}, ``, true},
		{"remove without path", `{}`, []scim.PatchOperation{op(t, "remove", "", nil)}, ``, true},
		{"active takes booleans only", `{}`, []scim.PatchOperation{op(t, "replace", "active", "yes")}, ``, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := doc(t, c.before)
			err := applyPatch(typeUser, d, c.ops, nopMembers{t})
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				if _, ok := err.(*apiError); !ok {
					t.Errorf("error %T is not an apiError", err)
				}
				return
			}
			if want := doc(t, c.after); !reflect.DeepEqual(d, want) {
				got, _ := json.Marshal(d)
				t.Errorf("got  %s\nwant %s", got, c.after)
			}
		})
	}
}
