package evaluagentsim

import (
	"net/http"
	"slices"
	"strings"
)

type handler struct {
	fn   func(s *Server, c *call) response
	body bool // the request carries a JSON body (content type checked, body parsed)
}

type route struct {
	template string
	segs     []string
	methods  map[string]handler
}

func (rt *route) allow() string {
	ms := make([]string, 0, len(rt.methods))
	for m := range rt.methods {
		ms = append(ms, m)
	}
	slices.Sort(ms)
	return strings.Join(ms, ", ")
}

func get(fn func(*Server, *call) response) handler   { return handler{fn: fn} }
func write(fn func(*Server, *call) response) handler { return handler{fn: fn, body: true} }

// routes is the simulator's route table: §7 and §3.2, paths relative to /v1. PUT is an alias of
// PATCH on users and groups, and /relationships/agents an alias of /agents on WQTs (§7 notes).
var routes = func() []*route {
	wqtAgents := map[string]handler{
		http.MethodGet:    get((*Server).listWQTAgents),
		http.MethodPatch:  write((*Server).replaceWQTAgents),
		http.MethodPost:   write((*Server).addWQTAgents),
		http.MethodDelete: write((*Server).removeWQTAgents),
	}
	table := []struct {
		template string
		methods  map[string]handler
	}{
		{"/ping", map[string]handler{http.MethodGet: get((*Server).ping)}},
		{"/auth/token", map[string]handler{
			http.MethodPost:   get((*Server).createToken),
			http.MethodDelete: get((*Server).revokeToken),
		}},
		{"/auth/token/refresh", map[string]handler{http.MethodPost: get((*Server).refreshToken)}},
		{"/org/users", map[string]handler{
			http.MethodGet:  get((*Server).listUsers),
			http.MethodPost: write((*Server).createUser),
		}},
		{"/org/users/{id}", map[string]handler{
			http.MethodGet:   get((*Server).getUser),
			http.MethodPatch: write((*Server).updateUser),
			http.MethodPut:   write((*Server).updateUser),
		}},
		{"/org/groups", map[string]handler{
			http.MethodGet:  get((*Server).listGroups),
			http.MethodPost: write((*Server).createGroup),
		}},
		{"/org/groups/{id}", map[string]handler{
			http.MethodPatch:  write((*Server).updateGroup),
			http.MethodPut:    write((*Server).updateGroup),
			http.MethodDelete: get((*Server).deleteGroup),
		}},
		{"/org/roles", map[string]handler{http.MethodGet: get((*Server).listRoles)}},
		{"/org/levels", map[string]handler{http.MethodGet: get((*Server).listLevels)}},
		{"/org/abilities", map[string]handler{http.MethodGet: get((*Server).listAbilities)}},
		{"/quality/work-queue-templates", map[string]handler{http.MethodGet: get((*Server).listWQTs)}},
		{"/quality/evaluations", map[string]handler{http.MethodGet: get((*Server).listEvaluations)}},
		{"/quality/work-queue-templates/{id}", map[string]handler{http.MethodGet: get((*Server).getWQT)}},
		{"/quality/work-queue-templates/{id}/agents", wqtAgents},
		{"/quality/work-queue-templates/{id}/relationships/agents", wqtAgents},
	}
	out := make([]*route, len(table))
	for i, t := range table {
		out[i] = &route{template: t.template, segs: strings.Split(t.template[1:], "/"), methods: t.methods}
	}
	return out
}()

// matchRoute finds the route serving path (relative to /v1) and its {id} parameter.
func matchRoute(path string) (*route, string) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
next:
	for _, rt := range routes {
		if len(rt.segs) != len(segs) {
			continue
		}
		id := ""
		for i, p := range rt.segs {
			switch {
			case p == "{id}" && segs[i] != "":
				id = segs[i]
			case p != segs[i]:
				continue next
			}
		}
		return rt, id
	}
	return nil, ""
}
