package evaluagent

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/rostersync/rostersync/reconcile"
)

// CredentialName is the systemd credential (LoadCredential=) that holds the
// API key secret when no key secret file is given.
const CredentialName = "evaluagent-key-secret"

// EnvPrefix is the prefix of the environment variables Settings are read
// from.
const EnvPrefix = envRoot + "EVALUAGENT_"

// envRoot is the project's prefix of environment variables.
const envRoot = "ROSTERSYNC_"

// Settings configure the Evaluagent target from the environment, each
// from the variable of its env tag under EnvPrefix (the environment's
// defaults are here too). A target's evaluagent: block (Block) overrides
// them key by key.
type Settings struct {
	// Region selects the Evaluagent instance ("eu", "us-east", "aus"); the client maps it
	// to a base URL.
	Region string `env:"REGION, default=eu"`
	// BaseURL overrides the region's API base URL (the simulator, a proxy).
	BaseURL string `env:"BASE_URL"`
	// KeyID is the API key id (the basic-auth user name).
	KeyID string `env:"KEY_ID"`
	// KeySecretFile is the file holding the API key secret. Default:
	// $CREDENTIALS_DIRECTORY/evaluagent-key-secret. The secret itself is
	// never read from the environment or the command line.
	KeySecretFile string `env:"KEY_SECRET_FILE"`
	// AgentLevel is the hierarchy level whose groups hold agents.
	AgentLevel string `env:"AGENT_LEVEL, default=Team"`
	// Adopt lets a pass take ownership of platform users that match a source
	// person but were not created by rostersync (a visible plan step).
	Adopt bool `env:"ADOPT, default=false"`
	// Mode is sync, upsert-only or create-only.
	Mode string `env:"MODE, default=sync"`
	// RatePerMinute is the client's own pace per endpoint. Evaluagent allows
	// 100 a minute; raise it only for a simulator or a contract that allows
	// more. RatePerDay is the daily limit per endpoint. The counts of both
	// persist in the state directory, so a restart does not reset them.
	RatePerMinute int `env:"RATE_PER_MINUTE, default=100"`
	RatePerDay    int `env:"RATE_PER_DAY, default=10000"`
	// Auth is basic (the key id and secret on every request) or bearer
	// (the key is in bearer-token mode: requests carry a token kept in the
	// state directory and refreshed there). Bearer is opt-in because
	// creating a token disables Basic for the key for good.
	Auth string `env:"AUTH, default=basic"`
	// TokenFile, in bearer mode, is a file holding the current token of a
	// key already in bearer mode. It is read only while the state directory
	// holds no token for the key; from then on the stored token (refreshed
	// in place) is the only one used.
	TokenFile string `env:"TOKEN_FILE"`
	// TokenRefreshAfter is the token age at which it is refreshed.
	TokenRefreshAfter time.Duration `env:"TOKEN_REFRESH_AFTER, default=20h"`
	// TokenWarnBelow: the daemon warns when the token has less than this
	// left before it expires (a refresh is overdue).
	TokenWarnBelow time.Duration `env:"TOKEN_WARN_BELOW, default=3h"`
}

// Validate reports every problem with the Evaluagent settings at once, named
// by their environment variables. secretInEnv says the secret itself was
// offered in the environment.
func (ea Settings) Validate(secretInEnv bool) error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", envRoot, name, fmt.Sprintf(format, args...)))
	}
	if !regionRE.MatchString(ea.Region) {
		bad("EVALUAGENT_REGION", "%q is not a region name (eu, us-east or aus)", ea.Region)
	}
	if ea.BaseURL != "" {
		u, err := url.Parse(ea.BaseURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("EVALUAGENT_BASE_URL", "%q is not an http(s) URL", ea.BaseURL)
		} else if u.User != nil {
			bad("EVALUAGENT_BASE_URL", "must not hold credentials; use EVALUAGENT_KEY_ID and the key secret file")
		}
	}
	if strings.TrimSpace(ea.KeyID) == "" {
		bad("EVALUAGENT_KEY_ID", "required: the Evaluagent API key id")
	}
	switch ea.Auth {
	case AuthBasic:
		if ea.KeySecretFile == "" {
			bad("EVALUAGENT_KEY_SECRET_FILE", "required: a file holding the API key secret (or run under systemd with LoadCredential=%s:…)", CredentialName)
		}
	case AuthBearer:
		if ea.TokenRefreshAfter <= 0 || ea.TokenRefreshAfter > 23*time.Hour {
			bad("EVALUAGENT_TOKEN_REFRESH_AFTER", "%s: give a token age above 0 and at most 23h (tokens last 24h; the default is 20h)", ea.TokenRefreshAfter)
		}
		if ea.TokenWarnBelow < 0 || ea.TokenWarnBelow >= 24*time.Hour {
			bad("EVALUAGENT_TOKEN_WARN_BELOW", "%s: give a duration from 0 to under 24h (default 3h)", ea.TokenWarnBelow)
		}
	default:
		bad("EVALUAGENT_AUTH", "%q is not basic or bearer", ea.Auth)
	}
	if secretInEnv {
		bad("EVALUAGENT_KEY_SECRET", "secrets are not read from the environment; put the secret in a file and set %sEVALUAGENT_KEY_SECRET_FILE", envRoot)
	}
	if strings.TrimSpace(ea.AgentLevel) == "" {
		bad("EVALUAGENT_AGENT_LEVEL", "is blank")
	}
	if ea.RatePerDay < 1 {
		bad("EVALUAGENT_RATE_PER_DAY", "%d: must be at least 1", ea.RatePerDay)
	}
	switch reconcile.Mode(ea.Mode) {
	case reconcile.ModeSync, reconcile.ModeUpsertOnly, reconcile.ModeCreateOnly:
	default:
		bad("EVALUAGENT_MODE", "%q is not one of sync, upsert-only, create-only", ea.Mode)
	}
	if ea.RatePerMinute <= 0 {
		bad("EVALUAGENT_RATE_PER_MINUTE", "%d: must be a positive number of requests per minute", ea.RatePerMinute)
	}
	return errors.Join(errs...)
}

var regionRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// Block is the evaluagent: block of a target in the configuration file.
// Each key left empty comes from the environment (Settings):
//
//	evaluagent:
//	  region: eu
//	  base_url: ""
//	  key_id: ""
//	  key_secret_file: ""   # default $CREDENTIALS_DIRECTORY/evaluagent-key-secret
//	  agent_level: Team
//	  auth: basic           # or bearer
//	  token_file: ""        # bearer: the token of a key already in bearer mode
type Block struct {
	Region        string `yaml:"region"`
	BaseURL       string `yaml:"base_url"`
	KeyID         string `yaml:"key_id"`
	KeySecretFile string `yaml:"key_secret_file"`
	AgentLevel    string `yaml:"agent_level"`
	// Auth is basic or bearer; TokenFile the token of a key already in
	// bearer mode (see Settings).
	Auth      string `yaml:"auth"`
	TokenFile string `yaml:"token_file"`
}

// Validate has nothing to check on its own: each key left out comes from
// the environment, and the two together are checked by Settings.Validate
// when the target is built.
func (*Block) Validate() error { return nil }

// ResolvePaths makes relative key and token files relative to dir, the
// configuration file's directory (a ${VAR} reference is left for
// expansion).
func (b *Block) ResolvePaths(dir string) {
	for _, p := range []*string{&b.KeySecretFile, &b.TokenFile} {
		if *p != "" && !strings.HasPrefix(*p, "${") && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
}

// Over returns s with the keys the block sets in place: the environment's
// fallback for every key the block leaves out. A nil block changes nothing.
func (b *Block) Over(s Settings) Settings {
	if b == nil {
		return s
	}
	for _, kv := range []struct {
		dst *string
		v   string
	}{
		{&s.Region, b.Region}, {&s.BaseURL, b.BaseURL}, {&s.KeyID, b.KeyID},
		{&s.KeySecretFile, b.KeySecretFile}, {&s.AgentLevel, b.AgentLevel},
		{&s.Auth, b.Auth}, {&s.TokenFile, b.TokenFile},
	} {
		if kv.v != "" {
			*kv.dst = kv.v
		}
	}
	return s
}
