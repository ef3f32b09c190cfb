package evaluagent

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/rostersync/rostersync/reconcile/internal/httpx"
)

// Route is one endpoint: an HTTP method and a path template relative to the
// base URL (which carries /v1). A template names the object it addresses with
// the placeholder {id}. Its Endpoint, such as "PATCH /org/users/{id}", names it
// for budgeting and metrics: every request through a route draws on the same
// rate-limit budget, whichever id it addresses (§4).
type Route = httpx.Route

// Routes is the single table of every path the client calls. Paths marked
// inferred in the contract are guesses; when one turns out wrong, correct it
// here or override it from configuration, and no calling code changes.
//
// In Config.Routes a zero Route (or a zero Method or Path) keeps the default.
type Routes struct {
	Ping               Route // P1 GET /ping
	ListUsers          Route // U1 GET /org/users
	CreateUser         Route // U3 POST /org/users (inferred)
	UpdateUser         Route // U4–U6 PATCH /org/users/{id}
	ListGroups         Route // G1 GET /org/groups
	CreateGroup        Route // G2 POST /org/groups (inferred)
	UpdateGroup        Route // G3 PATCH /org/groups/{id} (inferred)
	ListRoles          Route // R1 GET /org/roles
	ListLevels         Route // L1 GET /org/levels
	ListQueues         Route // W1 GET /quality/work-queue-templates (inferred)
	ListQueueAgents    Route // W3 GET /quality/work-queue-templates/{id}/agents (inferred)
	AddQueueAgents     Route // W5 POST /quality/work-queue-templates/{id}/agents (inferred)
	RemoveQueueAgents  Route // W6 DELETE /quality/work-queue-templates/{id}/agents (inferred)
	ReplaceQueueAgents Route // W4 PATCH /quality/work-queue-templates/{id}/agents (inferred)
	ListEvaluations    Route // E1 GET /quality/evaluations (read by audit)
}

// DefaultRoutes returns the route table of the contract (§7).
func DefaultRoutes() Routes {
	return Routes{
		Ping:               Route{Method: http.MethodGet, Path: "/ping"},
		ListUsers:          Route{Method: http.MethodGet, Path: "/org/users"},
		CreateUser:         Route{Method: http.MethodPost, Path: "/org/users"},
		UpdateUser:         Route{Method: http.MethodPatch, Path: "/org/users/{id}"},
		ListGroups:         Route{Method: http.MethodGet, Path: "/org/groups"},
		CreateGroup:        Route{Method: http.MethodPost, Path: "/org/groups"},
		UpdateGroup:        Route{Method: http.MethodPatch, Path: "/org/groups/{id}"},
		ListRoles:          Route{Method: http.MethodGet, Path: "/org/roles"},
		ListLevels:         Route{Method: http.MethodGet, Path: "/org/levels"},
		ListQueues:         Route{Method: http.MethodGet, Path: "/quality/work-queue-templates"},
		ListQueueAgents:    Route{Method: http.MethodGet, Path: "/quality/work-queue-templates/{id}/agents"},
		AddQueueAgents:     Route{Method: http.MethodPost, Path: "/quality/work-queue-templates/{id}/agents"},
		RemoveQueueAgents:  Route{Method: http.MethodDelete, Path: "/quality/work-queue-templates/{id}/agents"},
		ReplaceQueueAgents: Route{Method: http.MethodPatch, Path: "/quality/work-queue-templates/{id}/agents"},
		ListEvaluations:    Route{Method: http.MethodGet, Path: "/quality/evaluations"},
	}
}

// itemRoutes are the routes that address one object and so need {id}.
var itemRoutes = map[string]bool{
	"UpdateUser": true, "UpdateGroup": true,
	"ListQueueAgents": true, "AddQueueAgents": true, "RemoveQueueAgents": true, "ReplaceQueueAgents": true,
}

// withDefaults fills every zero Method or Path of r from DefaultRoutes.
func (r Routes) withDefaults() Routes {
	def := reflect.ValueOf(DefaultRoutes())
	out := reflect.ValueOf(&r).Elem()
	for i := range out.NumField() {
		f := out.Field(i).Addr().Interface().(*Route)
		*f = f.Or(def.Field(i).Interface().(Route))
	}
	return r
}

// validate reports every malformed route at once.
func (r Routes) validate() error {
	var errs []error
	v := reflect.ValueOf(r)
	t := v.Type()
	for i := range v.NumField() {
		name := t.Field(i).Name
		rt := v.Field(i).Interface().(Route)
		switch rt.Method {
		case http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
		default:
			errs = append(errs, fmt.Errorf("Routes.%s.Method %q: use GET, POST, PATCH, PUT or DELETE", name, rt.Method))
		}
		if !strings.HasPrefix(rt.Path, "/") || strings.ContainsAny(rt.Path, "?#") {
			errs = append(errs, fmt.Errorf("Routes.%s.Path %q: give a path relative to the base URL, starting with / and without a query", name, rt.Path))
		}
		if got, want := strings.Contains(rt.Path, "{id}"), itemRoutes[name]; got != want {
			if want {
				errs = append(errs, fmt.Errorf("Routes.%s.Path %q: the path must contain {id} where the object's id goes", name, rt.Path))
			} else {
				errs = append(errs, fmt.Errorf("Routes.%s.Path %q: this route addresses no single object; remove {id}", name, rt.Path))
			}
		}
	}
	return errors.Join(errs...)
}

// Endpoints returns the endpoint names of the table, for reports that count
// calls per endpoint.
func (r Routes) Endpoints() []string {
	v := reflect.ValueOf(r)
	out := make([]string, 0, v.NumField())
	for i := range v.NumField() {
		out = append(out, v.Field(i).Interface().(Route).Endpoint())
	}
	return out
}
