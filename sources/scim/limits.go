package scim

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Bounds checked before anything from a request is parsed. The filter
// parser recurses once per parenthesis or bracket, and its time grows faster
// than the input: an unbounded filter is a way to stop the process. These
// checks run after authentication and cost one pass over the bytes.
const (
	// MaxFilterLength caps the filter query parameter and a PATCH path, in bytes.
	MaxFilterLength = 4096
	// MaxFilterDepth caps the nesting of parentheses and brackets in a
	// filter or a PATCH path.
	MaxFilterDepth = 32
	// MaxAttributesLength caps attributes and excludedAttributes, in bytes.
	MaxAttributesLength = 2048
	// MaxAttributes caps the number of names in attributes or excludedAttributes.
	MaxAttributes = 64
	// MaxStartIndex caps startIndex (1-based).
	MaxStartIndex = 1_000_000_000
	// MaxJSONDepth caps the nesting of objects and arrays in a request body.
	MaxJSONDepth = 32
	// MaxPatchOperations caps the operations in one PATCH request.
	MaxPatchOperations = 1000
)

// checkExpression reports why s (a filter or a PATCH path) is refused before
// parsing: too long, or nested too deep. Quoted strings are skipped, with
// JSON escapes, so a parenthesis inside a compared value does not count.
func checkExpression(what, s string) error {
	if len(s) > MaxFilterLength {
		return fmt.Errorf("%s is %d bytes long; at most %d are accepted", what, len(s), MaxFilterLength)
	}
	if nestsDeeper(s, "([", ")]", MaxFilterDepth) {
		return fmt.Errorf("%s nests parentheses or brackets more than %d deep", what, MaxFilterDepth)
	}
	return nil
}

// jsonDepthExceeds reports whether the JSON text data nests objects and
// arrays deeper than max. It does not validate: invalid JSON is left to the
// decoder, which reports it with its position.
func jsonDepthExceeds(data []byte, max int) bool { return nestsDeeper(data, "{[", "}]", max) }

// nestsDeeper reports whether s opens more than max of the open characters
// without closing them, skipping double-quoted strings with their
// backslash escapes (a bracket inside a compared value or a JSON string
// does not count).
func nestsDeeper[T string | []byte](s T, open, close string, max int) bool {
	depth, inString, escaped := 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			inString = true
		case strings.IndexByte(open, c) >= 0:
			depth++
			if depth > max {
				return true
			}
		case strings.IndexByte(close, c) >= 0:
			depth--
		}
	}
	return false
}

// queryLimits refuses list parameters beyond the bounds above with a SCIM
// 400 before the library parses them.
func (s *server) queryLimits(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery == "" {
			next.ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		for _, f := range q["filter"] {
			if err := checkExpression("the filter", f); err != nil {
				writeError(w, http.StatusBadRequest, "invalidFilter", capitalise(err.Error())+".")
				return
			}
		}
		for _, name := range []string{"attributes", "excludedAttributes"} {
			for _, v := range q[name] {
				if len(v) > MaxAttributesLength {
					writeError(w, http.StatusBadRequest, "invalidValue",
						fmt.Sprintf("%s is %d bytes long; at most %d are accepted.", name, len(v), MaxAttributesLength))
					return
				}
				if n := strings.Count(v, ",") + 1; n > MaxAttributes {
					writeError(w, http.StatusBadRequest, "invalidValue",
						fmt.Sprintf("%s names %d attributes; at most %d are accepted.", name, n, MaxAttributes))
					return
				}
			}
		}
		for _, p := range []struct {
			name string
			max  int
		}{{"count", s.cfg.MaxResults}, {"startIndex", MaxStartIndex}} {
			for _, v := range q[p.name] {
				if v == "" {
					continue
				}
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					writeError(w, http.StatusBadRequest, "invalidValue",
						fmt.Sprintf("%s must be an integer, not %q.", p.name, truncate(v, 20)))
					return
				}
				if p.name == "startIndex" && n > int64(p.max) {
					writeError(w, http.StatusBadRequest, "invalidValue",
						fmt.Sprintf("startIndex must be at most %d.", p.max))
					return
				}
				// count above MaxResults is lowered to it and a negative
				// count means 0 (RFC 7644 §3.4.2.4); the library does both
				// once the value fits an int.
				if n > int64(p.max) || n < -1 {
					r = withQuery(r, p.name, clamp(n, p.max))
					q = r.URL.Query()
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func clamp(n int64, max int) string {
	if n < 0 {
		return "0"
	}
	return strconv.Itoa(max)
}

func withQuery(r *http.Request, key, value string) *http.Request {
	q := r.URL.Query()
	q.Set(key, value)
	u := *r.URL
	u.RawQuery = q.Encode()
	r2 := new(http.Request)
	*r2 = *r
	r2.URL = &u
	return r2
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// checkPatchBounds refuses a PATCH body with too many operations, or a path
// (or, in a path-less operation, a value key) that checkExpression refuses,
// before the library parses the paths.
func checkPatchBounds(m map[string]any) *apiError {
	k, found := key(m, "Operations")
	if !found {
		return nil
	}
	ops, _ := m[k].([]any)
	if len(ops) > MaxPatchOperations {
		return &apiError{http.StatusBadRequest, "invalidValue",
			fmt.Sprintf("The request has %d operations; at most %d are accepted.", len(ops), MaxPatchOperations)}
	}
	for i, o := range ops {
		op, isMap := o.(map[string]any)
		if !isMap {
			continue
		}
		var paths []string
		if pk, ok := key(op, "path"); ok {
			if p, ok := op[pk].(string); ok {
				paths = append(paths, p)
			}
		}
		if vk, ok := key(op, "value"); ok {
			if val, ok := op[vk].(map[string]any); ok {
				for vkey := range val {
					paths = append(paths, vkey)
				}
			}
		}
		for _, p := range paths {
			if err := checkExpression("the path", p); err != nil {
				return &apiError{http.StatusBadRequest, "invalidPath", fmt.Sprintf("Operation %d: %s.", i+1, err)}
			}
		}
	}
	return nil
}
