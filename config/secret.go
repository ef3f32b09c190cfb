package config

import (
	"fmt"
	"os"
	"strings"
)

// ReadSecret reads a secret from a file (a systemd credential, a mounted
// secret). One trailing newline is removed; an empty secret is an error.
// Errors name the file, never its content.
func ReadSecret(path string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("secret: no file given")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("secret: %w", err)
	}
	s := strings.TrimSuffix(string(data), "\n")
	s = strings.TrimSuffix(s, "\r")
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("secret: %s is empty", path)
	}
	return s, nil
}
