package agentiqsim

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// wireAgent is the X1 shape with every key present and null for blanks (§2).
type wireAgent struct {
	ID            int            `json:"id"`
	FirstName     *string        `json:"first_name"`
	LastName      *string        `json:"last_name"`
	Email         *string        `json:"email"`
	Phone         *string        `json:"phone"`
	CreatedAt     string         `json:"created_at"`
	UpdatedAt     string         `json:"updated_at"`
	DeletedAt     *string        `json:"deleted_at"`
	DeactivatedAt *string        `json:"deactivated_at"`
	Profile       map[string]any `json:"profile"`
	Roles         []string       `json:"roles"`
	Teams         []string       `json:"teams"`
	WatcherTeams  []string       `json:"watcher_teams"`
	ExternalID    *string        `json:"external_id"`
	AgentSegment  *string        `json:"agent_segment"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func stamp(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(TimeLayout)
	return &s
}

func orEmpty(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

func (a *Agent) wire() wireAgent {
	return wireAgent{
		ID: a.ID, FirstName: nullable(a.FirstName), LastName: nullable(a.LastName),
		Email: nullable(a.Email), Phone: nullable(a.Phone),
		CreatedAt: a.CreatedAt.Format(TimeLayout), UpdatedAt: a.UpdatedAt.Format(TimeLayout),
		DeletedAt: stamp(a.DeletedAt), DeactivatedAt: stamp(a.DeactivatedAt),
		Profile: map[string]any{}, Roles: orEmpty(a.Roles), Teams: orEmpty(a.Teams),
		WatcherTeams: orEmpty(a.WatcherTeams),
		ExternalID:   nullable(a.ExternalID), AgentSegment: nullable(a.AgentSegment),
	}
}

// model is the A1/A2 shape (§6).
func (a *Agent) model() map[string]any {
	return map[string]any{
		"id":    a.ID,
		"email": nullable(a.Email),
		"profile": map[string]any{
			"first_name": nullable(a.FirstName), "last_name": nullable(a.LastName), "position": nil,
			"tagline": nil, "expertise": nil, "intro": nil, "location": nil, "about": nil,
			"availability": nil, "background_file_id": nil, "phone": nullable(a.Phone),
		},
		"totalPrimaryCustomers": 0,
		"totalLogins":           0,
		"busy_status":           map[string]any{"status": "", "vacation": map[string]any{"message_to_customer": nil}},
	}
}

// timeParam parses an optional timestamp parameter; ok is false (with a 400) when malformed.
func timeParam(q url.Values, name string) (*time.Time, *response) {
	v := q.Get(name)
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(TimeLayout, v)
	if err != nil {
		resp := errResp(http.StatusBadRequest, name+" must be a timestamp YYYY-MM-DDTHH:MM:SSZ")
		return nil, &resp
	}
	return &t, nil
}

// exportAgents is X1 (§5.1).
func (s *Server) exportAgents(c *call) response {
	q := c.r.URL.Query()
	bounds := map[string]*time.Time{}
	for _, name := range []string{"start_date", "end_date", "updated_start_date", "updated_end_date"} {
		t, bad := timeParam(q, name)
		if bad != nil {
			return *bad
		}
		bounds[name] = t
	}
	if bounds["end_date"] == nil {
		now := c.now
		bounds["end_date"] = &now
	}
	agentID := 0
	if v := q.Get("agent_id"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return errResp(http.StatusBadRequest, "agent_id must be a positive integer")
		}
		agentID = n
	}
	_, byExternal := q["external_id"]
	external, name, email := q.Get("external_id"), q.Get("name"), q.Get("email")
	out := []wireAgent{}
	for _, a := range s.agents {
		switch {
		case bounds["start_date"] != nil && a.CreatedAt.Before(*bounds["start_date"]),
			!a.CreatedAt.Before(*bounds["end_date"]),
			bounds["updated_start_date"] != nil && a.UpdatedAt.Before(*bounds["updated_start_date"]),
			bounds["updated_end_date"] != nil && !a.UpdatedAt.Before(*bounds["updated_end_date"]),
			agentID != 0 && a.ID != agentID,
			byExternal && a.ExternalID != external,
			name != "" && !nameMatches(a, name),
			email != "" && !strings.EqualFold(a.Email, email):
			continue
		}
		out = append(out, a.wire())
	}
	return response{status: http.StatusOK, body: out}
}

func nameMatches(a *Agent, name string) bool {
	full := strings.TrimSpace(a.FirstName + " " + a.LastName)
	return strings.EqualFold(a.FirstName, name) || strings.EqualFold(a.LastName, name) || strings.EqualFold(full, name)
}

// listAgents is A1 (§6).
func (s *Server) listAgents(c *call) response {
	q := c.r.URL.Query()
	limit, offset := 50, 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return errResp(http.StatusBadRequest, "limit must be an integer from 1 to 1000")
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errResp(http.StatusBadRequest, "offset must be a non-negative integer")
		}
		offset = n
	}
	exclude := map[int]bool{}
	for _, v := range q["exclude[]"] {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errResp(http.StatusBadRequest, "exclude[] must be agent ids")
		}
		exclude[n] = true
	}
	text := strings.ToLower(strings.TrimSpace(q.Get("query")))
	var match []*Agent
	for _, a := range s.agents {
		if exclude[a.ID] {
			continue
		}
		if text != "" && !slices.ContainsFunc([]string{a.FirstName, a.LastName, a.FirstName + " " + a.LastName, a.Email},
			func(f string) bool { return strings.Contains(strings.ToLower(f), text) }) {
			continue
		}
		match = append(match, a)
	}
	models := []map[string]any{}
	for i := offset; i < len(match) && i < offset+limit; i++ {
		models = append(models, match[i].model())
	}
	return response{status: http.StatusOK, body: map[string]any{
		"models": models,
		"pagination": map[string]int{
			"limit": limit, "offset": offset, "rowCount": len(match), "pageCount": (len(match) + limit - 1) / limit,
		},
	}}
}

// getAgent is A2 by id.
func (s *Server) getAgent(c *call) response {
	id, err := strconv.Atoi(c.id)
	if err != nil {
		return errResp(http.StatusNotFound, "Not found")
	}
	a := s.agent(id)
	if a == nil {
		return errResp(http.StatusNotFound, "Not found")
	}
	return response{status: http.StatusOK, body: a.model()}
}

// getMe is A2 for the key's own agent.
func (s *Server) getMe(c *call) response {
	a := s.agent(c.key.AgentID)
	if c.key.AgentID == 0 || a == nil {
		return errResp(http.StatusNotFound, "Not found")
	}
	return response{status: http.StatusOK, body: a.model()}
}
