package evaluagentsim

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

const unauthorizedBody = `{"errors":[{"status":"401","title":"Unauthorized","detail":"Unauthorized. Check your API credentials."}]}`

func (h *harness) withAuth(method, path, auth string) result {
	h.t.Helper()
	return h.send(method, "/v1"+path, "", map[string]string{"Authorization": auth})
}

func wantUnauthorized(t *testing.T, r result) {
	t.Helper()
	r.want(t, 401)
	if string(r.body) != unauthorizedBody {
		t.Errorf("401 body %s, want %s", r.body, unauthorizedBody)
	}
}

type tokenDoc struct {
	Data struct {
		Type       string `json:"type"`
		ID         string `json:"id"`
		Attributes struct {
			Token     string `json:"token"`
			ExpiresAt string `json:"expires_at"`
		} `json:"attributes"`
	} `json:"data"`
}

func (r result) token(t *testing.T) tokenDoc {
	t.Helper()
	var doc tokenDoc
	if err := json.Unmarshal(r.body, &doc); err != nil || doc.Data.Type != "tokens" || doc.Data.ID == "" || doc.Data.Attributes.Token == "" {
		t.Fatalf("token body %s (%v)", r.body, err)
	}
	return doc
}

func TestBasicAuth(t *testing.T) {
	h := newHarness(t, nil)
	for name, auth := range map[string]string{
		"missing":      "",
		"wrong secret": basicAuth(DemoKeyID, "ffffffffffffffffffffffffffffffffffffffff"),
		"unknown key":  basicAuth("00000000-0000-4000-8000-000000000009", DemoKeySecret),
		"not base64":   "Basic %%%",
		"other scheme": "Digest abc",
		"no secret":    basicAuth(DemoKeyID, ""),
	} {
		t.Run(name, func(t *testing.T) { wantUnauthorized(t, h.withAuth("GET", "/ping", auth)) })
	}
	res := h.withAuth("GET", "/ping", "basic "+basicAuth(DemoKeyID, DemoKeySecret)[6:]).want(t, 200)
	want := `{"data":{"type":"auth","id":"` + DemoKeyID + `","attributes":{"auth_method":"basic","expires_at":null}}}`
	if string(res.body) != want {
		t.Errorf("ping %s, want %s", res.body, want)
	}
}

// §3.2: the one-way switch, refresh and revoke.
func TestTokenLifecycle(t *testing.T) {
	h := newHarness(t, nil)
	basic := basicAuth(DemoKeyID, DemoKeySecret)
	// Token endpoints that need a token refuse Basic with 403 while the key is in basic mode.
	h.withAuth("POST", "/auth/token/refresh", basic).wantError(t, 403, "", "Forbidden. Must use Token authentication.")
	h.withAuth("DELETE", "/auth/token", basic).wantError(t, 403, "", "Forbidden. Must use Token authentication.")

	first := h.withAuth("POST", "/auth/token", basic).want(t, 201).token(t)
	if got, want := first.Data.Attributes.ExpiresAt, "2025-06-03T10:00:43Z"; got != want {
		t.Errorf("expires_at %q, want %q", got, want)
	}
	bearer1 := "Bearer " + first.Data.Attributes.Token
	// Basic is gone for good.
	wantUnauthorized(t, h.withAuth("GET", "/ping", basic))
	wantUnauthorized(t, h.withAuth("POST", "/auth/token", basic))
	ping := h.withAuth("GET", "/ping", bearer1).want(t, 200).body
	if want := `{"data":{"type":"auth","id":"` + DemoKeyID + `","attributes":{"auth_method":"bearer","expires_at":"2025-06-03T10:00:43Z"}}}`; string(ping) != want {
		t.Errorf("ping %s, want %s", ping, want)
	}
	h.withAuth("GET", "/org/users", bearer1).want(t, 200)
	h.withAuth("POST", "/auth/token", bearer1).wantError(t, 403, "", "Forbidden. Bearer Tokens can only be created using Basic Auth.")

	// Refresh issues a new token and kills the old one at once.
	h.sim.SetNow(t0.Add(20 * time.Hour))
	second := h.withAuth("POST", "/auth/token/refresh", bearer1).want(t, 200).token(t)
	bearer2 := "Bearer " + second.Data.Attributes.Token
	if second.Data.Attributes.Token == first.Data.Attributes.Token || second.Data.ID == first.Data.ID {
		t.Error("refresh returned the same token")
	}
	if got, want := second.Data.Attributes.ExpiresAt, "2025-06-04T06:00:43Z"; got != want {
		t.Errorf("refreshed expires_at %q, want %q", got, want)
	}
	wantUnauthorized(t, h.withAuth("GET", "/ping", bearer1))
	wantUnauthorized(t, h.withAuth("POST", "/auth/token/refresh", bearer1))
	h.withAuth("GET", "/ping", bearer2).want(t, 200)

	// Revoke: the token dies, Basic stays off, no new token.
	h.withAuth("DELETE", "/auth/token", bearer2).want(t, 204)
	wantUnauthorized(t, h.withAuth("GET", "/ping", bearer2))
	wantUnauthorized(t, h.withAuth("GET", "/ping", basic))
	wantUnauthorized(t, h.withAuth("POST", "/auth/token", basic))
	wantUnauthorized(t, h.withAuth("POST", "/auth/token/refresh", bearer2))
}

func TestTokenExpiry(t *testing.T) {
	h := newHarness(t, nil)
	tok := h.withAuth("POST", "/auth/token", basicAuth(DemoKeyID, DemoKeySecret)).want(t, 201).token(t)
	bearer := "Bearer " + tok.Data.Attributes.Token
	h.sim.SetNow(t0.Add(24*time.Hour - time.Second))
	h.withAuth("GET", "/ping", bearer).want(t, 200)
	h.sim.SetNow(t0.Add(24 * time.Hour))
	wantUnauthorized(t, h.withAuth("GET", "/ping", bearer))
	wantUnauthorized(t, h.withAuth("POST", "/auth/token/refresh", bearer))
	wantUnauthorized(t, h.withAuth("POST", "/auth/token", basicAuth(DemoKeyID, DemoKeySecret)))
}

func TestConfiguredKeyStates(t *testing.T) {
	const (
		bearerID  = "00000000-0000-4000-8000-000000000002"
		revokedID = "00000000-0000-4000-8000-000000000003"
		secret    = "abcdefabcdefabcdefabcdefabcdefabcdefabcd"
	)
	h := newHarness(t, func(c *Config) {
		c.Keys = append(c.Keys,
			Key{ID: bearerID, Secret: secret, Mode: ModeBearer, Token: "pre-issued", TokenExpiresAt: t0.Add(time.Hour)},
			Key{ID: revokedID, Secret: secret, Mode: ModeRevoked},
		)
	})
	wantUnauthorized(t, h.withAuth("GET", "/ping", basicAuth(bearerID, secret)))
	h.withAuth("GET", "/ping", "Bearer pre-issued").want(t, 200)
	wantUnauthorized(t, h.withAuth("GET", "/ping", basicAuth(revokedID, secret)))
	h.withAuth("GET", "/ping", basicAuth(DemoKeyID, DemoKeySecret)).want(t, 200)
	h.sim.SetNow(t0.Add(time.Hour))
	wantUnauthorized(t, h.withAuth("GET", "/ping", "Bearer pre-issued"))
}

func TestIPAllowList(t *testing.T) {
	const otherID = "00000000-0000-4000-8000-000000000002"
	h := newHarness(t, func(c *Config) {
		c.Keys[0].AllowIPs = []string{"10.0.0.0/8", "192.0.2.7"}
		c.Keys = append(c.Keys, Key{ID: otherID, Secret: DemoKeySecret, AllowIPs: []string{"127.0.0.1"}})
	})
	res := h.withAuth("GET", "/ping", basicAuth(DemoKeyID, DemoKeySecret)).want(t, 403)
	if want := `{"errors":[{"status":"403","title":"Forbidden","detail":"IP address not allowed"}]}`; string(res.body) != want {
		t.Errorf("403 body %s, want %s", res.body, want)
	}
	// Wrong credentials are still a 401, whatever the address.
	wantUnauthorized(t, h.withAuth("GET", "/ping", basicAuth(DemoKeyID, "nope")))
	h.withAuth("GET", "/ping", basicAuth(otherID, DemoKeySecret)).want(t, 200)
}

func TestNewRejectsBadKeys(t *testing.T) {
	for name, keys := range map[string][]Key{
		"none":             nil,
		"bad id":           {{ID: "has space", Secret: "abc"}},
		"bad secret":       {{ID: "abc", Secret: "a:b"}},
		"empty secret":     {{ID: "abc"}},
		"bearer, no token": {{ID: "abc", Secret: "abc", Mode: ModeBearer}},
		"unknown mode":     {{ID: "abc", Secret: "abc", Mode: "token"}},
		"duplicate":        {{ID: "abc", Secret: "abc"}, {ID: "abc", Secret: "def"}},
		"bad allow-list":   {{ID: "abc", Secret: "abc", AllowIPs: []string{"10.0.0.300"}}},
	} {
		if _, err := New(Config{Keys: keys}); err == nil {
			t.Errorf("%s: New accepted %+v", name, keys)
		}
	}
}

// DropResponses: a refresh that takes effect but whose answer is lost leaves the client with a
// dead token and no new one, the way a real network can.
func TestDroppedRefreshAnswer(t *testing.T) {
	h := newHarness(t, nil)
	first := h.withAuth("POST", "/auth/token", basicAuth(DemoKeyID, DemoKeySecret)).want(t, 201).token(t)
	bearer1 := "Bearer " + first.Data.Attributes.Token
	h.sim.DropResponses("POST /auth/token/refresh", 1)

	req, err := http.NewRequest("POST", h.url+"/v1/auth/token/refresh", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", bearer1)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("dropped refresh answered %d", resp.StatusCode)
	}
	// The refresh happened: the old token is dead, and nothing brings Basic back.
	wantUnauthorized(t, h.withAuth("GET", "/ping", bearer1))
	wantUnauthorized(t, h.withAuth("POST", "/auth/token", basicAuth(DemoKeyID, DemoKeySecret)))
	if got := h.sim.FaultCounts()[FaultCommitDrop]; got != 1 {
		t.Errorf("FaultCounts[%q] = %d, want 1", FaultCommitDrop, got)
	}
	if got := h.sim.StatusCounts()["POST /auth/token/refresh"][200]; got != 1 {
		t.Errorf("the dropped refresh is not counted as the 200 it was: %v", h.sim.StatusCounts())
	}
	// Only the next answer is dropped; failures are not.
	h.sim.DropResponses("POST /auth/token/refresh", 1)
	wantUnauthorized(t, h.withAuth("POST", "/auth/token/refresh", bearer1))
	h.sim.DropResponses("POST /auth/token/refresh", 0)

	defer func() {
		if recover() == nil {
			t.Error("DropResponses accepted an endpoint the simulator does not serve")
		}
	}()
	h.sim.DropResponses("GET /auth/token", 1)
}

// A key configured in bearer mode with no expiry gets the contract's 24 hours from start.
func TestPreIssuedTokenLasts24Hours(t *testing.T) {
	const id = "00000000-0000-4000-8000-000000000002"
	h := newHarness(t, func(c *Config) {
		c.Keys = append(c.Keys, Key{ID: id, Secret: DemoKeySecret, Mode: ModeBearer, Token: "pre-issued"})
	})
	h.sim.SetNow(t0.Add(24*time.Hour - time.Second))
	h.withAuth("GET", "/ping", "Bearer pre-issued").want(t, 200)
	h.sim.SetNow(t0.Add(24 * time.Hour))
	wantUnauthorized(t, h.withAuth("GET", "/ping", "Bearer pre-issued"))
}
