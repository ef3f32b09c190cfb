package voki

import (
	"path/filepath"
	"strings"
	"time"

	"github.com/rostersync/rostersync/config/block"
)

// CredentialName is the systemd credential holding the service user's
// password when a target's password_file is unset.
const CredentialName = "voki-password"

// DefaultCSATWindow is how far back the audit reads customer ratings.
const DefaultCSATWindow = 30 * 24 * time.Hour

// Block is the voki: block of a target in the configuration file:
//
//	voki:
//	  base_url: https://voki.avanter.com.br   # default
//	  tenant: acme                  # required: the X-Tenant slug
//	  service_email: rostersync@acme.example   # required: a manager without two-factor login
//	  password_file: /etc/rostersync/voki-password   # default $CREDENTIALS_DIRECTORY/voki-password
//	  deactivate: report            # off, report or enforce: leavers get active=false
//	  roles: report                 # off, report or enforce: role updates
//	  memberships: off              # off, add-only or exact: departments follow the queues: rules
//	  structure: off                # off or mirror: create the departments the rules name
//	  create_users: false           # create missing users (the inferred body below)
//	  create_user_template:         # overrides of the inferred create-user body
//	    wrapper: user
//	    rename: {}
//	    omit: []
//	    constants: {}
//	  add_member_template:          # overrides of the inferred add-member body
//	    wrapper: ""
//	  create_department_template:   # overrides of the create-department body
//	    wrapper: department
//	  privileged_allowlist: []      # emails of managers and owners rostersync may change
//	  csat_window: 720h             # audit: the period of customer ratings read
type Block struct {
	BaseURL            string    `yaml:"base_url"`
	Tenant             string    `yaml:"tenant"`
	ServiceEmail       string    `yaml:"service_email"`
	PasswordFile       string    `yaml:"password_file"`
	Deactivate         string    `yaml:"deactivate"`
	Roles              string    `yaml:"roles"`
	Memberships        string    `yaml:"memberships"`
	Structure          string    `yaml:"structure"`
	CreateUsers        bool      `yaml:"create_users"`
	CreateUserTemplate *Template `yaml:"create_user_template"`
	AddMemberTemplate  *Template `yaml:"add_member_template"`
	CreateDeptTemplate *Template `yaml:"create_department_template"`
	PrivilegedAllow    []string  `yaml:"privileged_allowlist"`
	CSATWindow         string    `yaml:"csat_window"`
}

// Window parses CSATWindow; DefaultCSATWindow when unset.
func (b *Block) Window() (time.Duration, error) {
	if b == nil || b.CSATWindow == "" {
		return DefaultCSATWindow, nil
	}
	return time.ParseDuration(b.CSATWindow)
}

// Validate reports every problem with the block, keyed relative to it. A
// nil block is an empty one: tenant and service_email are required.
func (b *Block) Validate() error {
	if b == nil {
		b = &Block{}
	}
	var p block.Problems
	if strings.TrimSpace(b.Tenant) == "" {
		p.Add("tenant", "required: the tenant's slug, sent as X-Tenant")
	}
	if strings.TrimSpace(b.ServiceEmail) == "" {
		p.Add("service_email", "required: the email of a dedicated manager user without two-factor login")
	}
	for key, v := range map[string]string{"deactivate": b.Deactivate, "roles": b.Roles} {
		if v != "" && v != Off && v != Report && v != Enforce {
			p.Add(key, "%q is not off, report or enforce", v)
		}
	}
	if v := b.Memberships; v != "" && v != Off && v != Exact && v != AddOnly {
		p.Add("memberships", "%q is not off, add-only or exact", v)
	}
	switch b.Structure {
	case "", Off:
	case Mirror:
		if b.Memberships != Exact && b.Memberships != AddOnly {
			p.Add("structure", "mirror needs memberships: exact or add-only (departments are created for the members the queues: rules place)")
		}
	default:
		p.Add("structure", "%q is not off or mirror", b.Structure)
	}
	if d, err := b.Window(); err != nil || d <= 0 {
		p.Add("csat_window", "%q is not a positive duration, as 720h", b.CSATWindow)
	}
	if t := b.CreateUserTemplate; t != nil {
		for _, msg := range t.validate("create_user_template", []string{"name", "email", "role", "password"}) {
			k, m, _ := strings.Cut(msg, ": ")
			p.Add(k, "%s", m)
		}
	}
	if t := b.CreateDeptTemplate; t != nil {
		for _, msg := range t.validate("create_department_template", []string{"name"}) {
			k, m, _ := strings.Cut(msg, ": ")
			p.Add(k, "%s", m)
		}
	}
	if t := b.AddMemberTemplate; t != nil {
		for _, msg := range t.validate("add_member_template", []string{"user_id"}) {
			k, m, _ := strings.Cut(msg, ": ")
			p.Add(k, "%s", m)
		}
	}
	return p.Err()
}

// PasswordPath returns the file holding the password: password_file, else
// the systemd credential CredentialName in credentialsDir; "" when neither.
func (b *Block) PasswordPath(credentialsDir string) string {
	if b != nil && b.PasswordFile != "" {
		return b.PasswordFile
	}
	if credentialsDir == "" {
		return ""
	}
	return filepath.Join(credentialsDir, CredentialName)
}

// DefaultCredential names the systemd credential read when the block names
// no password file; "" when it names one.
func (b *Block) DefaultCredential() string {
	if b != nil && b.PasswordFile != "" {
		return ""
	}
	return CredentialName
}

// ResolvePaths makes a relative password_file relative to dir, the
// configuration file's directory (a ${VAR} reference is left for Expand).
func (b *Block) ResolvePaths(dir string) {
	if p := b.PasswordFile; p != "" && !strings.HasPrefix(p, "${") && !filepath.IsAbs(p) {
		b.PasswordFile = filepath.Join(dir, p)
	}
}

// Config returns the client configuration the block describes, with
// password read by the caller.
func (b *Block) Config(password string) Config {
	c := Config{BaseURL: b.BaseURL, Tenant: b.Tenant, Email: b.ServiceEmail, Password: password,
		Deactivate: b.Deactivate, Roles: b.Roles, Memberships: b.Memberships, Structure: b.Structure, CreateUsers: b.CreateUsers,
		CreateUserTemplate: b.CreateUserTemplate, AddMemberTemplate: b.AddMemberTemplate, CreateDepartmentTemplate: b.CreateDeptTemplate, Privileged: b.PrivilegedAllow}
	c.ResultsWindow, _ = b.Window() // Validate reported a bad one
	return c
}
