package config

import (
	"slices"
	"strings"
)

// MergedSourceName is the name of the source the merge: block makes of
// the configured ones, in logs and plans.
const MergedSourceName = "merged"

// validateMerge reports the merge: block's problems through bad.
func (f *File) validateMerge(bad func(key, format string, args ...any)) {
	if f.Merge == nil {
		return
	}
	names := make([]string, len(f.Sources))
	for i, s := range f.Sources {
		names[i] = s.Name
	}
	for _, e := range f.Merge.Validate(names) {
		key, msg, _ := strings.Cut(e.Error(), ": ")
		bad("merge."+key, "%s", msg)
	}
}

// required lists the columns CSV source i must have: without merge:, every
// attribute the mappings read; with it, only its join column, since a
// contributor holds only some of a person's attributes.
func (f *File) required(i int) []string {
	if f.Merge == nil {
		return f.sourceAttributes(i)
	}
	if a := strings.TrimSpace(f.Merge.Join[f.Sources[i].Name]); a != "" {
		return []string{a}
	}
	return nil
}

// sourceAttributes lists the attributes source i is asked for: those the
// mappings read, with "name.attr" kept for source name only and stripped
// of the prefix, and, with merge:, its join attribute and the attributes
// merge.fields takes from it.
func (f *File) sourceAttributes(i int) []string {
	name := f.Sources[i].Name
	var out []string
	for _, a := range f.attributes() {
		if src, attr, ok := strings.Cut(a, "."); ok && f.isSource(src) {
			if src == name {
				out = append(out, attr)
			}
			continue
		}
		out = append(out, a)
	}
	if m := f.Merge; m != nil {
		if a := strings.TrimSpace(m.Join[name]); a != "" {
			out = append(out, a)
		}
		for _, feeds := range m.Fields {
			for _, q := range feeds {
				if src, attr, ok := strings.Cut(q, "."); ok && src == name {
					out = append(out, attr)
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	return slices.CompactFunc(out, strings.EqualFold)
}

func (f *File) isSource(name string) bool {
	return slices.ContainsFunc(f.Sources, func(s SourceConfig) bool { return s.Name == name })
}
