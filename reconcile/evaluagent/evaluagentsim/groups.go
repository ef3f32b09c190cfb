package evaluagentsim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"
)

type groupAttrs struct {
	Name                   string  `json:"name"`
	Level                  string  `json:"level"`
	Parent                 *string `json:"parent"`
	Active                 bool    `json:"active"`
	HasChildren            bool    `json:"has_children"`
	IsCustomReportingGroup bool    `json:"is_custom_reporting_group"`
}

func (st *state) groupJSON(g *group) resource[groupAttrs] {
	var parent *string
	if g.parentID != "" {
		p := g.parentID
		parent = &p
	}
	return resource[groupAttrs]{Type: "groups", ID: g.id, Attributes: groupAttrs{
		Name: g.name, Level: st.levelName(g.levelID), Parent: parent, Active: g.active,
		HasChildren: len(st.children(g.id)) > 0, IsCustomReportingGroup: g.custom,
	}}
}

// optRef is a to-one reference in a partial update, with the pointer it was sent at.
type optRef struct {
	optString
	ptr string
}

type groupChange struct {
	name   *string
	active *bool
	parent optRef
	level  optRef
}

const (
	ptrName   = "/data/attributes/name"
	ptrParent = "/data/relationships/parent"
	ptrLevel  = "/data/relationships/level"
)

// parseGroupChange reads §7.3 bodies: parent and level as relationships, or as the
// attributes parent_id and level_id.
func parseGroupChange(res *inResource) (groupChange, []apiError) {
	var ch groupChange
	var errs []apiError
	for _, name := range sortedKeys(res.attrs) {
		raw, ptr := res.attrs[name], "/data/attributes/"+name
		switch name {
		case "name":
			v, ok := decodeString(raw)
			if !ok {
				errs = append(errs, invalid(ptr, "The name must be a string."))
				continue
			}
			ch.name = &v
		case "active":
			b, ok := decodeBool(raw)
			if !ok {
				errs = append(errs, invalid(ptr, "The active field must be true or false."))
				continue
			}
			ch.active = &b
		case "parent_id", "level_id":
			ref := optRef{optString: optString{set: true}, ptr: ptr}
			if !isNull(raw) {
				v, ok := decodeString(raw)
				if !ok {
					errs = append(errs, invalid(ptr, fmt.Sprintf("The %s must be a string.", label(name))))
					continue
				}
				ref.val = &v
			}
			if name == "parent_id" {
				ch.parent = ref
			} else {
				ch.level = ref
			}
		case "level", "parent", "has_children", "is_custom_reporting_group":
			errs = append(errs, invalid(ptr, fmt.Sprintf("The %s attribute is read-only.", label(name))))
		}
	}
	for _, r := range []struct {
		name, typ string
		dst       *optRef
	}{{"parent", "groups", &ch.parent}, {"level", "levels", &ch.level}} {
		raw, ok := res.rels[r.name]
		if !ok {
			continue
		}
		ptr := "/data/relationships/" + r.name
		id, e := parseToOne(raw, ptr, r.typ)
		errs = append(errs, e...)
		if r.dst.set && deref(r.dst.val) != deref(id) {
			errs = append(errs, invalid(r.dst.ptr, fmt.Sprintf("The %s attribute contradicts the %s relationship.", label(r.name+"_id"), r.name)))
		}
		*r.dst = optRef{optString: optString{set: true, val: id}, ptr: ptr}
	}
	return ch, errs
}

// applyGroup checks a create (cur nil) or update against D9-D13 and returns the resulting group
// without touching the state. Only the seed may create the root (root set).
func (st *state) applyGroup(cur *group, ch groupChange, root bool) (*group, []apiError) {
	next := &group{active: true}
	if cur != nil {
		c := *cur
		next = &c
		root = cur.parentID == ""
	}
	if ch.name != nil {
		next.name = *ch.name
	}
	if ch.active != nil {
		next.active = *ch.active
	}
	var errs []apiError
	// D10: name.
	switch n := utf8.RuneCountInString(next.name); {
	case strings.TrimSpace(next.name) == "":
		errs = append(errs, invalid(ptrName, "The name field is required."))
	case n < 3 || n > 255:
		errs = append(errs, invalid(ptrName, "The name must be between 3 and 255 characters."))
	}
	// Level: required on create; a Team holds no groups, only a Team holds agents.
	switch {
	case !ch.level.set && cur == nil:
		errs = append(errs, invalid(ptrLevel, "The level field is required."))
	case !ch.level.set:
	case ch.level.val == nil:
		errs = append(errs, invalid(ch.level.ptr, "The level field is required."))
	case st.level(*ch.level.val) == nil:
		errs = append(errs, invalid(ch.level.ptr, "The selected level is invalid."))
	default:
		next.levelID = *ch.level.val
		if cur != nil && next.levelID != cur.levelID {
			if st.isTeam(next) && len(st.children(cur.id)) > 0 {
				errs = append(errs, invalid(ch.level.ptr, "A Team-level group cannot have child groups."))
			}
			if !st.isTeam(next) && st.agentsIn(cur.id) > 0 {
				errs = append(errs, invalid(ch.level.ptr, "The group has agents, who can only sit in a Team-level group."))
			}
		}
	}
	// D9, D11: parent.
	parentPtr := ch.parent.ptr
	if parentPtr == "" {
		parentPtr = ptrParent
	}
	switch {
	case root:
		if ch.parent.val != nil {
			errs = append(errs, invalid(parentPtr, "The root group cannot be moved."))
		}
	case cur != nil && !ch.parent.set:
	case ch.parent.val == nil:
		errs = append(errs, invalid(parentPtr, "A group must have a parent group: there is exactly one root group."))
	case cur != nil && *ch.parent.val == cur.parentID:
	default:
		p := st.group(*ch.parent.val)
		switch {
		case p == nil:
			errs = append(errs, invalid(parentPtr, "The parent group does not exist."))
		case cur != nil && (p.id == cur.id || st.isDescendant(p, cur.id)):
			errs = append(errs, invalid(parentPtr, "A group cannot be moved under itself or one of its descendants."))
		case !p.active:
			errs = append(errs, invalid(parentPtr, "The parent group is inactive."))
		case st.isTeam(p):
			errs = append(errs, invalid(parentPtr, "A Team-level group cannot have child groups."))
		case cur == nil && st.depth(p)+1 > maxDepth, cur != nil && st.depth(p)+st.height(cur) > maxDepth:
			errs = append(errs, invalid(parentPtr, fmt.Sprintf("The group hierarchy is at most %d levels deep.", maxDepth)))
		default:
			next.parentID = p.id
		}
	}
	// D9, D13: deactivation and reactivation.
	wasActive := cur == nil || cur.active
	switch {
	case root && !next.active:
		errs = append(errs, invalid(ptrActive, "The root group cannot be deactivated."))
	case wasActive && !next.active && cur != nil:
		for _, c := range st.children(cur.id) {
			if c.active {
				errs = append(errs, invalid(ptrActive, "The group has active child groups."))
				break
			}
		}
		if st.agentsIn(cur.id) > 0 {
			errs = append(errs, invalid(ptrActive, "The group has agents."))
		}
	case !wasActive && next.active:
		if p := st.group(next.parentID); p != nil && !p.active {
			errs = append(errs, invalid(ptrActive, "The parent group is inactive."))
		}
	}
	// D10: unique among siblings.
	if root || next.parentID != "" {
		for _, o := range st.children(next.parentID) {
			if (cur == nil || o.id != cur.id) && strings.EqualFold(o.name, next.name) {
				errs = append(errs, invalid(ptrName, "The name has already been taken by a group with the same parent."))
			}
		}
	}
	return next, errs
}

func (st *state) commitGroup(cur, next *group) *group {
	if cur == nil {
		if next.id == "" {
			next.id = st.ids.mint()
		}
		st.groups = append(st.groups, next)
		st.groupByID[next.id] = next
		return next
	}
	*cur = *next
	return cur
}

func (s *Server) listGroups(c *call) response {
	v := c.r.URL.Query().Get("show_inactive")
	all := strings.EqualFold(v, "true") || v == "1"
	var items []any
	for _, g := range s.st.groups {
		if g.active || all {
			items = append(items, s.st.groupJSON(g))
		}
	}
	return s.collection(c, items, true)
}

func (s *Server) createGroup(c *call) response {
	return s.writeGroup(c, nil)
}

func (s *Server) updateGroup(c *call) response {
	return s.writeGroup(c, &c.id)
}

func (s *Server) writeGroup(c *call, urlID *string) response {
	res, errs := parseResource(c.body, "groups", deref(urlID))
	if errs != nil {
		return errorsResp(errs)
	}
	var cur *group
	if urlID != nil {
		if cur = s.st.group(*urlID); cur == nil {
			return errResp(http.StatusNotFound, "Group not found")
		}
	}
	ch, errs := parseGroupChange(res)
	if errs != nil {
		return errorsResp(errs)
	}
	next, errs := s.st.applyGroup(cur, ch, false)
	if errs != nil {
		return errorsResp(errs)
	}
	status := http.StatusOK
	if cur == nil {
		status = http.StatusCreated
	}
	return jsonResp(status, document{Data: s.st.groupJSON(s.st.commitGroup(cur, next))})
}

// deleteGroup removes a leaf group without agents (D9, D12).
func (s *Server) deleteGroup(c *call) response {
	g := s.st.group(c.id)
	if g == nil {
		return errResp(http.StatusNotFound, "Group not found")
	}
	if g.parentID == "" {
		return errorsResp([]apiError{invalid("/data", "The root group cannot be deleted.")})
	}
	var errs []apiError
	if len(s.st.children(g.id)) > 0 {
		errs = append(errs, invalid("/data", "The group has child groups."))
	}
	if s.st.agentsIn(g.id) > 0 {
		errs = append(errs, invalid("/data", "The group has agents."))
	}
	if errs != nil {
		return errorsResp(errs)
	}
	s.st.groups = slices.DeleteFunc(s.st.groups, func(o *group) bool { return o == g })
	delete(s.st.groupByID, g.id)
	return response{status: http.StatusNoContent}
}
