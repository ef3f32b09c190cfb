package scim

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rostersync/rostersync/state/pgtest"
)

// Two hosts behind a load balancer: two Stores (each with its endpoint) on
// one database, written at the same moment. On SQLite the two handles are
// two processes sharing the file.

// newPair opens two endpoints on one store of t's backend.
func newPair(t *testing.T) (a, b *env) {
	t.Helper()
	a = newEnv(t)
	b = &env{t: t, store: openTest(t, a.dir), dir: a.dir}
	b.start()
	t.Cleanup(func() {
		b.srv.Close()
		b.store.Close()
	})
	return a, b
}

// send is a request safe to make from any goroutine: it fails nothing and
// returns the status and the decoded body.
func send(base, method, path, body string) (int, map[string]any, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+"/scim/v2"+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, err
	}
	var m map[string]any
	if len(strings.TrimSpace(string(raw))) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			return res.StatusCode, nil, fmt.Errorf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return res.StatusCode, m, nil
}

// race runs fn(i) for i in [0, n) at once, each on host a or b in turn, and
// returns the statuses.
func race(t *testing.T, a, b *env, n int, fn func(i int, host *env) (int, error)) []int {
	t.Helper()
	codes := make([]int, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		host := a
		if i%2 == 1 {
			host = b
		}
		wg.Go(func() {
			<-start
			codes[i], errs[i] = fn(i, host)
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return codes
}

func TestTwoHostsCreateOneName(t *testing.T) { forEachBackend(t, testTwoHostsCreateOneName) }

func testTwoHostsCreateOneName(t *testing.T) {
	a, b := newPair(t)
	// The same userName in four spellings: case and Unicode form differ.
	spellings := []string{"José@example.com", "jose\u0301@example.com", "JOSÉ@EXAMPLE.COM", "JOSE\u0301@example.com"}
	const n = 16
	codes := race(t, a, b, n, func(i int, host *env) (int, error) {
		code, body, err := send(host.srv.URL, "POST", "/Users", mustJSON(t, map[string]any{"userName": spellings[i%len(spellings)]}))
		if code == 409 && body["scimType"] != "uniqueness" {
			return code, fmt.Errorf("409 without scimType uniqueness: %v", body)
		}
		return code, err
	})
	groupCodes := race(t, a, b, n, func(i int, host *env) (int, error) {
		code, _, err := send(host.srv.URL, "POST", "/Groups", mustJSON(t, map[string]any{"displayName": []string{"Équipe A", "E\u0301QUIPE a"}[i%2]}))
		return code, err
	})
	for what, cs := range map[string][]int{"users": codes, "groups": groupCodes} {
		created := 0
		for _, c := range cs {
			switch c {
			case 201:
				created++
			case 409:
			default:
				t.Errorf("%s: status %d", what, c)
			}
		}
		if created != 1 {
			t.Errorf("%s: %d creates succeeded, want 1 (statuses %v)", what, created, cs)
		}
	}
	for _, host := range []*env{a, b} {
		if r := host.do("GET", "/Users", "").must(t, 200); r.num("totalResults") != 1 {
			t.Errorf("users stored: %s", r.raw)
		}
		if r := host.do("GET", "/Groups", "").must(t, 200); r.num("totalResults") != 1 {
			t.Errorf("groups stored: %s", r.raw)
		}
	}
}

func TestTwoHostsKeepEveryUpdate(t *testing.T) { forEachBackend(t, testTwoHostsKeepEveryUpdate) }

// testTwoHostsKeepEveryUpdate: PATCHes of one Group's members and of one
// User's attributes, half through each host at the same moment: none is
// lost, and the version counts them all.
func testTwoHostsKeepEveryUpdate(t *testing.T) {
	a, b := newPair(t)
	const n = 12
	users := make([]string, n)
	for i := range users {
		users[i] = a.createUser(fmt.Sprintf("member%d@example.com", i))
	}
	gid := a.do("POST", "/Groups", `{"displayName":"Shared"}`).must(t, 201).str("id")
	uid := a.createUser("target@example.com")
	created := a.do("GET", "/Users/"+uid, "").must(t, 200)

	codes := race(t, a, b, 2*n, func(i int, host *env) (int, error) {
		if i < n {
			code, _, err := send(host.srv.URL, "PATCH", "/Groups/"+gid,
				patchOps(`{"op":"add","path":"members","value":[{"value":"`+users[i]+`"}]}`))
			return code, err
		}
		code, _, err := send(host.srv.URL, "PATCH", "/Users/"+uid,
			patchOps(fmt.Sprintf(`{"op":"add","path":"emails","value":[{"value":"alias%d@example.com","type":"other"}]}`, i)))
		return code, err
	})
	for i, c := range codes {
		if c != 204 {
			t.Errorf("patch %d: status %d", i, c)
		}
	}
	if got := b.memberIDs(gid); !sameSet(got, users) {
		t.Errorf("members: %d of %d kept: %v", len(got), n, got)
	}
	ra := a.do("GET", "/Users/"+uid, "").must(t, 200)
	rb := b.do("GET", "/Users/"+uid, "").must(t, 200)
	if emails, _ := ra.get("emails").([]any); len(emails) != 1+n {
		t.Errorf("emails: %d, want %d: %s", len(emails), 1+n, ra.raw)
	}
	if want := fmt.Sprintf(`W/"%d"`, 1+n); ra.str("meta.version") != want || rb.str("meta.version") != want {
		t.Errorf("user version on a %s, on b %s, want %s", ra.str("meta.version"), rb.str("meta.version"), want)
	}
	if g := b.do("GET", "/Groups/"+gid, "").must(t, 200); g.str("meta.version") != fmt.Sprintf(`W/"%d"`, 1+n) {
		t.Errorf("group version %s, want W/\"%d\"", g.str("meta.version"), 1+n)
	}
	if ra.str("meta.lastModified") != rb.str("meta.lastModified") || ra.str("meta.lastModified") < created.str("meta.lastModified") {
		t.Errorf("lastModified on a %s, on b %s, at creation %s", ra.str("meta.lastModified"), rb.str("meta.lastModified"), created.str("meta.lastModified"))
	}
	// A member deleted through one host while the other adds it: the add
	// either lands first (and goes with the user) or finds no user.
	victim := users[0]
	race(t, a, b, 2, func(i int, host *env) (int, error) {
		if i == 0 {
			code, _, err := send(host.srv.URL, "DELETE", "/Users/"+victim, "")
			return code, err
		}
		code, _, err := send(host.srv.URL, "PUT", "/Groups/"+gid, mustJSON(t, map[string]any{
			"displayName": "Shared", "members": []map[string]string{{"value": victim}, {"value": users[1]}}}))
		return code, err
	})
	if got := a.memberIDs(gid); !sameSet(got, []string{users[1]}) {
		t.Errorf("members after a delete raced a replace: %v, want only %s", got, users[1])
	}
}

func TestChanges(t *testing.T) { forEachBackend(t, testChanges) }

// testChanges: a write wakes a watcher of Changes; on PostgreSQL a write
// through another handle (another host) does too.
func testChanges(t *testing.T) {
	a, b := newPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := a.store.Changes(ctx)
	writer := a
	if a.store.Backend() == "postgres" {
		writer = b
	}
	wait := func(what string) {
		t.Helper()
		select {
		case _, ok := <-ch:
			if !ok {
				t.Fatalf("%s: channel closed", what)
			}
		case <-time.After(time.Minute):
			t.Fatalf("%s: no change heard", what)
		}
	}
	id := writer.createUser("heard@example.com")
	wait("create")
	writer.do("PATCH", "/Users/"+id, patchOps(`{"op":"replace","path":"active","value":false}`)).must(t, 204)
	wait("patch")
	writer.do("DELETE", "/Users/"+id, "").must(t, 204)
	wait("delete")
	cancel()
	for range ch { // drained, then closed when ctx ends
	}
	// Closing the store closes its watchers' channels.
	ch = a.store.Changes(context.Background())
	a.srv.Close()
	a.store.Close()
	for range ch {
	}
}

// TestPostgresOpenTogether: two processes opening a new store at once both
// succeed, one applying the migrations; a table of the same name elsewhere
// in the database (rostersync's state, another application) is not the
// store's.
func TestPostgresOpenTogether(t *testing.T) {
	url := pgtest.Shared(t).Database(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE public.resources (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	stores := make([]*Store, 4)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = OpenStoreURL(ctx, t.TempDir(), url, "") })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var v int
	if err := conn.QueryRow(ctx, `SELECT version FROM `+PGSchema+`.schema_version`).Scan(&v); err != nil || v != len(pgMigrations) {
		t.Fatalf("schema version %d (%v), want %d", v, err, len(pgMigrations))
	}
	var rows int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+PGSchema+`.schema_version`).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("schema_version rows %d (%v), want 1", rows, err)
	}
	e := &env{t: t, store: stores[0]}
	e.start()
	defer e.srv.Close()
	e.createUser("apart@example.com")
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM public.resources`).Scan(&n); err != nil || n != 0 {
		t.Errorf("public.resources has %d rows (%v)", n, err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+PGSchema+`.resources`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%s.resources has %d rows (%v)", PGSchema, n, err)
	}
}

// TestPostgresPasswordAndErrors: the password may come apart from the URL
// (a file); errors name the database but never the password.
func TestPostgresPasswordAndErrors(t *testing.T) {
	srv := pgtest.Shared(t)
	full := srv.Database(t)
	db := full[strings.LastIndex(full, "/")+1 : strings.Index(full, "?")]
	bare := srv.URLWithout(db, false)
	ctx := context.Background()
	st, err := OpenStoreURL(ctx, "", bare, pgtest.Password)
	if err != nil {
		t.Fatalf("URL without password, password given: %v", err)
	}
	st.Close()
	_, err = OpenStoreURL(ctx, "", bare, "wrong-password")
	if err == nil {
		t.Fatal("a wrong password opened the store")
	}
	if strings.Contains(err.Error(), "wrong-password") || !strings.Contains(err.Error(), db) {
		t.Errorf("error %q: should name the database %s and not the password", err, db)
	}
	if _, err := OpenStoreURL(ctx, "", "postgres://%zz", ""); err == nil || !strings.Contains(err.Error(), "PostgreSQL URL") {
		t.Errorf("bad URL: %v", err)
	}
}

func TestValuesNoBackendHolds(t *testing.T) { forEachBackend(t, testValuesNoBackendHolds) }

// testValuesNoBackendHolds: a NUL character or invalid UTF-8 (which
// PostgreSQL's text cannot hold) and an over-long key get the same answers
// on both backends, never a 500.
func testValuesNoBackendHolds(t *testing.T) {
	e := newEnv(t)
	id := e.createUser("plain@example.com")
	gid := e.do("POST", "/Groups", `{"displayName":"Plain","members":[{"value":"`+id+`"}]}`).must(t, 201).str("id")
	for _, bad := range []string{"%00", "%FF", "a%00b"} {
		e.do("GET", "/Users/"+bad, "").must(t, 404)
		e.do("DELETE", "/Users/"+bad, "").must(t, 404)
		e.do("PATCH", "/Groups/"+bad, patchOps(`{"op":"add","path":"members","value":[{"value":"x"}]}`)).must(t, 404)
	}
	for _, f := range []string{`userName eq "a\u0000b"`, `emails.value eq "\u0000"`, `externalId eq "\u0000"`, `id eq "\u0000"`} {
		if r := e.do("GET", filterPath("/Users", f), "").must(t, 200); r.num("totalResults") != 0 {
			t.Errorf("%s: %s", f, r.raw)
		}
	}
	if r := e.do("GET", "/Users?filter=userName%20eq%20%22%FF%22", "").must(t, 200); r.num("totalResults") != 0 {
		t.Errorf("invalid UTF-8 filter: %s", r.raw)
	}
	for _, body := range []string{`{"userName":"nul\u0000@example.com"}`, `{"userName":"x@example.com","externalId":"a\u0000"}`,
		`{"userName":"y@example.com","emails":[{"value":"\u0000"}]}`, mustJSON(t, map[string]any{"userName": strings.Repeat("é", MaxKeyBytes)})} {
		if r := e.do("POST", "/Users", body).must(t, 400); r.str("scimType") != "invalidValue" {
			t.Errorf("%.60s: %s", body, r.raw)
		}
	}
	e.do("PATCH", "/Users/"+id, patchOps(`{"op":"replace","path":"displayName","value":"a\u0000"}`)).must(t, 400)
	e.do("PATCH", "/Groups/"+gid, patchOps(`{"op":"add","path":"members","value":[{"value":"\u0000"},{"value":"`+id+`"}]}`)).must(t, 204)
	e.do("PATCH", "/Groups/"+gid, patchOps(`{"op":"remove","path":"members","value":[{"value":"\u0000"}]}`)).must(t, 204)
	e.do("PATCH", "/Groups/"+gid, patchOps(`{"op":"remove","path":"members[value eq \"\\u0000\"]"}`)).must(t, 204)
	if got := e.memberIDs(gid); !sameSet(got, []string{id}) {
		t.Errorf("members: %v", got)
	}
	// A name at the limit is taken.
	e.do("POST", "/Users", mustJSON(t, map[string]any{"userName": strings.Repeat("e", MaxKeyBytes)})).must(t, 201)
}

// TestPostgresSnapshotReads: a read-only transaction on the store's
// connections (the source's Fetch) sees one snapshot for all its
// statements.
func TestPostgresSnapshotReads(t *testing.T) {
	st, err := OpenStoreURL(context.Background(), "", pgtest.Shared(t).Database(t), "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tx, err := st.db.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var level string
	if err := tx.QueryRow(`SHOW transaction_isolation`).Scan(&level); err != nil || level != "repeatable read" {
		t.Errorf("isolation %q (%v), want repeatable read", level, err)
	}
}

// TestPostgresChangesSurviveALostConnection: when the listening connection
// is cut, the watcher is told at once (changes may have gone unheard) and
// hears the writes made after it is back.
func TestPostgresChangesSurviveALostConnection(t *testing.T) {
	url := pgtest.Shared(t).Database(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := OpenStoreURL(ctx, "", url, "")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ch := a.Changes(ctx)
	wait := func(what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(time.Minute):
			t.Fatalf("%s: nothing heard", what)
		}
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var cut int
	if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%'`).Scan(&cut); err != nil || cut != 1 {
		t.Fatalf("cut %d listening connections (%v), want 1", cut, err)
	}
	wait("reconnect")
	other, err := OpenStoreURL(ctx, "", url, "")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, _, err := other.create(ctx, typeUser, map[string]any{"userName": "after@example.com"}, nil, "t"); err != nil {
		t.Fatal(err)
	}
	wait("a write after the reconnect")
}

// TestPostgresSchemaMadeByAnAdministrator: a user without the right to
// create schemas is told what to grant; once an administrator has created
// the schema for it, the store opens and works.
func TestPostgresSchemaMadeByAnAdministrator(t *testing.T) {
	srv := pgtest.Shared(t)
	full := srv.Database(t)
	db := full[strings.LastIndex(full, "/")+1 : strings.Index(full, "?")]
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, full)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	role := "scim_" + db
	for _, q := range []string{
		`CREATE ROLE ` + role + ` LOGIN PASSWORD 'scim-pw'`,
		`REVOKE CREATE ON DATABASE ` + db + ` FROM PUBLIC`,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		admin.Exec(ctx, `DROP SCHEMA IF EXISTS `+PGSchema+` CASCADE`)
		admin.Exec(ctx, `DROP ROLE IF EXISTS `+role)
	})
	userURL := strings.Replace(srv.URLWithout(db, false), pgtest.Superuser+"@", role+"@", 1)
	_, err = OpenStoreURL(ctx, "", userURL, "scim-pw")
	if err == nil || !strings.Contains(err.Error(), "AUTHORIZATION") {
		t.Fatalf("no right to create the schema: %v", err)
	}
	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+PGSchema+` AUTHORIZATION `+role); err != nil {
		t.Fatal(err)
	}
	st, err := OpenStoreURL(ctx, "", userURL, "scim-pw")
	if err != nil {
		t.Fatalf("in the schema made for the user: %v", err)
	}
	defer st.Close()
	e := &env{t: t, store: st}
	e.start()
	defer e.srv.Close()
	e.createUser("granted@example.com")
}
