package evaluagent

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string // fragments of the error
	}{
		{"nothing", Config{}, []string{"Region is empty", "KeyID is empty", "KeySecret is empty"}},
		{"bad region", Config{Region: "mars", KeyID: "k", KeySecret: "s"}, []string{`Region "mars" is unknown: use eu, us-east or aus`}},
		{"bad base", Config{BaseURL: "api.evaluagent.com/v1", KeyID: "k", KeySecret: "s"}, []string{"BaseURL", "absolute"}},
		{"base with query", Config{BaseURL: "https://h/v1?x=1", KeyID: "k", KeySecret: "s"}, []string{"remove the query"}},
		{"key with space", Config{Region: "eu", KeyID: "abc def", KeySecret: "s\n"}, []string{"KeyID has characters", "KeySecret has characters"}},
		{"negatives", Config{Region: "eu", KeyID: "k", KeySecret: "s", MaxWait: -1, RatePerMinute: -1, Timeout: -1, MaxPages: -1},
			[]string{"MaxWait", "RatePerMinute", "Timeout", "MaxPages"}},
		{"route without id", Config{Region: "eu", KeyID: "k", KeySecret: "s", Routes: Routes{UpdateUser: Route{Path: "/org/users"}}},
			[]string{"Routes.UpdateUser.Path", "{id}"}},
		{"route with bad method", Config{Region: "eu", KeyID: "k", KeySecret: "s", Routes: Routes{Ping: Route{Method: "FETCH"}}},
			[]string{"Routes.Ping.Method"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.cfg)
			if err == nil {
				t.Fatalf("New succeeded: %+v", c)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	c, err := New(Config{Region: "us-east", KeyID: testKeyID, KeySecret: testKeySecret})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.BaseURL(); got != "https://api.us-east.evaluagent.com/v1" {
		t.Errorf("BaseURL = %q", got)
	}
	if c.cfg.AgentLevel != "Team" || c.cfg.AgentRole != "agent" || c.cfg.MaxWait != 5*time.Minute ||
		c.cfg.RatePerMinute != 100 || c.cfg.MaxPages != 1000 || c.cfg.Timeout <= 0 || c.Name() != "evaluagent" {
		t.Errorf("defaults not applied: %+v", c.cfg)
	}
	if diff := cmp.Diff(DefaultRoutes(), c.Routes()); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}

	// BaseURL wins over Region; a trailing slash is dropped.
	c, err = New(Config{Region: "eu", BaseURL: "http://127.0.0.1:8080/v1/", KeyID: testKeyID, KeySecret: testKeySecret})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.BaseURL(); got != "http://127.0.0.1:8080/v1" {
		t.Errorf("BaseURL = %q", got)
	}
}

func TestRouteOverrideKeepsOtherDefaults(t *testing.T) {
	r := Routes{UpdateUser: Route{Method: "PUT"}, ListQueues: Route{Path: "/quality/wqts"}}.withDefaults()
	want := DefaultRoutes()
	want.UpdateUser.Method = "PUT"
	want.ListQueues.Path = "/quality/wqts"
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	if got := r.UpdateUser.Endpoint(); got != "PUT /org/users/{id}" {
		t.Errorf("Endpoint = %q", got)
	}
}

func TestDefaultRoutesNeverTouchTokens(t *testing.T) {
	for _, ep := range DefaultRoutes().Endpoints() {
		if strings.Contains(ep, "/auth") {
			t.Errorf("route %q reaches the token endpoints", ep)
		}
	}
}
