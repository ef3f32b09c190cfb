package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rostersync/rostersync/internal/safefile"
	"gopkg.in/yaml.v3"

	"github.com/rostersync/rostersync/mapping"
	"github.com/rostersync/rostersync/sources"
	"github.com/rostersync/rostersync/sources/csv"
	"github.com/rostersync/rostersync/sources/ldap"
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
// targets: lists the platforms to sync into, each with its own mapping
// overrides (see TargetConfig); without it the Evaluagent target of the
// environment is the only one.
type File struct {
	Sources []SourceConfig `yaml:"sources"`
	Mapping mapping.Spec   `yaml:"mapping"`
	Targets []TargetConfig `yaml:"targets"`

	path  string
	lines map[string]int // key path → line
}

// SourceConfig is one entry of sources:.
type SourceConfig struct {
	Name string       `yaml:"name"`
	Type string       `yaml:"type"`
	CSV  *CSVConfig   `yaml:"csv"`
	LDAP *ldap.Config `yaml:"ldap"`
	SCIM *scim.Config `yaml:"scim"`
}

// CSVConfig is the csv: block of a source.
type CSVConfig struct {
	// Path is resolved against the configuration file's directory by
	// LoadFile.
	Path      string `yaml:"path"`
	Delimiter string `yaml:"delimiter"`
	Key       string `yaml:"key"`
	MinRows   int    `yaml:"min_rows"`
	// MaxBytes caps the file's size; 0 means csv.DefaultMaxBytes.
	MaxBytes int64 `yaml:"max_bytes"`
}

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
	dir := filepath.Dir(path)
	for _, s := range f.Sources {
		if s.CSV != nil && s.CSV.Path != "" && !filepath.IsAbs(s.CSV.Path) {
			s.CSV.Path = filepath.Join(dir, s.CSV.Path)
		}
		if s.LDAP != nil && s.LDAP.CAFile != "" && !filepath.IsAbs(s.LDAP.CAFile) {
			s.LDAP.CAFile = filepath.Join(dir, s.LDAP.CAFile)
		}
		if s.SCIM != nil && s.SCIM.TokensFile != "" && !filepath.IsAbs(s.SCIM.TokensFile) {
			s.SCIM.TokensFile = filepath.Join(dir, s.SCIM.TokensFile)
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
		switch s.Type {
		case "":
			bad(p+".type", "required (csv, ldap or scim)")
		case TypeCSV:
			if s.CSV == nil {
				bad(p+".csv", "required for type csv")
			}
		case TypeLDAP:
			if s.LDAP == nil {
				bad(p+".ldap", "required for type ldap")
			}
		case TypeSCIM:
			if s.SCIM == nil {
				bad(p+".scim", "required for type scim")
			} else {
				if s.SCIM.TokensFile == "" {
					bad(p+".scim.tokens_file", "required: the file of bearer tokens the identity providers present")
				}
				if n := s.SCIM.MaxBodyBytes; n < 0 || n > scim.MaxMaxBodyBytes {
					bad(p+".scim.max_body_bytes", "%d: give a size from 1 to %d bytes (0 or unset: %d)", n, scim.MaxMaxBodyBytes, scim.DefaultMaxBodyBytes)
				}
				if n := s.SCIM.MaxResults; n < 0 || n > scim.MaxMaxResults {
					bad(p+".scim.max_results", "%d: give a count from 1 to %d (0 or unset: %d)", n, scim.MaxMaxResults, scim.DefaultMaxResults)
				}
			}
			if scims++; scims > 1 {
				bad(p+".type", "only one scim source: every identity provider pushes to the same endpoint, each with its own token")
			}
		default:
			bad(p+".type", "unknown type %q (known: csv, ldap, scim)", s.Type)
		}
		if s.LDAP != nil {
			if s.Type != TypeLDAP && s.Type != "" {
				bad(p+".ldap", "only for type ldap")
			}
			if err := f.LDAP(i).Validate(); err != nil {
				for _, e := range unjoin(err) {
					bad(p+".ldap", "%v", e)
				}
			}
		}
		if c := s.CSV; c != nil {
			if s.Type != TypeCSV && s.Type != "" {
				bad(p+".csv", "only for type csv")
			}
			if c.Path == "" {
				bad(p+".csv.path", "required")
			}
			if strings.TrimSpace(c.Key) == "" {
				bad(p+".csv.key", "required: the column holding each person's stable key")
			}
			if _, ok := delimiter(c.Delimiter); !ok {
				bad(p+".csv.delimiter", "%q must be one character other than a quote or line break", c.Delimiter)
			}
			if c.MinRows < 0 {
				bad(p+".csv.min_rows", "%d is negative", c.MinRows)
			}
			if c.MaxBytes < 0 {
				bad(p+".csv.max_bytes", "%d is negative: give a size in bytes (0 or unset: %d)", c.MaxBytes, csv.DefaultMaxBytes)
			}
		}
	}
	f.validateTargets(bad)
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

// delimiter parses a configured delimiter; "" means ','.
func delimiter(s string) (rune, bool) {
	if s == "" {
		return ',', true
	}
	r, n := utf8.DecodeRuneInString(s)
	if n != len(s) || r == utf8.RuneError || r == '"' || r == '\r' || r == '\n' {
		return 0, false
	}
	return r, true
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
	d, ok := delimiter(s.CSV.Delimiter)
	if !ok {
		return csv.Config{}, fmt.Errorf("sources[%d].csv.delimiter: %q must be one character", i, s.CSV.Delimiter)
	}
	return csv.Config{
		Path:      s.CSV.Path,
		Delimiter: d,
		Key:       s.CSV.Key,
		Required:  f.attributes(),
		MinRows:   s.CSV.MinRows,
		MaxBytes:  s.CSV.MaxBytes,
	}, nil
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
	for _, a := range f.attributes() {
		if strings.HasPrefix(a, "_") || strings.EqualFold(a, ldap.AttrDN) {
			continue
		}
		cfg.Attributes = append(cfg.Attributes, a)
	}
	return cfg
}

// SourceOptions are what sources need from the process beyond their
// configuration.
type SourceOptions struct {
	Logger *slog.Logger
	// Cursors keeps delta cursors (LDAP content sync cookies, USNs).
	Cursors ldap.CursorStore
	// SCIMStore holds what identity providers pushed; needed by a scim source.
	SCIMStore *scim.Store
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

// NewSources builds every configured source. It does no I/O.
func (f *File) NewSources() ([]sources.Source, error) { return f.NewSourcesWith(SourceOptions{}) }

// NewSourcesWith builds every configured source with the given options.
// It does no I/O.
func (f *File) NewSourcesWith(o SourceOptions) ([]sources.Source, error) {
	var out []sources.Source
	var errs []error
	for i, s := range f.Sources {
		switch s.Type {
		case TypeCSV:
			cfg, err := f.CSV(i)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			src, err := csv.New(s.Name, cfg)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, src)
		case TypeLDAP:
			var opts []ldap.Option
			if o.Logger != nil {
				opts = append(opts, ldap.WithLogger(o.Logger))
			}
			if o.Cursors != nil {
				opts = append(opts, ldap.WithCursorStore(o.Cursors))
			}
			src, err := ldap.New(s.Name, f.LDAP(i), opts...)
			if err != nil {
				errs = append(errs, fmt.Errorf("sources[%d] (%s): %w", i, s.Name, err))
				continue
			}
			out = append(out, src)
		case TypeSCIM:
			if o.SCIMStore == nil {
				errs = append(errs, fmt.Errorf("sources[%d] (%s): no SCIM store was opened", i, s.Name))
				continue
			}
			out = append(out, scim.NewSource(s.Name, o.SCIMStore))
		default:
			errs = append(errs, fmt.Errorf("sources[%d].type: unknown type %q", i, s.Type))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
