package evaluagent

// This file is the one place that knows the shape of response bodies, with
// userelem.go beside it for the user listing's elements, which are read token
// by token. Many shapes are inferred in the contract (§2, §8): roles, levels,
// work-queue templates and their agents, group level and parent. When a shape
// turns out wrong, the fix belongs here.
//
// Decoding is lenient by design: unknown members are ignored, null is
// accepted for every attribute, and ids and third_party_id may be strings or
// numbers.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	json2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/rostersync/rostersync/reconcile"
)

// flexString decodes a JSON string, number or null (as "") into a string.
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	// The common case, a string without escapes, needs no second decoder.
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' && bytes.IndexByte(b[1:len(b)-1], '\\') < 0 && bytes.IndexByte(b[1:len(b)-1], '"') < 0 && utf8.Valid(b) {
		*s = flexString(b[1 : len(b)-1])
		return nil
	}
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = ""
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("want a string, number or null, got %s", truncate(string(b), 40))
		}
		*s = flexString(n.String())
	}
	return nil
}

// UnmarshalJSONFrom is UnmarshalJSON for a streamed listing: a string is taken as read, without
// the copy that UnmarshalJSON's bytes need.
func (s *flexString) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	switch dec.PeekKind() {
	case 'n':
		_, err := dec.ReadToken()
		*s = ""
		return err
	case '"':
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		*s = flexString(tok.String())
		return nil
	case '0':
		v, err := dec.ReadValue()
		if err != nil {
			return err
		}
		*s = flexString(v)
		return nil
	}
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	return fmt.Errorf("want a string, number or null, got %s", truncate(string(v), 40))
}

// document is a JSON:API top-level object.
type document struct {
	Data   json.RawMessage            `json:"data"`
	Links  map[string]json.RawMessage `json:"links"`
	Errors []wireError                `json:"errors"`
}

type wireError struct {
	Status flexString `json:"status"`
	Title  string     `json:"title"`
	Detail string     `json:"detail"`
	Source *struct {
		Pointer string `json:"pointer"`
	} `json:"source"`
}

// resource is a JSON:API resource object; attributes are decoded per type.
type resource struct {
	Type          string                  `json:"type"`
	ID            flexString              `json:"id"`
	Attributes    json.RawMessage         `json:"attributes"`
	Relationships map[string]relationship `json:"relationships"`
}

type relationship struct {
	Data json.RawMessage `json:"data"`
}

type identifier struct {
	Type string     `json:"type"`
	ID   flexString `json:"id"`
}

func isNull(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || bytes.Equal(b, []byte("null"))
}

func (r resource) attrs(v any) error {
	if isNull(r.Attributes) {
		return nil
	}
	if err := json.Unmarshal(r.Attributes, v); err != nil {
		return fmt.Errorf("%s %q: attributes: %w", r.Type, r.ID, err)
	}
	return nil
}

// decodeData decodes a document's data as a collection (many) or as a single
// resource.
func decodeCollection(body []byte) ([]resource, map[string]json.RawMessage, error) {
	var doc document
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, nil, fmt.Errorf("decode response: %w (body starts %q)", err, truncate(string(body), 120))
	}
	if isNull(doc.Data) {
		return nil, doc.Links, fmt.Errorf("decode response: no data member (body starts %q)", truncate(string(body), 120))
	}
	var rs []resource
	if err := json.Unmarshal(doc.Data, &rs); err != nil {
		return nil, nil, fmt.Errorf("decode response: data is not a list of resources: %w", err)
	}
	return rs, doc.Links, nil
}

// streamCollection reads a collection document from r as it arrives and hands every element of
// data to item, the decoder positioned on it; item decodes exactly one value. It returns the
// links and the number of elements. Other members are skipped.
//
// It reads tokens with jsontext, which decodes a value in one pass over the bytes (encoding/json's
// Decoder scans each value once to find its end and again to decode it): the listing of a large
// account is the longest part of a pass, and its decoding the most of that.
func streamCollection(r io.Reader, item func(*jsontext.Decoder) error) (links map[string]json.RawMessage, n int, err error) {
	dec := jsontext.NewDecoder(r, lenient...)
	if err := wantKind(dec, '{', "the response is not a JSON object"); err != nil {
		return nil, 0, err
	}
	sawData := false
	for dec.PeekKind() != '}' {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil, n, fmt.Errorf("decode response: %w", err)
		}
		switch name := tok.String(); name {
		case "data":
			sawData = true
			if dec.PeekKind() == 'n' {
				return nil, n, errors.New("decode response: no data member")
			}
			if err := wantKind(dec, '[', "data is not a list of resources"); err != nil {
				return nil, n, err
			}
			for dec.PeekKind() != ']' {
				if err := item(dec); err != nil {
					return nil, n, err
				}
				n++
			}
			if _, err := dec.ReadToken(); err != nil { // ]
				return nil, n, fmt.Errorf("decode response: %w", err)
			}
		case "links":
			if err := json2.UnmarshalDecode(dec, &links, lenient...); err != nil {
				return nil, n, fmt.Errorf("decode response: links: %w", err)
			}
		default:
			if err := dec.SkipValue(); err != nil {
				return nil, n, fmt.Errorf("decode response: %v: %w", name, err)
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil { // }
		return nil, n, fmt.Errorf("decode response: %w", err)
	}
	if !sawData {
		return nil, n, errors.New("decode response: no data member")
	}
	return links, n, nil
}

// lenient are the decoding options of a streamed listing: the leniency of encoding/json, which
// the other responses are read with (member names in any case, a repeated member's last value,
// invalid UTF-8 as U+FFFD).
var lenient = []json2.Options{
	json2.MatchCaseInsensitiveNames(true),
	jsontext.AllowDuplicateNames(true),
	jsontext.AllowInvalidUTF8(true),
}

// wantKind reads the next token, which must start a value of kind k.
func wantKind(dec *jsontext.Decoder, k jsontext.Kind, msg string) error {
	if dec.PeekKind() != k {
		return fmt.Errorf("decode response: %s", msg)
	}
	if _, err := dec.ReadToken(); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	return nil
}

func decodeSingle(body []byte) (resource, error) {
	var doc document
	if err := json.Unmarshal(body, &doc); err != nil {
		return resource{}, fmt.Errorf("decode response: %w (body starts %q)", err, truncate(string(body), 120))
	}
	var r resource
	if isNull(doc.Data) {
		return r, fmt.Errorf("decode response: no data member (body starts %q)", truncate(string(body), 120))
	}
	if err := json.Unmarshal(doc.Data, &r); err != nil {
		return r, fmt.Errorf("decode response: data is not a resource: %w", err)
	}
	return r, nil
}

// nextLink returns links.next: a string, a link object {"href": …}, or "".
func nextLink(links map[string]json.RawMessage) (string, error) {
	raw, ok := links["next"]
	if !ok || isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Href string `json:"href"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", fmt.Errorf("links.next is neither a string nor a link object: %s", truncate(string(raw), 80))
	}
	return obj.Href, nil
}

// decodeErrors reads a JSON:API error body. A body that is not one gives a
// single object carrying the start of the body.
func decodeErrors(status int, body []byte) []ErrorObject {
	var doc document
	if err := json.Unmarshal(body, &doc); err == nil && len(doc.Errors) > 0 {
		out := make([]ErrorObject, 0, len(doc.Errors))
		for _, e := range doc.Errors {
			o := ErrorObject{Status: string(e.Status), Title: e.Title, Detail: e.Detail}
			if e.Source != nil {
				o.Pointer = e.Source.Pointer
			}
			out = append(out, o)
		}
		return out
	}
	text := strings.TrimSpace(string(body))
	if text == "" {
		return nil
	}
	return []ErrorObject{{Status: fmt.Sprint(status), Detail: truncate(text, 200)}}
}

// Role is a role as the server lists it (§8.3). Match on Name, never Title.
type Role struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Title string `json:"title"`
}

// Level is a level of the group hierarchy (§8.4).
type Level struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func decodeRole(r resource) (Role, error) {
	var a struct {
		Name  string `json:"name"`
		Title string `json:"title"`
	}
	err := r.attrs(&a)
	return Role{ID: string(r.ID), Name: a.Name, Title: a.Title}, err
}

func decodeLevel(r resource) (Level, error) {
	var a struct {
		Name string `json:"name"`
	}
	err := r.attrs(&a)
	return Level{ID: string(r.ID), Name: a.Name}, err
}

// wireGroup is a group; the level is a name and the parent an id, both read
// from attributes (§8.2).
type wireGroup struct {
	ID     string
	Name   string
	Level  string
	Parent string
	Active bool
}

func decodeGroup(r resource) (wireGroup, error) {
	var a struct {
		Name   string     `json:"name"`
		Level  string     `json:"level"`
		Parent flexString `json:"parent"`
		Active bool       `json:"active"`
	}
	err := r.attrs(&a)
	return wireGroup{ID: string(r.ID), Name: a.Name, Level: a.Level, Parent: string(a.Parent), Active: a.Active}, err
}

type wireQueue struct {
	ID     string
	Name   string
	Active bool
}

func decodeQueue(r resource) (wireQueue, error) {
	var a struct {
		Name   string `json:"name"`
		Active bool   `json:"active"`
	}
	err := r.attrs(&a)
	return wireQueue{ID: string(r.ID), Name: a.Name, Active: a.Active}, err
}

// decodeQueueAgent takes the id of a W3 entry, which is a resource
// identifier or a full user object; only the id matters.
func decodeQueueAgent(r resource) (string, error) {
	if r.ID == "" {
		return "", fmt.Errorf("work-queue template agent without an id")
	}
	return string(r.ID), nil
}

// listedDate reads a start date as the platform lists it: a date or an
// RFC 3339 date-time ("" is no date). A date-time keeps its own calendar
// date: converting a start date to UTC could move it to the day before.
func listedDate(s string) (reconcile.Date, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	for _, layout := range []string{time.DateOnly, time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return reconcile.DateOf(t), nil
		}
	}
	return 0, fmt.Errorf("%q is neither a date (YYYY-MM-DD) nor an RFC 3339 date-time", s)
}

// Request bodies. Maps marshal with sorted keys, so bodies are stable; a key
// that is absent means "unchanged" and a nil value is sent as null ("clear").

type attrs = map[string]any

func ref(typ, id string) map[string]any {
	return map[string]any{"type": typ, "id": id}
}

func toOneBody(typ, id string) map[string]any {
	if id == "" {
		return map[string]any{"data": nil}
	}
	return map[string]any{"data": ref(typ, id)}
}

func toManyBody(typ string, ids []string) map[string]any {
	data := make([]any, 0, len(ids))
	for _, id := range ids {
		data = append(data, ref(typ, id))
	}
	return map[string]any{"data": data}
}

// resourceBody is {"data": {type, id?, attributes?, relationships?}}.
func resourceBody(typ, id string, at, rels map[string]any) map[string]any {
	d := map[string]any{"type": typ}
	if id != "" {
		d["id"] = id
	}
	if len(at) > 0 {
		d["attributes"] = at
	}
	if len(rels) > 0 {
		d["relationships"] = rels
	}
	return map[string]any{"data": d}
}

// uniqueSorted returns ids sorted, without duplicates, for stable bodies.
func uniqueSorted(ids []string) []string {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	return slices.Compact(ids)
}

// nullable sends "" as null.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
