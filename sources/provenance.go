package sources

import "strings"

// StaleAny, in Record.Stale, stands for every attribute not otherwise
// listed: "*" for unqualified names no source held this pass, "wfm.*" for
// the own attributes of wfm, a source that could not be read whole.
const StaleAny = "*"

// StaleOf says why attribute name (qualified, as "wfm.team", or not) of r
// is stale, or "" when it is not.
func (r *Record) StaleOf(name string) string {
	if len(r.Stale) == 0 {
		return ""
	}
	l := strings.ToLower(name)
	if why, ok := r.Stale[l]; ok {
		return why
	}
	if src, _, ok := strings.Cut(l, "."); ok {
		return r.Stale[src+"."+StaleAny]
	}
	if _, held := r.Provenance[l]; !held {
		return r.Stale[StaleAny]
	}
	return ""
}
