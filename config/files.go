package config

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"

	"github.com/rostersync/rostersync/config/block"
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
	for i, s := range f.Sources {
		p := fmt.Sprintf("sources[%d]", i)
		for _, kind := range sortedKeys(s.blocks()) {
			b := s.blocks()[kind]
			fc, ok := b.(interface {
				CheckFiles(credentialsDir string) error
			})
			if !ok || isNil(b) {
				continue
			}
			for _, e := range unjoin(fc.CheckFiles(credentialsDir)) {
				var bp *block.Problem
				if errors.As(e, &bp) {
					bad(p+"."+kind+"."+bp.Key, cmp.Or(bp.Err, errors.New(bp.Msg)))
				} else if e != nil {
					bad(p+"."+kind, e)
				}
			}
		}
	}
	return errors.Join(errs...)
}
