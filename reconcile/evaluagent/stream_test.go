package evaluagent

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"
	"github.com/rostersync/rostersync/reconcile"
)

// usersPage is a user listing of ids from..to-1, with links.next when next is set.
func usersPage(from, to int, next string) string {
	var b strings.Builder
	b.WriteString(`{"meta":{"page":{"total":1}},"data":[`)
	for i := from; i < to; i++ {
		if i > from {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"users","id":"u%05d","attributes":{"forename":"F","surname":"S","username":"user%05d","email":"user%05d@example.com","start_date":"2024-01-15","active":true,"third_party_id":%d},"relationships":{"roles":{"data":[{"type":"roles","id":"r-agent"}]},"agent-team":{"data":{"type":"groups","id":"g-north"}}}}`, i, i, i, i)
	}
	b.WriteString(`],"links":{"next":`)
	if next == "" {
		b.WriteString("null")
	} else {
		b.WriteString(strconv.Quote(next))
	}
	b.WriteString("}}")
	return b.String()
}

func checkUsers(t *testing.T, users []struct{ ID, Username string }, n int) {
	t.Helper()
	if len(users) != n {
		t.Fatalf("listed %d users, want %d", len(users), n)
	}
	for i, u := range users {
		if want := fmt.Sprintf("user%05d", i); u.Username != want {
			t.Fatalf("user %d is %q, want %q (each user once, in order)", i, u.Username, want)
		}
	}
}

func listed(t *testing.T, c *Client) []struct{ ID, Username string } {
	t.Helper()
	snap, err := c.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var out []struct{ ID, Username string }
	for _, u := range snap.Users {
		if u.Team != "g-north" || u.Roles.Len() != 1 || u.Roles.List()[0] != "agent" || u.Email != u.Username+"@example.com" {
			t.Fatalf("user decoded as %+v", u)
		}
		out = append(out, struct{ ID, Username string }{u.ID, u.Username})
	}
	return out
}

func emptyAccount(f *fakeAPI) {
	f.json("GET /v1/org/roles", 200, rolesJSON)
	f.json("GET /v1/org/levels", 200, levelsJSON)
	f.json("GET /v1/org/groups", 200, `{"data":[]}`)
	f.json("GET /v1/quality/work-queue-templates", 200, `{"data":[]}`)
}

// A user listing is decoded as it arrives: it may be far larger than the bound on bodies read
// into memory, unpaged or paged.
func TestListUsersIsNotBoundByTheBodyLimit(t *testing.T) {
	t.Run("unpaged", func(t *testing.T) {
		f := newFake(t)
		emptyAccount(f)
		f.json("GET /v1/org/users", 200, usersPage(0, 3000, ""))
		c, _ := newTestClient(t, f)
		c.tr.MaxBody = 4 << 10 // the whole listing is about 100 times this
		checkUsers(t, listed(t, c), 3000)
	})
	t.Run("paged", func(t *testing.T) {
		f := newFake(t)
		emptyAccount(f)
		f.handle("GET /v1/org/users", func(w http.ResponseWriter, r *http.Request) {
			page, _ := strconv.Atoi(r.URL.Query().Get("page[number]"))
			page = max(page, 1)
			next := ""
			if page < 3 {
				next = fmt.Sprintf("%s/v1/org/users?page%%5Bnumber%%5D=%d", f.srv.URL, page+1)
			}
			writeJSON(w, 200, usersPage((page-1)*1000, page*1000, next))
		})
		c, _ := newTestClient(t, f)
		c.tr.MaxBody = 4 << 10
		checkUsers(t, listed(t, c), 3000)
		if got := len(f.requestsTo("GET", "/v1/org/users")); got != 3 {
			t.Errorf("%d user listing requests, want 3 pages", got)
		}
	})
}

// A page whose connection breaks half way is read again from its start: nobody is listed twice.
func TestListUsersRetriesAPageCutShort(t *testing.T) {
	f := newFake(t)
	emptyAccount(f)
	body := usersPage(0, 2000, "")
	var calls atomic.Int32
	f.handle("GET /v1/org/users", func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(200)
			_, _ = w.Write([]byte(body[:len(body)/2]))
			w.(http.Flusher).Flush()
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		writeJSON(w, 200, body)
	})
	c, clk := newTestClient(t, f)
	checkUsers(t, listed(t, c), 2000)
	if got := calls.Load(); got != 2 {
		t.Errorf("%d attempts, want 2", got)
	}
	if len(clk.sleeps) != 1 {
		t.Errorf("slept %v, want one back-off before the retry", clk.sleeps)
	}
}

// A body that is not a listing fails at once, naming the work, and is not retried.
func TestListUsersBadBodyIsNotRetried(t *testing.T) {
	for name, body := range map[string]string{
		"no data":    `{"links":{}}`,
		"data null":  `{"data":null}`,
		"not a list": `{"data":{"type":"users","id":"u1"}}`,
		"cut short":  `{"data":[{"type":"users","id":"u1"`,
		"bad item":   `{"data":[{"type":"users","id":"u1","attributes":{"username":{}}}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFake(t)
			emptyAccount(f)
			f.json("GET /v1/org/users", 200, body)
			c, _ := newTestClient(t, f)
			_, err := c.List(context.Background())
			if err == nil || !strings.HasPrefix(err.Error(), "evaluagent: list users: ") {
				t.Errorf("err = %v, want a list users error", err)
			}
			if got := len(f.requestsTo("GET", "/v1/org/users")); got != 1 {
				t.Errorf("%d attempts, want 1", got)
			}
		})
	}
}

// The streamed user listing keeps the leniency of the other responses: member names in any case,
// escapes, invalid UTF-8 as U+FFFD, a repeated member's last value, ids and third_party_id as
// numbers, null anywhere, members it does not know (nested too) skipped.
func TestListUsersDecodesLeniently(t *testing.T) {
	f := newFake(t)
	emptyAccount(f)
	f.json("GET /v1/org/users", 200, "{\"meta\":{\"x\":[1,{\"y\":null}]},\"data\":[\n"+
		`{"type":"users","id":17,"Attributes":{"Forename":"Zo\u00eb","surname":"O\"Neil","USERNAME":"zoe","email":"old@example.com","email":"zoe@example.com",`+
		`"start_date":null,"active":true,"third_party_id":1.5e3,"extra":{"deep":[{"a":"b"}]}},`+
		`"relationships":{"roles":{"data":[{"type":"roles","id":"r-agent","meta":{}}]},"agent-team":{"data":{"type":"groups","id":99}},"other":{"data":[]}}},`+
		"{\"type\":\"users\",\"id\":\"u-2\",\"attributes\":{\"forename\":\"B\xffd\",\"surname\":null,\"username\":\"bad\",\"active\":null,\"third_party_id\":null},\"relationships\":null}"+
		`],"links":{"self":"x","next":null}}`)
	c, _ := newTestClient(t, f)
	snap, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []reconcile.User{
		{ID: "u-2", Username: "bad", Forename: "B\uFFFDd", Roles: reconcile.NamesOf()},
		{ID: "17", ThirdPartyID: "1.5e3", Username: "zoe", Email: "zoe@example.com", Forename: "Zoë", Surname: `O"Neil`,
			Active: true, Roles: reconcile.NamesOf("agent"), Team: "99"},
	}
	if diff := cmp.Diff(want, snap.Users); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
}

// A member of the wrong type fails the listing naming the user before it.
func TestListUsersWrongTypeNamesTheUser(t *testing.T) {
	f := newFake(t)
	emptyAccount(f)
	f.json("GET /v1/org/users", 200, `{"data":[{"type":"users","id":"u-1","attributes":{"username":"a"}},{"type":"users","id":"u-2","attributes":{"username":"b","third_party_id":{"x":1}}}]}`)
	c, _ := newTestClient(t, f)
	_, err := c.List(context.Background())
	if err == nil || !strings.Contains(err.Error(), `user after "u-2"`) || !strings.Contains(err.Error(), "third_party_id") {
		t.Fatalf("err = %v, want one naming user u-2 and third_party_id", err)
	}
}

// A size hint reserves room only: the listing holds exactly the users listed, each once and in
// order, whether the hint is too low, right or far too high, and when a page is retried.
func TestListUsersSizeHintIsAHintOnly(t *testing.T) {
	for _, hint := range []int{0, 4000, 9000, 9100, 50000} {
		t.Run(strconv.Itoa(hint), func(t *testing.T) {
			f := newFake(t)
			emptyAccount(f)
			f.json("GET /v1/org/users", 200, usersPage(0, 9000, ""))
			c, _ := newTestClient(t, f)
			c.SizeHint(hint)
			checkUsers(t, listed(t, c), 9000)
			checkUsers(t, listed(t, c), 9000) // the hint holds for the next listing too
		})
	}
}

// A listing whose body is not a collection of resources is refused, each shape with its reason,
// and nothing is handed over.
func TestStreamCollectionRefusesOtherShapes(t *testing.T) {
	for body, want := range map[string]string{
		`[]`:                  "the response is not a JSON object",
		`{}`:                  "no data member",
		`{"data":null}`:       "no data member",
		`{"data":{"id":"1"}}`: "data is not a list of resources",
		`{"data":"users"}`:    "data is not a list of resources",
		`{"data":[{}`:         "unexpected EOF",
	} {
		items := 0
		_, _, err := streamCollection(strings.NewReader(body), func(dec *jsontext.Decoder) error {
			items++
			return dec.SkipValue()
		})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want one saying %q", body, err, want)
		}
		if body != `{"data":[{}` && items != 0 {
			t.Errorf("%s: %d items handed over", body, items)
		}
	}
}
