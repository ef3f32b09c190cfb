package evaluagentsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Response types (§2). None uses omitempty: a blank attribute is sent as null.

type document struct {
	Data any `json:"data"`
}

type pagedDocument struct {
	Data  any       `json:"data"`
	Links pageLinks `json:"links"`
	Meta  pageMeta  `json:"meta"`
}

type pageLinks struct {
	First string  `json:"first"`
	Last  string  `json:"last"`
	Prev  *string `json:"prev"`
	Next  *string `json:"next"`
}

type pageMeta struct {
	Page pageInfo `json:"page"`
}

type pageInfo struct {
	CurrentPage int  `json:"current-page"`
	PerPage     int  `json:"per-page"`
	From        *int `json:"from"`
	To          *int `json:"to"`
	Total       int  `json:"total"`
	LastPage    int  `json:"last-page"`
}

type resource[A any] struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	Attributes A      `json:"attributes"`
}

type resourceRel[A, R any] struct {
	Type          string `json:"type"`
	ID            string `json:"id"`
	Attributes    A      `json:"attributes"`
	Relationships R      `json:"relationships"`
}

type ident struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type toOne struct {
	Data *ident `json:"data"`
}

type toMany struct {
	Data []ident `json:"data"` // never nil: an empty set is []
}

func idents(typ string, ids []string) toMany {
	out := make([]ident, len(ids))
	for i, id := range ids {
		out[i] = ident{Type: typ, ID: id}
	}
	return toMany{Data: out}
}

// timestamp renders t as §2.3 wants: UTC, whole seconds, Z.
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// Errors (§6).

type apiError struct {
	Status string       `json:"status"`
	Title  string       `json:"title"`
	Detail string       `json:"detail"`
	Source *errorSource `json:"source,omitempty"` // on validation errors only
}

type errorSource struct {
	Pointer string `json:"pointer"`
}

func (e apiError) code() int { n, _ := strconv.Atoi(e.Status); return n }

func newError(status int, detail, pointer string) apiError {
	title := http.StatusText(status)
	if status == http.StatusUnprocessableEntity {
		title = "Validation error"
	}
	e := apiError{Status: strconv.Itoa(status), Title: title, Detail: detail}
	if pointer != "" {
		e.Source = &errorSource{Pointer: pointer}
	}
	return e
}

// invalid is a 422 validation error at pointer.
func invalid(pointer, detail string) apiError {
	return newError(http.StatusUnprocessableEntity, detail, pointer)
}

func malformed(pointer string) apiError {
	return newError(http.StatusBadRequest, "Malformed request body", pointer)
}

func mismatch(pointer string) apiError {
	return newError(http.StatusConflict, "Resource type or id mismatch", pointer)
}

func errResp(status int, detail string) response {
	return errorsResp([]apiError{newError(status, detail, "")})
}

// errorsResp answers with the errors of the gravest kind present: a malformed body (400) hides
// conflicts (409), which hide validation errors (422).
func errorsResp(errs []apiError) response {
	status := errs[0].code()
	for _, e := range errs {
		if c := e.code(); c == 400 || (c == 409 && status != 400) {
			status = c
		}
	}
	var keep []apiError
	for _, e := range errs {
		if e.code() == status {
			keep = append(keep, e)
		}
	}
	return jsonResp(status, struct {
		Errors []apiError `json:"errors"`
	}{keep})
}

func jsonResp(status int, v any) response {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("evaluagentsim: encoding a response: %v", err))
	}
	return response{status: status, body: b}
}

// jsonContentType reports whether a request body type is accepted (§2.4).
func jsonContentType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || mt == "application/vnd.api+json")
}

// Request parsing (§9 D17). Structural faults are 400, a wrong type or id 409; value faults are
// left to the callers, who answer 422.

type inResource struct {
	attrs map[string]json.RawMessage
	rels  map[string]json.RawMessage
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func decodeObject(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, false
	}
	return m, true
}

func decodeString(raw json.RawMessage) (string, bool) {
	var v string
	err := json.Unmarshal(raw, &v)
	return v, err == nil && !isNull(raw)
}

// parseResource decodes a single-resource body of type wantType. urlID is the id in the URL, or
// "" on create, where the body must carry no id.
func parseResource(body []byte, wantType, urlID string) (*inResource, []apiError) {
	top, ok := decodeObject(body)
	if !ok {
		return nil, []apiError{malformed("")}
	}
	rawData, ok := top["data"]
	if !ok || isNull(rawData) {
		return nil, []apiError{malformed("/data")}
	}
	data, ok := decodeObject(rawData)
	if !ok {
		return nil, []apiError{malformed("/data")}
	}
	typ, ok := decodeString(data["type"])
	if !ok {
		return nil, []apiError{malformed("/data/type")}
	}
	if typ != wantType {
		return nil, []apiError{mismatch("/data/type")}
	}
	rawID, hasID := data["id"]
	if urlID == "" && hasID {
		return nil, []apiError{mismatch("/data/id")}
	}
	if urlID != "" {
		if id, ok := decodeString(rawID); !hasID || !ok || id != urlID {
			return nil, []apiError{mismatch("/data/id")}
		}
	}
	res := &inResource{}
	for _, m := range []struct {
		name string
		dst  *map[string]json.RawMessage
	}{{"attributes", &res.attrs}, {"relationships", &res.rels}} {
		raw, ok := data[m.name]
		if !ok {
			continue
		}
		obj, ok := decodeObject(raw)
		if !ok {
			return nil, []apiError{malformed("/data/" + m.name)}
		}
		*m.dst = obj
	}
	return res, nil
}

func decodeBool(raw json.RawMessage) (bool, bool) {
	var v bool
	err := json.Unmarshal(raw, &v)
	return v, err == nil && !isNull(raw)
}

func parseIdent(raw json.RawMessage) (ident, bool) {
	obj, ok := decodeObject(raw)
	if !ok {
		return ident{}, false
	}
	typ, ok1 := decodeString(obj["type"])
	id, ok2 := decodeString(obj["id"])
	return ident{Type: typ, ID: id}, ok1 && ok2 && id != ""
}

// parseToOne decodes a to-one relationship at ptr; nil means {"data":null}.
func parseToOne(raw json.RawMessage, ptr, wantType string) (*string, []apiError) {
	obj, ok := decodeObject(raw)
	if !ok {
		return nil, []apiError{malformed(ptr)}
	}
	d, ok := obj["data"]
	if !ok {
		return nil, []apiError{malformed(ptr + "/data")}
	}
	if isNull(d) {
		return nil, nil
	}
	id, ok := parseIdent(d)
	if !ok {
		return nil, []apiError{malformed(ptr + "/data")}
	}
	if id.Type != wantType {
		return nil, []apiError{invalid(ptr+"/data/type", fmt.Sprintf("The relationship must reference %s.", wantType))}
	}
	return &id.ID, nil
}

// parseToMany decodes a to-many relationship at ptr into ids, in order.
func parseToMany(raw json.RawMessage, ptr, wantType string) ([]string, []apiError) {
	obj, ok := decodeObject(raw)
	if !ok {
		return nil, []apiError{malformed(ptr)}
	}
	return parseIdentList(obj["data"], ptr+"/data", wantType, false)
}

// parseIdentList decodes an array of resource identifiers at ptr. A wrong type is a 409 when the
// array is the primary data (primary), a 422 inside a relationship.
func parseIdentList(raw json.RawMessage, ptr, wantType string, primary bool) ([]string, []apiError) {
	var items []json.RawMessage
	if raw == nil || isNull(raw) || json.Unmarshal(raw, &items) != nil {
		return nil, []apiError{malformed(ptr)}
	}
	ids := make([]string, 0, len(items))
	var errs []apiError
	for i, item := range items {
		p := fmt.Sprintf("%s/%d", ptr, i)
		id, ok := parseIdent(item)
		switch {
		case !ok:
			errs = append(errs, malformed(p))
		case id.Type != wantType && primary:
			errs = append(errs, mismatch(p+"/type"))
		case id.Type != wantType:
			errs = append(errs, invalid(p+"/type", fmt.Sprintf("The relationship must reference %s.", wantType)))
		}
		ids = append(ids, id.ID)
	}
	return ids, errs
}

// parseIdentBody decodes a body whose primary data is an array of identifiers (W4-W6).
func parseIdentBody(body []byte, wantType string) ([]string, []apiError) {
	top, ok := decodeObject(body)
	if !ok {
		return nil, []apiError{malformed("")}
	}
	return parseIdentList(top["data"], "/data", wantType, true)
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// collection answers a list. With paging on (and paged set) it serves page[number] of the items
// with links and meta.page (§5); otherwise the whole collection.
func (s *Server) collection(c *call, items []any, paged bool) response {
	if items == nil {
		items = []any{}
	}
	if !paged || s.pageSize == 0 {
		return response{status: http.StatusOK, items: items}
	}
	q := c.r.URL.Query()
	page := 1
	if v := q.Get("page[number]"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errorsResp([]apiError{newError(http.StatusBadRequest, "page[number] must be a positive integer", "")})
		}
		page = n
	}
	total := len(items)
	last := max(1, (total+s.pageSize-1)/s.pageSize)
	scheme := "http"
	if c.r.TLS != nil {
		scheme = "https"
	}
	link := func(n int) string {
		q.Set("page[number]", strconv.Itoa(n))
		u := url.URL{Scheme: scheme, Host: c.r.Host, Path: c.r.URL.Path, RawQuery: q.Encode()}
		return u.String()
	}
	linkPtr := func(n int) *string { l := link(n); return &l }
	from := min((page-1)*s.pageSize, total)
	to := min(page*s.pageSize, total)
	doc := pagedDocument{
		Data:  items[from:to],
		Links: pageLinks{First: link(1), Last: link(last)},
		Meta:  pageMeta{Page: pageInfo{CurrentPage: page, PerPage: s.pageSize, Total: total, LastPage: last}},
	}
	if page > 1 {
		doc.Links.Prev = linkPtr(min(page-1, last))
	}
	if page < last {
		doc.Links.Next = linkPtr(page + 1)
	}
	if from < to {
		f, t := from+1, to
		doc.Meta.Page.From, doc.Meta.Page.To = &f, &t
	}
	return jsonResp(http.StatusOK, doc)
}

func label(attr string) string { return strings.ReplaceAll(attr, "_", " ") }
