package scim

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/elimity-com/scim"
	"github.com/scim2/filter-parser/v2"
)

// memberSink receives a Group's member operations; the store applies them
// in the same transaction as the rest of the PATCH.
type memberSink interface {
	addMembers(ms []memberRef) error
	removeMembers(ids []string) error
	removeMembersWhere(cond string, args []any) error
	replaceMembers(ms []memberRef) error
}

// applyPatch applies PATCH operations (RFC 7644 §3.5.2) in order to doc, a
// private copy of the resource, and sends member operations to ms. It
// accepts what the identity providers really send (endpoint contract §4.5):
// any case of op, string booleans, Entra's remove of members with a value
// list (only those are removed), idempotent adds, Okta's path-less replace,
// members[value eq "…"] paths and value-filtered sub-attribute paths that
// create the element when nothing matches.
func applyPatch(rtype string, doc map[string]any, ops []scim.PatchOperation, ms memberSink) error {
	a := &applier{rtype: rtype, doc: doc, ms: ms, attrs: groupAttrs, coreURN: groupURN}
	if rtype == typeUser {
		a.attrs, a.coreURN = userAttrs, userURN
	}
	for i, op := range ops {
		if err := a.apply(op); err != nil {
			if ae, ok := err.(*apiError); ok {
				ae.detail = fmt.Sprintf("operation %d (%s): %s", i+1, strings.ToLower(op.Op), ae.detail)
			}
			return err
		}
	}
	clean(doc)
	return nil
}

type applier struct {
	rtype   string
	doc     map[string]any
	ms      memberSink
	attrs   attrSet
	coreURN string
}

func (a *applier) apply(op scim.PatchOperation) error {
	kind := strings.ToLower(op.Op)
	switch kind {
	case "add", "replace", "remove":
	default:
		return badValue(fmt.Sprintf("unknown op %q (add, replace, remove)", op.Op))
	}
	if op.Path != nil {
		return a.applyPath(kind, *op.Path, op.Value)
	}
	if kind == "remove" {
		return noTarget("remove needs a path")
	}
	m, ok := op.Value.(map[string]any)
	if !ok {
		return badValue("an operation without a path needs an object value")
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p, err := filter.ParsePath([]byte(k))
		if err != nil {
			return badPath(fmt.Sprintf("invalid attribute %q in value", k))
		}
		if err := a.applyPath(kind, p, m[k]); err != nil {
			return err
		}
	}
	return nil
}

func (a *applier) applyPath(kind string, p filter.Path, value any) error {
	ap := p.AttributePath
	set, container, ext := a.attrs, a.doc, false
	switch uri := ap.URI(); {
	case uri == "" || strings.EqualFold(uri, a.coreURN):
	case a.rtype == typeUser && strings.EqualFold(uri, enterpriseURN):
		set, ext = enterpriseAttrs, true
		c, _ := a.doc[enterpriseURN].(map[string]any)
		if c == nil {
			if kind == "remove" {
				return nil
			}
			c = map[string]any{}
		}
		container = c
	default:
		return badPath(fmt.Sprintf("unknown schema %q", uri))
	}
	def, ok := set[strings.ToLower(ap.AttributeName)]
	if !ok {
		return badPath(fmt.Sprintf("unknown attribute %q", p.String()))
	}
	if def.readOnly {
		return nil // id, meta, groups: ignored, as in a POST body
	}
	sub := ap.SubAttributeName()
	if p.ValueExpression != nil {
		if sub != "" {
			return badPath(fmt.Sprintf("invalid path %q", p.String()))
		}
		sub = p.SubAttributeName()
	}
	if sub != "" {
		cs, ok := def.subs[strings.ToLower(sub)]
		if !ok {
			return badPath(fmt.Sprintf("unknown sub-attribute %q of %q", sub, def.name))
		}
		sub = cs
	}
	if a.rtype == typeGroup && def.name == "members" {
		return a.members(kind, p.ValueExpression, sub, value)
	}
	var err error
	switch {
	case !def.multi && !def.complex:
		err = setSimple(kind, container, def.name, value)
	case !def.multi:
		err = setComplex(kind, container, def, sub, value)
	default:
		err = setMulti(kind, container, def, p.ValueExpression, sub, value)
	}
	if err != nil {
		return err
	}
	if ext {
		if len(container) == 0 {
			delete(a.doc, enterpriseURN)
		} else {
			a.doc[enterpriseURN] = container
		}
	}
	return nil
}

// scalar normalises a single value: string booleans for active and primary,
// and a one-element list for a single value (the library wraps some).
func scalar(name string, v any) (any, error) {
	if l, ok := v.([]any); ok {
		if len(l) != 1 {
			return nil, badValue(fmt.Sprintf("%q takes a single value", name))
		}
		v = l[0]
	}
	switch v.(type) {
	case map[string]any:
		return nil, badValue(fmt.Sprintf("%q takes a single value, not an object", name))
	}
	if name == "active" || name == "primary" {
		if v == nil {
			return nil, nil
		}
		b, ok := toBool(v)
		if !ok {
			return nil, badValue(fmt.Sprintf("%q takes true or false", name))
		}
		return b, nil
	}
	return v, nil
}

func setSimple(kind string, c map[string]any, name string, value any) error {
	if kind == "remove" {
		delete(c, name)
		return nil
	}
	v, err := scalar(name, value)
	if err != nil {
		return err
	}
	if v == nil {
		delete(c, name)
		return nil
	}
	c[name] = v
	return nil
}

func setComplex(kind string, c map[string]any, def attrDef, sub string, value any) error {
	cur, _ := c[def.name].(map[string]any)
	switch {
	case kind == "remove" && sub == "":
		delete(c, def.name)
		return nil
	case kind == "remove":
		delete(cur, sub)
	case sub != "":
		v, err := scalar(sub, value)
		if err != nil {
			return err
		}
		if cur == nil {
			cur = map[string]any{}
		}
		if v == nil {
			delete(cur, sub)
		} else {
			cur[sub] = v
		}
	default:
		m, ok := value.(map[string]any)
		if !ok {
			return badValue(fmt.Sprintf("%q takes an object", def.name))
		}
		if cur == nil {
			cur = map[string]any{}
		}
		for k, v := range m {
			if v == nil {
				delete(cur, k)
			} else {
				cur[k] = v
			}
		}
	}
	if len(cur) == 0 {
		delete(c, def.name)
	} else {
		c[def.name] = cur
	}
	return nil
}

func asList(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	}
	return []any{v}
}

// sameElement reports whether two elements of a multi-valued attribute are
// the same value: by type and value when they have a value, else equal.
func sameElement(x, y any) bool {
	mx, okx := x.(map[string]any)
	my, oky := y.(map[string]any)
	if okx && oky {
		vx, hx := mx["value"]
		vy, hy := my["value"]
		if hx && hy {
			return equalFold(vx, vy) && equalFold(mx["type"], my["type"])
		}
	}
	return reflect.DeepEqual(x, y)
}

func equalFold(x, y any) bool {
	sx, okx := x.(string)
	sy, oky := y.(string)
	if okx && oky {
		return strings.EqualFold(sx, sy)
	}
	return reflect.DeepEqual(x, y)
}

func setMulti(kind string, c map[string]any, def attrDef, vf filter.Expression, sub string, value any) error {
	elems := slices.Clone(asList(c[def.name]))
	switch {
	case vf == nil && sub == "":
		vals := asList(value)
		switch kind {
		case "add":
			for _, v := range vals {
				if i := slices.IndexFunc(elems, func(e any) bool { return sameElement(e, v) }); i >= 0 {
					elems[i] = merge(elems[i], v)
				} else {
					elems = append(elems, v)
				}
			}
		case "replace":
			elems = vals
		case "remove":
			if value == nil {
				elems = nil
			} else {
				elems = slices.DeleteFunc(elems, func(e any) bool {
					return slices.ContainsFunc(vals, func(v any) bool { return sameElement(e, v) })
				})
			}
		}
	case vf == nil:
		if kind == "remove" {
			for _, e := range elems {
				if m, ok := e.(map[string]any); ok {
					delete(m, sub)
				}
			}
			break
		}
		v, err := scalar(sub, value)
		if err != nil {
			return err
		}
		if len(elems) == 0 {
			elems = append(elems, map[string]any{})
		}
		for i, e := range elems {
			m, ok := e.(map[string]any)
			if !ok {
				m = map[string]any{}
			}
			m[sub] = v
			elems[i] = m
		}
	default:
		var match []int
		for i, e := range elems {
			ok, err := matchElement(e, vf)
			if err != nil {
				return err
			}
			if ok {
				match = append(match, i)
			}
		}
		if kind == "remove" {
			if sub == "" {
				elems = removeIndices(elems, match)
			} else {
				for _, i := range match {
					if m, ok := elems[i].(map[string]any); ok {
						delete(m, sub)
					}
				}
			}
			break
		}
		var (
			nv  any
			err error
		)
		if sub != "" {
			if nv, err = scalar(sub, value); err != nil {
				return err
			}
		} else {
			l := asList(value)
			if len(l) != 1 {
				return badValue(fmt.Sprintf("%q with a filter takes one value", def.name))
			}
			if _, ok := l[0].(map[string]any); !ok {
				return badValue(fmt.Sprintf("%q with a filter takes an object", def.name))
			}
			nv = l[0]
		}
		if len(match) == 0 {
			// Departure from RFC noTarget (contract §4.5, 23): Entra sends
			// Add and Replace of emails[type eq "work"].value for a User
			// that has no work email yet.
			seed, ok := seedFromFilter(vf, def.subs)
			if !ok {
				return noTarget(fmt.Sprintf("no value of %q matches the filter", def.name))
			}
			if sub != "" {
				seed[sub] = nv
			} else {
				seed = merge(seed, nv).(map[string]any)
			}
			elems = append(elems, seed)
			break
		}
		for _, i := range match {
			m, _ := elems[i].(map[string]any)
			switch {
			case sub != "":
				if m == nil {
					m = map[string]any{}
				}
				m[sub] = nv
				elems[i] = m
			case kind == "replace":
				seed, _ := seedFromFilter(vf, def.subs)
				elems[i] = merge(seed, nv)
			default:
				elems[i] = merge(m, nv)
			}
		}
	}
	elems = onePrimary(elems)
	if len(elems) == 0 {
		delete(c, def.name)
	} else {
		c[def.name] = elems
	}
	return nil
}

func removeIndices(l []any, idx []int) []any {
	out := make([]any, 0, len(l))
	for i, e := range l {
		if !slices.Contains(idx, i) {
			out = append(out, e)
		}
	}
	return out
}

// merge returns base with the keys of v set over it (nil deletes).
func merge(base, v any) any {
	mb, ok1 := base.(map[string]any)
	mv, ok2 := v.(map[string]any)
	if !ok2 {
		return v
	}
	out := map[string]any{}
	if ok1 {
		for k, x := range mb {
			out[k] = x
		}
	}
	for k, x := range mv {
		if x == nil {
			delete(out, k)
		} else {
			out[k] = x
		}
	}
	return out
}

// onePrimary keeps at most one element marked primary: the last one set.
func onePrimary(elems []any) []any {
	last := -1
	for i, e := range elems {
		if m, ok := e.(map[string]any); ok {
			if b, _ := toBool(m["primary"]); b {
				last = i
			}
		}
	}
	for i, e := range elems {
		if m, ok := e.(map[string]any); ok && i != last {
			if _, has := m["primary"]; has {
				if b, _ := toBool(m["primary"]); b {
					m["primary"] = false
				}
			}
		}
	}
	return elems
}

// seedFromFilter builds the element a filter of eq comparisons joined by
// and describes, for example {"type": "work"}.
func seedFromFilter(e filter.Expression, subs map[string]string) (map[string]any, bool) {
	out := map[string]any{}
	var walk func(e filter.Expression) bool
	walk = func(e filter.Expression) bool {
		switch e := e.(type) {
		case *filter.LogicalExpression:
			return strings.EqualFold(string(e.Operator), "and") && walk(e.Left) && walk(e.Right)
		case *filter.AttributeExpression:
			if !strings.EqualFold(string(e.Operator), "eq") || e.AttributePath.SubAttribute != nil {
				return false
			}
			v := e.CompareValue
			if s, ok := v.(string); ok {
				if u, err := filterString(s, ""); err == nil {
					v = u
				}
			}
			name, ok := subs[strings.ToLower(e.AttributePath.AttributeName)]
			if !ok {
				return false
			}
			out[name] = v
			return true
		}
		return false
	}
	if !walk(e) {
		return nil, false
	}
	return out, true
}

// matchElement evaluates a value filter against one element of a
// multi-valued attribute (eq, ne, co, sw, ew, pr, gt, ge, lt, le; and, or,
// not). Strings compare case-insensitively.
func matchElement(elem any, e filter.Expression) (bool, error) {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		l, err := matchElement(elem, e.Left)
		if err != nil {
			return false, err
		}
		r, err := matchElement(elem, e.Right)
		if err != nil {
			return false, err
		}
		if strings.EqualFold(string(e.Operator), "and") {
			return l && r, nil
		}
		return l || r, nil
	case *filter.NotExpression:
		m, err := matchElement(elem, e.Expression)
		return !m, err
	case *filter.AttributeExpression:
		if e.AttributePath.SubAttribute != nil || e.AttributePath.URIPrefix != nil {
			return false, badPath(fmt.Sprintf("invalid attribute %q in a value filter", e.AttributePath.String()))
		}
		var got any
		if m, ok := elem.(map[string]any); ok {
			for k, v := range m {
				if strings.EqualFold(k, e.AttributePath.AttributeName) {
					got = v
				}
			}
		} else if strings.EqualFold(e.AttributePath.AttributeName, "value") {
			got = elem
		}
		return compareValue(got, strings.ToLower(string(e.Operator)), e.CompareValue)
	}
	return false, badPath("unsupported value filter")
}

func compareValue(got any, op string, want any) (bool, error) {
	if op == "pr" {
		return got != nil && got != "", nil
	}
	if b, ok := want.(bool); ok {
		g, ok := toBool(got)
		switch op {
		case "eq":
			return ok && g == b, nil
		case "ne":
			return !ok || g != b, nil
		}
		return false, badPath(fmt.Sprintf("operator %q does not apply to booleans", op))
	}
	ws, ok := want.(string)
	if !ok {
		ws = fmt.Sprint(want)
	} else if u, err := filterString(ws, ""); err == nil {
		ws = u
	}
	gs := ""
	if got != nil {
		gs = fmt.Sprint(got)
	}
	gs, ws = strings.ToLower(gs), strings.ToLower(ws)
	switch op {
	case "eq":
		return got != nil && gs == ws, nil
	case "ne":
		return got == nil || gs != ws, nil
	case "co":
		return got != nil && strings.Contains(gs, ws), nil
	case "sw":
		return got != nil && strings.HasPrefix(gs, ws), nil
	case "ew":
		return got != nil && strings.HasSuffix(gs, ws), nil
	case "gt":
		return got != nil && gs > ws, nil
	case "ge":
		return got != nil && gs >= ws, nil
	case "lt":
		return got != nil && gs < ws, nil
	case "le":
		return got != nil && gs <= ws, nil
	}
	return false, badPath(fmt.Sprintf("unknown operator %q", op))
}

// memberRefs reads a members value: a list of {"value": id, "display": …}.
func memberRefs(v any) ([]memberRef, error) {
	var out []memberRef
	for _, e := range asList(v) {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, badValue(`members take objects such as {"value": "<user id>"}`)
		}
		id, ok := m["value"].(string)
		if !ok || id == "" {
			return nil, badValue(`each member needs a "value" with the member's id`)
		}
		d, _ := m["display"].(string)
		out = append(out, memberRef{value: id, display: d})
	}
	return out, nil
}

func (a *applier) members(kind string, vf filter.Expression, sub string, value any) error {
	if sub != "" {
		return badPath("paths into a member's sub-attributes are not supported")
	}
	refs, err := memberRefs(value)
	if err != nil {
		return err
	}
	var cond string
	var args []any
	if vf != nil {
		if cond, args, err = compileMemberFilter(vf); err != nil {
			return err
		}
	}
	switch kind {
	case "add":
		if vf != nil {
			return badPath("add to members takes no filter")
		}
		return a.ms.addMembers(refs)
	case "replace":
		if vf == nil {
			return a.ms.replaceMembers(refs) // Okta's full push
		}
		if err := a.ms.removeMembersWhere(cond, args); err != nil {
			return err
		}
		return a.ms.addMembers(refs)
	default: // remove
		switch {
		case vf != nil:
			return a.ms.removeMembersWhere(cond, args)
		case value != nil:
			// Entra's default mode and JumpCloud: remove only the listed
			// members, never all of them.
			ids := make([]string, len(refs))
			for i, r := range refs {
				ids[i] = r.value
			}
			return a.ms.removeMembers(ids)
		default:
			return a.ms.removeMembersWhere("", nil)
		}
	}
}

// clean drops null values, empty objects and empty arrays, recursively
// (G9): they are unassigned in SCIM and must never be echoed as null.
func clean(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			clean(x)
			if len(x) == 0 {
				delete(m, k)
			}
		case []any:
			out := x[:0]
			for _, e := range x {
				if em, ok := e.(map[string]any); ok {
					clean(em)
					if len(em) == 0 {
						continue
					}
				}
				if e != nil {
					out = append(out, e)
				}
			}
			if len(out) == 0 {
				delete(m, k)
			} else {
				m[k] = out
			}
		}
	}
}
