package agentiqsim

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Columns are the import's header row, in order (§7.2).
var Columns = []string{
	"Banker First Name", "Banker Last Name", "Banker Email", "BankerMapID", "BankerTeam",
	"Customer First Name", "Customer Last Name", "CustomerMapID", "Customer Email", "Customer Group",
	"Date Added", "Customer Phone",
}

// Cell positions.
const (
	colBankerFirst = iota
	colBankerLast
	colBankerEmail
	colBankerMapID
	colBankerTeam
	colCustomerFirst
	colCustomerLast
	colCustomerMapID
	colCustomerEmail
	colCustomerGroup
	colDateAdded
	colCustomerPhone
	numColumns
)

// parsedUpload is an upload read and parsed outside the lock.
type parsedUpload struct {
	err  string // non-empty: refuse the whole upload with 400
	rows [][]string
}

func refuse(format string, args ...any) *parsedUpload {
	return &parsedUpload{err: fmt.Sprintf(format, args...)}
}

// readUpload reads the multipart body: exactly one part, named file, a .csv text/csv file whose
// first line is exactly the header row.
func readUpload(w http.ResponseWriter, r *http.Request) *parsedUpload {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return refuse("expected a multipart/form-data body with a part named file")
	}
	mr := multipart.NewReader(http.MaxBytesReader(w, r.Body, maxUpload), params["boundary"])
	var data []byte
	parts := 0
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return refuse("malformed multipart body: %v", err)
		}
		parts++
		if p.FormName() != "file" {
			return refuse("unexpected part %q: send exactly one part, named file", p.FormName())
		}
		if parts > 1 {
			return refuse("more than one part named file")
		}
		if !strings.HasSuffix(strings.ToLower(p.FileName()), ".csv") {
			return refuse("the file name %q does not end in .csv", p.FileName())
		}
		if ct, _, err := mime.ParseMediaType(p.Header.Get("Content-Type")); err != nil || ct != "text/csv" {
			return refuse("the file's content type is %q, want text/csv", p.Header.Get("Content-Type"))
		}
		if data, err = io.ReadAll(p); err != nil {
			return refuse("reading the file: %v", err)
		}
	}
	if parts == 0 {
		return refuse("no part named file")
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	records, err := cr.ReadAll()
	if err != nil {
		return refuse("the file is not valid CSV: %v", err)
	}
	if len(records) == 0 {
		return refuse("the file is empty: the first line must be the header row")
	}
	if !slices.Equal(records[0], Columns) {
		return refuse("wrong header row: want exactly %q", strings.Join(Columns, ","))
	}
	return &parsedUpload{rows: records[1:]}
}

type rowRef struct {
	Row int `json:"row"`
}

type rowSuccess struct {
	Row        int    `json:"row"`
	Action     string `json:"action"`
	AgentID    int    `json:"agent_id,omitempty"`
	CustomerID string `json:"customer_id,omitempty"`
}

type rowFailure struct {
	Row   int    `json:"row"`
	Error string `json:"error"`
}

type importResult struct {
	Total   []rowRef     `json:"total"`
	Success []rowSuccess `json:"success"`
	Failure []rowFailure `json:"failure"`
	Summary struct {
		Total   int `json:"total"`
		Success int `json:"success"`
		Failure int `json:"failure"`
	} `json:"summary"`
}

// importUsers is I1 and its alias (§7). Each row succeeds or fails on its own.
func (s *Server) importUsers(c *call) response {
	up := c.upload
	if up == nil {
		return errResp(http.StatusBadRequest, "no part named file")
	}
	if up.err != "" {
		return errResp(http.StatusBadRequest, up.err)
	}
	res := importResult{Total: []rowRef{}, Success: []rowSuccess{}, Failure: []rowFailure{}}
	ix := s.newAgentIndex()
	for i, cells := range up.rows {
		n := i + 1
		res.Total = append(res.Total, rowRef{n})
		ok, msg := s.importRow(ix, cells, c.now)
		if msg != "" {
			res.Failure = append(res.Failure, rowFailure{Row: n, Error: msg})
			continue
		}
		ok.Row = n
		res.Success = append(res.Success, ok)
	}
	res.Summary.Total, res.Summary.Success, res.Summary.Failure = len(res.Total), len(res.Success), len(res.Failure)
	return response{status: http.StatusOK, body: res}
}

func plainAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

// importRow checks a whole row, then applies it. A failure is a message for the response and
// changes nothing.
func (s *Server) importRow(ix *agentIndex, cells []string, now time.Time) (rowSuccess, string) {
	if len(cells) != numColumns {
		return rowSuccess{}, fmt.Sprintf("the row has %d cells, want %d", len(cells), numColumns)
	}
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	banker := slices.ContainsFunc(cells[:colCustomerFirst], func(c string) bool { return c != "" })
	customer := slices.ContainsFunc(cells[colCustomerFirst:], func(c string) bool { return c != "" })
	if !banker && !customer {
		return rowSuccess{}, "the row is empty: fill the banker or the customer columns"
	}
	var target *Agent
	if banker {
		email := cells[colBankerEmail]
		switch {
		case email == "":
			return rowSuccess{}, "Banker Email is required"
		case !plainAddress(email):
			return rowSuccess{}, fmt.Sprintf("Banker Email %q is not a valid email address", email)
		}
		target = ix.matchBanker(cells[colBankerMapID], email)
		for _, a := range ix.byEmail[fold(email)] {
			if a != target {
				return rowSuccess{}, fmt.Sprintf("Banker Email %q belongs to another agent (id %d)", email, a.ID)
			}
		}
	}
	if customer {
		if cells[colCustomerMapID] == "" {
			return rowSuccess{}, "CustomerMapID is required"
		}
		if e := cells[colCustomerEmail]; e != "" && !plainAddress(e) {
			return rowSuccess{}, fmt.Sprintf("Customer Email %q is not a valid email address", e)
		}
	}
	var out rowSuccess
	if banker {
		out.Action = "updated"
		if target == nil {
			target = &Agent{ID: s.nextID, CreatedAt: now, UpdatedAt: now, Roles: []string{"agent"}}
			s.nextID++
			s.agents = append(s.agents, target)
			out.Action = "created"
		} else {
			ix.remove(target)
		}
		if s.applyBanker(target, cells) && out.Action == "updated" {
			target.UpdatedAt = now
		}
		ix.add(target)
		out.AgentID = target.ID
	}
	if customer {
		id := cells[colCustomerMapID]
		cu := s.customers[id]
		if cu == nil {
			cu = &Customer{MapID: id}
			s.customers[id] = cu
			if out.Action == "" {
				out.Action = "created"
			}
		} else if out.Action == "" {
			out.Action = "updated"
		}
		set := func(dst *string, v string) {
			if v != "" {
				*dst = v
			}
		}
		set(&cu.FirstName, cells[colCustomerFirst])
		set(&cu.LastName, cells[colCustomerLast])
		set(&cu.Email, cells[colCustomerEmail])
		set(&cu.Group, cells[colCustomerGroup])
		set(&cu.DateAdded, cells[colDateAdded])
		set(&cu.Phone, cells[colCustomerPhone])
		if target != nil {
			cu.AgentID = target.ID
		}
		out.CustomerID = id
	}
	return out, ""
}

// agentIndex finds agents by BankerMapID and by email for one import, so that an upload costs
// time in proportion to its rows and the agents, not their product. Each list is in id order,
// as a scan of the agents would meet them.
type agentIndex struct {
	byMapID map[string][]*Agent
	byEmail map[string][]*Agent // by folded email
}

func fold(s string) string { return strings.ToLower(s) }

func (s *Server) newAgentIndex() *agentIndex {
	ix := &agentIndex{byMapID: map[string][]*Agent{}, byEmail: map[string][]*Agent{}}
	for _, a := range s.agents {
		ix.add(a)
	}
	return ix
}

func insertByID(list []*Agent, a *Agent) []*Agent {
	i, _ := slices.BinarySearchFunc(list, a.ID, func(o *Agent, id int) int { return o.ID - id })
	return slices.Insert(list, i, a)
}

func (ix *agentIndex) add(a *Agent) {
	if a.ExternalID != "" {
		ix.byMapID[a.ExternalID] = insertByID(ix.byMapID[a.ExternalID], a)
	}
	k := fold(a.Email)
	ix.byEmail[k] = insertByID(ix.byEmail[k], a)
}

func (ix *agentIndex) remove(a *Agent) {
	drop := func(m map[string][]*Agent, k string) {
		if l := slices.DeleteFunc(m[k], func(o *Agent) bool { return o == a }); len(l) > 0 {
			m[k] = l
		} else {
			delete(m, k)
		}
	}
	if a.ExternalID != "" {
		drop(ix.byMapID, a.ExternalID)
	}
	drop(ix.byEmail, fold(a.Email))
}

// matchBanker finds the agent a banker row updates: by BankerMapID, else by email.
func (ix *agentIndex) matchBanker(mapID, email string) *Agent {
	if l := ix.byMapID[mapID]; mapID != "" && len(l) > 0 {
		return l[0]
	}
	if l := ix.byEmail[fold(email)]; len(l) > 0 {
		return l[0]
	}
	return nil
}

// applyBanker writes the non-empty banker cells and reports whether anything changed.
func (s *Server) applyBanker(a *Agent, cells []string) bool {
	changed := false
	set := func(dst *string, v string) {
		if v != "" && *dst != v {
			*dst = v
			changed = true
		}
	}
	set(&a.FirstName, cells[colBankerFirst])
	set(&a.LastName, cells[colBankerLast])
	set(&a.Email, cells[colBankerEmail])
	set(&a.ExternalID, cells[colBankerMapID])
	if t := cells[colBankerTeam]; t != "" && !slices.Equal(a.Teams, []string{t}) {
		a.Teams = []string{t}
		changed = true
	}
	return changed
}
