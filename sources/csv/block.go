package csv

import (
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/rostersync/rostersync/config/block"
)

// Block is the csv: block of a source in the configuration file:
//
//	csv:
//	  path: people.csv       # required; relative to the configuration file's directory
//	  delimiter: ","         # one character; default ","
//	  key: employee_id       # required: the column holding the stable key
//	  min_rows: 100          # fewer rows marks the read incomplete; default 0
//	  max_bytes: 268435456   # a larger file is refused; default 256 MiB
type Block struct {
	// Path is resolved against the configuration file's directory by
	// ResolvePaths.
	Path      string `yaml:"path"`
	Delimiter string `yaml:"delimiter"`
	Key       string `yaml:"key"`
	MinRows   int    `yaml:"min_rows"`
	// MaxBytes caps the file's size; 0 means DefaultMaxBytes.
	MaxBytes int64 `yaml:"max_bytes"`
}

// ResolvePaths makes a relative path relative to dir, the configuration
// file's directory.
func (b *Block) ResolvePaths(dir string) {
	if b.Path != "" && !filepath.IsAbs(b.Path) {
		b.Path = filepath.Join(dir, b.Path)
	}
}

// Validate reports every problem with the block, keyed relative to it: the
// same checks New makes, so a block that passes opens.
func (b *Block) Validate() error {
	var p block.Problems
	d, ok := parseDelimiter(b.Delimiter)
	raw := ""
	if !ok {
		raw = b.Delimiter
	}
	b.config(d, nil).check(&p, raw)
	return p.Err()
}

// Config returns the source's Config; required lists the columns the
// mapping reads. Validate first: a bad delimiter is left as zero, which New reads as ','.
func (b *Block) Config(required []string) Config {
	d, _ := parseDelimiter(b.Delimiter)
	return b.config(d, required)
}

func (b *Block) config(d rune, required []string) Config {
	return Config{Path: b.Path, Delimiter: d, Key: b.Key, Required: required, MinRows: b.MinRows, MaxBytes: b.MaxBytes}
}

// delimiterRule is what a delimiter must be.
const delimiterRule = "must be one character other than a quote or line break (or a byte order mark)"

// parseDelimiter parses a configured delimiter: "" is ','; anything
// but one character is not ok. Whether the character can separate fields
// is Config's check.
func parseDelimiter(s string) (rune, bool) {
	if s == "" {
		return ',', true
	}
	r, n := utf8.DecodeRuneInString(s)
	if n != len(s) || r == utf8.RuneError {
		return 0, false
	}
	return r, true
}

// check adds every problem with c, keyed as in Block; badDelimiter, when
// set, is a configured delimiter that is not one character.
func (c Config) check(p *block.Problems, badDelimiter string) {
	if c.Path == "" {
		p.Add("path", "required")
	}
	if strings.TrimSpace(c.Key) == "" {
		p.Add("key", "required: the column holding each person's stable key")
	}
	if badDelimiter != "" {
		p.Add("delimiter", "%q %s", badDelimiter, delimiterRule)
	} else if c.Delimiter != 0 && !validDelim(c.Delimiter) {
		p.Add("delimiter", "%q %s", string(c.Delimiter), delimiterRule)
	}
	if c.MinRows < 0 {
		p.Add("min_rows", "%d is negative", c.MinRows)
	}
	if c.MaxBytes < 0 {
		p.Add("max_bytes", "%d is negative: give a size in bytes (0 or unset: %d)", c.MaxBytes, DefaultMaxBytes)
	}
}

// CheckFiles reads the file the block names as the source will.
func (b *Block) CheckFiles(string) error {
	var p block.Problems
	if b.Path != "" {
		if err := block.Readable(b.Path); err != nil {
			p.Add("path", "%w", err)
		}
	}
	return p.Err()
}
