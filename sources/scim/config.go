package scim

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/rostersync/rostersync/config/block"
	"github.com/rostersync/rostersync/config/safefile"
)

// Config configures the SCIM endpoint.
type Config struct {
	// TokensFile names a file holding the accepted bearer tokens, one a line,
	// each optionally prefixed with a connection name as "name:token" (for
	// example "entra:3f9…"). Blank lines and lines starting with "#" are
	// ignored. A token without a name is called "token<line number>". The
	// matching token's name identifies the IdP connection in logs and records.
	TokensFile string `yaml:"tokens_file"`
	// MaxBodyBytes caps a request body; larger bodies get 413. Default 1 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// PublicBaseURL is the base URL the identity providers are given, such as
	// "https://rostersync.example.com/scim/v2". It prefixes meta.location and
	// the Location header. When empty it is derived from each request.
	PublicBaseURL string `yaml:"public_base_url"`
	// MaxResults caps (and is the default of) the count of a list request.
	// Default 200.
	MaxResults int `yaml:"max_results"`
}

// Defaults.
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultMaxResults   = 200
	// MaxMaxBodyBytes and MaxMaxResults are the largest values the
	// configuration accepts.
	MaxMaxBodyBytes = 64 << 20
	MaxMaxResults   = 10000
)

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxResults <= 0 {
		c.MaxResults = DefaultMaxResults
	}
	c.PublicBaseURL = strings.TrimRight(c.PublicBaseURL, "/")
	return c
}

// token is one accepted bearer token, kept only as its SHA-256 digest.
type token struct {
	name   string
	digest [sha256.Size]byte
}

// parseTokens reads the tokens file format described at Config.TokensFile.
// Errors name the line, never the token.
func parseTokens(data []byte) ([]token, error) {
	var out []token
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, tok, ok := strings.Cut(line, ":")
		if !ok {
			name, tok = fmt.Sprintf("token%d", n), line
		}
		name, tok = strings.TrimSpace(name), strings.TrimSpace(tok)
		if name == "" {
			return nil, fmt.Errorf("line %d: empty connection name", n)
		}
		if tok == "" {
			return nil, fmt.Errorf("line %d: empty token", n)
		}
		if strings.ContainsAny(tok, " \t") {
			return nil, fmt.Errorf("line %d: token contains white space", n)
		}
		if seen[name] {
			return nil, fmt.Errorf("line %d: connection name %q used twice", n, name)
		}
		seen[name] = true
		out = append(out, token{name: name, digest: sha256.Sum256([]byte(tok))})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// CheckTokensFile reads the tokens file as the endpoint will, and says what
// is wrong with it (never a token).
func CheckTokensFile(path string) error {
	_, err := loadTokens(path)
	return err
}

func loadTokens(path string) ([]token, error) {
	if path == "" {
		return nil, errors.New("scim: tokens_file is not set")
	}
	data, err := safefile.Read(path, safefile.MaxSecretBytes)
	if err != nil {
		return nil, fmt.Errorf("scim: tokens_file: %w", err)
	}
	toks, err := parseTokens(data)
	if err != nil {
		return nil, fmt.Errorf("scim: tokens_file %s: %w", path, err)
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("scim: tokens_file %s holds no token", path)
	}
	return toks, nil
}

func sha256Sum(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }

// ResolvePaths makes a relative tokens_file relative to dir, the
// configuration file's directory.
func (c *Config) ResolvePaths(dir string) {
	if c.TokensFile != "" && !filepath.IsAbs(c.TokensFile) {
		c.TokensFile = filepath.Join(dir, c.TokensFile)
	}
}

// Validate reports every problem with the scim: block of a source, keyed
// relative to it.
func (c *Config) Validate() error {
	var p block.Problems
	if c.TokensFile == "" {
		p.Add("tokens_file", "required: the file of bearer tokens the identity providers present")
	}
	if n := c.MaxBodyBytes; n < 0 || n > MaxMaxBodyBytes {
		p.Add("max_body_bytes", "%d: give a size from 1 to %d bytes (0 or unset: %d)", n, MaxMaxBodyBytes, DefaultMaxBodyBytes)
	}
	if n := c.MaxResults; n < 0 || n > MaxMaxResults {
		p.Add("max_results", "%d: give a count from 1 to %d (0 or unset: %d)", n, MaxMaxResults, DefaultMaxResults)
	}
	return p.Err()
}

// CheckFiles reads the tokens file as the endpoint will.
func (c *Config) CheckFiles(string) error {
	var p block.Problems
	if c.TokensFile != "" {
		if err := CheckTokensFile(c.TokensFile); err != nil {
			p.Add("tokens_file", "%w", err)
		}
	}
	return p.Err()
}
