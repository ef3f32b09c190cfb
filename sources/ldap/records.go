package ldap

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/rostersync/rostersync/sources"
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
}

const internLimit = 2000

func newConverter(cfg *Config) *converter {
	c := &converter{cfg: cfg, wanted: map[string]string{}, ouByDN: map[string][]string{}, memberOf: cfg.MemberOf,
		intern: map[string]map[string]string{}, baseOUs: ouPath(cfg.People.BaseDN)}
	for _, a := range cfg.Attributes {
		c.wanted[strings.ToLower(a)] = a
		c.intern[a] = map[string]string{}
	}
	return c
}

// share returns the interned copy of v for attribute name, if it has one.
func (c *converter) share(name, v string) string {
	m := c.intern[name]
	if m == nil {
		return v
	}
	if w, ok := m[v]; ok {
		return w
	}
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

// convert builds a person from a search entry.
func (c *converter) convert(e *goldap.Entry) (*person, error) {
	p := &person{dn: normDN(e.DN)}
	attrs := make(map[string][]string, len(c.wanted)+3)
	// One backing array for every value slice of the record.
	nvals := 2
	for _, a := range e.Attributes {
		nvals += len(a.Values)
	}
	backing := make([]string, 0, nvals)
	take := func(vs ...string) []string {
		start := len(backing)
		backing = append(backing, vs...)
		return backing[start:len(backing):len(backing)]
	}
	var key string
	for _, a := range e.Attributes {
		lower := strings.ToLower(a.Name)
		isKey := strings.EqualFold(a.Name, c.cfg.KeyAttr)
		values := a.Values
		if isBinaryGUID(lower) {
			values = make([]string, 0, len(a.ByteValues))
			for _, raw := range a.ByteValues {
				g, err := FormatGUID(raw)
				if err != nil {
					return nil, fmt.Errorf("%s: %s: %w", e.DN, a.Name, err)
				}
				values = append(values, g)
			}
		}
		if isKey && len(values) > 0 {
			key = values[0]
		}
		if lower == "memberof" && c.memberOf {
			p.memberOf = make([]string, len(values))
			for i, v := range values {
				p.memberOf[i] = normDN(v)
			}
		}
		if lower == "useraccountcontrol" && c.cfg.Flavor == FlavorAD && len(values) > 0 {
			uac, err := strconv.ParseInt(values[0], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: userAccountControl %q: %w", e.DN, values[0], err)
			}
			attrs[AttrActive] = take(strconv.FormatBool(uac&0x2 == 0))
		}
		if name, ok := c.wanted[lower]; ok {
			for i, v := range values {
				values[i] = c.share(name, v)
			}
			attrs[name] = take(values...)
		}
	}
	if key == "" {
		return nil, errNoKey{dn: e.DN, attr: c.cfg.KeyAttr}
	}
	attrs[AttrDN] = take(e.DN)
	if ous := c.ous(e.DN); len(ous) > 0 {
		attrs[AttrOU] = ous
	}
	p.rec = sources.Record{Key: key, Attrs: attrs, Origin: e.DN}
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

// normDN gives a DN a comparable form: lower case, no optional spaces,
// escapes normalised. Most DNs need only lower-casing.
func normDN(dn string) string {
	if !strings.ContainsAny(dn, " \\\"+#;<>") {
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
