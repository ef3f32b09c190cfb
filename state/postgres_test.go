package state

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/rostersync/rostersync/state/pgtest"
)

func TestRebind(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = $1 AND c = $2`},
		{`DELETE FROM t WHERE at < ?1 OR x < ?1`, `DELETE FROM t WHERE at < $1 OR x < $1`},
		{`SELECT '?', "a?b", ? -- why?` + "\n, ?", `SELECT '?', "a?b", $1 -- why?` + "\n, $2"},
		{`SELECT 'it''s ?', ?`, `SELECT 'it''s ?', $1`},
	} {
		if got := rebind(c.in); got != c.want {
			t.Errorf("rebind(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for _, c := range []struct {
		in, want string
		pw       bool
	}{
		{"postgres://u:secret@db:5432/rs?sslmode=require", "postgres://u:xxxxx@db:5432/rs?sslmode=require", true},
		{"postgres://u@db/rs", "postgres://u@db/rs", false},
		{"postgresql://db/rs?password=secret&user=u", "postgresql://db/rs?password=xxxxx&user=u", true},
	} {
		if got := RedactURL(c.in); got != c.want || strings.Contains(got, "secret") {
			t.Errorf("RedactURL(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := URLHasPassword(c.in); got != c.pw {
			t.Errorf("URLHasPassword(%q) = %v", c.in, got)
		}
	}
}

func TestOpenURLRefusesOtherSchemes(t *testing.T) {
	_, err := OpenURL(context.Background(), t.TempDir(), "mysql://u:secret@db/rs", Options{})
	if err == nil || !strings.Contains(err.Error(), "postgres://") || strings.Contains(err.Error(), "secret") {
		t.Errorf("OpenURL(mysql://…) = %v; want a refusal naming postgres:// without the password", err)
	}
}

func TestOpenURLSQLiteIsOpenWith(t *testing.T) {
	dir := t.TempDir()
	db, err := OpenURL(context.Background(), dir, "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Backend() != BackendSQLite || !strings.HasPrefix(db.Path(), dir) {
		t.Errorf("Backend() = %q, Path() = %q", db.Backend(), db.Path())
	}
}

// withoutPassword returns the URL u without its password.
func withoutPassword(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	p.User = url.User(p.User.Username())
	return p.String()
}

func TestOpenURLPostgres(t *testing.T) {
	ctx := context.Background()
	full := pgtest.Shared(t).Database(t)
	bare := withoutPassword(t, full)

	t.Run("password from the options", func(t *testing.T) {
		db, err := OpenURL(ctx, "", bare, Options{Password: pgtest.Password})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if db.Backend() != BackendPostgres {
			t.Errorf("Backend() = %q", db.Backend())
		}
		if strings.Contains(db.Path(), pgtest.Password) || !strings.HasPrefix(db.Path(), "postgres://") {
			t.Errorf("Path() = %q; want the URL without its password", db.Path())
		}
	})
	t.Run("wrong password named without it", func(t *testing.T) {
		u, _ := url.Parse(full)
		u.User = url.UserPassword(pgtest.Superuser, "not-the-password")
		_, err := OpenURL(ctx, "", u.String(), Options{})
		if err == nil {
			t.Fatal("a wrong password was accepted")
		}
		if strings.Contains(err.Error(), "not-the-password") || !strings.Contains(err.Error(), "xxxxx@127.0.0.1") {
			t.Errorf("error = %v; want the URL named, password redacted", err)
		}
	})
	t.Run("the URL's password wins", func(t *testing.T) {
		db, err := OpenURL(ctx, "", full, Options{Password: "not-the-password"})
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
	})
}

// Two processes starting at once on a new database: one migrates, the
// other waits for it and finds the schema made.
func TestOpenURLConcurrentMigration(t *testing.T) {
	ctx := context.Background()
	loc := pgtest.Shared(t).Database(t)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	dbs := make([]*DB, n)
	for i := range n {
		wg.Go(func() { dbs[i], errs[i] = OpenURL(ctx, "", loc, Options{}) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, db := range dbs {
		defer db.Close()
	}
	if got := migrationRows(t, dbs[0]); len(got) != len(migrations) {
		t.Errorf("schema_migrations holds %v, want each of %d steps once", got, len(migrations))
	}
}
