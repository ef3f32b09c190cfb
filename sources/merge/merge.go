// Package merge joins several sources into one: one source (the authority)
// decides who exists, the others contribute attributes to the people it
// names, matched on a configured join attribute.
//
// A merged record holds every attribute of every source that joined it
// under its qualified name ("wfm.team", "ad.mail"), and each attribute name
// once more unqualified ("team"), taken from the first source, in the
// configured order, whose value is not empty. Every attribute says where its
// value came from (Record.Provenance), so plans and explain can name the
// file and line, DN or SCIM id of a changed field.
//
// Health is per source. An authority that cannot be read fails the pass; an
// incomplete authority makes the merged snapshot incomplete, so no departure
// is inferred. A contributor that cannot be read, or is incomplete, never
// fails the pass: the attributes it feeds are marked stale
// (Record.Stale), and the fields mapped from them are left as the platform
// has them.
package merge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/rostersync/rostersync/sources"
)

// Unjoined settings: what becomes of a contributing record that joins no
// record of the authority.
const (
	// UnjoinedProblem reports the record as a problem and maps nothing
	// from it (the default).
	UnjoinedProblem = "problem"
	// UnjoinedPerson makes the record a person of its own.
	UnjoinedPerson = "person"
)

// Config is the merge: block of the configuration file.
//
//	merge:
//	  authority: ad            # required: the source that decides who exists
//	  join:                    # source → attribute holding the join value;
//	    ad: employeeID         # a source not listed joins on its record key
//	    wfm: employee_id
//	    hr: emp_no
//	  fields:                  # attribute → the qualified attributes that
//	    team: [wfm.team, ad.department]  # feed it, the first non-empty wins
//	  unjoined: problem        # or person; default problem
//
// An unqualified attribute not listed in fields is taken from the authority
// first, then from the contributors in the order of sources:.
type Config struct {
	Authority string              `yaml:"authority"`
	Join      map[string]string   `yaml:"join"`
	Fields    map[string][]string `yaml:"fields"`
	Unjoined  string              `yaml:"unjoined"`
}

// Validate checks c against the names of the configured sources and
// returns every problem, each naming its key below merge:.
func (c *Config) Validate(names []string) []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	known := func(n string) bool { return slices.Contains(names, n) }
	switch {
	case strings.TrimSpace(c.Authority) == "":
		bad("authority", "required: the source that decides who exists (one of %s)", strings.Join(names, ", "))
	case !known(c.Authority):
		bad("authority", "%q is not a configured source (sources: %s)", c.Authority, strings.Join(names, ", "))
	}
	if len(names) < 2 {
		bad("authority", "merge needs at least two sources")
	}
	for _, s := range sortedKeys(c.Join) {
		if !known(s) {
			bad(fmt.Sprintf("join[%q]", s), "%q is not a configured source (sources: %s)", s, strings.Join(names, ", "))
		}
		if strings.TrimSpace(c.Join[s]) == "" {
			bad(fmt.Sprintf("join[%q]", s), "is blank: give the attribute holding the join value, or leave the source out to join on its record key")
		}
	}
	for _, a := range sortedKeys(c.Fields) {
		if strings.Contains(a, ".") || strings.TrimSpace(a) == "" {
			bad(fmt.Sprintf("fields[%q]", a), "must be a plain attribute name (no source prefix)")
		}
		if len(c.Fields[a]) == 0 {
			bad(fmt.Sprintf("fields[%q]", a), "give at least one source.attribute")
		}
		for i, q := range c.Fields[a] {
			src, attr, ok := strings.Cut(q, ".")
			switch {
			case !ok || strings.TrimSpace(attr) == "":
				bad(fmt.Sprintf("fields[%q][%d]", a, i), "%q: write source.attribute, as wfm.team", q)
			case !known(src):
				bad(fmt.Sprintf("fields[%q][%d]", a, i), "%q: %q is not a configured source (sources: %s)", q, src, strings.Join(names, ", "))
			}
		}
	}
	switch c.Unjoined {
	case "", UnjoinedProblem, UnjoinedPerson:
	default:
		bad("unjoined", "%q: must be problem or person", c.Unjoined)
	}
	return errs
}

// Source is the merge of several sources. It is a sources.Source.
type Source struct {
	name   string
	cfg    Config
	srcs   []sources.Source
	health map[string]sources.Health // of the last Fetch, by source
}

// New joins srcs as cfg says. It does no I/O.
func New(name string, cfg Config, srcs []sources.Source) (*Source, error) {
	names := make([]string, len(srcs))
	for i, s := range srcs {
		names[i] = s.Name()
	}
	if errs := cfg.Validate(names); len(errs) > 0 {
		return nil, fmt.Errorf("merge: %w", errors.Join(errs...))
	}
	if cfg.Unjoined == "" {
		cfg.Unjoined = UnjoinedProblem
	}
	return &Source{name: name, cfg: cfg, srcs: srcs}, nil
}

// Name returns the merged source's name.
func (s *Source) Name() string { return s.name }

// Sources returns the joined sources, in configuration order.
func (s *Source) Sources() []sources.Source { return s.srcs }

// Close closes every joined source that can be closed.
func (s *Source) Close() error {
	var errs []error
	for _, src := range s.srcs {
		if c, ok := src.(interface{ Close() error }); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close source %s: %w", src.Name(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// Health returns the health of each joined source at the last Fetch.
func (s *Source) Health() map[string]sources.Health { return s.health }

// read is one source's snapshot, or why it could not be read.
type read struct {
	name string
	snap *sources.Snapshot
	sick string // why the source cannot be trusted whole; "" when healthy
}

// Fetch reads every joined source and merges them. Only the authority's
// failure is an error.
func (s *Source) Fetch(ctx context.Context) (*sources.Snapshot, error) {
	reads := make([]read, len(s.srcs))
	s.health = map[string]sources.Health{}
	for i, src := range s.srcs {
		r := read{name: src.Name()}
		snap, err := src.Fetch(ctx)
		switch {
		case err != nil && r.name == s.cfg.Authority:
			return nil, err
		case err != nil:
			r.sick = err.Error()
			s.health[r.name] = sources.Health{Reason: r.sick}
		default:
			r.snap = snap
			s.health[r.name] = snap.Health
			if !snap.Health.Complete {
				r.sick = snap.Health.Reason
				if r.sick == "" {
					r.sick = "incomplete"
				}
			}
		}
		reads[i] = r
	}
	return s.Merge(reads2snaps(reads)), nil
}

func reads2snaps(reads []read) []Input {
	out := make([]Input, len(reads))
	for i, r := range reads {
		out[i] = Input{Name: r.name, Snapshot: r.snap, Err: r.sick}
	}
	return out
}

// Input is one source's part of a merge: its snapshot (nil when it could
// not be read) and, when it cannot be trusted whole, why.
type Input struct {
	Name     string
	Snapshot *sources.Snapshot
	Err      string
}

// Merge joins already-read snapshots, in configuration order. It is pure;
// Fetch reads the sources and calls it.
func (s *Source) Merge(in []Input) *sources.Snapshot {
	out := &sources.Snapshot{Source: s.name, Health: sources.Health{Complete: true}}
	var auth *Input
	for i := range in {
		if in[i].Name == s.cfg.Authority {
			auth = &in[i]
		}
	}
	if auth == nil || auth.Snapshot == nil {
		out.Health = sources.Health{Reason: "authority " + s.cfg.Authority + " was not read"}
		return out
	}
	if auth.Err != "" {
		out.Health = sources.Health{Reason: fmt.Sprintf("source %s: %s", auth.Name, auth.Err)}
	}
	var people []*person
	byJoin := map[string]*person{}
	joinOf := func(src string, rec *sources.Record) string {
		if a := s.cfg.Join[src]; a != "" {
			return strings.TrimSpace(rec.Get(a))
		}
		return rec.Key
	}
	recs := slices.Clone(auth.Snapshot.Records)
	sources.SortRecords(recs)
	for i := range recs {
		rec := &recs[i]
		p := &person{key: rec.Key, parts: []part{{auth.Name, rec}}}
		people = append(people, p)
		if j := joinOf(auth.Name, rec); j != "" {
			if _, dup := byJoin[j]; !dup {
				byJoin[j] = p
			}
		}
	}
	var problems []sources.Record
	stale := map[string]string{} // source → why
	for _, r := range in {
		if r.Err != "" && r.Name != auth.Name {
			stale[r.Name] = r.Err
		}
		if r.Name == auth.Name || r.Snapshot == nil {
			continue
		}
		recs := slices.Clone(r.Snapshot.Records)
		sources.SortRecords(recs)
		seen := map[string]string{}
		for i := range recs {
			rec := &recs[i]
			j := joinOf(r.Name, rec)
			origin := r.Name + " " + rec.Origin
			if first, dup := seen[j]; dup && j != "" {
				problems = append(problems, sources.Record{Key: rec.Key, Origin: origin,
					Problem: fmt.Sprintf("source %s: join value %q is also at %s, which is kept", r.Name, j, first)})
				continue
			}
			seen[j] = rec.Origin
			p := byJoin[j]
			switch {
			case j == "":
				problems = append(problems, sources.Record{Key: rec.Key, Origin: origin,
					Problem: fmt.Sprintf("source %s: no join value: attribute %q is empty", r.Name, s.cfg.Join[r.Name])})
			case p != nil:
				p.parts = append(p.parts, part{r.Name, rec})
			case s.cfg.Unjoined == UnjoinedPerson:
				p := &person{key: r.Name + ":" + rec.Key, parts: []part{{r.Name, rec}}}
				people = append(people, p)
				byJoin[j] = p
			default:
				problems = append(problems, sources.Record{Key: rec.Key, Origin: origin,
					Problem: fmt.Sprintf("source %s: joins nobody in %s on %q (set merge.unjoined: person to make such records people of their own)", r.Name, auth.Name, j)})
			}
		}
	}
	order := make([]string, 0, len(in))
	order = append(order, auth.Name)
	for _, r := range in {
		if r.Name != auth.Name {
			order = append(order, r.Name)
		}
	}
	for _, p := range people {
		out.Records = append(out.Records, s.join(p, order, stale))
	}
	out.Records = append(out.Records, problems...)
	out.Health.Count = len(people)
	return out
}

// part is one source's record of a person.
type part struct {
	src string
	rec *sources.Record
}

// person is the records that joined, the authority's (if any) first.
type person struct {
	key   string
	parts []part
}

// join makes one record of a person's parts. order is the sources'
// precedence for attributes merge.fields does not list.
func (s *Source) join(p *person, order []string, stale map[string]string) sources.Record {
	first := p.parts[0]
	out := sources.Record{
		Key:        p.key,
		Origin:     first.rec.Origin,
		Attrs:      map[string][]string{},
		Provenance: map[string]string{},
	}
	bySrc := map[string]*sources.Record{}
	var names []string // unqualified attribute names, as first seen
	seenName := map[string]bool{}
	for _, pt := range p.parts {
		bySrc[pt.src] = pt.rec
		out.Groups = append(out.Groups, pt.rec.Groups...)
		for _, a := range sortedKeys(pt.rec.Attrs) {
			q := pt.src + "." + a
			out.Attrs[q] = pt.rec.Attrs[a]
			out.Provenance[strings.ToLower(q)] = pt.src + " " + pt.rec.Origin
			if l := strings.ToLower(a); !seenName[l] {
				seenName[l] = true
				names = append(names, a)
			}
		}
	}
	for _, a := range sortedKeys(s.cfg.Fields) {
		if l := strings.ToLower(a); !seenName[l] {
			seenName[l] = true
			names = append(names, a)
		}
	}
	markStale := func(attr, src string) {
		if why, ok := stale[src]; ok {
			if out.Stale == nil {
				out.Stale = map[string]string{}
			}
			l := strings.ToLower(attr)
			if _, done := out.Stale[l]; !done {
				out.Stale[l] = staleReason(src, why)
			}
		}
	}
	for _, src := range order {
		// Every attribute of a sick source may be wrong or missing, even
		// those no source holds this pass (sources.StaleAny).
		if _, sick := stale[src]; !sick {
			continue
		}
		for _, a := range names {
			markStale(src+"."+a, src)
		}
		markStale(src+"."+sources.StaleAny, src)
		markStale(sources.StaleAny, src)
	}
	for _, a := range names {
		var feeds [][2]string // source, attribute
		if list, ok := s.fields(a); ok {
			for _, q := range list {
				src, attr, _ := strings.Cut(q, ".")
				feeds = append(feeds, [2]string{src, attr})
			}
		} else {
			for _, src := range order {
				feeds = append(feeds, [2]string{src, a})
			}
		}
		for _, f := range feeds {
			// A sick source ranked above the one that gives the value
			// might have given another: the value cannot be trusted.
			markStale(a, f[0])
			rec := bySrc[f[0]]
			if rec == nil {
				continue
			}
			if vs := nonEmpty(rec.Values(f[1])); len(vs) > 0 {
				out.Attrs[a] = vs
				out.Provenance[strings.ToLower(a)] = f[0] + " " + rec.Origin
				break
			}
		}
	}
	return out
}

func staleReason(src, why string) string {
	if strings.HasPrefix(why, "source "+src+":") {
		return why
	}
	return fmt.Sprintf("source %s: %s", src, why)
}

// fields returns the configured feeds of attribute a (case-insensitive).
func (s *Source) fields(a string) ([]string, bool) {
	if v, ok := s.cfg.Fields[a]; ok {
		return v, true
	}
	for k, v := range s.cfg.Fields {
		if strings.EqualFold(k, a) {
			return v, true
		}
	}
	return nil, false
}

func nonEmpty(vs []string) []string {
	for _, v := range vs {
		if strings.TrimSpace(v) != "" {
			return vs
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Watch watches every joined source that can be watched (sources.Watcher)
// until ctx ends; a change in any of them is a change of the merge.
func (s *Source) Watch(ctx context.Context, changed func()) error {
	var wg sync.WaitGroup
	errs := make([]error, len(s.srcs))
	for i, src := range s.srcs {
		if w, ok := src.(sources.Watcher); ok {
			wg.Go(func() { errs[i] = w.Watch(ctx, changed) })
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}
