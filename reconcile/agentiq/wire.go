package agentiq

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file is the one place that decodes response shapes the contract marks
// as inferred: the export envelope, agent timestamps and nulls, and the
// element shapes of the import response.

// Agent is an agent as the export lists it (§5.2), blanks normalised to "".
type Agent struct {
	ID           int
	FirstName    string
	LastName     string
	Email        string
	Phone        string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Roles        []string
	Teams        []string
	WatcherTeams []string
	ExternalID   string
	// Deleted and Deactivated say deleted_at and deactivated_at are set;
	// DeletedAt and DeactivatedAt hold them when they parse.
	Deleted       bool
	DeletedAt     time.Time
	Deactivated   bool
	DeactivatedAt time.Time
}

// Active is the derived active state: neither deactivated nor deleted (§5.2).
func (a *Agent) Active() bool { return !a.Deleted && !a.Deactivated }

// flexString reads a string, a number or null; null and "" are both "".
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(strings.TrimSpace(s))
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("want a string, a number or null, got %s", b)
		}
		*f = flexString(n.String())
	}
	return nil
}

// flexStrings reads an array of strings; null is empty.
type flexStrings []string

func (f *flexStrings) UnmarshalJSON(b []byte) error {
	var raw []flexString
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make([]string, 0, len(raw))
	for _, s := range raw {
		if s != "" {
			out = append(out, string(s))
		}
	}
	*f = out
	return nil
}

type wireAgent struct {
	ID            json.Number `json:"id"`
	FirstName     flexString  `json:"first_name"`
	LastName      flexString  `json:"last_name"`
	Email         flexString  `json:"email"`
	Phone         flexString  `json:"phone"`
	CreatedAt     flexString  `json:"created_at"`
	UpdatedAt     flexString  `json:"updated_at"`
	DeletedAt     flexString  `json:"deleted_at"`
	DeactivatedAt flexString  `json:"deactivated_at"`
	Roles         flexStrings `json:"roles"`
	Teams         flexStrings `json:"teams"`
	WatcherTeams  flexStrings `json:"watcher_teams"`
	ExternalID    flexString  `json:"external_id"`
}

// parseTime reads a response timestamp: RFC 3339, or "YYYY-MM-DD HH:MM:SS"
// as UTC (§2).
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateTime, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("timestamp %q is neither RFC 3339 nor YYYY-MM-DD HH:MM:SS", s)
}

// decodeAgents reads an export body: a bare array, {"data":[…]} or a single
// object (§5.2, inferred).
func decodeAgents(body []byte) ([]Agent, error) {
	body = bytes.TrimSpace(body)
	var ws []wireAgent
	switch {
	case len(body) > 0 && body[0] == '[':
		if err := json.Unmarshal(body, &ws); err != nil {
			return nil, fmt.Errorf("decode agents: %w", err)
		}
	case len(body) > 0 && body[0] == '{':
		var env struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &env); err != nil {
			return nil, fmt.Errorf("decode agents: %w", err)
		}
		if len(env.Data) > 0 && !bytes.Equal(env.Data, []byte("null")) {
			return decodeAgents(env.Data)
		}
		var w wireAgent
		if err := json.Unmarshal(body, &w); err != nil {
			return nil, fmt.Errorf("decode agent: %w", err)
		}
		ws = []wireAgent{w}
	default:
		return nil, fmt.Errorf("decode agents: want a JSON array or object, got %q", truncate(string(body), 60))
	}
	out := make([]Agent, 0, len(ws))
	for i, w := range ws {
		a, err := w.agent()
		if err != nil {
			return nil, fmt.Errorf("decode agents: [%d]: %w", i, err)
		}
		out = append(out, a)
	}
	return out, nil
}

func (w wireAgent) agent() (Agent, error) {
	id, err := strconv.Atoi(w.ID.String())
	if err != nil || id <= 0 {
		return Agent{}, fmt.Errorf("id %q is not a positive integer", w.ID)
	}
	a := Agent{
		ID: id, FirstName: string(w.FirstName), LastName: string(w.LastName), Email: string(w.Email),
		Phone: string(w.Phone), Roles: w.Roles, Teams: w.Teams, WatcherTeams: w.WatcherTeams,
		ExternalID: string(w.ExternalID),
		// A stamp that is set counts even when it does not parse: the agent
		// is inactive whatever the format.
		Deleted: w.DeletedAt != "", Deactivated: w.DeactivatedAt != "",
	}
	var errs []error
	for _, f := range []struct {
		name string
		v    flexString
		dst  *time.Time
	}{
		{"created_at", w.CreatedAt, &a.CreatedAt},
		{"updated_at", w.UpdatedAt, &a.UpdatedAt},
		{"deleted_at", w.DeletedAt, &a.DeletedAt},
		{"deactivated_at", w.DeactivatedAt, &a.DeactivatedAt},
	} {
		if f.v == "" {
			continue
		}
		t, err := parseTime(string(f.v))
		if err != nil {
			errs = append(errs, fmt.Errorf("agent %d: %s: %w", id, f.name, err))
			continue
		}
		*f.dst = t
	}
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = a.CreatedAt
	}
	return a, errors.Join(errs...)
}

// ImportReport is the import's answer to one upload (§7.4).
type ImportReport struct {
	// Rows is the number of data rows sent.
	Rows int
	// Succeeded and Failed are the success and failure elements by row.
	// Outcomes are counted from them, never from the summary.
	Succeeded map[int]RowSuccess
	Failed    map[int]string
	// Unparsed keeps elements of success or failure whose shape the client
	// could not read, as raw JSON, for the report.
	Unparsed []json.RawMessage
	// Summary is the server's own summary, kept for the report only.
	Summary json.RawMessage
}

// RowSuccess is one success element.
type RowSuccess struct {
	Row     int
	Action  string // "created" or "updated"
	AgentID int    // 0 when not given
}

func decodeImport(body []byte, rows int) (*ImportReport, error) {
	var doc struct {
		Total   json.RawMessage   `json:"total"`
		Success []json.RawMessage `json:"success"`
		Failure []json.RawMessage `json:"failure"`
		Summary json.RawMessage   `json:"summary"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decode import response: %w", err)
	}
	if doc.Success == nil && doc.Failure == nil {
		return nil, fmt.Errorf("decode import response: neither success nor failure in %q", truncate(string(body), 200))
	}
	r := &ImportReport{Rows: rows, Succeeded: map[int]RowSuccess{}, Failed: map[int]string{}, Summary: doc.Summary}
	for _, raw := range doc.Success {
		var e struct {
			Row     json.Number `json:"row"`
			Action  flexString  `json:"action"`
			AgentID json.Number `json:"agent_id"`
		}
		row, ok := rowOf(raw, &e, func() json.Number { return e.Row })
		if !ok {
			r.Unparsed = append(r.Unparsed, raw)
			continue
		}
		id, _ := strconv.Atoi(e.AgentID.String())
		r.Succeeded[row] = RowSuccess{Row: row, Action: string(e.Action), AgentID: id}
	}
	for _, raw := range doc.Failure {
		var e struct {
			Row     json.Number `json:"row"`
			Error   flexString  `json:"error"`
			Message flexString  `json:"message"`
		}
		row, ok := rowOf(raw, &e, func() json.Number { return e.Row })
		if !ok {
			r.Unparsed = append(r.Unparsed, raw)
			continue
		}
		msg := string(e.Error)
		if msg == "" {
			msg = string(e.Message)
		}
		if msg == "" {
			msg = string(raw)
		}
		r.Failed[row] = msg
	}
	return r, nil
}

// rowOf decodes an element and reads its row, which must name a row sent.
func rowOf(raw json.RawMessage, v any, row func() json.Number) (int, bool) {
	if json.Unmarshal(raw, v) != nil {
		return 0, false
	}
	n, err := strconv.Atoi(row().String())
	return n, err == nil && n > 0
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
