package evaluagentsim

import (
	"fmt"
	"strings"
)

// DropResponses makes the next n requests to endpoint ("METHOD /template", as in Counts) that
// succeed take effect and then lose their answer: the connection is closed before the response is
// written, as a network that fails at the worst moment would. It is the deterministic form of
// Faults.CommitDrop, for one endpoint: "POST /auth/token/refresh" is a refresh whose new token
// the client never receives while the old one is already dead. n <= 0 clears it. It panics on an
// endpoint the simulator does not serve. Each drop counts as FaultCommitDrop in FaultCounts.
func (s *Server) DropResponses(endpoint string, n int) {
	method, path, _ := strings.Cut(endpoint, " ")
	rt, _ := matchRoute(path)
	if rt == nil || rt.template != path {
		panic(fmt.Sprintf("evaluagentsim: DropResponses: unknown endpoint %q", endpoint))
	}
	if _, ok := rt.methods[method]; !ok {
		panic(fmt.Sprintf("evaluagentsim: DropResponses: %s does not serve %s", path, method))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		delete(s.drops, endpoint)
		return
	}
	s.drops[endpoint] = n
}

// takeDrop reports whether the answer of a request to endpoint that ended with status must be
// dropped, and counts it. Called with s.mu held.
func (s *Server) takeDrop(method, endpoint string, status int) bool {
	name := method + " " + endpoint
	if s.drops[name] <= 0 || status < 200 || status >= 300 {
		return false
	}
	s.drops[name]--
	if s.drops[name] == 0 {
		delete(s.drops, name)
	}
	s.dropped++
	return true
}
