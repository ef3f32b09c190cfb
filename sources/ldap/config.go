package ldap

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/rostersync/rostersync/config/block"
)

// Flavor names the kind of directory server, which decides the stable key
// attribute and the Active Directory specifics (objectGUID, userAccountControl,
// ranged attributes, the in-chain matching rule, uSNChanged deltas).
type Flavor string

const (
	// FlavorOpenLDAP keys records by entryUUID (RFC 4530).
	FlavorOpenLDAP Flavor = "openldap"
	// FlavorAD keys records by objectGUID, rendered in its canonical string
	// form, and maps userAccountControl bit 0x2 to _active = "false".
	FlavorAD Flavor = "ad"
)

// Scope is a search scope as written in a config file: "base", "one" or "sub".
type Scope string

// DeltaMode selects how a pass may avoid reading every person again.
type DeltaMode string

const (
	// DeltaNone reads everything on every pass.
	DeltaNone DeltaMode = "none"
	// DeltaSyncrepl uses RFC 4533 content synchronisation (refreshOnly with a
	// stored cookie); OpenLDAP with the syncprov overlay.
	DeltaSyncrepl DeltaMode = "syncrepl"
	// DeltaUSN reads the entries whose uSNChanged moved since the last pass
	// plus the list of keys in scope; Active Directory and Samba.
	DeltaUSN DeltaMode = "usn"
	// DeltaAuto picks syncrepl for OpenLDAP and usn for AD.
	DeltaAuto DeltaMode = "auto"
)

// Defaults applied by New to zero fields.
const (
	DefaultDialTimeout  = 10 * time.Second
	DefaultTimeout      = 2 * time.Minute
	DefaultPageSize     = 500
	MaxPageSize         = 1000
	DefaultRetries      = 3
	DefaultRetryBackoff = 500 * time.Millisecond
	DefaultFullInterval = 24 * time.Hour
)

// Search says where and what to search.
type Search struct {
	// BaseDN is where the search starts, e.g. "ou=people,dc=example,dc=org".
	BaseDN string `yaml:"base_dn" json:"base_dn"`
	// Scope is "sub" (default), "one" or "base".
	Scope Scope `yaml:"scope" json:"scope"`
	// Filter is an LDAP filter. Defaults: "(objectClass=inetOrgPerson)" for
	// people on OpenLDAP, "(&(objectCategory=person)(objectClass=user))" on
	// AD; "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))" for
	// groups on OpenLDAP, "(objectClass=group)" on AD. It is written by the
	// operator and sent as is; values rostersync inserts are escaped.
	Filter string `yaml:"filter" json:"filter"`
}

// GroupSearch says where groups are and how they list their members.
type GroupSearch struct {
	Search `yaml:",inline" json:",inline"`
	// MemberAttr is the attribute holding member DNs: "member" (default) or
	// "uniqueMember". Ignored when Config.MemberOf is set.
	MemberAttr string `yaml:"member_attr" json:"member_attr"`
	// NameAttr is the group's display name attribute; default "cn".
	NameAttr string `yaml:"name_attr" json:"name_attr"`
}

// Delta configures cheaper passes. A delta pass produces exactly the set a
// full read would; any doubt (invalid cookie, another server answering, a
// partial answer) falls back to a full read.
type Delta struct {
	// Mode is none (default), syncrepl, usn or auto.
	Mode DeltaMode `yaml:"mode" json:"mode"`
	// FullInterval forces a full read when the last one is older than this;
	// default 24h.
	FullInterval time.Duration `yaml:"full_interval" json:"full_interval"`
}

// Config configures one LDAP or Active Directory source. The zero values of
// optional fields are replaced by the documented defaults.
type Config struct {
	// URL is ldap://host[:port] or ldaps://host[:port].
	URL string `yaml:"url" json:"url"`
	// StartTLS upgrades an ldap:// connection with the StartTLS operation.
	StartTLS bool `yaml:"start_tls" json:"start_tls"`
	// CAFile is a PEM bundle of CAs trusted for the server certificate;
	// empty means the system pool.
	CAFile string `yaml:"ca_file" json:"ca_file"`
	// ServerName is the name checked against the server certificate, for
	// when the URL names the server by IP address.
	ServerName string `yaml:"server_name" json:"server_name"`
	// InsecureSkipVerify disables certificate verification. For tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify" json:"insecure_skip_verify"`
	// BindDN is the DN (or, on AD, the user principal name) for a simple
	// bind; empty means an anonymous bind.
	BindDN string `yaml:"bind_dn" json:"bind_dn"`
	// BindPasswordFile holds the bind password (one trailing newline is
	// ignored). A relative name is looked up in $CREDENTIALS_DIRECTORY when
	// that is set. The file is read at each connection, never by New.
	BindPasswordFile string `yaml:"bind_password_file" json:"bind_password_file"`
	// DialTimeout bounds connecting, TLS and binding; default 10s.
	DialTimeout time.Duration `yaml:"dial_timeout" json:"dial_timeout"`
	// Timeout bounds every single operation (one page of a search); default 2m.
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
	// Retries is how many times a failed connection is dialled again,
	// with exponential backoff starting at RetryBackoff; default 3.
	Retries int `yaml:"retries" json:"retries"`
	// RetryBackoff is the first wait before redialling; default 500ms.
	RetryBackoff time.Duration `yaml:"retry_backoff" json:"retry_backoff"`
	// PageSize is the simple paged results size, at most 1000; default 500.
	PageSize int `yaml:"page_size" json:"page_size"`
	// People says where people are.
	People Search `yaml:"people" json:"people"`
	// Groups says where groups are; an empty BaseDN disables group reading
	// (with MemberOf set, groups are then named from the memberOf DNs).
	Groups GroupSearch `yaml:"groups" json:"groups"`
	// MemberOf takes membership from the people's memberOf attribute instead
	// of the groups' member lists.
	MemberOf bool `yaml:"member_of" json:"member_of"`
	// Nested resolves groups within groups; cycles are harmless.
	Nested bool `yaml:"nested" json:"nested"`
	// InChain resolves nesting on the server with the AD matching rule
	// LDAP_MATCHING_RULE_IN_CHAIN (1.2.840.113556.1.4.1941): one search per
	// group. Needs Nested and an AD flavor.
	InChain bool `yaml:"in_chain" json:"in_chain"`
	// Flavor is "openldap" (default) or "ad".
	Flavor Flavor `yaml:"flavor" json:"flavor"`
	// KeyAttr overrides the stable key attribute (entryUUID on OpenLDAP,
	// objectGUID on AD), e.g. nsUniqueId on 389 Directory Server.
	KeyAttr string `yaml:"key_attr" json:"key_attr"`
	// Attributes are the people attributes the mapping needs; set by the
	// caller. Only these (and what the source itself needs) are requested.
	Attributes []string `yaml:"attributes" json:"attributes"`
	// Delta configures cheaper passes.
	Delta Delta `yaml:"delta" json:"delta"`
	// Live makes `serve` follow the directory's changes as they happen
	// (see Source.Watch).
	Live Live `yaml:"live" json:"live"`
}

// withDefaults returns a copy of c with every zero optional field set.
func (c Config) withDefaults() Config {
	if c.Flavor == "" {
		c.Flavor = FlavorOpenLDAP
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Retries == 0 {
		c.Retries = DefaultRetries
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = DefaultRetryBackoff
	}
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	if c.People.Scope == "" {
		c.People.Scope = "sub"
	}
	if c.Groups.Scope == "" {
		c.Groups.Scope = "sub"
	}
	if c.People.Filter == "" {
		if c.Flavor == FlavorAD {
			c.People.Filter = "(&(objectCategory=person)(objectClass=user))"
		} else {
			c.People.Filter = "(objectClass=inetOrgPerson)"
		}
	}
	if c.Groups.Filter == "" {
		if c.Flavor == FlavorAD {
			c.Groups.Filter = "(objectClass=group)"
		} else {
			c.Groups.Filter = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"
		}
	}
	if c.Groups.MemberAttr == "" {
		c.Groups.MemberAttr = "member"
	}
	if c.Groups.NameAttr == "" {
		c.Groups.NameAttr = "cn"
	}
	if c.KeyAttr == "" {
		if c.Flavor == FlavorAD {
			c.KeyAttr = "objectGUID"
		} else {
			c.KeyAttr = "entryUUID"
		}
	}
	if c.Delta.Mode == "" {
		c.Delta.Mode = DeltaNone
	}
	if c.Delta.Mode == DeltaAuto {
		if c.Flavor == FlavorAD {
			c.Delta.Mode = DeltaUSN
		} else {
			c.Delta.Mode = DeltaSyncrepl
		}
	}
	if c.Delta.FullInterval == 0 {
		c.Delta.FullInterval = DefaultFullInterval
	}
	c.Live = c.Live.withDefaults(c.Flavor)
	return c
}

// Validate reports every problem with the configuration at once. It does no
// I/O: files named in the config are not opened.
func (c Config) Validate() error {
	c = c.withDefaults()
	var p block.Problems
	if c.URL == "" {
		p.Add("url", "is required")
	} else if u, err := url.Parse(c.URL); err != nil {
		p.Add("url", "%q: %v", c.URL, err)
	} else if u.Scheme != "ldap" && u.Scheme != "ldaps" {
		p.Add("url", "%q: scheme must be ldap or ldaps", c.URL)
	} else if u.Scheme == "ldaps" && c.StartTLS {
		p.Add("start_tls", "makes no sense with an ldaps:// url")
	}
	if c.People.BaseDN == "" {
		p.Add("people.base_dn", "is required")
	}
	for _, s := range []struct {
		key   string
		scope Scope
	}{{"people.scope", c.People.Scope}, {"groups.scope", c.Groups.Scope}} {
		if _, err := scopeValue(s.scope); err != nil {
			p.Add(s.key, "%v", err)
		}
	}
	if c.PageSize < 1 || c.PageSize > MaxPageSize {
		p.Add("page_size", "%d: must be between 1 and %d", c.PageSize, MaxPageSize)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"dial_timeout", c.DialTimeout}, {"timeout", c.Timeout}, {"retry_backoff", c.RetryBackoff}} {
		if d.v < 0 {
			p.Add(d.key, "%s: must not be negative", d.v)
		}
	}
	if c.Retries < 0 {
		p.Add("retries", "%d: must not be negative", c.Retries)
	}
	switch c.Flavor {
	case FlavorOpenLDAP, FlavorAD:
	default:
		p.Add("flavor", "%q: must be openldap or ad", c.Flavor)
	}
	if c.InChain && (!c.Nested || c.Flavor != FlavorAD) {
		p.Add("in_chain", "needs nested: true and flavor: ad")
	}
	if c.InChain && c.Groups.BaseDN == "" {
		p.Add("in_chain", "needs groups.base_dn")
	}
	switch c.Delta.Mode {
	case DeltaNone:
	case DeltaSyncrepl:
		if !strings.EqualFold(c.KeyAttr, "entryUUID") {
			p.Add("delta.mode", "syncrepl needs key_attr entryUUID, not %s", c.KeyAttr)
		}
	case DeltaUSN:
		if c.Flavor != FlavorAD {
			p.Add("delta.mode", "usn needs flavor: ad")
		}
	default:
		p.Add("delta.mode", "%q: must be none, syncrepl, usn or auto", c.Delta.Mode)
	}
	if err := c.Live.validate(c.Flavor); err != nil {
		p.Add("live", "%v", err)
	}
	for _, a := range c.Attributes {
		if a == "" || strings.ContainsAny(a, " ()=*,") {
			p.Add("attributes", "%q is not an attribute name", a)
		}
	}
	return p.Err()
}

func scopeValue(s Scope) (int, error) {
	switch strings.ToLower(string(s)) {
	case "base":
		return 0, nil
	case "one", "onelevel", "one_level":
		return 1, nil
	case "sub", "subtree", "":
		return 2, nil
	}
	return 0, fmt.Errorf("scope %q: must be base, one or sub", s)
}

// ResolvePaths makes a relative ca_file relative to dir, the configuration
// file's directory. (A relative bind_password_file is looked up in
// $CREDENTIALS_DIRECTORY when the source opens.)
func (c *Config) ResolvePaths(dir string) {
	if c.CAFile != "" && !filepath.IsAbs(c.CAFile) {
		c.CAFile = filepath.Join(dir, c.CAFile)
	}
}

// CheckFiles reads the files the block names as the source will: the CA
// bundle, and the bind password file (a relative one in credentialsDir,
// $CREDENTIALS_DIRECTORY). Every problem is keyed relative to the block.
func (c *Config) CheckFiles(credentialsDir string) error {
	var p block.Problems
	if c.CAFile != "" {
		if _, err := LoadCAFile(c.CAFile); err != nil {
			p.Add("ca_file", "%w", err)
		}
	}
	if pw := c.BindPasswordFile; pw != "" {
		if !filepath.IsAbs(pw) && credentialsDir != "" {
			pw = filepath.Join(credentialsDir, pw)
		}
		if err := block.Readable(pw); err != nil {
			p.Add("bind_password_file", "%w", err)
		}
	}
	return p.Err()
}
