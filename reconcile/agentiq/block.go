package agentiq

import (
	"errors"
	"path/filepath"
	"strings"
	"time"

	"github.com/rostersync/rostersync/config/block"
)

// CredentialName is the systemd credential that holds the API key when a
// target's api_key_file is unset.
const CredentialName = "agentiq-api-key"

// Block is the agentiq: block of a target in the configuration file:
//
//	agentiq:
//	  base_url: https://api-v2.<fi-domain>.agentiq.co   # required
//	  api_key_file: /etc/rostersync/agentiq-api-key      # default $CREDENTIALS_DIRECTORY/agentiq-api-key
//	  max_rows: 500         # rows per CSV upload
//	  epoch: 2015-01-01T00:00:00Z   # where the export walk starts
//	  window: 720h          # creation-time span of one export request
//	  routes:               # overrides of the inferred paths
//	    import_users: POST /api/ingestion/users
type Block struct {
	BaseURL    string            `yaml:"base_url"`
	APIKeyFile string            `yaml:"api_key_file"`
	MaxRows    int               `yaml:"max_rows"`
	Epoch      string            `yaml:"epoch"`
	Window     string            `yaml:"window"`
	Routes     map[string]string `yaml:"routes"`
}

// EpochTime parses Epoch (RFC 3339); zero when unset.
func (b *Block) EpochTime() (time.Time, error) {
	if b.Epoch == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339, b.Epoch)
}

// WindowDuration parses Window (a Go duration, as 720h); zero when unset.
func (b *Block) WindowDuration() (time.Duration, error) {
	if b.Window == "" {
		return 0, nil
	}
	return time.ParseDuration(b.Window)
}

// Validate reports every problem with the block, keyed relative to it. A
// nil block is an empty one: base_url is required.
func (b *Block) Validate() error {
	if b == nil {
		b = &Block{}
	}
	var p block.Problems
	if strings.TrimSpace(b.BaseURL) == "" {
		p.Add("base_url", "required: the institution's API host, as https://api-v2.<fi-domain>.agentiq.co")
	}
	if b.MaxRows < 0 {
		p.Add("max_rows", "%d is negative", b.MaxRows)
	}
	if _, err := b.EpochTime(); err != nil {
		p.Add("epoch", "%q is not an RFC 3339 time, as 2015-01-01T00:00:00Z", b.Epoch)
	}
	if d, err := b.WindowDuration(); err != nil || d < 0 {
		p.Add("window", "%q is not a positive duration, as 720h", b.Window)
	}
	_, err := ParseRoutes(b.Routes) // its problems are keyed routes.<name>
	return errors.Join(p.Err(), err)
}

// DefaultCredential names the systemd credential the key is read from when
// the block names no key file; "" when it names one.
func (b *Block) DefaultCredential() string {
	if b != nil && b.APIKeyFile != "" {
		return ""
	}
	return CredentialName
}

// KeyFile returns the file holding the API key: api_key_file, else the
// systemd credential CredentialName in credentialsDir
// ($CREDENTIALS_DIRECTORY); "" when neither is given. A nil block names no
// file.
func (b *Block) KeyFile(credentialsDir string) string {
	if b != nil && b.APIKeyFile != "" {
		return b.APIKeyFile
	}
	if credentialsDir == "" {
		return ""
	}
	return filepath.Join(credentialsDir, CredentialName)
}

// ResolvePaths makes a relative api_key_file relative to dir, the
// configuration file's directory (a ${VAR} reference is left for Expand).
func (b *Block) ResolvePaths(dir string) {
	if p := b.APIKeyFile; p != "" && !strings.HasPrefix(p, "${") && !filepath.IsAbs(p) {
		b.APIKeyFile = filepath.Join(dir, p)
	}
}
