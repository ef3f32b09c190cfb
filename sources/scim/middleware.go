package scim

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// writeError writes a SCIM error response from middleware.
func writeError(w http.ResponseWriter, status int, scimType, detail string) {
	body := map[string]any{"schemas": []string{errorURN}, "status": strconv.Itoa(status), "detail": detail}
	if scimType != "" {
		body["scimType"] = scimType
	}
	raw, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/scim+json")
	w.Header().Set("Content-Length", strconv.Itoa(len(raw)))
	w.WriteHeader(status)
	w.Write(raw)
}

// statusWriter remembers the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// logRecover logs every request (never its headers or body) and turns a
// panic into a SCIM 500 without internal detail.
func (s *server) logRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "scim handler panic", "panic", fmt.Sprint(v),
					"method", r.Method, "path", r.URL.Path)
				if sw.status == 0 {
					writeError(sw, http.StatusInternalServerError, "", "internal error")
				}
			}
			s.log.DebugContext(r.Context(), "scim request", "method", r.Method, "path", r.URL.Path,
				"status", sw.status, "duration", time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}

// auth accepts a request only with one of the configured bearer tokens,
// compared in constant time over SHA-256 digests. The matching token's
// connection name goes into the request context.
func (s *server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := s.authenticate(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="scim"`)
			// The body is never read: closing the connection lets the
			// server answer now instead of draining what is sent.
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusUnauthorized, "", "A valid bearer token is required in the Authorization header.")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), connKey, name)))
	})
}

func (s *server) authenticate(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", false
	}
	d := sha256.Sum256([]byte(tok))
	name, found := "", false
	for _, t := range s.tokens { // no early exit: the time does not depend on which token matched
		if subtle.ConstantTimeCompare(d[:], t.digest[:]) == 1 {
			name, found = t.name, true
		}
	}
	return name, found
}

// bodyLimit reads at most max_body_bytes of the body itself and answers 413
// beyond that (G7): the library would report a cut body as invalid syntax.
func (s *server) bodyLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := s.cfg.MaxBodyBytes
		tooLarge := fmt.Sprintf("The request body is larger than %d bytes.", limit)
		if r.ContentLength > limit {
			writeError(w, http.StatusRequestEntityTooLarge, "", tooLarge)
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			data, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
			if err != nil {
				writeError(w, http.StatusBadRequest, "invalidSyntax", "The request body could not be read.")
				return
			}
			if int64(len(data)) > limit {
				writeError(w, http.StatusRequestEntityTooLarge, "", tooLarge)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(data))
			r.ContentLength = int64(len(data))
		}
		next.ServeHTTP(w, r)
	})
}

var endpoints = []string{"Users", "Groups", "ServiceProviderConfig", "Schemas", "ResourceTypes", "Bulk", "Me"}

// normalise strips a trailing slash, routes the first path segment
// case-insensitively (G5) and answers unsupported methods with 405 (G6).
func (s *server) normalise(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.Trim(r.URL.Path, "/")
		first, rest, hasRest := strings.Cut(p, "/")
		if strings.EqualFold(first, "v2") { // the library strips a leading /v2 too
			first, rest, hasRest = strings.Cut(rest, "/")
		}
		for _, e := range endpoints {
			if strings.EqualFold(first, e) {
				first = e
			}
		}
		deny := func(allow string) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "", fmt.Sprintf("Method %s is not allowed here; allowed: %s.", r.Method, allow))
		}
		switch first {
		case "ServiceProviderConfig", "Schemas", "ResourceTypes":
			if r.Method != http.MethodGet {
				deny(http.MethodGet)
				return
			}
		case "Users", "Groups":
			switch {
			case !hasRest && r.Method != http.MethodGet && r.Method != http.MethodPost:
				deny("GET, POST")
				return
			case hasRest && (strings.Contains(rest, "/") || rest == ".search"):
				writeError(w, http.StatusNotFound, "", "Specified endpoint does not exist.")
				return
			case hasRest && r.Method != http.MethodGet && r.Method != http.MethodPut &&
				r.Method != http.MethodPatch && r.Method != http.MethodDelete:
				deny("GET, PUT, PATCH, DELETE")
				return
			}
		}
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		u.Path = "/" + first
		if hasRest {
			u.Path += "/" + rest
		}
		u.RawPath = ""
		r2.URL = &u
		next.ServeHTTP(w, r2)
	})
}

// entraValueFilter matches Entra's attr[filter].sub op value, which the
// library rejects (G2).
var entraValueFilter = regexp.MustCompile(`(?i)\b([a-z][\w:.]*)\[([^\]]+)\]\.([a-z]\w*)\s+(eq|ne|co|sw|ew|gt|ge|lt|le)\s+("(?:[^"\\]|\\.)*"|true|false|null|[\d.eE+-]+)`)

// rewriteFilter rewrites emails[type eq "work"].value eq "x" into the
// equivalent emails[type eq "work" and value eq "x"] (G2).
func (s *server) rewriteFilter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if f := q.Get("filter"); f != "" {
			if nf := entraValueFilter.ReplaceAllString(f, "$1[$2 and $3 $4 $5]"); nf != f {
				q.Set("filter", nf)
				u := *r.URL
				u.RawQuery = q.Encode()
				r2 := new(http.Request)
				*r2 = *r
				r2.URL = &u
				r = r2
			}
		}
		next.ServeHTTP(w, r)
	})
}

// rewriteBody answers unparseable bodies with a useful detail and reshapes
// what Entra sends for the manager (G4): a bare string becomes
// {"value": …}, and a whole enterprise extension object in a PATCH value is
// flattened into URN-prefixed attribute paths.
func (s *server) rewriteBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch {
			next.ServeHTTP(w, r)
			return
		}
		data, _ := io.ReadAll(r.Body)
		if len(bytes.TrimSpace(data)) == 0 {
			writeError(w, http.StatusBadRequest, "invalidSyntax", "The request body is empty; a JSON object is expected.")
			return
		}
		if jsonDepthExceeds(data, MaxJSONDepth) {
			writeError(w, http.StatusBadRequest, "invalidSyntax",
				fmt.Sprintf("The request body nests objects and arrays more than %d deep.", MaxJSONDepth))
			return
		}
		var body any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		err := dec.Decode(&body)
		if err == nil && dec.More() {
			err = errors.New("data after the JSON object")
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalidSyntax", "The request body is not valid JSON: "+jsonProblem(err))
			return
		}
		m, ok := body.(map[string]any)
		if !ok {
			writeError(w, http.StatusBadRequest, "invalidSyntax", "The request body must be a JSON object.")
			return
		}
		changed := false
		if r.Method == http.MethodPatch {
			if err := checkPatchBounds(m); err != nil {
				writeError(w, http.StatusBadRequest, string(err.scimType), err.detail)
				return
			}
			changed = fixPatchBody(m)
		} else {
			changed = fixResourceBody(m)
		}
		if changed {
			if data, err = json.Marshal(m); err != nil {
				writeError(w, http.StatusBadRequest, "invalidSyntax", "The request body could not be processed.")
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(data))
		r.ContentLength = int64(len(data))
		next.ServeHTTP(w, r)
	})
}

// jsonProblem describes a JSON syntax error without echoing the body.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d).", se.Error(), se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected end of input."
	}
	return err.Error() + "."
}

// key returns the key of m equal to name ignoring case, or "".
func key(m map[string]any, name string) (string, bool) {
	if _, ok := m[name]; ok {
		return name, true
	}
	for k := range m {
		if strings.EqualFold(k, name) {
			return k, true
		}
	}
	return "", false
}

func wrapManager(v any) (any, bool) {
	if s, ok := v.(string); ok {
		return map[string]any{"value": s}, true
	}
	return v, false
}

func fixResourceBody(m map[string]any) bool {
	k, ok := key(m, enterpriseURN)
	if !ok {
		return false
	}
	ext, ok := m[k].(map[string]any)
	if !ok {
		return false
	}
	mk, ok := key(ext, "manager")
	if !ok {
		return false
	}
	if s, isStr := ext[mk].(string); isStr && s == "" {
		delete(ext, mk)
		return true
	}
	var changed bool
	ext[mk], changed = wrapManager(ext[mk])
	return changed
}

// flattenExtension turns {"urn:…:User": {"department": "QA"}} style content
// into {"urn:…:User:department": "QA"} keys of dst.
func flattenExtension(dst map[string]any, ext map[string]any) {
	for ek, ev := range ext {
		if strings.EqualFold(ek, "manager") {
			ev, _ = wrapManager(ev)
		}
		dst[enterpriseURN+":"+ek] = ev
	}
}

func fixPatchBody(m map[string]any) bool {
	ok, found := key(m, "Operations")
	if !found {
		return false
	}
	ops, _ := m[ok].([]any)
	changed := false
	for _, o := range ops {
		op, isMap := o.(map[string]any)
		if !isMap {
			continue
		}
		pk, hasPath := key(op, "path")
		vk, hasValue := key(op, "value")
		if !hasValue {
			continue
		}
		path := ""
		if hasPath {
			path, _ = op[pk].(string)
			path = strings.TrimSpace(path)
		}
		switch {
		case strings.EqualFold(path, enterpriseURN+":manager"):
			var c bool
			op[vk], c = wrapManager(op[vk])
			changed = changed || c
		case strings.EqualFold(path, enterpriseURN):
			if ext, isMap := op[vk].(map[string]any); isMap {
				flat := map[string]any{}
				flattenExtension(flat, ext)
				delete(op, pk)
				op[vk] = flat
				changed = true
			}
		case path == "":
			val, isMap := op[vk].(map[string]any)
			if !isMap {
				continue
			}
			for k, v := range val {
				switch {
				case strings.EqualFold(k, enterpriseURN):
					if ext, isMap := v.(map[string]any); isMap {
						delete(val, k)
						flattenExtension(val, ext)
						changed = true
					}
				case strings.EqualFold(k, enterpriseURN+":manager"):
					var c bool
					val[k], c = wrapManager(v)
					changed = changed || c
				}
			}
		}
	}
	return changed
}

// bufferedWriter holds the library's response for rewriteResponse.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// baseURL is the public base URL, configured or derived from the request.
func (s *server) baseURL(r *http.Request) string {
	if s.cfg.PublicBaseURL != "" {
		return s.cfg.PublicBaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/scim/v2"
}

// rewriteResponse makes meta.location absolute, sets Location on 201, sets
// itemsPerPage to the number of resources returned and never lets
// Resources be null (G9, G10).
func (s *server) rewriteResponse(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bw := &bufferedWriter{header: w.Header()}
		next.ServeHTTP(bw, r)
		if bw.status == 0 {
			bw.status = http.StatusOK
		}
		out := bw.body.Bytes()
		if bw.status < 300 && len(out) > 0 {
			if fixed, loc, err := s.fixResponse(r, out); err == nil {
				out = fixed
				if bw.status == http.StatusCreated && loc != "" {
					w.Header().Set("Location", loc)
				}
			} else {
				s.log.ErrorContext(r.Context(), "scim response not rewritten", "err", err)
			}
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(out)))
		w.WriteHeader(bw.status)
		w.Write(out)
	})
}

// fixResponse rewrites the library's JSON without decoding it into maps:
// the library marshals maps, so keys are sorted and escaped, and the byte
// sequences replaced here can only be the structure they stand for.
func (s *server) fixResponse(r *http.Request, raw []byte) ([]byte, string, error) {
	base, err := json.Marshal(s.baseURL(r))
	if err != nil {
		return nil, "", err
	}
	prefix := append([]byte(`"location":"`), base[1:len(base)-1]...)
	out := raw
	for _, ep := range []string{"Users/", "Groups/"} {
		out = bytes.ReplaceAll(out, []byte(`"location":"`+ep), append(slices.Clip(prefix), "/"+ep...))
	}
	if bytes.HasPrefix(out, []byte(`{"Resources":`)) {
		var list struct {
			Resources []json.RawMessage
		}
		if err := json.Unmarshal(out, &list); err != nil {
			return nil, "", err
		}
		if bytes.HasPrefix(out, []byte(`{"Resources":null`)) {
			out = append([]byte(`{"Resources":[]`), out[len(`{"Resources":null`):]...)
		}
		// itemsPerPage comes after Resources: its last occurrence is the
		// top-level one.
		key := []byte(`"itemsPerPage":`)
		i := bytes.LastIndex(out, key)
		if i < 0 {
			return nil, "", errors.New("list response without itemsPerPage")
		}
		j := i + len(key)
		k := j
		for k < len(out) && out[k] >= '0' && out[k] <= '9' {
			k++
		}
		fixed := append(slices.Clip(out[:j]), strconv.Itoa(len(list.Resources))...)
		out = append(fixed, out[k:]...)
		return out, "", nil
	}
	loc := ""
	if i := bytes.Index(out, prefix); i >= 0 {
		rest := out[i+len(`"location":"`):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 {
			var s string
			if json.Unmarshal(append(append([]byte{'"'}, rest[:j]...), '"'), &s) == nil {
				loc = s
			}
		}
	}
	return out, loc, nil
}
