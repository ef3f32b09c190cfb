package scim

import (
	"slices"
	"strings"

	"github.com/elimity-com/scim/schema"
)

// Schema URNs.
const (
	userURN       = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupURN      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	patchOpURN    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	listURN       = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	errorURN      = "urn:ietf:params:scim:api:messages:2.0:Error"
)

// commonAttributes makes id, externalId and meta filterable (G1): the
// library validates filters against the resource schema only.
func commonAttributes() []schema.CoreAttribute {
	return []schema.CoreAttribute{
		schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "externalId", CaseExact: true})),
		schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "id", CaseExact: true,
			Mutability: schema.AttributeMutabilityReadOnly()})),
		schema.ComplexCoreAttribute(schema.ComplexParams{Name: "meta", Mutability: schema.AttributeMutabilityReadOnly(),
			SubAttributes: []schema.SimpleParams{
				schema.SimpleDateTimeParams(schema.DateTimeParams{Name: "created"}),
				schema.SimpleDateTimeParams(schema.DateTimeParams{Name: "lastModified"}),
			}}),
	}
}

// withCommon appends the common attributes. The result's capacity is
// clipped: the library appends externalId to the attribute slice on every
// POST, PUT and PATCH, and spare capacity would make concurrent requests
// write into one shared array.
func withCommon(s schema.Schema) schema.Schema {
	s.Attributes = slices.Clip(append(slices.Clone(s.Attributes), commonAttributes()...))
	return s
}

func userSchema() schema.Schema  { return withCommon(schema.CoreUserSchema()) }
func groupSchema() schema.Schema { return withCommon(schema.CoreGroupSchema()) }

// attrDef is what the PATCH applier needs to know about an attribute.
type attrDef struct {
	name     string // canonical name
	multi    bool
	complex  bool
	readOnly bool
	subs     map[string]string // lower-cased → canonical sub-attribute name
}

// attrSet indexes a schema's attributes by lower-cased name.
type attrSet map[string]attrDef

func newAttrSet(s schema.Schema) attrSet {
	out := attrSet{}
	for _, a := range s.Attributes {
		d := attrDef{
			name:     a.Name(),
			multi:    a.MultiValued(),
			complex:  a.HasSubAttributes(),
			readOnly: a.Mutability() == "readOnly",
		}
		if d.complex {
			d.subs = map[string]string{}
			for _, sa := range a.SubAttributes() {
				d.subs[strings.ToLower(sa.Name())] = sa.Name()
			}
		}
		out[strings.ToLower(a.Name())] = d
	}
	return out
}

var (
	userAttrs       = newAttrSet(userSchema())
	groupAttrs      = newAttrSet(groupSchema())
	enterpriseAttrs = newAttrSet(schema.ExtensionEnterpriseUser())
)
