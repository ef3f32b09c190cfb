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

func TestTokenStoreRoundTrip(t *testing.T) { forEachBackend(t, testTokenStoreRoundTrip) }

func testTokenStoreRoundTrip(t *testing.T, bk testBackend) {
	db, loc := bk.openTest(t)
	const key = "00000000-0000-4000-8000-000000000001"
	s, err := db.TokenStore(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load of an empty store: %v, want ErrNotFound", err)
	}
	at := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	want := BearerToken{KeyID: key, Token: "tok-1", TokenID: "id-1", Origin: "created",
		IssuedAt: at, ExpiresAt: at.Add(24 * time.Hour), UpdatedAt: at}
	if err := s.Save(want); err != nil {
		t.Fatal(err)
	}
	// Another handle (another process, or host) reads what was saved.
	other, err := openAt(t, loc).TokenStore(key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := other.Load()
	if err != nil {
		t.Fatal(err)
	}
	want.FormatVersion = TokenFormatVersion
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Load after Save (-want +got):\n%s", d)
	}
	want.Token, want.Origin = "tok-2", "refreshed"
	if err := other.Save(want); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(); err != nil || got.Token != "tok-2" {
		t.Errorf("Load after a second Save = %+v, %v", got, err)
	}
	if s.Where() == "" {
		t.Error("Where() is empty")
	}
	if _, err := db.TokenStore("../k1"); err == nil {
		t.Error("TokenStore accepted a key id with a path in it")
	}
	if bk.name != BackendSQLite {
		return
	}
	f := s.(*TokenFile)
	fi, err := os.Stat(f.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %04o, want 0600", fi.Mode().Perm())
	}
	if d, _ := os.Stat(loc); d.Mode().Perm() != 0o700 {
		t.Errorf("state directory mode %04o, want 0700", d.Mode().Perm())
	}
	// No temporary file is left behind.
	if m, _ := filepath.Glob(filepath.Join(loc, ".*tmp*")); len(m) > 0 {
		t.Errorf("left behind: %v", m)
	}
}

func TestTokenStoreRefusesDamage(t *testing.T) { forEachBackend(t, testTokenStoreRefusesDamage) }

func testTokenStoreRefusesDamage(t *testing.T, bk testBackend) {
	ctx := context.Background()
	db, _ := bk.openTest(t)
	s, err := db.TokenStore("k1")
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"not json": "tok",
		"no token": `{"format_version":1,"key_id":"k1"}`,
		"newer":    `{"format_version":99,"key_id":"k1","token":"t"}`,
	} {
		if f, ok := s.(*TokenFile); ok {
			err = os.WriteFile(f.Path(), []byte(body), 0o600)
		} else {
			_, err = db.db.ExecContext(ctx, `INSERT INTO tokens (key_id, record, updated_at) VALUES ('k1', ?, '')
				ON CONFLICT (key_id) DO UPDATE SET record = excluded.record`, []byte(body))
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Load(); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("%s: Load = %v, want an error that is not ErrNotFound", name, err)
		}
	}
}

// Two stores of one key (as two processes, or hosts, would have) exclude
// each other.
func TestTokenStoreLockExcludes(t *testing.T) { forEachBackend(t, testTokenStoreLockExcludes) }

func testTokenStoreLockExcludes(t *testing.T, bk testBackend) {
	dba, loc := bk.openTest(t)
	dbb := openAt(t, loc)
	a, _ := dba.TokenStore("k1")
	b, _ := dbb.TokenStore("k1")
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
	c, _ := dbb.TokenStore("k2")
	unlock, _ = a.Lock(context.Background())
	defer unlock()
	u3, err := c.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	u3()
}

// A holder that dies (its connection, or its process, ends) leaves the
// lock free.
func TestTokenStoreLockDiesWithItsHolder(t *testing.T) {
	forEachBackend(t, testTokenStoreLockDiesWithItsHolder)
}

func testTokenStoreLockDiesWithItsHolder(t *testing.T, bk testBackend) {
	if bk.name == BackendSQLite {
		t.Skip("the file lock dies with its process, which the test cannot end")
	}
	dba, loc := bk.openTest(t)
	a, _ := dba.TokenStore("k1")
	if _, err := a.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The holder's host dies: its connection ends on the server.
	dbb := openAt(t, loc)
	if _, err := dbb.db.ExecContext(context.Background(),
		`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = ? AND pid <> pg_backend_pid()`,
		int64(tokenLockClass)); err != nil {
		t.Fatal(err)
	}
	b, _ := dbb.TokenStore("k1")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	unlock, err := b.Lock(ctx)
	if err != nil {
		t.Fatalf("the lock of a dead holder is still taken: %v", err)
	}
	unlock()
}

func TestPlanKey(t *testing.T) { forEachBackend(t, testPlanKey) }

func testPlanKey(t *testing.T, bk testBackend) {
	ctx := context.Background()
	a, loc := bk.openTest(t)
	b := openAt(t, loc)
	if _, err := a.PlanKey(ctx, false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("PlanKey before any = %v, want ErrNotFound", err)
	}
	k, err := a.PlanKey(ctx, true)
	if err != nil || len(k) != planKeySize {
		t.Fatalf("PlanKey(create) = %x, %v", k, err)
	}
	// The other handle (host) finds the same key, and creating again keeps it.
	for _, create := range []bool{false, true} {
		got, err := b.PlanKey(ctx, create)
		if err != nil || string(got) != string(k) {
			t.Errorf("PlanKey(create %v) on another handle = %x, %v; want %x", create, got, err, k)
		}
	}
	if bk.name == BackendSQLite {
		// Where earlier versions kept it, as they kept it.
		fi, err := os.Stat(filepath.Join(loc, PlanKeyFile))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("plan key file: %v, %v", fi, err)
		}
		if a.PlanKeyWhere() != filepath.Join(loc, PlanKeyFile) {
			t.Errorf("PlanKeyWhere() = %q", a.PlanKeyWhere())
		}
	}
}
