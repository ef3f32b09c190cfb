package ldap

import (
	"cmp"
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"unicode/utf8"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rostersync/rostersync/sources"
	"github.com/rostersync/rostersync/sources/ldap/internal/wire"
)

// InChainRule is the Active Directory matching rule
// LDAP_MATCHING_RULE_IN_CHAIN: "member of, directly or through nesting".
const InChainRule = "1.2.840.113556.1.4.1941"

// groupTable holds the groups in scope and who is directly in each.
type groupTable struct {
	groups []sources.Group
	byDN   map[string]int32 // normalised DN → index
	// members are the members listed (a person or a group, by the print
	// of its normalised DN), each once, with their newest edge; slots
	// place them by print. edges are the memberships, each group listing
	// a member leading to the member's edge before it. No member has a
	// slice of its own and no DN is kept: at 100k people in two groups
	// each, this holds 5 MB where a map from each member's DN held 11 MB,
	// through the whole people read, when the pass's heap is largest; and
	// as it grows it copies only slots, 4 bytes a member.
	members chunks[member]
	slots   []int32 // place in members plus one, 0: empty; at most half full
	edges   chunks[edge]
	seeds   [2]maphash.Seed
	lower   []byte // printRaw's scratch
	// direct and all are groupsOf's scratch, reused from one person to
	// the next; so is out, for a person itself reused.
	direct, all []int32
	out         []sources.Group
	// transitive is true when edges already hold nested memberships
	// (the in-chain rule), so no closure is computed.
	transitive bool
	closure    map[int32][]int32
	extra      map[string]int32 // memberOf DNs outside the table, named from the DN
	dnOf       []string         // index → normalised DN, built lazily
	rawDN      []string         // index → DN as the server sent it
}

// member is a member's print and its newest edge.
type member struct {
	print dnPrint
	head  int32
}

// edge is one group listing a member, and the member's edge before it
// (-1: none).
type edge struct{ group, next int32 }

// chunks is a list appended to in fixed blocks, as reconcile.Blocks is for
// people (which a source may not import: DESIGN.md). Growing it copies
// nothing, where a slice grown by append allocates about four times its
// final size on the way (27 MB for the edges of 100k people in two groups
// when each edge carried its member's print).
type chunks[T any] struct {
	blocks [][]T
	n      int32
}

const chunkLen = 4096

func (c *chunks[T]) add(v T) int32 {
	if c.n%chunkLen == 0 {
		c.blocks = append(c.blocks, make([]T, chunkLen))
	}
	c.blocks[c.n/chunkLen][c.n%chunkLen] = v
	c.n++
	return c.n - 1
}

func (c *chunks[T]) at(i int32) *T { return &c.blocks[i/chunkLen][i%chunkLen] }

// dnPrint stands for a normalised DN: two 64-bit hashes of it under
// independent random seeds. Two of a million DNs share a print with a
// chance of about 1.5e-27, and the seeds are new for each read, so no
// directory can be written to make two collide.
type dnPrint [2]uint64

func newGroupTable() *groupTable {
	return &groupTable{byDN: map[string]int32{}, closure: map[int32][]int32{}, extra: map[string]int32{},
		seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
}

// print is the print of ndn, a normalised DN.
func (t *groupTable) print(ndn string) dnPrint {
	return dnPrint{maphash.String(t.seeds[0], ndn), maphash.String(t.seeds[1], ndn)}
}

// printRaw is print(normDN(string(raw))), without making a string for a
// DN that normDN would only lower-case: ASCII, nothing it parses for.
func (t *groupTable) printRaw(raw []byte) dnPrint {
	b := t.lower[:0]
	for _, c := range raw {
		if c >= utf8.RuneSelf || strings.IndexByte(dnSpecial, c) >= 0 {
			return t.print(normDN(string(raw)))
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	t.lower = b
	return dnPrint{maphash.Bytes(t.seeds[0], b), maphash.Bytes(t.seeds[1], b)}
}

// readGroups reads every group in scope with its members (or, in memberOf
// mode, with its own memberOf for nesting).
func (s *Source) readGroups(ctx context.Context, c goldap.Client) (*groupTable, error) {
	t := newGroupTable()
	if s.cfg.Groups.BaseDN == "" {
		return t, nil
	}
	memberAttr := ""
	attrs := []string{s.cfg.KeyAttr, s.cfg.Groups.NameAttr}
	switch {
	case s.cfg.InChain:
	case s.cfg.MemberOf:
		if s.cfg.Nested {
			memberAttr = "memberOf"
		}
	default:
		memberAttr = s.cfg.Groups.MemberAttr
	}
	if memberAttr != "" {
		attrs = appendAttr(attrs, memberAttr)
	}
	scope, _ := scopeValue(s.cfg.Groups.Scope)
	sp := search{what: "groups", base: s.cfg.Groups.BaseDN, scope: scope, filter: s.cfg.Groups.Filter, attrs: attrs}
	// In memberOf mode a group's parents are named by DN, so they are
	// linked once every group is known; member values are linked at once.
	type pending struct {
		idx  int32
		dn   string
		vals []string
	}
	var links []pending
	err := s.streamEntries(ctx, c, sp, func(e *wire.Entry) error {
		if rangedEntry(e) {
			ge := toGoldap(e)
			if err := s.completeRanges(ctx, c, ge); err != nil {
				return err
			}
			e = fromGoldap(ge, &wire.Entry{})
		}
		dn := string(e.DN)
		key := dn
		if raw := entryValues(e, s.cfg.KeyAttr); len(raw) > 0 && len(raw[0]) > 0 {
			key = string(raw[0])
			if isBinaryGUID(strings.ToLower(s.cfg.KeyAttr)) {
				g, err := FormatGUID(raw[0])
				if err != nil {
					return fmt.Errorf("%s: %s: %w", dn, s.cfg.KeyAttr, err)
				}
				key = g
			}
		}
		name := ""
		if v := entryValues(e, s.cfg.Groups.NameAttr); len(v) > 0 {
			name = string(v[0])
		}
		if name == "" {
			name = firstRDNValue(dn)
		}
		idx, ndn := int32(len(t.groups)), normDN(dn)
		t.groups = append(t.groups, sources.Group{Key: key, Name: name, Path: ouPath(parentDN(dn))})
		t.byDN[ndn] = idx
		t.rawDN = append(t.rawDN, dn)
		if memberAttr == "" {
			return nil
		}
		vals := entryValues(e, memberAttr)
		if memberAttr == "memberOf" {
			l := pending{idx: idx, dn: ndn, vals: make([]string, len(vals))}
			for i, v := range vals {
				l.vals[i] = string(v)
			}
			links = append(links, l)
			return nil
		}
		for _, v := range vals {
			t.addParent(t.printRaw(v), idx)
		}
		return nil
	})
	if err != nil {
		return t, err
	}
	for _, l := range links {
		for _, v := range l.vals {
			// l.idx is a member of group v.
			if p, ok := t.byDN[normDN(v)]; ok {
				t.addParent(t.print(l.dn), p)
			}
		}
	}
	if s.cfg.InChain {
		if err := s.readInChain(ctx, c, t); err != nil {
			return t, err
		}
	}
	return t, nil
}

// readInChain asks the server, group by group, who is in it directly or
// through nesting (AD's in-chain rule), so no member lists are transferred.
func (s *Source) readInChain(ctx context.Context, c goldap.Client, t *groupTable) error {
	t.transitive = true
	scope, _ := scopeValue(s.cfg.People.Scope)
	for i, gdn := range t.rawDN {
		sp := search{
			what:   "in-chain members",
			base:   s.cfg.People.BaseDN,
			scope:  scope,
			filter: "(&" + s.cfg.People.Filter + "(memberOf:" + InChainRule + ":=" + goldap.EscapeFilter(gdn) + "))",
			attrs:  []string{"1.1"},
		}
		err := s.streamPaged(ctx, c, sp, func(e *goldap.Entry) error {
			t.addParent(t.print(normDN(e.DN)), int32(i))
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// groupsOf resolves the groups p belongs to, nesting included, sorted by
// key then name.
func (s *Source) groupsOf(t *groupTable, p *person) []sources.Group {
	// direct and all are the table's scratch: a few bytes a person
	// allocated and dropped would share the allocator's 16-byte blocks
	// with the short strings people keep (a uid, an employee number) and
	// be held with them (1.5 MB at 100k people).
	direct := t.direct[:0]
	if s.cfg.MemberOf && !t.transitive {
		for _, dn := range p.memberOf {
			if i, ok := t.byDN[dn]; ok {
				direct = append(direct, i)
			} else if s.cfg.Groups.BaseDN == "" {
				direct = append(direct, t.external(dn))
			}
		}
	} else {
		direct = t.parentsOf(t.print(p.dn), direct)
	}
	t.direct = direct
	if len(direct) == 0 {
		return nil
	}
	all := t.all[:0]
	if s.cfg.Nested && !t.transitive {
		for _, g := range direct {
			all = append(all, t.reach(g)...)
		}
	} else {
		all = append(all, direct...)
	}
	// Each group once; the order is the sort's below.
	slices.Sort(all)
	all = slices.Compact(all)
	t.all = all
	// A person overwritten by the next entry has their groups overwritten
	// too: a slice each was 11 MB of garbage at 100k people in two groups.
	var out []sources.Group
	if p.reused {
		out = slices.Grow(t.out[:0], len(all))[:len(all)]
		t.out = out
	} else {
		out = make([]sources.Group, len(all))
	}
	for i, x := range all {
		out[i] = t.groups[x]
	}
	slices.SortFunc(out, func(a, b sources.Group) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(a.Name, b.Name))
	})
	return out
}

// addParent records that group g lists the member whose normalised DN
// has print dn.
func (t *groupTable) addParent(dn dnPrint, g int32) {
	if 2*(t.members.n+1) > int32(len(t.slots)) {
		t.grow()
	}
	s, m := t.find(dn)
	if m == nil {
		t.slots[s] = t.members.add(member{print: dn, head: -1}) + 1
		m = t.members.at(t.slots[s] - 1)
	}
	m.head = t.edges.add(edge{group: g, next: m.head})
}

// find returns dn's slot and member; nil and the empty slot for it when
// dn is nobody's print.
func (t *groupTable) find(dn dnPrint) (uint64, *member) {
	mask := uint64(len(t.slots) - 1)
	for s := dn[0] & mask; ; s = (s + 1) & mask {
		i := t.slots[s]
		if i == 0 {
			return s, nil
		}
		if m := t.members.at(i - 1); m.print == dn {
			return s, m
		}
	}
}

// grow doubles the slots and places every member again.
func (t *groupTable) grow() {
	t.slots = make([]int32, max(16, 2*len(t.slots)))
	mask := uint64(len(t.slots) - 1)
	for i := range t.members.n {
		s := t.members.at(i).print[0] & mask
		for t.slots[s] != 0 {
			s = (s + 1) & mask
		}
		t.slots[s] = i + 1
	}
}

// parentsOf appends to into the groups listing the member whose
// normalised DN has print dn, newest first; a group listing the member
// twice comes twice.
func (t *groupTable) parentsOf(dn dnPrint, into []int32) []int32 {
	if len(t.slots) == 0 {
		return into
	}
	_, m := t.find(dn)
	if m == nil {
		return into
	}
	for i := m.head; i >= 0; i = t.edges.at(i).next {
		into = append(into, t.edges.at(i).group)
	}
	return into
}

// external names a group known only from a memberOf DN (no groups search
// configured): its DN is its key.
func (t *groupTable) external(dn string) int32 {
	if i, ok := t.extra[dn]; ok {
		return i
	}
	i := int32(len(t.groups))
	t.groups = append(t.groups, sources.Group{Key: dn, Name: firstRDNValue(dn), Path: ouPath(parentDN(dn))})
	t.extra[dn] = i
	return i
}

// reach returns g and every group g is nested in, following parent links
// breadth first; a cycle ends where it meets a group already seen.
func (t *groupTable) reach(g int32) []int32 {
	if r, ok := t.closure[g]; ok {
		return r
	}
	dnOf := t.dnIndex()
	seen := map[int32]bool{g: true}
	queue := []int32{g}
	var parents []int32
	for i := 0; i < len(queue); i++ {
		if int(queue[i]) >= len(dnOf) {
			continue // named only from a memberOf DN: nothing known above it
		}
		parents = t.parentsOf(t.print(dnOf[queue[i]]), parents[:0])
		for _, p := range parents {
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	t.closure[g] = queue
	return queue
}

// dnIndex maps group index → normalised DN (built once, lazily).
func (t *groupTable) dnIndex() []string {
	if t.dnOf == nil {
		t.dnOf = make([]string, len(t.groups))
		for dn, i := range t.byDN {
			t.dnOf[i] = dn
		}
	}
	return t.dnOf
}

// entryValues returns the values of e's first attribute named name, in any
// case (nil when e has none).
func entryValues(e *wire.Entry, name string) [][]byte {
	for i := range e.Attrs {
		if strings.EqualFold(string(e.Attrs[i].Name), name) {
			return e.Attrs[i].Values
		}
	}
	return nil
}

// rangedEntry reports whether e carries an attribute cut short by Active
// Directory's range retrieval ("member;range=0-1499").
func rangedEntry(e *wire.Entry) bool {
	for i := range e.Attrs {
		if _, _, _, ok := parseRange(string(e.Attrs[i].Name)); ok {
			return true
		}
	}
	return false
}
