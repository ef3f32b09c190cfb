package config

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sethvargo/go-envconfig"
)

var defaultServe = Serve{
	Listen: "127.0.0.1:9380", Interval: 15 * time.Minute, DeltaInterval: time.Minute,
	Debounce: 2 * time.Second, Mode: ServeModePlan, LeaseTTL: 10 * time.Second,
}

func TestServeEnv(t *testing.T) {
	e, err := LoadEnv(context.Background(), envconfig.MapLookuper(map[string]string{
		"ROSTERSYNC_LISTEN":         "[::1]:9000",
		"ROSTERSYNC_SCIM_LISTEN":    ":8443",
		"ROSTERSYNC_TLS_CERT_FILE":  "/etc/rostersync/tls.crt",
		"ROSTERSYNC_TLS_KEY_FILE":   "/etc/rostersync/tls.key",
		"ROSTERSYNC_INTERVAL":       "1h",
		"ROSTERSYNC_DELTA_INTERVAL": "0",
		"ROSTERSYNC_DEBOUNCE":       "500ms",
		"ROSTERSYNC_SERVE_MODE":     "apply",
		"ROSTERSYNC_READY_AFTER":    "2h",
		"ROSTERSYNC_LEASE_TTL":      "30s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Serve{
		Listen: "[::1]:9000", SCIMListen: ":8443",
		TLSCertFile: "/etc/rostersync/tls.crt", TLSKeyFile: "/etc/rostersync/tls.key",
		Interval: time.Hour, Debounce: 500 * time.Millisecond, Mode: ServeModeApply, ReadyAfter: 2 * time.Hour,
		LeaseTTL: 30 * time.Second,
	}
	if diff := cmp.Diff(want, e.Serve); diff != "" {
		t.Errorf("Serve (-want +got):\n%s", diff)
	}
	if errs := e.Serve.validate(); len(errs) != 0 {
		t.Errorf("validate: %v", errs)
	}
	if got := e.Serve.ReadyMaxAge(); got != 2*time.Hour {
		t.Errorf("ReadyMaxAge = %v", got)
	}
	if got := defaultServe.ReadyMaxAge(); got != 45*time.Minute {
		t.Errorf("default ReadyMaxAge = %v, want three intervals", got)
	}
}

func TestServeValidateReportsEverything(t *testing.T) {
	s := Serve{
		Listen: "localhost", SCIMListen: "example.com:443", TLSCertFile: "/c",
		Interval: 0, DeltaInterval: -1, Debounce: -1, Mode: "yolo", ReadyAfter: -1, LeaseTTL: time.Second,
	}
	var got []string
	for _, err := range s.validate() {
		got = append(got, err.Error())
	}
	joined := strings.Join(got, "\n")
	for _, want := range []string{"LISTEN:", "SCIM_LISTEN:", "TLS_CERT_FILE:", "INTERVAL:", "DELTA_INTERVAL:", "DEBOUNCE:", "SERVE_MODE:", "READY_AFTER:", "LEASE_TTL:"} {
		if !strings.Contains(joined, "ROSTERSYNC_"+want) {
			t.Errorf("no problem reported for %s in:\n%s", want, joined)
		}
	}
	if len(got) != 9 {
		t.Errorf("%d problems, want 9:\n%s", len(got), joined)
	}
}

// envNames lists every variable Env reads, from its struct tags.
func envNames(t reflect.Type, prefix string) []string {
	var out []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("env")
		name, opts, _ := strings.Cut(tag, ",")
		name = strings.TrimSpace(name)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() && name == "" {
			sub := prefix
			for _, o := range strings.Split(opts, ",") {
				if p, ok := strings.CutPrefix(strings.TrimSpace(o), "prefix="); ok {
					sub += p
				}
			}
			out = append(out, envNames(f.Type, sub)...)
			continue
		}
		if name != "" {
			out = append(out, prefix+name)
		}
	}
	return out
}

// TestEnvExampleListsEveryVariable walks Env's tags, so a variable added
// anywhere in Env must be documented in systemd/rostersync.env.example.
func TestEnvExampleListsEveryVariable(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "systemd", "rostersync.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	names := envNames(reflect.TypeFor[Env](), EnvPrefix)
	if len(names) < 15 {
		t.Fatalf("found only %d variables in Env: the walk is broken: %v", len(names), names)
	}
	for _, n := range names {
		if !strings.Contains(string(data), "\n#"+n+"=") && !strings.Contains(string(data), "\n"+n+"=") {
			t.Errorf("systemd/rostersync.env.example does not list %s", n)
		}
	}
}
