package scim

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/elimity-com/scim"
)

// handler implements scim.ResourceHandler for Users or Groups over the store.
// Every method returns through toScimError (G8) and builds fresh maps for
// the library to render into (G11).
type handler struct {
	rtype    string
	attrs    attrSet
	store    *Store
	log      *slog.Logger
	onChange func()
}

var _ scim.ResourceHandler = (*handler)(nil)

type ctxKey int

const connKey ctxKey = 0

// connection returns the name of the IdP connection that made the request.
func connection(ctx context.Context) string {
	s, _ := ctx.Value(connKey).(string)
	return s
}

func (h *handler) fail(r *http.Request, err error, id string) error {
	return toScimError(r.Context(), h.log, err, id)
}

func (h *handler) changed(r *http.Request, what string, st *stored) {
	h.log.InfoContext(r.Context(), "scim "+what, "type", h.rtype, "id", st.id,
		"connection", connection(r.Context()))
	if h.onChange != nil {
		h.onChange()
	}
}

func (h *handler) unknownMembers(r *http.Request, group string, ids []string) {
	if len(ids) > 0 {
		h.log.WarnContext(r.Context(), "scim group members ignored: not Users known here",
			"group", group, "count", len(ids), "ids", ids)
	}
}

// prepare turns validated POST/PUT attributes into a stored document and,
// for a Group, its members.
func (h *handler) prepare(attrs scim.ResourceAttributes) (map[string]any, []memberRef, error) {
	doc := map[string]any{}
	var members []memberRef
	for k, v := range attrs {
		switch k {
		case "id", "meta", "schemas", "password", "groups":
			continue
		case "members":
			if h.rtype == typeGroup {
				ms, err := memberRefs(v)
				if err != nil {
					return nil, nil, err
				}
				members = ms
				continue
			}
		}
		if def, ok := h.attrs[strings.ToLower(k)]; ok && def.multi {
			if m, ok := v.(map[string]any); ok {
				v = []any{m} // a lone object where a list belongs
			}
		}
		doc[k] = v
	}
	if ext, ok := doc[enterpriseURN].(map[string]any); ok {
		delete(ext, "password")
	}
	clean(doc)
	if err := h.check(doc); err != nil {
		return nil, nil, err
	}
	return doc, members, nil
}

// check enforces what must hold after any write.
func (h *handler) check(doc map[string]any) error {
	delete(doc, "password")
	key := "displayName"
	if h.rtype == typeUser {
		key = "userName"
		if v, ok := doc["active"]; ok {
			b, ok := toBool(v)
			if !ok {
				return badValue(`"active" takes true or false`)
			}
			doc["active"] = b
		}
	}
	if s, ok := doc[key].(string); !ok || strings.TrimSpace(s) == "" {
		return badValue(fmt.Sprintf("%q is required", key))
	}
	return nil
}

func (h *handler) render(st *stored, members []memberRef, groups []groupRef) scim.Resource {
	attrs := make(scim.ResourceAttributes, len(st.doc)+2)
	for k, v := range st.doc {
		attrs[k] = v
	}
	if len(members) > 0 {
		l := make([]any, len(members))
		for i, m := range members {
			e := map[string]any{"value": m.value, "type": typeUser}
			if m.display != "" {
				e["display"] = m.display
			}
			l[i] = e
		}
		attrs["members"] = l
	}
	if len(groups) > 0 {
		l := make([]any, len(groups))
		for i, g := range groups {
			l[i] = map[string]any{"value": g.id, "display": g.name, "type": "direct"}
		}
		attrs["groups"] = l
	}
	created := time.UnixMilli(st.createdMS).UTC()
	modified := time.UnixMilli(st.modifiedMS).UTC()
	return scim.Resource{
		ID:         st.id,
		Attributes: attrs,
		Meta:       scim.Meta{Created: &created, LastModified: &modified, Version: fmt.Sprintf(`W/"%d"`, st.version)},
	}
}

// excludesMembers reports whether excludedAttributes names members.
func excludesMembers(r *http.Request) bool {
	for _, a := range strings.Split(r.URL.Query().Get("excludedAttributes"), ",") {
		a = strings.TrimSpace(a)
		if strings.EqualFold(a, "members") || strings.EqualFold(a, groupURN+":members") {
			return true
		}
	}
	return false
}

// renderAll renders stored resources with their members or groups.
func (h *handler) renderAll(ctx context.Context, r *http.Request, sts []*stored) ([]scim.Resource, error) {
	seqs := make([]int64, len(sts))
	for i, st := range sts {
		seqs[i] = st.seq
	}
	var (
		members = map[int64][]memberRef{}
		groups  = map[int64][]groupRef{}
		err     error
	)
	switch {
	case h.rtype == typeGroup && !excludesMembers(r):
		members, err = h.store.members(ctx, reader{h.store}, seqs)
	case h.rtype == typeUser:
		groups, err = h.store.groupsOf(ctx, reader{h.store}, seqs)
	}
	if err != nil {
		return nil, err
	}
	out := make([]scim.Resource, len(sts))
	for i, st := range sts {
		out[i] = h.render(st, members[st.seq], groups[st.seq])
	}
	return out, nil
}

func (h *handler) renderOne(r *http.Request, st *stored) (scim.Resource, error) {
	rs, err := h.renderAll(r.Context(), r, []*stored{st})
	if err != nil {
		return scim.Resource{}, err
	}
	return rs[0], nil
}

// Create implements scim.ResourceHandler.
func (h *handler) Create(r *http.Request, attrs scim.ResourceAttributes) (scim.Resource, error) {
	doc, members, err := h.prepare(attrs)
	if err != nil {
		return scim.Resource{}, h.fail(r, err, "")
	}
	if h.rtype == typeUser {
		if _, ok := doc["active"]; !ok {
			doc["active"] = true
		}
	}
	st, unknown, err := h.store.create(r.Context(), h.rtype, doc, members, connection(r.Context()))
	if err != nil {
		return scim.Resource{}, h.fail(r, err, "")
	}
	h.unknownMembers(r, st.id, unknown)
	h.changed(r, "created", st)
	res, err := h.renderOne(r, st)
	return res, h.fail(r, err, st.id)
}

// Get implements scim.ResourceHandler.
func (h *handler) Get(r *http.Request, id string) (scim.Resource, error) {
	st, err := h.store.get(r.Context(), reader{h.store}, h.rtype, id)
	if err != nil {
		return scim.Resource{}, h.fail(r, err, id)
	}
	res, err := h.renderOne(r, st)
	return res, h.fail(r, err, id)
}

// GetAll implements scim.ResourceHandler.
func (h *handler) GetAll(r *http.Request, params scim.ListRequestParams) (scim.Page, error) {
	var (
		where string
		args  []any
	)
	if e, ok := quickFilter(r); ok {
		var err error
		if where, args, err = compileFilter(h.rtype, e); err != nil {
			return scim.Page{}, h.fail(r, err, "")
		}
	} else if params.FilterValidator != nil {
		var err error
		where, args, err = compileFilter(h.rtype, params.FilterValidator.GetFilter())
		if err != nil {
			return scim.Page{}, h.fail(r, err, "")
		}
	}
	sts, total, err := h.store.list(r.Context(), h.rtype, where, args, params.StartIndex, params.Count)
	if err != nil {
		return scim.Page{}, h.fail(r, err, "")
	}
	res, err := h.renderAll(r.Context(), r, sts)
	if err != nil {
		return scim.Page{}, h.fail(r, err, "")
	}
	return scim.Page{TotalResults: total, Resources: res}, nil
}

// Replace implements scim.ResourceHandler (PUT).
func (h *handler) Replace(r *http.Request, id string, attrs scim.ResourceAttributes) (scim.Resource, error) {
	doc, members, err := h.prepare(attrs)
	if err != nil {
		return scim.Resource{}, h.fail(r, err, id)
	}
	st, changed, unknown, err := h.store.mutate(r.Context(), h.rtype, id, connection(r.Context()), func(m *mutation) error {
		if h.rtype == typeUser {
			if _, ok := doc["active"]; !ok {
				// Nobody is deactivated by omission.
				if a, ok := m.st.doc["active"]; ok {
					doc["active"] = a
				} else {
					doc["active"] = true
				}
			}
		}
		m.st.doc = doc
		if h.rtype == typeGroup {
			if err := m.replaceMembers(members); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return scim.Resource{}, h.fail(r, err, id)
	}
	h.unknownMembers(r, id, unknown)
	if changed {
		h.changed(r, "replaced", st)
	}
	res, err := h.renderOne(r, st)
	return res, h.fail(r, err, id)
}

// Delete implements scim.ResourceHandler.
func (h *handler) Delete(r *http.Request, id string) error {
	if err := h.store.remove(r.Context(), h.rtype, id); err != nil {
		return h.fail(r, err, id)
	}
	h.changed(r, "deleted", &stored{id: id})
	return nil
}

// Patch implements scim.ResourceHandler. It answers 204 No Content.
func (h *handler) Patch(r *http.Request, id string, ops []scim.PatchOperation) (scim.Resource, error) {
	st, changed, unknown, err := h.store.mutate(r.Context(), h.rtype, id, connection(r.Context()), func(m *mutation) error {
		if err := applyPatch(h.rtype, m.st.doc, ops, m); err != nil {
			return err
		}
		return h.check(m.st.doc)
	})
	if err != nil {
		return scim.Resource{}, h.fail(r, err, id)
	}
	h.unknownMembers(r, id, unknown)
	if changed {
		h.changed(r, "patched", st)
	}
	return scim.Resource{}, nil
}
