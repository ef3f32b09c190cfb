package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/rostersync/rostersync/config/block"
	"github.com/rostersync/rostersync/config/safefile"
	"gopkg.in/yaml.v3"

	"github.com/rostersync/rostersync/mapping"
	"github.com/rostersync/rostersync/sources/csv"
	"github.com/rostersync/rostersync/sources/ldap"
	"github.com/rostersync/rostersync/sources/merge"
	"github.com/rostersync/rostersync/sources/scim"
)

// File is the YAML configuration file: where people come from, and how
// they map onto the platform.
//
//	sources:
//	  - name: hr                 # required, unique; used in logs and plans
//	    type: csv                # required; the key of the block below
//	    csv:
//	      path: people.csv       # required; relative to this file's directory
//	      delimiter: ","         # one character; default ","
//	      key: employee_id       # required: the column holding the stable key
//	      min_rows: 100          # fewer rows marks the read incomplete; default 0
//	      max_bytes: 268435456   # a larger file is refused; default 256 MiB
//	mapping:                     # see package mapping for every key
//	  user: …
//
// Each source type has its own block named after it, so other types (ldap,
// scim) are added as sibling keys of csv.
//
// merge: joins the sources into one, with an authority that decides who
// exists and contributors matched on a join attribute (see package
// sources/merge).
//
// targets: lists the platforms to sync into, each with its own mapping
// overrides (see TargetConfig); without it the Evaluagent target of the
// environment is the only one.
type File struct {
	Sources []SourceConfig `yaml:"sources"`
	Mapping mapping.Spec   `yaml:"mapping"`
	Targets []TargetConfig `yaml:"targets"`
	// Merge joins the sources into one (see package merge); without it
	// every source names people of its own.
	Merge *merge.Config `yaml:"merge"`

	path  string
	lines map[string]int // key path → line
}

// SourceConfig is one entry of sources:. Each kind of source has its own
// block, owned by its package (its keys, defaults, Validate and path
// resolution); a new kind adds its field here and its line to blocks.
type SourceConfig struct {
	Name string       `yaml:"name"`
	Type string       `yaml:"type"`
	CSV  *CSVConfig   `yaml:"csv"`
	LDAP *ldap.Config `yaml:"ldap"`
	SCIM *scim.Config `yaml:"scim"`
}

// blocks maps each source type to its block in s (a nil pointer when unset).
func (s SourceConfig) blocks() map[string]block.Validator {
	return map[string]block.Validator{
		TypeCSV:  s.CSV,
		TypeLDAP: s.LDAP,
		TypeSCIM: s.SCIM,
	}
}

// SourceTypes lists the source types a file may name, sorted: one per
// block of SourceConfig.
func SourceTypes() []string { return sortedKeys(SourceConfig{}.blocks()) }

// isNil says b holds no block (a nil pointer of its type).
func isNil(b block.Validator) bool {
	return b == nil || reflect.ValueOf(b).IsNil()
}

// CSVConfig is the csv: block of a source.
type CSVConfig = csv.Block

// Source types.
const (
	TypeCSV  = "csv"
	TypeLDAP = "ldap"
	TypeSCIM = "scim"
)

// Path returns the path the file was loaded from.
func (f *File) Path() string { return f.path }

// LoadFile reads and decodes the configuration file at path. Syntax errors
// and unknown keys are reported as "path:line: …". Relative source paths are
// resolved against the file's directory. LoadFile does not validate; call
// Validate.
func LoadFile(path string) (*File, error) {
	data, err := safefile.Read(path, safefile.MaxConfigBytes)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlError(path, err, nil)
	}
	if len(root.Content) == 0 {
		return nil, fmt.Errorf("%s: empty file: expected the keys sources and mapping", path)
	}
	lines := map[string]int{}
	indexLines(root.Content[0], "", lines)

	f := &File{path: path, lines: lines}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil {
		return nil, yamlError(path, err, lines)
	}
	for _, s := range f.Sources {
		f.Mapping.Vars = append(f.Mapping.Vars, s.Name)
	}
	dir := filepath.Dir(path)
	for _, s := range f.Sources {
		for _, b := range s.blocks() {
			if r, ok := b.(interface{ ResolvePaths(dir string) }); ok && !isNil(b) {
				r.ResolvePaths(dir)
			}
		}
	}
	for i := range f.Targets {
		f.Targets[i].resolvePaths(dir)
	}
	return f, nil
}

// indexLines records the line of every key and sequence item below n, by
// key path: "sources[0].csv.path", "mapping.roles.values[\"Agent\"]".
func indexLines(n *yaml.Node, path string, lines map[string]int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			// Map entries are also indexed as path["key"], the form
			// mapping uses for keys of maps such as roles.values.
			lines[join(path, k.Value)] = k.Line
			lines[fmt.Sprintf("%s[%q]", path, k.Value)] = k.Line
			indexLines(v, join(path, k.Value), lines)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			lines[p] = item.Line
			indexLines(item, p, lines)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// lineOf returns the line of path, or of its nearest ancestor in the file
// (the block a missing key belongs in); 0 when none is known.
func (f *File) lineOf(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := f.lines[p]; ok {
			return l
		}
	}
	return 0
}

var lastSegment = regexp.MustCompile(`(\.[^.\[]+|\[[^\]]*\])$`)

func parentPath(p string) string {
	loc := lastSegment.FindStringIndex(p)
	if loc == nil || loc[0] == 0 {
		return ""
	}
	return p[:loc[0]]
}

var (
	yamlLine     = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (\S+) not found in type (\S+)$`)
)

// yamlError rewrites yaml.v3's "line N: …" messages as "path:N: …", naming
// the block an unknown key was found in and the keys it accepts.
func yamlError(path string, err error, lines map[string]int) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var errs []error
	for _, m := range msgs {
		sm := yamlLine.FindStringSubmatch(m)
		if sm == nil {
			errs = append(errs, fmt.Errorf("%s: %s", path, strings.TrimPrefix(m, "yaml: ")))
			continue
		}
		line, msg := sm[1], sm[2]
		if um := unknownField.FindStringSubmatch(msg); um != nil {
			msg = unknownKeyMessage(um[1], line, lines)
		}
		errs = append(errs, fmt.Errorf("%s:%s: %s", path, line, msg))
	}
	return errors.Join(errs...)
}

func unknownKeyMessage(key, line string, lines map[string]int) string {
	n, _ := strconv.Atoi(line)
	var parents []string
	for p, l := range lines {
		if l != n || strings.HasSuffix(p, "]") {
			continue
		}
		if parent := parentPath(p); p == join(parent, key) {
			parents = append(parents, parent)
		}
	}
	if len(parents) != 1 {
		return fmt.Sprintf("unknown key %q", key)
	}
	where, parent := "at the top level", parents[0]
	if parent != "" {
		where = "in " + stripIndexes(parent)
	}
	msg := fmt.Sprintf("field %s not found %s", key, where)
	if known := knownKeys(parent); len(known) > 0 {
		msg += " (known: " + strings.Join(known, ", ") + ")"
	}
	return msg
}

var indexes = regexp.MustCompile(`\[\d+\]`)

func stripIndexes(p string) string { return indexes.ReplaceAllString(p, "[]") }

// knownKeys lists the YAML keys of the struct at path in File.
func knownKeys(path string) []string {
	t := reflect.TypeFor[File]()
	for _, seg := range strings.FieldsFunc(indexes.ReplaceAllString(path, ".[]"), func(r rune) bool { return r == '.' }) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch {
		case seg == "[]" && (t.Kind() == reflect.Slice):
			t = t.Elem()
		case t.Kind() == reflect.Struct:
			f, ok := fieldByTag(t, seg)
			if !ok {
				return nil
			}
			t = f.Type
		default:
			return nil
		}
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for i := range t.NumField() {
		if tag := yamlName(t.Field(i)); tag != "" {
			keys = append(keys, tag)
		}
	}
	return keys
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if yamlName(t.Field(i)) == name {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// Validate reports every problem with the file at once, each as
// "path:line: key: problem", including the mapping's.
func (f *File) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		prefix := f.path
		if l := f.lineOf(key); l > 0 {
			prefix += ":" + strconv.Itoa(l)
		}
		errs = append(errs, fmt.Errorf("%s: %s: %s", prefix, key, fmt.Sprintf(format, args...)))
	}
	if len(f.Sources) == 0 {
		bad("sources", "required: at least one source")
	}
	names := map[string]int{}
	scims := 0
	for i, s := range f.Sources {
		p := fmt.Sprintf("sources[%d]", i)
		switch name := strings.TrimSpace(s.Name); {
		case name == "":
			bad(p+".name", "required")
		case names[name] > 0:
			bad(p+".name", "%q is already sources[%d]", name, names[name]-1)
		default:
			names[name] = i + 1
		}
		blocks := s.blocks()
		if _, known := blocks[s.Type]; !known {
			if s.Type == "" {
				bad(p+".type", "required (%s)", strings.Join(sortedKeys(blocks), ", "))
			} else {
				bad(p+".type", "unknown type %q (known: %s)", s.Type, strings.Join(sortedKeys(blocks), ", "))
			}
		} else if isNil(blocks[s.Type]) {
			bad(p+"."+s.Type, "required for type %s", s.Type)
		}
		if s.Type == TypeSCIM {
			if scims++; scims > 1 {
				bad(p+".type", "only one scim source: every identity provider pushes to the same endpoint, each with its own token")
			}
		}
		for _, kind := range sortedKeys(blocks) {
			b := blocks[kind]
			if isNil(b) {
				continue
			}
			if s.Type != kind && s.Type != "" {
				bad(p+"."+kind, "only for type %s", kind)
			}
			f.blockProblems(bad, p+"."+kind, b.Validate())
		}
	}
	f.validateTargets(bad)
	f.validateMerge(bad)
	if _, err := mapping.Compile(f.Mapping); err != nil {
		for _, e := range unjoin(err) {
			var se *mapping.SpecError
			if errors.As(e, &se) {
				bad("mapping."+se.Path, "%s", se.Msg)
			} else {
				bad("mapping", "%v", e)
			}
		}
	}
	return errors.Join(errs...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// blockProblems reports the problems of the block at key: a block.Problem
// under its own key, anything else under the block's.
func (f *File) blockProblems(bad func(key, format string, args ...any), key string, err error) {
	if err == nil {
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			f.blockProblems(bad, key, e)
		}
		return
	}
	for _, e := range []error{err} {
		var p *block.Problem
		if errors.As(e, &p) {
			bad(key+"."+p.Key, "%s", p.Msg)
		} else {
			bad(key, "%v", e)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Rules compiles the mapping.
func (f *File) Rules() (*mapping.Rules, error) {
	r, err := mapping.Compile(f.Mapping)
	if err != nil {
		return nil, fmt.Errorf("%s: mapping: %w", f.path, err)
	}
	return r, nil
}

// CSV returns the csv.Config of source i, with the columns the mapping reads
// as its required columns.
func (f *File) CSV(i int) (csv.Config, error) {
	s := f.Sources[i]
	if s.CSV == nil {
		return csv.Config{}, fmt.Errorf("sources[%d] (%s) is not a csv source", i, s.Name)
	}
	return s.CSV.Config(f.required(i)), nil
}

// attributes lists the source attributes any target's mapping reads.
func (f *File) attributes() []string {
	var all []string
	for i := range f.AllTargets() {
		all = append(all, f.TargetSpec(i).Attributes()...)
	}
	slices.SortFunc(all, func(a, b string) int {
		return cmp.Or(strings.Compare(strings.ToLower(a), strings.ToLower(b)), strings.Compare(a, b))
	})
	return slices.CompactFunc(all, strings.EqualFold)
}

// LDAP returns the ldap.Config of source i with the attributes the mapping
// reads (less those the source makes itself, such as _ou and dn).
func (f *File) LDAP(i int) ldap.Config {
	if f.Sources[i].LDAP == nil {
		return ldap.Config{}
	}
	cfg := *f.Sources[i].LDAP
	cfg.Attributes = nil
	for _, a := range f.sourceAttributes(i) {
		if strings.HasPrefix(a, "_") || strings.EqualFold(a, ldap.AttrDN) {
			continue
		}
		cfg.Attributes = append(cfg.Attributes, a)
	}
	return cfg
}

// SCIM returns the scim source's name and configuration, if there is one.
func (f *File) SCIM() (string, *scim.Config, bool) {
	for _, s := range f.Sources {
		if s.Type == TypeSCIM && s.SCIM != nil {
			return s.Name, s.SCIM, true
		}
	}
	return "", nil, false
}
