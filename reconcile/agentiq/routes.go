package agentiq

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/rostersync/rostersync/config/block"
	"github.com/rostersync/rostersync/reconcile/internal/httpx"
)

// Route is one endpoint: an HTTP method and a path relative to the base URL.
// A path that addresses one agent holds the placeholder {id}. Its Endpoint
// names it in logs and request counts, as "GET /api/exports/agents".
type Route = httpx.Route

// Routes is the single table of every path the client calls. Every path of
// the contract is inferred; when one turns out wrong, correct it here or
// override it from configuration, and no calling code changes.
//
// In Config.Routes a zero Method or Path keeps the default.
type Routes struct {
	ExportAgents Route // X1 GET /api/exports/agents
	ListAgents   Route // A1 GET /api/agents
	GetAgent     Route // A2 GET /api/agents/{id}
	Me           Route // A2 GET /api/agents/me
	ImportUsers  Route // I1 POST /api/imports/users (alternative: /api/ingestion/users)
}

// DefaultRoutes returns the route table of the contract (§5, §10).
func DefaultRoutes() Routes {
	return Routes{
		ExportAgents: Route{Method: http.MethodGet, Path: "/api/exports/agents"},
		ListAgents:   Route{Method: http.MethodGet, Path: "/api/agents"},
		GetAgent:     Route{Method: http.MethodGet, Path: "/api/agents/{id}"},
		Me:           Route{Method: http.MethodGet, Path: "/api/agents/me"},
		ImportUsers:  Route{Method: http.MethodPost, Path: "/api/imports/users"},
	}
}

// routeNames are the configuration names of the routes, in table order.
var routeNames = []string{"export_agents", "list_agents", "get_agent", "me", "import_users"}

func (r *Routes) fields() []*Route {
	return []*Route{&r.ExportAgents, &r.ListAgents, &r.GetAgent, &r.Me, &r.ImportUsers}
}

// ParseRoutes reads route overrides from configuration: keys are
// export_agents, list_agents, get_agent, me and import_users, values
// "METHOD /path" or just "/path" (keeping the default method).
func ParseRoutes(m map[string]string) (Routes, error) {
	var r Routes
	fs := r.fields()
	var p block.Problems
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		i := slices.Index(routeNames, k)
		if i < 0 {
			p.Add("routes."+k, "unknown route (known: %s)", strings.Join(routeNames, ", "))
			continue
		}
		method, path, ok := strings.Cut(strings.TrimSpace(v), " ")
		if !ok {
			method, path = "", method
		}
		fs[i].Method, fs[i].Path = strings.ToUpper(method), strings.TrimSpace(path)
	}
	return r, p.Err()
}

func (r Routes) withDefaults() Routes {
	def := DefaultRoutes()
	dfs, fs := def.fields(), r.fields()
	for i, f := range fs {
		*f = f.Or(*dfs[i])
	}
	return r
}

func (r Routes) validate() error {
	var errs []error
	def := DefaultRoutes()
	dfs := def.fields()
	for i, f := range r.fields() {
		name := routeNames[i]
		if f.Method != dfs[i].Method {
			errs = append(errs, fmt.Errorf("routes.%s: method %q: this route is always %s", name, f.Method, dfs[i].Method))
		}
		if !strings.HasPrefix(f.Path, "/") || strings.ContainsAny(f.Path, "?# ") {
			errs = append(errs, fmt.Errorf("routes.%s: path %q: give a path relative to the base URL, starting with / and without a query", name, f.Path))
		}
		if got, want := strings.Contains(f.Path, "{id}"), strings.Contains(dfs[i].Path, "{id}"); got != want {
			if want {
				errs = append(errs, fmt.Errorf("routes.%s: path %q must contain {id} where the agent id goes", name, f.Path))
			} else {
				errs = append(errs, fmt.Errorf("routes.%s: path %q addresses no single agent; remove {id}", name, f.Path))
			}
		}
	}
	return errors.Join(errs...)
}
