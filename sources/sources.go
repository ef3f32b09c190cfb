// Package sources defines what every source adapter produces: a complete set of
// person records, and a statement of how healthy the read was.
//
// A source is level-based: Fetch returns everything in scope, never a delta. A
// read that could not be completed either returns an error or a Snapshot whose
// Health says it is incomplete; the reconciler never infers a departure from an
// incomplete snapshot.
//
// Each adapter (sources/csv, sources/ldap, sources/scim) owns its
// configuration block and constructor; cmd/rostersync/registry.go opens
// them by kind.
package sources

import (
	"context"
	"sort"
	"strings"
)

// Record is one person as a source sees them.
type Record struct {
	// Key is the person's stable identity within the source: a CSV key column,
	// entryUUID or objectGUID, a SCIM resource id. Renames never change it.
	Key string `json:"key"`
	// Attrs holds the raw attributes by name. Names are matched
	// case-insensitively by Get; single-valued attributes hold one value.
	Attrs map[string][]string `json:"attrs"`
	// Groups are the groups the person belongs to, nested groups resolved.
	Groups []Group `json:"groups,omitempty"`
	// Origin says where the record came from, for plans and explain:
	// "people.csv:12", a DN, "scim:Users/<id>".
	Origin string `json:"origin"`
	// Provenance is set by a source that joins others (sources/merge): for
	// each attribute, lower-cased, where its value came from, as
	// "wfm wfm.csv:4". Nil for a record read from one place.
	Provenance map[string]string `json:"provenance,omitempty"`
	// Stale lists, lower-cased, the attributes fed by a source that could
	// not be read whole this pass, each with why; changes to the fields
	// mapped from them are left out of the plan.
	Stale map[string]string `json:"stale,omitempty"`
	// Problem, when set, says why this record is no person at all (a
	// contributing record that joins nobody); mapping reports it and maps
	// nothing.
	Problem string `json:"problem,omitempty"`
}

// Group is a group a person belongs to.
type Group struct {
	// Key is the group's stable identity (entryUUID, objectGUID, SCIM id, or
	// the name when the source has nothing better).
	Key string `json:"key"`
	// Name is the group's display name (cn, displayName).
	Name string `json:"name"`
	// Path lists the names of the containers above the group, outermost first
	// (OUs for LDAP); empty when the source has no such structure.
	Path []string `json:"path,omitempty"`
}

// Get returns the first value of the attribute name (case-insensitive), or "".
func (r *Record) Get(name string) string {
	if v := r.Values(name); len(v) > 0 {
		return v[0]
	}
	return ""
}

// Values returns every value of the attribute name (case-insensitive).
func (r *Record) Values(name string) []string {
	if v, ok := r.Attrs[name]; ok {
		return v
	}
	for k, v := range r.Attrs {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// Health says whether a snapshot can be trusted to be complete.
type Health struct {
	// Complete is true only when every record in scope was read: no size or
	// time limit, no partial page, no read error, no truncated file.
	Complete bool `json:"complete"`
	// Reason says why the snapshot is incomplete; empty when Complete.
	Reason string `json:"reason,omitempty"`
	// Count is the number of records read.
	Count int `json:"count"`
}

// Snapshot is the result of one full read of a source.
type Snapshot struct {
	Source  string   `json:"source"`
	Records []Record `json:"records"`
	Health  Health   `json:"health"`
}

// Source is implemented by every adapter. Constructors do no I/O; Fetch does.
type Source interface {
	// Name is the configured name of the source, used in logs and plans.
	Name() string
	// Fetch reads the whole source. An error means nothing may be planned
	// from it; an incomplete Health means no departures may be inferred.
	Fetch(ctx context.Context) (*Snapshot, error)
}

// Streamer is implemented by sources that can hand records over one at a
// time instead of holding the whole set, so a pass need never keep every
// raw record at once. The set is still complete and level-based: Stream
// returns only after the last record, with the same Health a Fetch would
// have had.
type Streamer interface {
	Source
	// Stream calls fn once per record, in no particular order, and stops at
	// the first error fn returns. The record, its Attrs map, its value
	// slices and its Groups belong to the source and are reused after fn
	// returns; the strings in them may be kept. A key seen twice is passed once (the
	// first) and makes the Health incomplete, as in Fetch.
	Stream(ctx context.Context, fn func(*Record) error) (Health, error)
}

// SortRecords orders records by Key so every downstream step is deterministic.
func SortRecords(rs []Record) {
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Key < rs[j].Key })
}
