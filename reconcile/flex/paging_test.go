package flex_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rostersync/rostersync/reconcile/flex"
	"github.com/rostersync/rostersync/reconcile/flex/flexsim"
)

// fakeFlex serves discovery, an empty worker list, workers with empty
// attributes, and users as users(r) answers.
func fakeFlex(t *testing.T, users func(w http.ResponseWriter, r *http.Request)) *flex.Client {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/Configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"account_sid": flexsim.DemoAccountSID, "flex_instance_sid": flexsim.DemoInstanceSID, "taskrouter_workspace_sid": flexsim.DemoWorkspaceSID})
	})
	mux.HandleFunc("GET /v1/Instances/{i}/Users", users)
	mux.HandleFunc("GET /v1/Workspaces/{ws}/Workers", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"workers":[],"meta":{"key":"workers","next_page_url":null}}`))
	})
	mux.HandleFunc("GET /v1/Workspaces/{ws}/Workers/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"sid":"` + r.PathValue("id") + `","attributes":"{}"}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := flex.New(flex.Config{FlexURL: srv.URL, TaskRouterURL: srv.URL, AccountSID: flexsim.DemoAccountSID,
		Username: flexsim.DemoKeySID, Secret: "s", RatePerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTokenStylePaging: a list in the token style (meta.list_key,
// next_token) is followed with PageToken until next_token is null.
func TestTokenStylePaging(t *testing.T) {
	var mu sync.Mutex
	var tokens []string
	c := fakeFlex(t, func(w http.ResponseWriter, r *http.Request) {
		tok := r.URL.Query().Get("PageToken")
		mu.Lock()
		tokens = append(tokens, tok)
		mu.Unlock()
		next, user := `"t2"`, "a"
		if tok == "t2" {
			next, user = "null", "b"
		}
		w.Write([]byte(`{"users":[{"flex_user_sid":"FU` + user + `","username":"` + user + `@x","worker":{"worker_sid":"WK` + user + `"}}],"meta":{"list_key":"users","next_token":` + next + `}}`))
	})
	s, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(s.Users) != 2 || strings.Join(tokens, ",") != ",t2" {
		t.Errorf("users %v after requests with tokens %q; want 2 users over tokens \"\" and t2", s.Users, tokens)
	}
	if s.RawAttributes[s.Users[0].ID] != "{}" {
		t.Errorf("the worker SID under worker.worker_sid was not fetched: %+v", s.Users[0])
	}
}

// TestPagingRefusesLoopsAndOtherHosts: a next page that repeats is an
// error, not a loop; one on another host is refused (the credentials stay
// where they were configured to go).
func TestPagingRefusesLoopsAndOtherHosts(t *testing.T) {
	loop := fakeFlex(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"users":[],"meta":{"key":"users","next_page_url":"http://` + r.Host + r.URL.String() + `"}}`))
	})
	if _, err := loop.List(context.Background()); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a page that names itself as next: %v", err)
	}
	away := fakeFlex(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"users":[],"meta":{"key":"users","next_page_url":"https://elsewhere.example.com/v1/Users?PageToken=PA1"}}`))
	})
	if _, err := away.List(context.Background()); err == nil || !strings.Contains(err.Error(), "refusing to send the credentials") {
		t.Errorf("a next page on another host: %v", err)
	}
}

// TestBlockValidation: every problem of a flex: block at once, named by key.
func TestBlockValidation(t *testing.T) {
	no := false
	b := flex.Block{
		AccountSID: "AC123", APIKeySID: "", Provision: "on", Deprovision: "always",
		OwnedKeys:     []string{"manager", "roles", "email"},
		InsightsRoles: map[string]string{"team_leader": "supervisor"},
	}
	err := b.Validate()
	if err == nil {
		t.Fatal("a bad block validates")
	}
	for _, want := range []string{"account_sid", "api_key_sid", "provision", "deprovision", `owned_keys[1]: "roles" is never written`,
		`owned_keys[2]: "email"`, "insights_roles.team_leader"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("validation error lacks %q:\n%v", want, err)
		}
	}
	ok := flex.Block{AccountSID: flexsim.DemoAccountSID, APIKeySID: flexsim.DemoKeySID, SSO: &no, Provision: "on"}
	if err := ok.Validate(); err != nil {
		t.Errorf("provision: on without SSO: %v", err)
	}
}
