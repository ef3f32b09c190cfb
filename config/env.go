// Package config loads rostersync's configuration: the environment (every
// variable prefixed ROSTERSYNC_), the mapping file (YAML, unknown keys are
// errors) and secrets, which are only ever read from files.
//
// Nothing here talks to the network or starts a reconcile pass. Loading
// decodes; Validate checks and reports every problem at once, each naming
// the variable or key (and, for the file, the line) it concerns.
//
// Each source and target package owns its configuration block (its keys,
// its Validate, its path resolution, its environment fallback); the file
// places the blocks and keeps the checks that cross them. Opening a source
// or a target is the registry's job, in cmd/rostersync/registry.go.
package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
)

// EnvPrefix prefixes every environment variable rostersync reads.
const EnvPrefix = "ROSTERSYNC_"

// CredentialName is the systemd credential (LoadCredential=) that holds the
// Evaluagent key secret when ROSTERSYNC_EVALUAGENT_KEY_SECRET_FILE is unset.
const CredentialName = evaluagent.CredentialName

// Modes say which operations a pass may apply.
const (
	ModeSync       = string(reconcile.ModeSync)       // create, update and deactivate
	ModeUpsertOnly = string(reconcile.ModeUpsertOnly) // create and update, never deactivate
	ModeCreateOnly = string(reconcile.ModeCreateOnly) // only create
)

// Log formats.
const (
	LogFormatAuto = "auto" // text on a terminal, plain text under systemd
	LogFormatText = "text"
	LogFormatJSON = "json"
)

// Env is the configuration read from the environment. The names below are
// given without the ROSTERSYNC_ prefix.
type Env struct {
	// Mapping is the path of the YAML configuration file.
	Mapping string `env:"MAPPING, default=/etc/rostersync/mapping.yaml"`
	// StateDir holds the ledger, journal and run history. Default: the first
	// directory in $STATE_DIRECTORY (systemd StateDirectory=), else
	// $XDG_STATE_HOME/rostersync, else ~/.local/state/rostersync.
	StateDir string `env:"STATE_DIR"`
	// StateURL, when set, keeps the state in PostgreSQL instead of SQLite
	// in StateDir: postgres://user@host:5432/db?sslmode=verify-full. The
	// password belongs in StatePasswordFile, not in the URL.
	StateURL string `env:"STATE_URL"`
	// StatePasswordFile holds PostgreSQL's password. Default: the systemd
	// credential StatePasswordCredential, when ROSTERSYNC_STATE_URL is set
	// and the credential exists.
	StatePasswordFile string `env:"STATE_PASSWORD_FILE"`
	// LogLevel is debug, info, warn or error (slog syntax, as "debug-2").
	LogLevel string `env:"LOG_LEVEL, default=info"`
	// LogFormat is auto, text or json.
	LogFormat string `env:"LOG_FORMAT, default=auto"`

	Safety

	Evaluagent Evaluagent `env:", prefix=EVALUAGENT_"`

	// Serve configures "rostersync serve" (see serve.go).
	Serve Serve

	// Notify configures the daemon's webhooks (see notify.go).
	Notify Notify

	// secretInEnv records that someone tried to pass the key secret in the
	// environment, which Validate refuses; agentIQKeyInEnv the same for the
	// Agent IQ API key.
	secretInEnv     bool
	agentIQKeyInEnv bool
	// credentialsDir is $CREDENTIALS_DIRECTORY (systemd LoadCredential=).
	credentialsDir string
}

// Credential returns the path of the named systemd credential, or "" when
// not running with a credentials directory.
func (e *Env) Credential(name string) string {
	if e.credentialsDir == "" {
		return ""
	}
	return filepath.Join(e.credentialsDir, name)
}

// Safety holds the limits that keep a pass from losing people by accident.
// Names are without the ROSTERSYNC_ prefix.
type Safety struct {
	// MaxDrop is the largest fraction by which a source's record count may
	// fall below its last healthy count before the read is treated as
	// unhealthy (no deactivations, no removals). 0 allows no drop; 1
	// disables the check.
	MaxDrop float64 `env:"MAX_DROP, default=0.2"`
	// AbsentPasses is how many consecutive healthy passes a person must be
	// missing from every source before being deactivated.
	AbsentPasses int `env:"ABSENT_PASSES, default=2"`
	// AbsentFor, when above zero, is also how long they must have been
	// missing.
	AbsentFor time.Duration `env:"ABSENT_FOR, default=0s"`
	// HoldDeactivationsOver holds every deactivation and removal of a plan
	// for approval when there are more than this many; -1 disables.
	HoldDeactivationsOver int `env:"HOLD_DEACTIVATIONS_OVER, default=10"`
	// HoldDeactivationsPercent does the same above this percentage of the
	// active users rostersync owns; -1 disables.
	HoldDeactivationsPercent float64 `env:"HOLD_DEACTIVATIONS_PERCENT, default=5"`
	// HoldDeactivationsPercentFloor is how many removals the percentage
	// limit always lets through: it holds a plan only when its removals are
	// over the percentage and over this count, so small organisations are
	// not stopped by every leaver while large ones keep both limits.
	HoldDeactivationsPercentFloor int `env:"HOLD_DEACTIVATIONS_PERCENT_FLOOR, default=2"`
}

// Evaluagent configures the Evaluagent target from the environment; the
// settings and their checks are the Evaluagent package's own.
type Evaluagent = evaluagent.Settings

// Auth modes of an Evaluagent key.
const (
	AuthBasic  = evaluagent.AuthBasic
	AuthBearer = evaluagent.AuthBearer
)

// LoadEnv reads the environment through lookuper (envconfig.OsLookuper() in
// production, envconfig.MapLookuper in tests). It fills defaults; Validate
// checks the values.
// On a value that does not parse, LoadEnv returns the error naming every
// such variable together with the Env of everything else.
func LoadEnv(ctx context.Context, lookuper envconfig.Lookuper) (*Env, error) {
	if lookuper == nil {
		lookuper = envconfig.OsLookuper()
	}
	// envconfig stops at the first value it cannot parse and names the Go
	// field. Every variable is parsed here first, each problem named by
	// its variable; the values refused are left to their defaults so that
	// the remaining checks can run and everything is reported at once.
	parseErrs, refused := checkEnvSyntax(lookuper)
	if len(refused) > 0 {
		inner := lookuper
		lookuper = envconfig.LookuperFunc(func(key string) (string, bool) {
			if refused[key] {
				return "", false
			}
			return inner.Lookup(key)
		})
	}
	var e Env
	err := envconfig.ProcessWith(ctx, &envconfig.Config{
		Target:   &e,
		Lookuper: envconfig.PrefixLookuper(EnvPrefix, lookuper),
	})
	if err != nil {
		return nil, fmt.Errorf("environment: %w", errors.Join(append(parseErrs, err)...))
	}
	if e.StateDir == "" {
		e.StateDir = defaultStateDir(lookuper)
	}
	if cd, ok := lookuper.Lookup("CREDENTIALS_DIRECTORY"); ok {
		e.credentialsDir = cd
	}
	if e.Evaluagent.KeySecretFile == "" {
		e.Evaluagent.KeySecretFile = e.Credential(CredentialName)
	}
	if e.StatePasswordFile == "" && e.StateURL != "" {
		if p := e.Credential(StatePasswordCredential); p != "" {
			if _, err := os.Stat(p); err == nil {
				e.StatePasswordFile = p
			}
		}
	}
	_, e.secretInEnv = lookuper.Lookup(EnvPrefix + "EVALUAGENT_KEY_SECRET")
	_, e.agentIQKeyInEnv = lookuper.Lookup(EnvPrefix + "AGENTIQ_API_KEY")
	if len(parseErrs) > 0 {
		// The Env still comes back, every refused value at its default, so
		// that the caller can check the configuration file in the same run.
		errs := append(parseErrs, unjoin(e.ValidateCommon())...)
		return &e, fmt.Errorf("environment:\n%w", errors.Join(errs...))
	}
	return &e, nil
}

// envVar is one variable of Env: its full name and Go kind.
type envVar struct {
	name string
	typ  reflect.Type
}

// envVars lists the variables of Env from its env tags.
func envVars() []envVar {
	var out []envVar
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("env")
			name, opts, _ := strings.Cut(tag, ",")
			name = strings.TrimSpace(name)
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
				sub := prefix
				for _, o := range strings.Split(opts, ",") {
					if p, ok := strings.CutPrefix(strings.TrimSpace(o), "prefix="); ok {
						sub += p
					}
				}
				walk(f.Type, sub)
				continue
			}
			if name != "" {
				out = append(out, envVar{name: EnvPrefix + prefix + name, typ: f.Type})
			}
		}
	}
	walk(reflect.TypeFor[Env](), "")
	return out
}

// checkEnvSyntax parses every variable that is set according to its kind
// and returns a problem for each that does not parse, named by the
// variable, with the set of those refused.
func checkEnvSyntax(l envconfig.Lookuper) ([]error, map[string]bool) {
	var errs []error
	refused := map[string]bool{}
	for _, v := range envVars() {
		val, ok := l.Lookup(v.name)
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		var want string
		switch {
		case v.typ == reflect.TypeFor[time.Duration]():
			if _, err := time.ParseDuration(val); err != nil {
				want = "a duration such as 90s, 15m or 24h"
			}
		case v.typ.Kind() == reflect.Float64:
			if _, err := strconv.ParseFloat(val, 64); err != nil {
				want = "a number"
			}
		case v.typ.Kind() == reflect.Int:
			if _, err := strconv.ParseInt(val, 10, 0); err != nil {
				want = "a whole number"
			}
		case v.typ.Kind() == reflect.Bool:
			if _, err := strconv.ParseBool(val); err != nil {
				want = "true or false"
			}
		}
		if want != "" {
			errs = append(errs, fmt.Errorf("%s: %q is not %s", v.name, val, want))
			refused[v.name] = true
		}
	}
	return errs, refused
}

// finite reports whether f is a number (not NaN, not an infinity).
func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// maxAbsentPasses bounds ROSTERSYNC_ABSENT_PASSES: beyond it a leaver
// would in practice never be deactivated.
const maxAbsentPasses = 1000

// Validate reports every problem with the environment at once, the
// Evaluagent variables included: the configuration without a targets: list.
func (e *Env) Validate() error {
	return errors.Join(e.ValidateCommon(), e.Evaluagent.Validate(e.secretInEnv))
}

// ValidateCommon reports the problems with the variables every
// configuration uses; the Evaluagent ones are checked only for an
// Evaluagent target (Evaluagent.Validate).
func (e *Env) ValidateCommon() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", EnvPrefix, name, fmt.Sprintf(format, args...)))
	}
	if strings.TrimSpace(e.Mapping) == "" {
		bad("MAPPING", "required: the path of the mapping file")
	}
	if strings.TrimSpace(e.StateDir) == "" {
		bad("STATE_DIR", "is blank")
	}
	errs = append(errs, e.validateStateURL()...)
	if _, err := e.Level(); err != nil {
		bad("LOG_LEVEL", "%q is not a level (debug, info, warn, error)", e.LogLevel)
	}
	switch e.LogFormat {
	case LogFormatAuto, LogFormatText, LogFormatJSON:
	default:
		bad("LOG_FORMAT", "%q is not one of auto, text, json", e.LogFormat)
	}
	if !finite(e.MaxDrop) || e.MaxDrop < 0 || e.MaxDrop > 1 {
		bad("MAX_DROP", "%v: give a fraction from 0 to 1, such as 0.2 (1 disables the check)", e.MaxDrop)
	}
	if e.AbsentPasses < 1 || e.AbsentPasses > maxAbsentPasses {
		bad("ABSENT_PASSES", "%d: must be from 1 to %d", e.AbsentPasses, maxAbsentPasses)
	}
	if e.AbsentFor < 0 {
		bad("ABSENT_FOR", "%s is negative", e.AbsentFor)
	}
	if e.HoldDeactivationsOver < -1 {
		bad("HOLD_DEACTIVATIONS_OVER", "%d: give a count, or -1 to disable", e.HoldDeactivationsOver)
	}
	if p := e.HoldDeactivationsPercent; p != -1 && (!finite(p) || p < 0 || p > 100) {
		bad("HOLD_DEACTIVATIONS_PERCENT", "%v: give a percentage from 0 to 100, or -1 to disable", p)
	}
	if e.HoldDeactivationsPercentFloor < 0 {
		bad("HOLD_DEACTIVATIONS_PERCENT_FLOOR", "%d: give a count of removals, 0 or more", e.HoldDeactivationsPercentFloor)
	}
	if e.agentIQKeyInEnv {
		bad("AGENTIQ_API_KEY", "secrets are not read from the environment; put the Agent IQ API key in a file and name it with api_key_file in the configuration file")
	}
	errs = append(errs, e.Serve.validate()...)
	return errors.Join(errs...)
}

// SecretInEnv reports whether the Evaluagent key secret was offered in the
// environment, which Evaluagent.Validate refuses.
func (e *Env) SecretInEnv() bool { return e.secretInEnv }

// Level parses LogLevel.
func (e *Env) Level() (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(e.LogLevel))
	return l, err
}

// defaultStateDir is the first directory of $STATE_DIRECTORY (systemd's
// StateDirectory=), else $XDG_STATE_HOME/rostersync, else
// ~/.local/state/rostersync, else ./rostersync-state.
func defaultStateDir(l envconfig.Lookuper) string {
	if sd, ok := l.Lookup("STATE_DIRECTORY"); ok {
		if first, _, _ := strings.Cut(sd, ":"); first != "" {
			return first
		}
	}
	if x, ok := l.Lookup("XDG_STATE_HOME"); ok && filepath.IsAbs(x) {
		return filepath.Join(x, "rostersync")
	}
	if h, ok := l.Lookup("HOME"); ok && filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "state", "rostersync")
	}
	return "rostersync-state"
}
