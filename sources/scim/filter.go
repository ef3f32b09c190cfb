package scim

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/scim2/filter-parser/v2"
	"golang.org/x/text/unicode/norm"
)

// fold is the key under which a userName, displayName or email is unique
// and compared: lower case in Unicode normalisation form C, so "José"
// written with a combining accent and with a precomposed "é" (or in
// capitals) are one name.
func fold(s string) string {
	return norm.NFC.String(strings.ToLower(s))
}

// maxFilterTerms bounds the number of comparisons in one filter, which keeps
// the generated SQL well inside SQLite's expression limits.
const maxFilterTerms = 64

type fieldKind int

const (
	kindFold  fieldKind = iota // string compared case-insensitively (stored lower-cased)
	kindExact                  // string compared exactly
	kindBool
	kindTime // milliseconds since the epoch; eq, gt, ge, lt, le
)

// field is a filterable attribute as an SQL column.
type field struct {
	col  string
	kind fieldKind
	// wrap, when set, is a format with one %s that places the condition
	// inside a sub-query (multi-valued attributes).
	wrap string
}

// resolver maps an attribute path to a field, or explains why it cannot.
type resolver func(p filter.AttributePath) (field, error)

const emailExists = `EXISTS (SELECT 1 FROM emails e WHERE e.seq = r.seq AND %s)`

// compileFilter translates a parsed filter into an SQL condition over the
// resources table (alias r) with positional arguments, on the whitelist of
// the endpoint contract (§4.3). Anything outside it is an invalidFilter error.
func compileFilter(rtype string, e filter.Expression) (string, []any, error) {
	c := &compiler{}
	res := groupField
	if rtype == typeUser {
		res = userField
	}
	cond, err := c.expr(e, res, rtype == typeUser)
	if err != nil {
		return "", nil, err
	}
	return cond, c.args, nil
}

// compileMemberFilter translates the value filter of a members[…] PATCH path
// into an SQL condition over members (alias m) joined with the member (u).
func compileMemberFilter(e filter.Expression) (string, []any, error) {
	c := &compiler{}
	cond, err := c.expr(e, memberField, false)
	if err != nil {
		return "", nil, badPath(err.Error())
	}
	return cond, c.args, nil
}

type compiler struct {
	args  []any
	terms int
}

func (c *compiler) expr(e filter.Expression, res resolver, emails bool) (string, error) {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		l, err := c.expr(e.Left, res, emails)
		if err != nil {
			return "", err
		}
		r, err := c.expr(e.Right, res, emails)
		if err != nil {
			return "", err
		}
		switch strings.ToLower(string(e.Operator)) {
		case "and":
			return "(" + l + " AND " + r + ")", nil
		case "or":
			return "(" + l + " OR " + r + ")", nil
		}
		return "", badFilter(fmt.Sprintf("unsupported logical operator %q", e.Operator))
	case *filter.AttributeExpression:
		return c.attrExpr(e, res)
	case *filter.ValuePath:
		if !emails || !isAttr(e.AttributePath, userURN, "emails") || e.AttributePath.SubAttribute != nil {
			return "", badFilter(fmt.Sprintf("value filter on %q is not supported (only emails[…])", e.AttributePath.String()))
		}
		inner, err := c.expr(e.ValueFilter, emailField, false)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf(emailExists, inner), nil
	case *filter.NotExpression:
		return "", badFilter(`"not" is not supported in filters`)
	}
	return "", badFilter("unsupported filter expression")
}

func (c *compiler) attrExpr(e *filter.AttributeExpression, res resolver) (string, error) {
	c.terms++
	if c.terms > maxFilterTerms {
		return "", badFilter(fmt.Sprintf("filter has more than %d comparisons", maxFilterTerms))
	}
	f, err := res(e.AttributePath)
	if err != nil {
		return "", err
	}
	op := strings.ToLower(string(e.Operator))
	name := e.AttributePath.String()
	var cond string
	switch f.kind {
	case kindFold, kindExact:
		if op != "eq" {
			return "", badFilter(fmt.Sprintf("operator %q is not supported on %q (only eq)", op, name))
		}
		s, err := filterString(e.CompareValue, name)
		if err != nil {
			return "", err
		}
		if f.kind == kindFold {
			s = fold(s)
		}
		if !storable(s) {
			// No stored value holds NUL or invalid UTF-8 (and
			// PostgreSQL refuses to compare with one).
			cond = "0 = 1"
			break
		}
		cond = f.col + " = ?"
		c.args = append(c.args, s)
	case kindBool:
		if op != "eq" {
			return "", badFilter(fmt.Sprintf("operator %q is not supported on %q (only eq)", op, name))
		}
		b, ok := toBool(e.CompareValue)
		if !ok {
			return "", badFilter(fmt.Sprintf("%q compares with true or false", name))
		}
		cond = f.col + " = ?"
		c.args = append(c.args, boolInt(b))
	case kindTime:
		sqlOp, ok := map[string]string{"eq": "=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}[op]
		if !ok {
			return "", badFilter(fmt.Sprintf("operator %q is not supported on %q (eq, gt, ge, lt, le)", op, name))
		}
		s, err := filterString(e.CompareValue, name)
		if err != nil {
			return "", err
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return "", badFilter(fmt.Sprintf("%q compares with an RFC 3339 date-time such as \"2024-05-01T12:00:00Z\"", name))
		}
		// meta is rendered to the second: a whole-second value compares
		// at that precision, a fractional one to the millisecond.
		if t.Nanosecond() == 0 {
			cond = "(" + f.col + " / 1000) " + sqlOp + " ?"
			c.args = append(c.args, t.Unix())
		} else {
			cond = f.col + " " + sqlOp + " ?"
			c.args = append(c.args, t.UnixMilli())
		}
	}
	if f.wrap != "" {
		cond = fmt.Sprintf(f.wrap, cond)
	}
	return cond, nil
}

func filterString(v any, name string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", badFilter(fmt.Sprintf("%q compares with a quoted string", name))
	}
	if strings.Contains(s, `\`) {
		var u string
		if err := json.Unmarshal([]byte(`"`+s+`"`), &u); err != nil {
			return "", badFilter(fmt.Sprintf("invalid escape in the value compared with %q", name))
		}
		s = u
	}
	return s, nil
}

func toBool(v any) (bool, bool) {
	switch v := v.(type) {
	case bool:
		return v, true
	case string:
		switch strings.ToLower(v) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// isAttr reports whether p names attribute name of the schema urn (with or
// without the URN prefix), ignoring case.
func isAttr(p filter.AttributePath, urn, name string) bool {
	if u := p.URI(); u != "" && !strings.EqualFold(u, urn) {
		return false
	}
	return strings.EqualFold(p.AttributeName, name)
}

func notFilterable(p filter.AttributePath, rtype string) error {
	return badFilter(fmt.Sprintf("filtering %s on %q is not supported", rtype+"s", p.String()))
}

func metaField(p filter.AttributePath) (field, bool) {
	switch strings.ToLower(p.SubAttributeName()) {
	case "created":
		return field{col: "r.created_ms", kind: kindTime}, true
	case "lastmodified":
		return field{col: "r.modified_ms", kind: kindTime}, true
	}
	return field{}, false
}

func userField(p filter.AttributePath) (field, error) {
	uri := p.URI()
	sub := strings.ToLower(p.SubAttributeName())
	if strings.EqualFold(uri, enterpriseURN) {
		if strings.EqualFold(p.AttributeName, "employeeNumber") && sub == "" {
			return field{col: "r.employee_number", kind: kindExact}, nil
		}
		return field{}, notFilterable(p, typeUser)
	}
	if uri != "" && !strings.EqualFold(uri, userURN) {
		return field{}, notFilterable(p, typeUser)
	}
	name := strings.ToLower(p.AttributeName)
	if name == "meta" {
		if f, ok := metaField(p); ok {
			return f, nil
		}
		return field{}, notFilterable(p, typeUser)
	}
	if name == "emails" {
		f, err := emailField(filter.AttributePath{AttributeName: orElse(sub, "value")})
		if err != nil {
			return field{}, notFilterable(p, typeUser)
		}
		f.wrap = emailExists
		return f, nil
	}
	if sub != "" {
		return field{}, notFilterable(p, typeUser)
	}
	switch name {
	case "username":
		return field{col: "r.name_lc", kind: kindFold}, nil
	case "displayname":
		return field{col: "r.display_lc", kind: kindFold}, nil
	case "externalid":
		return field{col: "r.external_id", kind: kindExact}, nil
	case "id":
		return field{col: "r.id", kind: kindExact}, nil
	case "active":
		return field{col: "r.active", kind: kindBool}, nil
	}
	return field{}, notFilterable(p, typeUser)
}

func orElse(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func emailField(p filter.AttributePath) (field, error) {
	if p.SubAttribute == nil {
		switch strings.ToLower(p.AttributeName) {
		case "value":
			return field{col: "e.value_lc", kind: kindFold}, nil
		case "type":
			return field{col: "e.type_lc", kind: kindFold}, nil
		case "primary":
			return field{col: "e.is_primary", kind: kindBool}, nil
		}
	}
	return field{}, badFilter(fmt.Sprintf("filtering emails on %q is not supported (value, type, primary)", p.String()))
}

func groupField(p filter.AttributePath) (field, error) {
	uri := p.URI()
	if uri != "" && !strings.EqualFold(uri, groupURN) {
		return field{}, notFilterable(p, typeGroup)
	}
	name := strings.ToLower(p.AttributeName)
	if name == "meta" {
		if f, ok := metaField(p); ok {
			return f, nil
		}
		return field{}, notFilterable(p, typeGroup)
	}
	if p.SubAttribute != nil {
		return field{}, notFilterable(p, typeGroup)
	}
	switch name {
	case "displayname":
		return field{col: "r.name_lc", kind: kindFold}, nil
	case "externalid":
		return field{col: "r.external_id", kind: kindExact}, nil
	case "id":
		return field{col: "r.id", kind: kindExact}, nil
	}
	return field{}, notFilterable(p, typeGroup)
}

func memberField(p filter.AttributePath) (field, error) {
	if p.SubAttribute == nil && p.URIPrefix == nil {
		switch strings.ToLower(p.AttributeName) {
		case "value":
			return field{col: "u.id", kind: kindExact}, nil
		case "display":
			return field{col: "m.display", kind: kindExact}, nil
		}
	}
	return field{}, fmt.Errorf("members can be selected by value or display, not by %q", p.String())
}
