package reconcile

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
)

// attributePrefix starts the Field of one attribute's change.
const attributePrefix = "attributes."

// AttributeField is the Field of a change to the attribute key.
func AttributeField(key string) Field { return Field(attributePrefix + key) }

// Attribute returns the attribute key a Field made by AttributeField names.
func (f Field) Attribute() (string, bool) { return strings.CutPrefix(string(f), attributePrefix) }

// ErrAttributesNotObject is returned by MergeAttributes when the platform's
// document is not a JSON object: it is never overwritten.
var ErrAttributesNotObject = errors.New("the attributes are not a JSON object")

// AttributeRemoved, as a desired attribute value, asks for the key to be
// removed from the platform's document: a target puts it where the
// directory's value became empty for a key it owns (an empty value leaves
// the platform's value alone). A plan shows the removal as a change to "".
const AttributeRemoved = "\x00removed"

// MergeAttributes sets the keys of set in the JSON object raw ("" or "null"
// is an empty object), leaving every other key and its value exactly as
// they are, and returns the result minified with sorted keys. A key whose
// value in set is "" is left alone; one whose value is AttributeRemoved is
// removed. Targets and Diff merge with this one
// function, so the size Diff checks is the size the target sends.
func MergeAttributes(raw string, set map[string]string) (string, error) {
	doc := map[string]json.RawMessage{}
	if t := strings.TrimSpace(raw); t != "" && t != "null" {
		if !strings.HasPrefix(t, "{") {
			return "", ErrAttributesNotObject
		}
		if err := json.Unmarshal([]byte(t), &doc); err != nil {
			return "", errors.Join(ErrAttributesNotObject, err)
		}
		if doc == nil {
			doc = map[string]json.RawMessage{}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if set[k] == "" {
			continue
		}
		if set[k] == AttributeRemoved {
			delete(doc, k)
			continue
		}
		b, err := json.Marshal(set[k])
		if err != nil {
			return "", err
		}
		doc[k] = b
	}
	out, err := json.Marshal(doc) // map keys sorted, values compacted
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// attributeChanges lists the attributes of w that differ from cur's, in key
// order. Empty desired values leave the platform's value alone;
// AttributeRemoved removes a value the platform holds (shown as "").
func attributeChanges(cur, w *User) []Change {
	var ch []Change
	for _, k := range slices.Sorted(maps.Keys(w.Attributes)) {
		v := w.Attributes[k]
		if v == AttributeRemoved {
			if cur.Attributes[k] != "" {
				ch = append(ch, Change{AttributeField(k), cur.Attributes[k], ""})
			}
			continue
		}
		if v == "" || cur.Attributes[k] == v {
			continue
		}
		ch = append(ch, Change{AttributeField(k), cur.Attributes[k], v})
	}
	return ch
}
