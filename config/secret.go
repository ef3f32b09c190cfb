package config

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/rostersync/rostersync/config/safefile"
)

// ReadSecret reads a secret from a file (a systemd credential, a mounted
// secret): a regular file of at most safefile.MaxSecretBytes. One trailing
// newline is removed; an empty secret is an error. Errors name the file,
// never its content.
func ReadSecret(path string) (string, error) {
	s, _, err := readSecret(path)
	return s, err
}

// ReadSecretWarn is ReadSecret that also warns, naming the file, when the
// group or others may read it.
func ReadSecretWarn(path string, log *slog.Logger) (string, error) {
	s, mode, err := readSecret(path)
	if err == nil && mode&0o077 != 0 && log != nil {
		log.Warn("secret file is readable by group or others; make it readable by its owner only (chmod 600)",
			"file", path, "mode", fmt.Sprintf("%04o", mode))
	}
	return s, err
}

func readSecret(path string) (string, uint32, error) {
	if path == "" {
		return "", 0, fmt.Errorf("secret: no file given")
	}
	f, fi, err := safefile.Open(path, safefile.MaxSecretBytes)
	if err != nil {
		return "", 0, fmt.Errorf("secret: %w", err)
	}
	defer f.Close()
	data, err := safefile.ReadAll(f, safefile.MaxSecretBytes)
	if err != nil {
		return "", 0, fmt.Errorf("secret: %w", err)
	}
	s := strings.TrimSuffix(string(data), "\n")
	s = strings.TrimSuffix(s, "\r")
	if strings.TrimSpace(s) == "" {
		return "", 0, fmt.Errorf("secret: %s is empty", path)
	}
	return s, uint32(fi.Mode().Perm()), nil
}
