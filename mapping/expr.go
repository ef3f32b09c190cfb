package mapping

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"

	"github.com/rostersync/rostersync/sources"
)

// CostLimit bounds the work one expression may do for one record, in CEL's
// cost units (about one per operation, plus one per ten characters a string
// operation touches). An evaluation that would exceed it stops and is a
// problem for that person.
const CostLimit = 100_000

// RecordVar is the expression variable holding the record's attributes by
// unqualified name; GroupsVar holds the names of its groups.
const (
	RecordVar = "record"
	GroupsVar = "groups"
)

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// reservedVars cannot be source variables.
var reservedVars = []string{RecordVar, GroupsVar}

// expr is a compiled CEL expression.
type expr struct {
	path string // "computed[\"email\"]", "scope[1].expr"
	src  string
	prg  cel.Program
	vars []string // the source variables
	// inputs are the variable.attribute pairs the expression reads by
	// selection, for explain and for staleness.
	inputs [][2]string
}

// ComputedValue is what one computed attribute came to for one record.
type ComputedValue struct {
	Name string `json:"name"`
	Expr string `json:"expr"`
	// Inputs are the attributes the expression reads, as
	// `ldap.mail = "Ann@Example.com"`; "(absent)" when the record has none.
	Inputs []string `json:"inputs,omitempty"`
	Result string   `json:"result"`
	Error  string   `json:"error,omitempty"`
}

// newEnv declares a map(string, string) per source name and record, and
// groups as list(string), with CEL's string extension.
func newEnv(vars []string) (*cel.Env, error) {
	opts := []cel.EnvOption{
		ext.Strings(),
		// The string extension's lowerAscii and upperAscii also as
		// functions: lowerAscii(ldap.mail) as well as ldap.mail.lowerAscii().
		cel.Function("lowerAscii", cel.Overload("rostersync_lowerAscii_string", []*cel.Type{cel.StringType}, cel.StringType,
			cel.UnaryBinding(func(v ref.Val) ref.Val { return types.String(asciiCase(string(v.(types.String)), false)) }))),
		cel.Function("upperAscii", cel.Overload("rostersync_upperAscii_string", []*cel.Type{cel.StringType}, cel.StringType,
			cel.UnaryBinding(func(v ref.Val) ref.Val { return types.String(asciiCase(string(v.(types.String)), true)) }))),
		cel.Variable(RecordVar, cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable(GroupsVar, cel.ListType(cel.StringType)),
	}
	for _, v := range vars {
		if identifier.MatchString(v) && !slices.Contains(reservedVars, v) {
			opts = append(opts, cel.Variable(v, cel.MapType(cel.StringType, cel.StringType)))
		}
	}
	return cel.NewEnv(opts...)
}

// compileExpr type-checks src, which must give want.
func (c *compiler) compileExpr(env *cel.Env, path, src string, want *cel.Type) *expr {
	if env == nil {
		return nil
	}
	if strings.TrimSpace(src) == "" {
		c.add(path, "empty expression")
		return nil
	}
	checked, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		c.add(path, "%s", celMessage(iss.Err()))
		return nil
	}
	if want != nil && !checked.OutputType().IsExactType(want) {
		c.add(path, "%q gives %s, not %s", src, checked.OutputType(), want)
		return nil
	}
	prg, err := env.Program(checked, cel.CostLimit(CostLimit))
	if err != nil {
		c.add(path, "%v", err)
		return nil
	}
	e := &expr{path: path, src: src, prg: prg, vars: c.vars}
	seen := map[[2]string]bool{}
	celast.PreOrderVisit(checked.NativeRep().Expr(), celast.NewExprVisitor(func(x celast.Expr) {
		if x.Kind() != celast.SelectKind {
			return
		}
		sel := x.AsSelect()
		if sel.Operand().Kind() != celast.IdentKind {
			return
		}
		in := [2]string{sel.Operand().AsIdent(), sel.FieldName()}
		if !seen[in] {
			seen[in] = true
			e.inputs = append(e.inputs, in)
		}
	}))
	return e
}

// celMessage makes CEL's multi-line report one line: "ERROR: <input>:1:9:
// undeclared reference to 'ldp'" becomes "1:9: undeclared reference to
// 'ldp'".
func celMessage(err error) string {
	var msgs []string
	for _, l := range strings.Split(err.Error(), "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "ERROR: ") {
			continue
		}
		l = strings.TrimPrefix(strings.TrimPrefix(l, "ERROR: "), "<input>:")
		msgs = append(msgs, "expression "+l)
	}
	if len(msgs) == 0 {
		return err.Error()
	}
	return strings.Join(msgs, "; ")
}

// bind builds the expression variables of rec. A merged record's
// qualified attributes ("wfm.team") go to their source's variable; a
// record read from one source gives every source variable its attributes.
func bind(vars []string, rec *sources.Record) map[string]any {
	record := map[string]string{}
	perSrc := map[string]map[string]string{}
	for _, v := range vars {
		if identifier.MatchString(v) && !slices.Contains(reservedVars, v) {
			perSrc[v] = map[string]string{}
		}
	}
	put := func(m map[string]string, k string, vs []string) {
		val := ""
		for _, v := range vs {
			if v = strings.TrimSpace(v); v != "" {
				val = v
				break
			}
		}
		if val == "" {
			return
		}
		m[k] = val
		if l := strings.ToLower(k); l != k {
			if _, ok := m[l]; !ok {
				m[l] = val
			}
		}
	}
	merged := rec.Provenance != nil
	for k, vs := range rec.Attrs {
		if src, a, ok := strings.Cut(k, "."); ok && merged {
			if m, known := perSrc[src]; known {
				put(m, a, vs)
			}
			continue
		}
		put(record, k, vs)
		if !merged {
			for _, m := range perSrc {
				put(m, k, vs)
			}
		}
	}
	groups := make([]string, 0, len(rec.Groups))
	for _, g := range rec.Groups {
		groups = append(groups, g.Name)
	}
	out := map[string]any{RecordVar: record, GroupsVar: groups}
	for v, m := range perSrc {
		out[v] = m
	}
	return out
}

// errNoKey is how CEL reports a map key the record does not have.
func isNoKey(err error) bool { return err != nil && strings.Contains(err.Error(), "no such key") }

// eval runs e over vars. A missing attribute gives ok false and no error.
func (e *expr) eval(vars map[string]any) (val any, ok bool, err error) {
	out, _, err := e.prg.Eval(vars)
	if err != nil {
		if isNoKey(err) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("%s: %q: %w", e.path, e.src, err)
	}
	if types.IsError(out) {
		return nil, false, fmt.Errorf("%s: %q: %v", e.path, e.src, out)
	}
	return out.Value(), true, nil
}

// shownInputs lists e's inputs with their values in vars.
func (e *expr) shownInputs(vars map[string]any) []string {
	var out []string
	for _, in := range e.inputs {
		m, _ := vars[in[0]].(map[string]string)
		v, ok := m[in[1]]
		if !ok {
			out = append(out, in[0]+"."+in[1]+" (absent)")
			continue
		}
		out = append(out, fmt.Sprintf("%s.%s = %q", in[0], in[1], v))
	}
	return out
}

// staleInput says why one of e's inputs is stale in rec, or "".
func (e *expr) staleInput(rec *sources.Record) string {
	if len(rec.Stale) == 0 {
		return ""
	}
	for _, in := range e.inputs {
		name := in[1]
		if in[0] != RecordVar {
			name = in[0] + "." + in[1]
		}
		if why := rec.StaleOf(name); why != "" {
			return why
		}
	}
	return ""
}

// withComputed returns rec with the computed attributes added, and what
// each came to. The record passed in is not changed.
func (r *Rules) withComputed(rec *sources.Record) (*sources.Record, []ComputedValue, error) {
	if len(r.computed) == 0 {
		return rec, nil, nil
	}
	vars := bind(r.exprVars, rec)
	out := *rec
	out.Attrs = make(map[string][]string, len(rec.Attrs)+len(r.computed))
	for k, v := range rec.Attrs {
		out.Attrs[k] = v
	}
	if rec.Provenance != nil {
		out.Provenance = cloneMap(rec.Provenance)
	}
	if rec.Stale != nil {
		out.Stale = cloneMap(rec.Stale)
	}
	var errs []error
	var shown []ComputedValue
	for _, c := range r.computed {
		cv := ComputedValue{Name: c.name, Expr: c.e.src, Inputs: c.e.shownInputs(vars)}
		val, ok, err := c.e.eval(vars)
		switch {
		case err != nil:
			cv.Error = err.Error()
			errs = append(errs, err)
		case ok:
			cv.Result, _ = val.(string)
		}
		shown = append(shown, cv)
		// A computed attribute replaces a source attribute of its name.
		for k := range out.Attrs {
			if strings.EqualFold(k, c.name) {
				delete(out.Attrs, k)
			}
		}
		if cv.Result != "" {
			out.Attrs[c.name] = []string{cv.Result}
		}
		if out.Provenance != nil {
			from := "computed " + c.name
			for _, in := range c.e.inputs {
				key := strings.ToLower(in[1])
				if in[0] != RecordVar {
					key = strings.ToLower(in[0] + "." + in[1])
				}
				if p, ok := rec.Provenance[key]; ok {
					from += " from " + p
					break
				}
			}
			out.Provenance[strings.ToLower(c.name)] = from
			if why := c.e.staleInput(rec); why != "" {
				if out.Stale == nil {
					out.Stale = map[string]string{}
				}
				out.Stale[strings.ToLower(c.name)] = why
			}
		}
	}
	return &out, shown, errors.Join(errs...)
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+4)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// exprAttributes lists the attributes src reads by selection, best effort
// (an expression that does not compile reads nothing): "mail" for
// record.mail, "ldap.mail" for ldap.mail.
func exprAttributes(src string, vars []string) []string {
	if strings.TrimSpace(src) == "" {
		return nil
	}
	env, err := newEnv(vars)
	if err != nil {
		return nil
	}
	c := &compiler{}
	e := c.compileExpr(env, "", src, nil)
	if e == nil {
		return nil
	}
	var out []string
	for _, in := range e.inputs {
		if in[0] == RecordVar {
			out = append(out, in[1])
		} else {
			out = append(out, in[0]+"."+in[1])
		}
	}
	return out
}

// asciiCase changes the case of ASCII letters only, as the string
// extension does.
func asciiCase(s string, upper bool) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case upper && 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
		case !upper && 'A' <= c && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}
