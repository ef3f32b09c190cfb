package scim

import (
	"context"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/scim2/filter-parser/v2"
)

// An identity provider asks `GET /Users?filter=userName eq "…"` before every create and
// update, so that one lookup is most of a push's load. The library parses every filter with a
// general grammar (about 80 kB of allocations for this one); quickLookup recognises this
// shape itself, takes the filter off the request and hands the value to GetAll, which compiles
// the same expression the parser would have produced. Anything else goes the general way.

type quickUserNameKey struct{}

// quickUserName returns the value of a filter that is exactly `userName eq "value"` (any case
// for the attribute and the operator, spaces around), when the value has no escapes.
func quickUserName(f string) (string, bool) {
	f = strings.TrimSpace(f)
	name, rest, ok := strings.Cut(f, " ")
	if !ok || !strings.EqualFold(name, "userName") {
		return "", false
	}
	op, rest, ok := strings.Cut(strings.TrimLeft(rest, " "), " ")
	if !ok || !strings.EqualFold(op, "eq") {
		return "", false
	}
	v := strings.TrimLeft(rest, " ")
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	v = v[1 : len(v)-1]
	if strings.ContainsAny(v, "\"\\") || !utf8.ValidString(v) {
		return "", false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 {
			return "", false
		}
	}
	return v, true
}

// quickLookup serves the userName lookup without the library's filter parser (see above).
func (s *server) quickLookup(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || r.URL.Path != "/Users" || !strings.Contains(r.URL.RawQuery, "filter=") {
			next.ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		fs := q["filter"]
		if len(fs) != 1 {
			next.ServeHTTP(w, r)
			return
		}
		v, ok := quickUserName(fs[0])
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		q.Del("filter")
		u := *r.URL
		u.RawQuery = q.Encode()
		r2 := r.WithContext(context.WithValue(r.Context(), quickUserNameKey{}, v))
		r2.URL = &u
		next.ServeHTTP(w, r2)
	})
}

// quickFilter is the expression of a filter quickLookup took off the request, if any.
func quickFilter(r *http.Request) (filter.Expression, bool) {
	v, ok := r.Context().Value(quickUserNameKey{}).(string)
	if !ok {
		return nil, false
	}
	return &filter.AttributeExpression{
		AttributePath: filter.AttributePath{AttributeName: "userName"},
		Operator:      filter.EQ,
		CompareValue:  v,
	}, true
}
