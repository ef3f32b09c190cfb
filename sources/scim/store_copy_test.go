package scim

import (
	"context"
	"errors"
	"regexp"
	"testing"

	"github.com/rostersync/rostersync/state/pgtest"
)

// TestCopyToPostgres: a SQLite store copied into PostgreSQL serves the
// same resources (ids, versions, times, members in their order) and keeps
// its rules; a second copy into the now full store is refused.
func TestCopyToPostgres(t *testing.T) {
	url := pgtest.Shared(t).Database(t)
	src := newEnv(t)
	ada := src.createUser("ada@example.com")
	bob := src.do("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"userName":"Bob@Example.com","externalId":"e-bob","displayName":"Bob","emails":[{"value":"bob@example.com","type":"work","primary":true},{"value":"b@example.org","type":"home"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"42","manager":{"value":"`+ada+`"}}}`).must(t, 201).str("id")
	gid := src.do("POST", "/Groups", `{"displayName":"Team North","members":[{"value":"`+bob+`"},{"value":"`+ada+`"}]}`).must(t, 201).str("id")
	src.do("POST", "/Groups", `{"displayName":"Empty"}`).must(t, 201)
	src.do("PATCH", "/Users/"+ada, patchOps(`{"op":"replace","path":"active","value":false}`)).must(t, 204)
	src.do("DELETE", "/Users/"+src.createUser("gone@example.com"), "").must(t, 204)

	dst, err := OpenStoreURL(context.Background(), "", url, "")
	if err != nil {
		t.Fatal(err)
	}
	n, err := src.store.CopyTo(context.Background(), dst, false)
	if err != nil || n != 4 {
		t.Fatalf("copied %d (%v), want 4", n, err)
	}
	e := &env{t: t, store: dst}
	e.start()
	t.Cleanup(func() { e.srv.Close(); dst.Close() })

	location := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`)
	for _, path := range []string{"/Users", "/Groups", "/Users/" + bob, "/Groups/" + gid, filterPath("/Users", `emails[type eq "home"]`)} {
		want := location.ReplaceAllString(src.do("GET", path, "").must(t, 200).raw, "")
		got := location.ReplaceAllString(e.do("GET", path, "").must(t, 200).raw, "")
		if got != want {
			t.Errorf("GET %s after the copy:\n got %s\nwant %s", path, got, want)
		}
	}
	e.do("POST", "/Users", `{"userName":"BOB@example.com"}`).must(t, 409)
	e.createUser("new@example.com")
	if r := e.do("GET", "/Users?count=0", "").must(t, 200); r.num("totalResults") != 3 {
		t.Errorf("users after a create: %s", r.raw)
	}
	if _, err := src.store.CopyTo(context.Background(), dst, false); !errors.Is(err, ErrStoreNotEmpty) {
		t.Errorf("copy into a full store: %v", err)
	}
	// Replacing drops what dst gained since (new@example.com) and copies again.
	if n, err := src.store.CopyTo(context.Background(), dst, true); err != nil || n != 4 {
		t.Fatalf("replacing copy: %d (%v), want 4", n, err)
	}
	if r := e.do("GET", "/Users?count=0", "").must(t, 200); r.num("totalResults") != 2 {
		t.Errorf("users after a replacing copy: %s", r.raw)
	}
	e.do("GET", "/Users/"+bob, "").must(t, 200)
}
