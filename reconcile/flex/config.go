package flex

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rostersync/rostersync/config/block"
)

// CredentialName is the systemd credential holding the secret (the API key's
// secret, or the auth token) when secret_file is unset.
const CredentialName = "flex-secret"

// Default hosts (§1).
const (
	DefaultFlexURL       = "https://flex-api.twilio.com"
	DefaultTaskRouterURL = "https://taskrouter.twilio.com"
)

// Settings of what the target does (§12).
const (
	DeprovisionOff     = "off"
	DeprovisionReport  = "report"
	DeprovisionEnforce = "enforce"
	AttributesOff      = "off"
	AttributesPlan     = "plan"
	AttributesApply    = "apply"
	ProvisionOff       = "off"
	ProvisionOn        = "on"
	TeamsOff           = "off"
	TeamsMirror        = "mirror"
)

// DefaultTeamNameTemplate names a mirrored team after its stable directory
// key, never a person (§12).
const DefaultTeamNameTemplate = "{name}"

// DefaultTeamLevels maps the mapping's team levels to Flex Teams levels:
// agents' teams are level 1 (members), the two above hold only owners.
var DefaultTeamLevels = map[string]int{"Team": 1, "Department": 2, "Division": 3}

// DefaultTeamOwnerRoles are the directory roles made owners of their team.
var DefaultTeamOwnerRoles = []string{"team_leader"}

// DefaultSeparator joins the levels of *_in_hierarchy values.
const DefaultSeparator = " ▸ "

// MaxAttributeBytes is the worker attribute limit: 4,096 characters,
// counted as UTF-8 bytes (the stricter reading).
const MaxAttributeBytes = 4096

// Block is the flex: block of a target in the configuration file:
//
//	flex:
//	  account_sid: AC…                 # required: checked against the account the key reaches
//	  api_key_sid: SK…                 # required: an API key (preferred) or the account SID
//	  secret_file: /etc/rostersync/flex-secret   # default $CREDENTIALS_DIRECTORY/flex-secret
//	  flex_url: https://flex-api.twilio.com          # default
//	  taskrouter_url: https://taskrouter.twilio.com  # default
//	  instance_sid: GO…                # optional pin; discovered when empty
//	  workspace_sid: WS…               # optional pin; discovered when empty
//	  sso: true                        # default true: joiners come through SSO
//	  attributes: apply                # off | plan (shown, not written) | apply (default apply)
//	  deprovision: report              # off | report | enforce (default report)
//	  provision: off                   # off | on (default off; refused with sso: true)
//	  owned_keys: [team_id, …]         # the worker keys rostersync writes
//	  idp_owned_keys: [full_name, email, roles, image_url]
//	  hierarchy_separator: " ▸ "
//	  max_wait: 5m                     # the longest rate-limit wait before giving up
//	  rate_per_second: 10              # requests per second per host (inferred default)
//	  insights_roles:                  # directory role → the wfo.* role the audit expects
//	    quality_analyst: wfo.quality_manager
//	    team_leader: wfo.team_leader
//	  routes:                          # overrides of the inferred paths
//	    get_user: GET /v4/Instances/{instance}/Users/{id}
type Block struct {
	AccountSID         string            `yaml:"account_sid"`
	APIKeySID          string            `yaml:"api_key_sid"`
	SecretFile         string            `yaml:"secret_file"`
	FlexURL            string            `yaml:"flex_url"`
	TaskRouterURL      string            `yaml:"taskrouter_url"`
	InstanceSID        string            `yaml:"instance_sid"`
	WorkspaceSID       string            `yaml:"workspace_sid"`
	SSO                *bool             `yaml:"sso"`
	Attributes         string            `yaml:"attributes"`
	Deprovision        string            `yaml:"deprovision"`
	Provision          string            `yaml:"provision"`
	OwnedKeys          []string          `yaml:"owned_keys"`
	IdPOwnedKeys       []string          `yaml:"idp_owned_keys"`
	HierarchySeparator string            `yaml:"hierarchy_separator"`
	Teams              string            `yaml:"teams"`
	TeamNameTemplate   string            `yaml:"team_name_template"`
	TeamLevels         map[string]int    `yaml:"team_levels"`
	TeamOwnerRoles     []string          `yaml:"team_owner_roles"`
	MaxWait            string            `yaml:"max_wait"`
	RatePerSecond      int               `yaml:"rate_per_second"`
	InsightsRoles      map[string]string `yaml:"insights_roles"`
	Routes             map[string]string `yaml:"routes"`
}

// Validate reports every problem with the block, keyed relative to it.
func (b *Block) Validate() error {
	if b == nil {
		b = &Block{}
	}
	var p block.Problems
	if !sidLike(b.AccountSID, "AC") && !strings.Contains(b.AccountSID, "${") {
		p.Add("account_sid", "required: the Twilio account SID, AC followed by 32 hex digits (got %q)", b.AccountSID)
	}
	if !sidLike(b.APIKeySID, "SK") && !sidLike(b.APIKeySID, "AC") && !strings.Contains(b.APIKeySID, "${") {
		p.Add("api_key_sid", "required: an API key SID (SK…, preferred) or the account SID (AC…) (got %q)", b.APIKeySID)
	}
	for key, v := range map[string]string{"flex_url": b.FlexURL, "taskrouter_url": b.TaskRouterURL} {
		if v == "" || strings.Contains(v, "${") {
			continue // empty: the default; ${VAR}: checked once expanded
		}
		if u, err := url.Parse(v); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			p.Add(key, "%q is not an http(s) URL", v)
		}
	}
	if b.InstanceSID != "" && !sidLike(b.InstanceSID, "GO") {
		p.Add("instance_sid", "%q is not a Flex instance SID (GO…)", b.InstanceSID)
	}
	if b.WorkspaceSID != "" && !sidLike(b.WorkspaceSID, "WS") {
		p.Add("workspace_sid", "%q is not a workspace SID (WS…)", b.WorkspaceSID)
	}
	oneOf := func(key, v string, allowed ...string) {
		if v != "" && !slices.Contains(allowed, v) {
			p.Add(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
		}
	}
	oneOf("attributes", b.Attributes, AttributesOff, AttributesPlan, AttributesApply)
	oneOf("deprovision", b.Deprovision, DeprovisionOff, DeprovisionReport, DeprovisionEnforce)
	oneOf("provision", b.Provision, ProvisionOff, ProvisionOn)
	oneOf("teams", b.Teams, TeamsOff, TeamsMirror)
	if b.Teams == TeamsMirror {
		for _, k := range b.idpKeys() {
			if k == "team_member" || k == "team_owner" {
				p.Add("teams", "mirror is refused while the IdP sends %s (idp_owned_keys): every login would undo the mirrored teams", k)
			}
		}
	}
	if t := b.TeamNameTemplate; t != "" && !strings.Contains(t, "{name}") && !strings.Contains(t, "{key}") {
		p.Add("team_name_template", "%q names no team: use {name} or {key} (also {parent}, {level})", t)
	}
	for _, k := range slices.Sorted(maps.Keys(b.TeamLevels)) {
		if n := b.TeamLevels[k]; n < 1 || n > 3 {
			p.Add("team_levels."+k, "%d is not a Flex Teams level (1, 2 or 3)", n)
		}
	}
	if b.Provision == ProvisionOn && b.sso() {
		p.Add("provision", "on is refused with sso: true: SSO tenants get their users at first login (set sso: false for a tenant without SSO)")
	}
	idp := b.idpKeys()
	for i, k := range b.ownedKeys() {
		switch {
		case strings.TrimSpace(k) == "":
			p.Add(fmt.Sprintf("owned_keys[%d]", i), "is empty")
		case neverWritten(k):
			p.Add(fmt.Sprintf("owned_keys[%d]", i), "%q is never written (Flex, the IdP or routing own it)", k)
		case slices.Contains(idp, k):
			p.Add(fmt.Sprintf("owned_keys[%d]", i), "%q is in idp_owned_keys: SSO overwrites it at every login; drop it from one list", k)
		}
	}
	if b.RatePerSecond < 0 {
		p.Add("rate_per_second", "%d is negative", b.RatePerSecond)
	}
	if b.MaxWait != "" {
		if d, err := time.ParseDuration(b.MaxWait); err != nil || d <= 0 {
			p.Add("max_wait", "%q is not a positive duration, as 5m", b.MaxWait)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b.InsightsRoles)) {
		if !strings.HasPrefix(b.InsightsRoles[k], "wfo.") {
			p.Add("insights_roles."+k, "%q is not an Insights role (wfo.…)", b.InsightsRoles[k])
		}
	}
	_, err := ParseRoutes(b.Routes)
	return errors.Join(p.Err(), err)
}

func (b *Block) sso() bool { return b.SSO == nil || *b.SSO }

func (b *Block) ownedKeys() []string {
	if b.OwnedKeys != nil {
		return b.OwnedKeys
	}
	return DefaultOwnedKeys
}

func (b *Block) idpKeys() []string {
	if b.IdPOwnedKeys != nil {
		return b.IdPOwnedKeys
	}
	if !b.sso() {
		return nil
	}
	return DefaultIdPOwnedKeys
}

// KeyFile returns the file holding the secret: secret_file, else the
// systemd credential CredentialName in credentialsDir; "" when neither.
func (b *Block) KeyFile(credentialsDir string) string {
	if b != nil && b.SecretFile != "" {
		return b.SecretFile
	}
	if credentialsDir == "" {
		return ""
	}
	return filepath.Join(credentialsDir, CredentialName)
}

// DefaultCredential names the systemd credential the secret is read from
// when the block names no file; "" when it names one.
func (b *Block) DefaultCredential() string {
	if b != nil && b.SecretFile != "" {
		return ""
	}
	return CredentialName
}

// ResolvePaths makes a relative secret_file relative to dir.
func (b *Block) ResolvePaths(dir string) {
	if p := b.SecretFile; p != "" && !strings.HasPrefix(p, "${") && !filepath.IsAbs(p) {
		b.SecretFile = filepath.Join(dir, p)
	}
}

// Config returns the client configuration of a valid block, with the
// secret read by the caller.
func (b *Block) Config(secret string) (Config, error) {
	routes, err := ParseRoutes(b.Routes)
	if err != nil {
		return Config{}, err
	}
	var wait time.Duration
	if b.MaxWait != "" {
		if wait, err = time.ParseDuration(b.MaxWait); err != nil {
			return Config{}, fmt.Errorf("max_wait: %w", err)
		}
	}
	return Config{
		FlexURL: b.FlexURL, TaskRouterURL: b.TaskRouterURL,
		AccountSID: b.AccountSID, Username: b.APIKeySID, Secret: secret,
		InstanceSID: b.InstanceSID, WorkspaceSID: b.WorkspaceSID,
		Attributes: b.Attributes, Deprovision: b.Deprovision, Provision: b.Provision,
		OwnedKeys: b.ownedKeys(), IdPOwnedKeys: b.idpKeys(), Separator: b.HierarchySeparator,
		MaxWait: wait, Routes: routes, InsightsRoles: b.InsightsRoles, RatePerSecond: b.RatePerSecond,
		Teams: b.Teams, TeamNameTemplate: b.TeamNameTemplate, TeamLevels: b.TeamLevels, TeamOwnerRoles: b.TeamOwnerRoles,
	}, nil
}

func sidLike(s, prefix string) bool {
	if len(s) != 34 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for _, r := range s[2:] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// Config configures a Client. Zero values take the defaults.
type Config struct {
	FlexURL, TaskRouterURL string
	// AccountSID is checked against the account the credentials reach.
	AccountSID string
	// Username and Secret are the Basic auth pair: an API key SID and its
	// secret, or the account SID and its auth token.
	Username, Secret string
	// InstanceSID and WorkspaceSID pin what discovery must find.
	InstanceSID, WorkspaceSID string
	// Attributes (off, plan, apply), Deprovision (off, report, enforce) and
	// Provision (off, on): what the target does (§12).
	Attributes, Deprovision, Provision string
	// OwnedKeys are the worker attribute keys rostersync may write;
	// IdPOwnedKeys those it never writes.
	OwnedKeys, IdPOwnedKeys []string
	// InsightsRoles maps directory roles to the wfo.* role the audit
	// expects (DefaultInsightsRoles when nil).
	InsightsRoles map[string]string
	// Separator joins the levels of *_in_hierarchy values (" ▸ ").
	Separator string
	// Teams (off, mirror) mirrors the team tree into Flex Teams, naming
	// each team with TeamNameTemplate, at the Flex level TeamLevels gives
	// its mapping level, with members of TeamOwnerRoles as owners.
	Teams            string
	TeamNameTemplate string
	TeamLevels       map[string]int
	TeamOwnerRoles   []string
	// PageSize is sent as PageSize on lists (1000).
	PageSize int
	// RatePerSecond paces requests per host (10); below 0 does not pace.
	// MaxInFlight bounds concurrent requests (5).
	RatePerSecond, MaxInFlight int
	// MaxWait bounds one request's total rate-limit waiting (5m).
	MaxWait time.Duration
	Routes  Routes

	HTTP      *http.Client
	Logger    *slog.Logger
	OnRequest func(endpoint string, status int, dur time.Duration)
	// Sleep waits between retries; tests make it instant.
	Sleep func(ctx context.Context, d time.Duration) error
	Now   func() time.Time
}
