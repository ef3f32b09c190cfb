package flex

import (
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/rostersync/rostersync/config/block"
	"github.com/rostersync/rostersync/reconcile/internal/httpx"
)

// Route is one endpoint: a host family, an HTTP method and a path. Paths hold
// the placeholders {instance} (the Flex instance SID GO…), {workspace} (the
// TaskRouter workspace SID WS…) and {id}.
type Route = httpx.Route

// Routes is the single table of every path the client calls. The Flex Users
// /v4 paths are public beta and several shapes are inferred; when one turns
// out wrong, correct it here or override it from configuration (routes:),
// and no calling code changes. There is deliberately no /v1/Insights/ route:
// QA content is never written.
type Routes struct {
	Configuration Route // C1 F GET /v1/Configuration
	ListUsers     Route // U1 F GET /v1/Instances/{instance}/Users
	GetUser       Route // U3 F GET /v4/Instances/{instance}/Users/{id}
	Provision     Route // U4 F POST /v4/Instances/{instance}/Users/Provision
	Deprovision   Route // U5 F POST /v4/Instances/{instance}/Users/Deprovision
	ListWorkers   Route // W1 TR GET /v1/Workspaces/{workspace}/Workers
	GetWorker     Route // W2 TR GET /v1/Workspaces/{workspace}/Workers/{id}
	UpdateWorker  Route // W3 TR POST /v1/Workspaces/{workspace}/Workers/{id}
	// Flex Teams (public beta; teams: mirror only). {member} is a Flex
	// user SID.
	ListTeams   Route // T1 F GET /v1/Instances/{instance}/Teams
	CreateTeam  Route // T3 F POST /v1/Instances/{instance}/Teams
	GetTeam     Route // T2 F GET /v1/Instances/{instance}/Teams/{id}
	UpdateTeam  Route // T4 F POST /v1/Instances/{instance}/Teams/{id}
	DeleteTeam  Route // T5 F DELETE /v1/Instances/{instance}/Teams/{id}
	AddMember   Route // T7 F POST /v1/Instances/{instance}/Teams/{id}/Members
	ListOwners  Route // T8 F GET /v1/Instances/{instance}/Teams/{id}/Owners
	AddOwner    Route // T9 F POST /v1/Instances/{instance}/Teams/{id}/Owners
	RemoveOwner Route // T10 F DELETE /v1/Instances/{instance}/Teams/{id}/Owners/{member}
}

// DefaultRoutes returns the route table of the contract (§6).
func DefaultRoutes() Routes {
	return Routes{
		Configuration: Route{Method: http.MethodGet, Path: "/v1/Configuration"},
		ListUsers:     Route{Method: http.MethodGet, Path: "/v1/Instances/{instance}/Users"},
		GetUser:       Route{Method: http.MethodGet, Path: "/v4/Instances/{instance}/Users/{id}"},
		Provision:     Route{Method: http.MethodPost, Path: "/v4/Instances/{instance}/Users/Provision"},
		Deprovision:   Route{Method: http.MethodPost, Path: "/v4/Instances/{instance}/Users/Deprovision"},
		ListWorkers:   Route{Method: http.MethodGet, Path: "/v1/Workspaces/{workspace}/Workers"},
		GetWorker:     Route{Method: http.MethodGet, Path: "/v1/Workspaces/{workspace}/Workers/{id}"},
		UpdateWorker:  Route{Method: http.MethodPost, Path: "/v1/Workspaces/{workspace}/Workers/{id}"},
		ListTeams:     Route{Method: http.MethodGet, Path: "/v1/Instances/{instance}/Teams"},
		CreateTeam:    Route{Method: http.MethodPost, Path: "/v1/Instances/{instance}/Teams"},
		GetTeam:       Route{Method: http.MethodGet, Path: "/v1/Instances/{instance}/Teams/{id}"},
		UpdateTeam:    Route{Method: http.MethodPost, Path: "/v1/Instances/{instance}/Teams/{id}"},
		DeleteTeam:    Route{Method: http.MethodDelete, Path: "/v1/Instances/{instance}/Teams/{id}"},
		AddMember:     Route{Method: http.MethodPost, Path: "/v1/Instances/{instance}/Teams/{id}/Members"},
		ListOwners:    Route{Method: http.MethodGet, Path: "/v1/Instances/{instance}/Teams/{id}/Owners"},
		AddOwner:      Route{Method: http.MethodPost, Path: "/v1/Instances/{instance}/Teams/{id}/Owners"},
		RemoveOwner:   Route{Method: http.MethodDelete, Path: "/v1/Instances/{instance}/Teams/{id}/Owners/{member}"},
	}
}

// routeNames are the configuration names of the routes, in table order.
var routeNames = []string{"configuration", "list_users", "get_user", "provision", "deprovision", "list_workers", "get_worker", "update_worker",
	"list_teams", "create_team", "get_team", "update_team", "delete_team", "add_member", "list_owners", "add_owner", "remove_owner"}

// taskRouter says which routes go to the TaskRouter host.
var taskRouter = []string{"list_workers", "get_worker", "update_worker"}

func (r *Routes) fields() []*Route {
	return []*Route{&r.Configuration, &r.ListUsers, &r.GetUser, &r.Provision, &r.Deprovision, &r.ListWorkers, &r.GetWorker, &r.UpdateWorker,
		&r.ListTeams, &r.CreateTeam, &r.GetTeam, &r.UpdateTeam, &r.DeleteTeam, &r.AddMember, &r.ListOwners, &r.AddOwner, &r.RemoveOwner}
}

// ParseRoutes reads route overrides from configuration: keys are the
// routeNames, values "METHOD /path" or just "/path" (keeping the default
// method).
func ParseRoutes(m map[string]string) (Routes, error) {
	var r Routes
	fs := r.fields()
	var p block.Problems
	for _, k := range slices.Sorted(maps.Keys(m)) {
		i := slices.Index(routeNames, k)
		if i < 0 {
			p.Add("routes."+k, "unknown route (known: %s)", strings.Join(routeNames, ", "))
			continue
		}
		method, path, ok := strings.Cut(strings.TrimSpace(m[k]), " ")
		if !ok {
			method, path = "", method
		}
		path = strings.TrimSpace(path)
		if !strings.HasPrefix(path, "/") {
			p.Add("routes."+k, "%q: the path must start with /", m[k])
			continue
		}
		fs[i].Method, fs[i].Path = strings.ToUpper(method), path
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

// Keys owned by rostersync by default: the agent dimensions Flex Insights
// reads (§8.1). One table; configuration (owned_keys) replaces it.
var DefaultOwnedKeys = []string{
	"team_id", "team_name", "team_name_in_hierarchy",
	"department_id", "department_name", "department_name_in_hierarchy",
	"location", "manager", "role", "state",
	"agent_attribute_1", "agent_attribute_2", "agent_attribute_3",
	"agent_label_1", "agent_label_2", "agent_label_3",
}

// DefaultIdPOwnedKeys are the keys SSO overwrites at every login on SSO
// tenants (the mandatory claims and the avatar); idp_owned_keys replaces it
// with the tenant's real claim set.
var DefaultIdPOwnedKeys = []string{"full_name", "email", "roles", "image_url"}

// neverKeys are never written, whatever the configuration says: Flex's own
// keys and the opt-in agent_id (§8.1, §10).
var neverKeys = []string{"roles", "image_url", "full_name", "email", "team_sid", "contact_uri", "agent_id"}

// neverPrefixes are routing keys, never written.
var neverPrefixes = []string{"channel.", "routing", "skills"}

func neverWritten(k string) bool {
	if slices.Contains(neverKeys, k) {
		return true
	}
	for _, p := range neverPrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}
