package ldap

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rostersync/rostersync/sources"
	"github.com/rostersync/rostersync/sources/ldap/internal/wire"
)

// Attribute names the source adds to every record's Attrs.
const (
	// AttrDN holds the entry's DN.
	AttrDN = "dn"
	// AttrOU holds the names of the OUs between the people base DN and the
	// entry, outermost first: under the base "ou=people,dc=x", the entry
	// "uid=a,ou=support,ou=sales,ou=people,dc=x" gives sales, support.
	AttrOU = "_ou"
	// AttrActive is "true" or "false" from userAccountControl bit 0x2 (AD only).
	AttrActive = "_active"
)

// person is one person entry as kept between passes: the record plus what
// group resolution needs.
type person struct {
	rec      sources.Record
	dn       string   // normalised DN, for member-list lookups
	memberOf []string // normalised memberOf DNs (MemberOf mode)
	// reused is set on the converter's one person of a streamed read,
	// overwritten by each entry: its groups may be overwritten too.
	reused bool
}

// converter turns entries into persons. It is not safe for concurrent use.
type converter struct {
	cfg      *Config
	wanted   map[string]string   // lower-case attribute → name used in Attrs
	ouByDN   map[string][]string // parent DN → OU names, shared between records
	baseOUs  []string            // the OU names of the people base DN, left out of _ou
	memberOf bool
	// intern shares the strings of attributes with few distinct values
	// (title, department, given name) between records; an attribute that
	// shows more than internLimit values stops being interned.
	intern map[string]map[string]string
	names  map[string]attrInfo // attribute name as sent → what it is
	// reuse makes convert return the same person each time, its map and
	// value slices overwritten (for a read that hands records on at once).
	reuse   bool
	scratch person
	backing []string
}

const internLimit = 2000

func newConverter(cfg *Config) *converter {
	c := &converter{cfg: cfg, wanted: map[string]string{}, ouByDN: map[string][]string{}, memberOf: cfg.MemberOf,
		intern: map[string]map[string]string{}, names: map[string]attrInfo{}, baseOUs: ouPath(cfg.People.BaseDN)}
	for _, a := range cfg.Attributes {
		c.wanted[strings.ToLower(a)] = a
		c.intern[a] = map[string]string{}
	}
	return c
}

// share returns the interned copy of raw for attribute name, if it has
// one, and a new string otherwise.
func (c *converter) share(name string, raw []byte) string {
	m := c.intern[name]
	if m == nil {
		return string(raw)
	}
	if w, ok := m[string(raw)]; ok {
		return w
	}
	v := string(raw)
	if len(m) >= internLimit {
		c.intern[name] = nil // high cardinality: uid, mail, ...
		return v
	}
	m[v] = v
	return v
}

// peopleAttrs is what a people search requests: the mapping's attributes
// plus the key and whatever membership and activity need.
func (c *converter) peopleAttrs() []string {
	attrs := append([]string(nil), c.cfg.Attributes...)
	attrs = appendAttr(attrs, c.cfg.KeyAttr)
	if c.cfg.MemberOf {
		attrs = appendAttr(attrs, "memberOf")
	}
	if c.cfg.Flavor == FlavorAD {
		attrs = appendAttr(attrs, "userAccountControl")
	}
	return attrs
}

func appendAttr(attrs []string, a string) []string {
	for _, x := range attrs {
		if strings.EqualFold(x, a) {
			return attrs
		}
	}
	return append(attrs, a)
}

// errNoKey marks an entry without its key attribute.
type errNoKey struct{ dn, attr string }

func (e errNoKey) Error() string { return fmt.Sprintf("%s has no %s", e.dn, e.attr) }

// attrInfo is what the converter knows about an attribute name as the
// server spells it.
type attrInfo struct {
	wanted   string // name used in Attrs; "" when the mapping did not ask
	key      bool
	guid     bool
	memberOf bool
	uac      bool
	ranged   bool // "name;range=lo-hi": more values to fetch
}

// info classifies an attribute name, remembering the answer: servers send
// the same few spellings over and over.
func (c *converter) info(name []byte) attrInfo {
	if in, ok := c.names[string(name)]; ok {
		return in
	}
	n := string(name)
	lower := strings.ToLower(n)
	_, _, _, ranged := parseRange(n)
	in := attrInfo{
		wanted:   c.wanted[lower],
		key:      strings.EqualFold(n, c.cfg.KeyAttr),
		guid:     isBinaryGUID(lower),
		memberOf: lower == "memberof" && c.memberOf,
		uac:      lower == "useraccountcontrol" && c.cfg.Flavor == FlavorAD,
		ranged:   ranged,
	}
	if len(c.names) < 256 {
		c.names[n] = in
	}
	return in
}

// ranged reports whether e carries an attribute cut short by AD's range
// retrieval.
func (c *converter) ranged(e *wire.Entry) bool {
	for i := range e.Attrs {
		if c.info(e.Attrs[i].Name).ranged {
			return true
		}
	}
	return false
}

// toGoldap copies a wire entry into a go-ldap one.
func toGoldap(e *wire.Entry) *goldap.Entry {
	out := &goldap.Entry{DN: string(e.DN)}
	for _, a := range e.Attrs {
		ea := &goldap.EntryAttribute{Name: string(a.Name)}
		for _, v := range a.Values {
			ea.Values = append(ea.Values, string(v))
			ea.ByteValues = append(ea.ByteValues, slices.Clone(v))
		}
		out.Attributes = append(out.Attributes, ea)
	}
	return out
}

// fromGoldap fills w with the attributes of e, sharing its raw values.
func fromGoldap(e *goldap.Entry, w *wire.Entry) *wire.Entry {
	w.DN = append(w.DN[:0], e.DN...)
	w.Attrs = w.Attrs[:0]
	for _, a := range e.Attributes {
		raw := a.ByteValues
		if len(raw) != len(a.Values) {
			raw = make([][]byte, len(a.Values))
			for i, v := range a.Values {
				raw[i] = []byte(v)
			}
		}
		w.Attrs = append(w.Attrs, wire.Attr{Name: []byte(a.Name), Values: raw})
	}
	return w
}

// convert builds a person from a search entry, copying what it keeps.
func (c *converter) convert(e *wire.Entry) (*person, error) {
	dn := string(e.DN)
	// One backing array for every value slice of the record.
	nvals := 2
	for _, a := range e.Attrs {
		nvals += len(a.Values)
	}
	var p *person
	var attrs map[string][]string
	var backing []string
	if c.reuse {
		p, attrs, backing = &c.scratch, c.scratch.rec.Attrs, c.backing[:0]
		clear(attrs)
		*p = person{dn: normDN(dn), reused: true}
		if cap(backing) < nvals {
			backing = make([]string, 0, nvals)
		}
		defer func() { c.backing = backing[:0] }()
	} else {
		p = &person{dn: normDN(dn)}
		backing = make([]string, 0, nvals)
	}
	if attrs == nil {
		attrs = make(map[string][]string, len(c.wanted)+3)
	}
	var key string
	for _, a := range e.Attrs {
		in := c.info(a.Name)
		if in.wanted == "" && !in.key && !in.memberOf && !in.uac {
			continue
		}
		start := len(backing)
		for _, raw := range a.Values {
			var v string
			switch {
			case in.guid:
				g, err := FormatGUID(raw)
				if err != nil {
					return nil, fmt.Errorf("%s: %s: %w", dn, a.Name, err)
				}
				v = g
			case in.wanted != "":
				v = c.share(in.wanted, raw)
			default:
				v = string(raw)
			}
			backing = append(backing, v)
		}
		values := backing[start:len(backing):len(backing)]
		if in.key && len(values) > 0 {
			key = values[0]
		}
		if in.memberOf {
			p.memberOf = make([]string, len(values))
			for i, v := range values {
				p.memberOf[i] = normDN(v)
			}
		}
		if in.uac && len(values) > 0 {
			uac, err := strconv.ParseInt(values[0], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: userAccountControl %q: %w", dn, values[0], err)
			}
			backing = append(backing, strconv.FormatBool(uac&0x2 == 0))
			attrs[AttrActive] = backing[len(backing)-1:]
		}
		if in.wanted != "" {
			attrs[in.wanted] = values
		}
	}
	if key == "" {
		return nil, errNoKey{dn: dn, attr: c.cfg.KeyAttr}
	}
	backing = append(backing, dn)
	attrs[AttrDN] = backing[len(backing)-1:]
	if ous := c.ous(dn); len(ous) > 0 {
		attrs[AttrOU] = ous
	}
	p.rec = sources.Record{Key: key, Attrs: attrs, Origin: dn}
	return p, nil
}

// ous returns the OU names of dn outermost first, sharing one slice between
// all entries of the same container.
func (c *converter) ous(dn string) []string {
	parent := parentDN(dn)
	if v, ok := c.ouByDN[parent]; ok {
		return v
	}
	v := ouPath(parent)
	if n := len(c.baseOUs); n > 0 && len(v) >= n && slices.EqualFunc(v[:n], c.baseOUs, strings.EqualFold) {
		v = v[n:]
	}
	if len(v) == 0 {
		v = nil
	}
	c.ouByDN[parent] = v
	return v
}

// ouPath lists the ou= RDN values of dn, outermost first.
func ouPath(dn string) []string {
	if dn == "" {
		return nil
	}
	parsed, err := goldap.ParseDN(dn)
	if err != nil {
		return nil
	}
	var out []string
	for i := len(parsed.RDNs) - 1; i >= 0; i-- {
		for _, av := range parsed.RDNs[i].Attributes {
			if strings.EqualFold(av.Type, "ou") {
				out = append(out, av.Value)
			}
		}
	}
	return out
}

// parentDN drops the first RDN of dn, honouring backslash escapes.
func parentDN(dn string) string {
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',':
			return strings.TrimLeft(dn[i+1:], " ")
		}
	}
	return ""
}

// firstRDNValue returns the value of the first RDN ("team-a" for
// "cn=team-a,ou=groups,dc=x"), or dn itself when it does not parse.
func firstRDNValue(dn string) string {
	parsed, err := goldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) == 0 || len(parsed.RDNs[0].Attributes) == 0 {
		return dn
	}
	return parsed.RDNs[0].Attributes[0].Value
}

// dnSpecial are the bytes for which normDN parses a DN rather than only
// lower-case it.
const dnSpecial = " \\\"+#;<>"

// normDN gives a DN a comparable form: lower case, no optional spaces,
// escapes normalised. Most DNs need only lower-casing.
func normDN(dn string) string {
	if !strings.ContainsAny(dn, dnSpecial) {
		return strings.ToLower(dn)
	}
	parsed, err := goldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(dn)
	}
	return strings.ToLower(parsed.String())
}

func isBinaryGUID(lowerAttr string) bool {
	return lowerAttr == "objectguid"
}

// FormatGUID renders a 16-byte Active Directory objectGUID in its canonical
// string form. The first three fields are stored little-endian, so
// 0x10 0x32 0x54 0x76 0x98 0xba 0xdc 0xfe ... reads 76543210-ba98-fedc-....
func FormatGUID(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("objectGUID has %d bytes, want 16", len(b))
	}
	var o [16]byte
	o[0], o[1], o[2], o[3] = b[3], b[2], b[1], b[0]
	o[4], o[5] = b[5], b[4]
	o[6], o[7] = b[7], b[6]
	copy(o[8:], b[8:])
	h := hex.EncodeToString(o[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], nil
}
