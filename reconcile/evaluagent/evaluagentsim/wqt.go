package evaluagentsim

import (
	"fmt"
	"net/http"
	"slices"
)

type wqtAttrs struct {
	Name   string `json:"name"`
	Active bool   `json:"active"`
}

type wqtRels struct {
	Agents toMany `json:"agents"`
}

func wqtJSON(w *wqt) resourceRel[wqtAttrs, wqtRels] {
	return resourceRel[wqtAttrs, wqtRels]{
		Type:          "work-queue-templates",
		ID:            w.id,
		Attributes:    wqtAttrs{Name: w.name, Active: w.active},
		Relationships: wqtRels{Agents: idents("users", w.agents)},
	}
}

const wqtNotFound = "Work Queue Template not found"

func (s *Server) listWQTs(c *call) response {
	var items []any
	for _, w := range s.st.wqts {
		items = append(items, wqtJSON(w))
	}
	return s.collection(c, items, false)
}

func (s *Server) getWQT(c *call) response {
	w := s.st.wqt(c.id)
	if w == nil {
		return errResp(http.StatusNotFound, wqtNotFound)
	}
	return jsonResp(http.StatusOK, document{Data: wqtJSON(w)})
}

func (s *Server) listWQTAgents(c *call) response {
	w := s.st.wqt(c.id)
	if w == nil {
		return errResp(http.StatusNotFound, wqtNotFound)
	}
	return jsonResp(http.StatusOK, document{Data: idents("users", w.agents).Data})
}

// assignable checks D15 for every id: only active users holding the agent role. ptr(i) names the
// offending entry.
func (st *state) assignable(ids []string, ptr func(int) string) []apiError {
	var errs []apiError
	for i, id := range ids {
		u := st.user(id)
		switch {
		case u == nil:
			errs = append(errs, invalid(ptr(i), "User not found"))
		case !u.active:
			errs = append(errs, invalid(ptr(i), "The user is inactive and cannot be assigned."))
		case !st.isAgent(u.roleIDs):
			errs = append(errs, invalid(ptr(i), "Only users with the agent role can be assigned."))
		}
	}
	return errs
}

func dataPtr(i int) string { return fmt.Sprintf("/data/%d", i) }

// changeAgents runs W4-W6: parse the identifiers, find the template, apply change to its agents.
// Duplicate ids count once.
func (s *Server) changeAgents(c *call, check bool, change func(w *wqt, ids []string)) response {
	ids, errs := parseIdentBody(c.body, "users")
	if errs != nil {
		return errorsResp(errs)
	}
	w := s.st.wqt(c.id)
	if w == nil {
		return errResp(http.StatusNotFound, wqtNotFound)
	}
	if check {
		if errs := s.st.assignable(ids, dataPtr); errs != nil {
			return errorsResp(errs)
		}
	}
	var uniq []string
	for _, id := range ids {
		if !slices.Contains(uniq, id) {
			uniq = append(uniq, id)
		}
	}
	change(w, uniq)
	return jsonResp(http.StatusOK, document{Data: wqtJSON(w)})
}

// replaceWQTAgents is W4: the membership becomes exactly the ids (D16).
func (s *Server) replaceWQTAgents(c *call) response {
	return s.changeAgents(c, true, func(w *wqt, ids []string) { w.agents = ids })
}

// addWQTAgents is W5: ids already assigned are no-ops.
func (s *Server) addWQTAgents(c *call) response {
	return s.changeAgents(c, true, func(w *wqt, ids []string) {
		for _, id := range ids {
			if !slices.Contains(w.agents, id) {
				w.agents = append(w.agents, id)
			}
		}
	})
}

// removeWQTAgents is W6: ids not assigned, known or not, are no-ops.
func (s *Server) removeWQTAgents(c *call) response {
	return s.changeAgents(c, false, func(w *wqt, ids []string) {
		w.agents = slices.DeleteFunc(w.agents, func(id string) bool { return slices.Contains(ids, id) })
	})
}
