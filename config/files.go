package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/rostersync/rostersync/sources/ldap"
	"github.com/rostersync/rostersync/sources/scim"
)

// CheckFiles reads every file the configuration file names for its sources
// (CSV exports, LDAP CA bundles and password files, the SCIM tokens file)
// as the source will, and reports every problem at once with the key and
// line that names the file. credentialsDir is $CREDENTIALS_DIRECTORY, where
// a relative bind_password_file is looked up. Targets' key files are read
// when the targets are built.
func (f *File) CheckFiles(credentialsDir string) error {
	var errs []error
	bad := func(key string, err error) {
		prefix := f.path
		if l := f.lineOf(key); l > 0 {
			prefix += ":" + strconv.Itoa(l)
		}
		errs = append(errs, fmt.Errorf("%s: %s: %w", prefix, key, err))
	}
	readable := func(path string) error {
		fh, err := os.Open(path)
		if err != nil {
			return err
		}
		defer fh.Close()
		fi, err := fh.Stat()
		if err == nil && fi.IsDir() {
			err = errors.New("is a directory, not a file")
		}
		return err
	}
	for i, s := range f.Sources {
		p := fmt.Sprintf("sources[%d]", i)
		if s.CSV != nil && s.CSV.Path != "" {
			if err := readable(s.CSV.Path); err != nil {
				bad(p+".csv.path", err)
			}
		}
		if l := s.LDAP; l != nil {
			if l.CAFile != "" {
				if _, err := ldap.LoadCAFile(l.CAFile); err != nil {
					bad(p+".ldap.ca_file", err)
				}
			}
			if pw := l.BindPasswordFile; pw != "" {
				if !filepath.IsAbs(pw) && credentialsDir != "" {
					pw = filepath.Join(credentialsDir, pw)
				}
				if err := readable(pw); err != nil {
					bad(p+".ldap.bind_password_file", err)
				}
			}
		}
		if sc := s.SCIM; sc != nil && sc.TokensFile != "" {
			if err := scim.CheckTokensFile(sc.TokensFile); err != nil {
				bad(p+".scim.tokens_file", err)
			}
		}
	}
	return errors.Join(errs...)
}
