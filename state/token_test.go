package state

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTokenStoreRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := NewTokenStore(dir, "00000000-0000-4000-8000-000000000001")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load of an empty store: %v, want ErrNotFound", err)
	}
	at := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	want := BearerToken{KeyID: "00000000-0000-4000-8000-000000000001", Token: "tok-1", TokenID: "id-1", Origin: "created",
		IssuedAt: at, ExpiresAt: at.Add(24 * time.Hour), UpdatedAt: at}
	if err := s.Save(want); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	want.FormatVersion = TokenFormatVersion
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Load after Save (-want +got):\n%s", d)
	}
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %04o, want 0600", fi.Mode().Perm())
	}
	if d, _ := os.Stat(dir); d.Mode().Perm() != 0o700 {
		t.Errorf("state directory mode %04o, want 0700", d.Mode().Perm())
	}
	// No temporary file is left behind.
	if m, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(m) > 0 {
		t.Errorf("left behind: %v", m)
	}
}

func TestTokenStoreRefusesDamage(t *testing.T) {
	dir := t.TempDir()
	s, err := NewTokenStore(dir, "k1")
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"not json": "tok",
		"no token": `{"format_version":1,"key_id":"k1"}`,
		"newer":    `{"format_version":99,"key_id":"k1","token":"t"}`,
	} {
		if err := os.WriteFile(s.Path(), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load(); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("%s: Load = %v, want an error that is not ErrNotFound", name, err)
		}
	}
	if _, err := NewTokenStore(dir, "../k1"); err == nil {
		t.Error("NewTokenStore accepted a key id with a path in it")
	}
}

// Two stores of one key (as two processes would have) exclude each other.
func TestTokenStoreLockExcludes(t *testing.T) {
	dir := t.TempDir()
	a, _ := NewTokenStore(dir, "k1")
	b, _ := NewTokenStore(dir, "k1")
	unlock, err := a.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(ctx); err == nil {
		t.Fatal("a second holder took the lock while the first held it")
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	unlock2, err := b.Lock(context.Background())
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	unlock2()
	// Another key's lock is independent.
	c, _ := NewTokenStore(dir, "k2")
	unlock, _ = a.Lock(context.Background())
	defer unlock()
	u3, err := c.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	u3()
}
