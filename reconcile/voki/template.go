package voki

import (
	"fmt"
	"maps"
	"strings"
)

// Template shapes one inferred request body (the create-user body of the
// contract's §8.1, the add-member body of §8.3, the create-department
// body's wrapper). The client builds the body
// from its fields by this template alone, so a correction of the inferred
// shape is a configuration change:
//
//	create_user_template:
//	  wrapper: user            # "" sends the fields bare
//	  rename: {name: full_name}
//	  omit: [password]
//	  constants: {send_invite: true}
type Template struct {
	// Wrapper wraps the fields in an object under this key; "" sends them bare.
	Wrapper string `yaml:"wrapper"`
	// Rename maps the client's field names to the names sent.
	Rename map[string]string `yaml:"rename"`
	// Omit lists fields (by the client's names) left out.
	Omit []string `yaml:"omit"`
	// Constants are extra fields sent as given.
	Constants map[string]any `yaml:"constants"`
}

// DefaultCreateUserTemplate is the contract's inferred create-user body:
// {"user":{"name","email","role","password"}}.
func DefaultCreateUserTemplate() Template { return Template{Wrapper: "user"} }

// DefaultCreateDepartmentTemplate is the contract's create-department
// body, its wrapper inferred: {"department":{"name"}}.
func DefaultCreateDepartmentTemplate() Template { return Template{Wrapper: "department"} }

// DefaultAddMemberTemplate is the contract's inferred add-member body:
// {"user_id":"…"}.
func DefaultAddMemberTemplate() Template { return Template{} }

// Build returns the body for fields.
func (t Template) Build(fields map[string]any) map[string]any {
	inner := map[string]any{}
	for k, v := range fields {
		if containsFold(t.Omit, k) {
			continue
		}
		if n, ok := t.Rename[k]; ok && n != "" {
			k = n
		}
		inner[k] = v
	}
	maps.Copy(inner, t.Constants)
	if t.Wrapper == "" {
		return inner
	}
	return map[string]any{t.Wrapper: inner}
}

// validate names what is wrong with the template, keyed under key.
func (t Template) validate(key string, known []string) []string {
	var p []string
	for from, to := range t.Rename {
		if !containsFold(known, from) {
			p = append(p, fmt.Sprintf("%s.rename: %q is not a field the client sends (it sends %s)", key, from, strings.Join(known, ", ")))
		}
		if strings.TrimSpace(to) == "" {
			p = append(p, fmt.Sprintf("%s.rename.%s: empty name", key, from))
		}
	}
	for _, o := range t.Omit {
		if !containsFold(known, o) {
			p = append(p, fmt.Sprintf("%s.omit: %q is not a field the client sends (it sends %s)", key, o, strings.Join(known, ", ")))
		}
	}
	return p
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
