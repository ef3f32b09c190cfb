package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/rostersync/rostersync/config"
	"github.com/rostersync/rostersync/reconcile"
	"github.com/rostersync/rostersync/reconcile/agentiq"
	"github.com/rostersync/rostersync/reconcile/evaluagent"
	"github.com/rostersync/rostersync/reconcile/flex"
	"github.com/rostersync/rostersync/reconcile/voki"
	"github.com/rostersync/rostersync/sources"
	"github.com/rostersync/rostersync/sources/csv"
	"github.com/rostersync/rostersync/sources/ldap"
	"github.com/rostersync/rostersync/sources/merge"
	"github.com/rostersync/rostersync/sources/scim"
)

// This file is the one registry of source and target kinds: every command
// (plan, apply, check, explain, serve, simulator, demo) opens sources and
// targets through it, and nothing else branches on a kind.
//
// Adding a kind touches its own package (its configuration block with
// Validate and ResolvePaths, its constructor, for a target its
// Capabilities, its simulator and a test running reconcile/targettest), its
// block's field in package config (a field of config.SourceConfig or
// config.TargetConfig and its line in that type's blocks), and one entry
// here: how to open it and, for a target, how to serve its simulator and
// what "rostersync simulator -h" says of it. A target's wiring (from its
// block over the environment to a client and a policy; its simulator) sits
// in a file of its own, kind_<name>.go, as kind_evaluagent.go,
// kind_agentiq.go and kind_voki.go do. TestRegistryMatchesTheConfigurationBlocks
// fails when the two sides name different kinds.
// What a kind can do beyond the common contract it offers as the small
// optional interfaces below, which the commands look for; no command asks
// which kind it holds.

// sourceKinds: source type → how to open a configured source. open does no
// I/O.
var sourceKinds = map[string]sourceKind{
	config.TypeCSV: {open: func(f *config.File, i int, _ sourceOptions) (sources.Source, error) {
		cfg, err := f.CSV(i)
		if err != nil {
			return nil, err
		}
		return csv.New(f.Sources[i].Name, cfg)
	}},
	config.TypeLDAP: {open: func(f *config.File, i int, o sourceOptions) (sources.Source, error) {
		opts := []ldap.Option{ldap.WithLogger(o.log), ldap.WithCredentialsDir(o.credentialsDir)}
		if o.cursors != nil {
			opts = append(opts, ldap.WithCursorStore(o.cursors))
		}
		src, err := ldap.New(f.Sources[i].Name, f.LDAP(i), opts...)
		if err != nil {
			return nil, fmt.Errorf("sources[%d] (%s): %w", i, f.Sources[i].Name, err)
		}
		return src, nil
	}},
	config.TypeSCIM: {open: func(f *config.File, i int, o sourceOptions) (sources.Source, error) {
		if o.scimStore == nil {
			return nil, fmt.Errorf("sources[%d] (%s): no SCIM store can be opened", i, f.Sources[i].Name)
		}
		store, err := o.scimStore()
		if err != nil {
			return nil, err
		}
		return scim.NewSource(f.Sources[i].Name, store), nil
	}},
}

// targetKinds: target type → how to make a configured target's client and
// policy (over the environment where the kind falls back to it), and its
// simulator.
var targetKinds = map[string]targetKind{
	config.TargetEvaluagent: {
		open: (*target).evaluagent,
		sim: simulatorKind{
			listen: "127.0.0.1:8380",
			serve:  serveEvaluagentSim,
			about:  "validation, domain rules, Basic auth, 100 requests/minute\nper endpoint with 429 and Retry-After. Point\nROSTERSYNC_EVALUAGENT_BASE_URL at the printed base URL.",
			seed:   "a seed object",
		},
	},
	config.TargetAgentIQ: {
		open: (*target).agentIQ,
		sim: simulatorKind{
			listen: "127.0.0.1:8381",
			serve:  serveAgentIQSim,
			about:  "the agents export, listing and CSV import with row\nvalidation, x-api-key auth. Use the printed base URL as\nan agentiq target's base_url, and the key in its key file.",
			seed:   "an array of agents as the export shows them",
		},
	},
	config.TargetFlex: {
		open: (*target).flex,
		sim: simulatorKind{
			listen: "127.0.0.1:8382",
			serve:  serveFlexSim,
			about:  "Twilio Flex: discovery, the Flex Users API (paged lists,\nProvision, Deprovision, 10 requests/second with 429\n20429 and Retry-After), TaskRouter Workers (ETag,\nIf-Match refused with 412, the 4,096-byte attribute\nlimit) and Flex Teams, Basic auth. Use the printed URL as\na flex target's flex_url and taskrouter_url.",
			seed:   `{"users":[{"username","email","full_name","roles","attributes"}]}`,
		},
	},
	config.TargetVoki: {
		open: (*target).voki,
		sim: simulatorKind{
			listen: "127.0.0.1:8383",
			serve:  serveVokiSim,
			about:  "login and refresh with expiring tokens, X-Tenant, 5 logins\na minute, users, departments and members, customer\nratings. Use the printed base URL, tenant and service\nemail in a voki target, and the password in its file.",
		},
	},
}

type sourceKind struct {
	open func(f *config.File, i int, o sourceOptions) (sources.Source, error)
}

// sourceOptions are what sources need from the process beyond their
// block.
type sourceOptions struct {
	log *slog.Logger
	// cursors keep delta cursors (LDAP content sync cookies, USNs).
	cursors ldap.CursorStore
	// scimStore opens (once) the store of what identity providers pushed;
	// a scim source reads it.
	scimStore func() (*scim.Store, error)
	// credentialsDir is $CREDENTIALS_DIRECTORY, where relative secret
	// files are read from.
	credentialsDir string
}

type targetKind struct {
	// open sets t's client and policy from its block (over the environment
	// where the kind falls back to it). No network I/O.
	open func(t *target, o targetOptions) error
	sim  simulatorKind
}

// targetOptions are what a target's open needs beyond its block.
type targetOptions struct {
	env         *config.Env
	tc          config.TargetConfig
	fromEnvOnly bool
	log         *slog.Logger
	hooks       appHooks
}

// simulatorKind is a target kind's simulator, for "rostersync simulator".
type simulatorKind struct {
	listen string // the default address
	serve  func(ctx context.Context, c *cli, o simOptions) error
	// about is the simulator's line in "rostersync simulator -h" (lines
	// broken with \n); seed says what its -seed file holds.
	about, seed string
}

// simOptions are the simulator command's flags.
type simOptions struct {
	listen, seed, faults string
	perMinute, perDay    int
	log                  *slog.Logger
}

// openSources opens every configured source through sourceKinds, reporting
// every problem at once. It does no I/O.
func openSources(f *config.File, o sourceOptions) ([]sources.Source, error) {
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	var out []sources.Source
	var errs []error
	for i, s := range f.Sources {
		kind, ok := sourceKinds[s.Type]
		if !ok {
			errs = append(errs, fmt.Errorf("sources[%d].type: unknown type %q (known: %s)", i, s.Type, kindNames(sourceKinds)))
			continue
		}
		src, err := kind.open(f, i, o) // errors name the source
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, src)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if f.Merge == nil {
		return out, nil
	}
	// merge: makes one source of them all.
	m, err := merge.New(config.MergedSourceName, *f.Merge, out)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path(), err)
	}
	return []sources.Source{m}, nil
}

// kindNames lists a registry's kinds, sorted, for messages.
func kindNames[K any](m map[string]K) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// Optional behaviours: small interfaces a source or a target client may
// implement, looked for by the commands that use them.
type (
	// pinger is a platform client that can prove its credentials cheaply
	// (check).
	pinger interface {
		Ping(ctx context.Context) error
		BaseURL() string
	}
	// budgeted is a platform client whose requests count against a daily
	// per-endpoint budget: it maps a plan's request names to endpoints
	// (the apply's budget check).
	budgeted interface {
		RequestEndpoints() map[string]string
	}
	// vocabularyLister is a platform client that can list the level and
	// role names a mapping may name (check).
	vocabularyLister interface {
		Vocabulary(ctx context.Context) (levels, roles []string, err error)
	}
	// desiredShaper is a platform client that derives platform-specific
	// desired values (Flex's team and hierarchy attributes) from the mapped
	// desired state before Diff (plan).
	desiredShaper interface {
		ShapeDesired(desired *reconcile.Snapshot) *reconcile.Snapshot
	}
	// auditor is a platform client that reports, read-only, what the plan
	// cannot fix (Flex users no source knows, orphan workers, Insights
	// roles that differ from the directory's); its lines become plan notes.
	auditor interface {
		Audit(desired, current *reconcile.Snapshot, plan *reconcile.Plan) []string
	}
	// roleNamer reports the role names the last listing found (plan).
	roleNamer interface {
		RoleNames() []string
	}
	// changeStamper is a source that can tell cheaply, without a read,
	// whether it may have changed (the daemon's delta passes).
	changeStamper interface {
		ChangeStamp() string
	}
	// protector is a platform client that knows users it must never touch
	// (its own service user, privileged roles not allow-listed), beyond
	// the mapping's exclusions (plan).
	protector interface {
		Protects(u reconcile.User) bool
	}
	// checker is a source that can test its connection more cheaply than
	// a full read (an LDAP bind) (check).
	checker interface {
		Check(ctx context.Context) error
	}
)

// The kinds' optional behaviours, checked at compile time.
var (
	_ changeStamper    = (*csv.Source)(nil)
	_ pinger           = (*evaluagent.Client)(nil)
	_ budgeted         = (*evaluagent.Client)(nil)
	_ vocabularyLister = (*evaluagent.Client)(nil)
	_ roleNamer        = (*evaluagent.Client)(nil)
	_ pinger           = (*agentiq.Client)(nil)
	_ desiredShaper    = (*flex.Client)(nil)
	_ auditor          = (*flex.Client)(nil)
	_ pinger           = (*flex.Client)(nil)
	_ pinger           = (*voki.Client)(nil)
	_ protector        = (*voki.Client)(nil)
	_ roleNamer        = (*voki.Client)(nil)
)
