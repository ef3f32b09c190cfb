package scim

import (
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
	"github.com/scim2/filter-parser/v2"
)

// baselineServer is the floor the load benchmark compares the endpoint with: the same SCIM
// library serving Users from a map, with a map index for userName, no store, no middleware and
// no authentication.
func baselineServer(users int) (http.Handler, error) {
	h := &memUsers{byID: map[string]scim.ResourceAttributes{}, byName: map[string]string{}}
	for i := range users {
		name := fmt.Sprintf("user%06d@example.com", i)
		id := fmt.Sprintf("id-%06d", i)
		h.byID[id] = scim.ResourceAttributes{
			"userName": name, "active": true,
			"name":   map[string]any{"givenName": "Given", "familyName": fmt.Sprintf("Family%d", i)},
			"emails": []any{map[string]any{"value": name, "type": "work", "primary": true}},
		}
		h.byName[strings.ToLower(name)] = id
	}
	s, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{SupportFiltering: true},
		ResourceTypes: []scim.ResourceType{{
			ID: optional.NewString("User"), Name: "User", Endpoint: "/Users",
			Schema: schema.CoreUserSchema(), Handler: h,
		}},
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", s))
	return mux, nil
}

type memUsers struct {
	mu     sync.RWMutex
	byID   map[string]scim.ResourceAttributes
	byName map[string]string
}

func (m *memUsers) resource(id string) scim.Resource {
	return scim.Resource{ID: id, Attributes: m.byID[id]}
}

func (m *memUsers) GetAll(r *http.Request, p scim.ListRequestParams) (scim.Page, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if p.FilterValidator != nil {
		if e, ok := p.FilterValidator.GetFilter().(*filter.AttributeExpression); ok &&
			strings.EqualFold(e.AttributePath.AttributeName, "userName") && e.Operator == filter.EQ {
			v, _ := e.CompareValue.(string)
			if id, ok := m.byName[strings.ToLower(v)]; ok {
				return scim.Page{TotalResults: 1, Resources: []scim.Resource{m.resource(id)}}, nil
			}
			return scim.Page{Resources: []scim.Resource{}}, nil
		}
	}
	return scim.Page{}, fmt.Errorf("baseline: only userName eq lookups")
}

func (m *memUsers) Get(r *http.Request, id string) (scim.Resource, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.resource(id), nil
}

func (m *memUsers) Create(*http.Request, scim.ResourceAttributes) (scim.Resource, error) {
	return scim.Resource{}, fmt.Errorf("baseline: read only")
}

func (m *memUsers) Replace(*http.Request, string, scim.ResourceAttributes) (scim.Resource, error) {
	return scim.Resource{}, fmt.Errorf("baseline: read only")
}

func (m *memUsers) Delete(*http.Request, string) error { return fmt.Errorf("baseline: read only") }

func (m *memUsers) Patch(*http.Request, string, []scim.PatchOperation) (scim.Resource, error) {
	return scim.Resource{}, fmt.Errorf("baseline: read only")
}
