package voki_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/rostersync/rostersync/config/block"
	"github.com/rostersync/rostersync/reconcile/voki"
)

func TestBlockReportsEveryProblemByKey(t *testing.T) {
	b := &voki.Block{Deactivate: "always", Memberships: "some", Structure: voki.Mirror, CSATWindow: "a month",
		CreateUserTemplate: &voki.Template{Omit: []string{"locale"}, Rename: map[string]string{"name": ""}},
		AddMemberTemplate:  &voki.Template{Rename: map[string]string{"member": "user"}},
		CreateDeptTemplate: &voki.Template{Omit: []string{"sector_id"}}}
	err := b.Validate()
	var keys []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var p *block.Problem
		if errors.As(e, &p) {
			keys = append(keys, p.Key)
		}
	}
	slices.Sort(keys)
	want := []string{"add_member_template.rename", "create_department_template.omit", "create_user_template.omit", "create_user_template.rename.name",
		"csat_window", "deactivate", "memberships", "service_email", "structure", "tenant"}
	if !slices.Equal(keys, want) {
		t.Errorf("problems keyed %v, want %v\n%v", keys, want, err)
	}
	ok := &voki.Block{Tenant: "acme", ServiceEmail: "svc@acme.example", Memberships: voki.Exact, Structure: voki.Mirror}
	if err := ok.Validate(); err != nil {
		t.Errorf("a valid block: %v", err)
	}
}

func TestPasswordFileDefaultsToTheCredential(t *testing.T) {
	var b *voki.Block
	if got := b.PasswordPath("/run/credentials/rostersync.service"); got != "/run/credentials/rostersync.service/voki-password" {
		t.Errorf("default password path %q", got)
	}
	b = &voki.Block{PasswordFile: "secret"}
	b.ResolvePaths("/etc/rostersync")
	if got := b.PasswordPath("/run/credentials/x"); got != "/etc/rostersync/secret" {
		t.Errorf("relative password_file resolves to %q", got)
	}
}
