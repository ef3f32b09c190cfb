package agentiq_test

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rostersync/rostersync/config/block"
	"github.com/rostersync/rostersync/reconcile/agentiq"
)

func TestBlockValidateKeysRelativeToTheBlock(t *testing.T) {
	var nilBlock *agentiq.Block
	if keys := problemKeys(t, nilBlock.Validate()); !slices.Equal(keys, []string{"base_url"}) {
		t.Errorf("a missing block: keys %q, want base_url", keys)
	}
	b := &agentiq.Block{MaxRows: -1, Epoch: "yesterday", Window: "-1h", Routes: map[string]string{"nope": "/x", "export_agents": "GET /e"}}
	want := []string{"base_url", "max_rows", "epoch", "window", "routes.nope"}
	if keys := problemKeys(t, b.Validate()); !slices.Equal(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
	ok := &agentiq.Block{BaseURL: "https://api-v2.x.agentiq.co", Epoch: "2015-01-01T00:00:00Z", Window: "720h"}
	if err := ok.Validate(); err != nil {
		t.Errorf("a good block: %v", err)
	}
}

func TestBlockKeyFile(t *testing.T) {
	var nilBlock *agentiq.Block
	if got := nilBlock.KeyFile(""); got != "" {
		t.Errorf("no file and no credentials directory: %q", got)
	}
	if got, want := nilBlock.KeyFile("/run/creds"), filepath.Join("/run/creds", agentiq.CredentialName); got != want {
		t.Errorf("KeyFile = %q, want %q", got, want)
	}
	b := &agentiq.Block{APIKeyFile: "key"}
	b.ResolvePaths("/etc/rostersync")
	if got := b.KeyFile("/run/creds"); got != "/etc/rostersync/key" {
		t.Errorf("KeyFile = %q, want the resolved api_key_file", got)
	}
	if b.DefaultCredential() != "" || nilBlock.DefaultCredential() != agentiq.CredentialName {
		t.Error("DefaultCredential: a block with a key file reads no credential; one without reads agentiq-api-key")
	}
}

func problemKeys(t *testing.T, err error) []string {
	t.Helper()
	var keys []string
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var p *block.Problem
		if !errors.As(err, &p) {
			t.Fatalf("%v is not a block.Problem", err)
		}
		keys = append(keys, p.Key)
	}
	if err != nil {
		walk(err)
	}
	return keys
}
