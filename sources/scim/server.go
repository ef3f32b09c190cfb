package scim

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"

	"github.com/elimity-com/scim"
	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"

	"github.com/rostersync/rostersync/config/safefile"
)

// Option configures NewServer.
type Option func(*options)

type options struct {
	log      *slog.Logger
	onChange func()
	tokens   []token
	docsURI  string
}

// WithLogger sets the logger (default slog.Default()). Tokens, passwords and
// request bodies are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithOnChange sets a function called after every write that changed the
// store (create, replace, patch, delete). It is called synchronously and
// must not block; the daemon debounces reconcile passes on it.
func WithOnChange(f func()) Option {
	return func(o *options) { o.onChange = f }
}

// WithTokens sets the accepted bearer tokens, by connection name, instead of
// reading Config.TokensFile.
func WithTokens(tokens map[string]string) Option {
	return func(o *options) {
		o.tokens = []token{}
		for name, t := range tokens {
			o.tokens = append(o.tokens, token{name: name, digest: sha256Sum(t)})
		}
	}
}

// WithDocumentationURI sets documentationUri in /ServiceProviderConfig.
func WithDocumentationURI(uri string) Option {
	return func(o *options) { o.docsURI = uri }
}

type server struct {
	cfg    Config
	tokens []token
	log    *slog.Logger
}

var allowStrings sync.Once

// NewServer returns the SCIM 2.0 API as an http.Handler serving paths under
// /scim/v2/ (mount it at "/scim/v2/" or at "/"). It reads Config.TokensFile
// unless WithTokens is given.
func NewServer(cfg Config, store *Store, opts ...Option) (http.Handler, error) {
	if store == nil {
		return nil, errors.New("scim: no store")
	}
	o := options{log: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	cfg = cfg.withDefaults()
	if o.tokens == nil {
		toks, err := loadTokens(cfg.TokensFile)
		if err != nil {
			return nil, err
		}
		if fi, err := os.Stat(cfg.TokensFile); err == nil && safefile.LooseMode(fi) {
			o.log.Warn("secret file is readable by group or others; make it readable by its owner only (chmod 600)",
				"file", cfg.TokensFile, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
		}
		o.tokens = toks
	}
	if len(o.tokens) == 0 {
		return nil, errors.New("scim: no bearer token configured")
	}
	// G3: Entra and OneLogin send "active": "False". The setting is
	// process-global in the library.
	allowStrings.Do(func() { schema.SetAllowStringValues(true) })

	log := o.log
	users := &handler{rtype: typeUser, attrs: userAttrs, store: store, log: log, onChange: o.onChange}
	groups := &handler{rtype: typeGroup, attrs: groupAttrs, store: store, log: log, onChange: o.onChange}
	lib, err := scim.NewServer(&scim.ServerArgs{
		ServiceProviderConfig: &scim.ServiceProviderConfig{
			DocumentationURI: optional.NewString(o.docsURI),
			AuthenticationSchemes: []scim.AuthenticationScheme{{
				Type:        scim.AuthenticationTypeOauthBearerToken,
				Name:        "OAuth Bearer Token",
				Description: "Authentication with a static bearer token",
				Primary:     true,
			}},
			MaxResults:       cfg.MaxResults,
			SupportFiltering: true,
			SupportPatch:     true,
		},
		ResourceTypes: []scim.ResourceType{
			{
				ID:          optional.NewString("User"),
				Name:        "User",
				Description: optional.NewString("User Account"),
				Endpoint:    "/Users",
				Schema:      userSchema(),
				SchemaExtensions: []scim.SchemaExtension{
					{Schema: schema.ExtensionEnterpriseUser(), Required: false},
				},
				Handler: users,
			},
			{
				ID:          optional.NewString("Group"),
				Name:        "Group",
				Description: optional.NewString("Group"),
				Endpoint:    "/Groups",
				Schema:      groupSchema(),
				Handler:     groups,
			},
		},
	}, scim.WithLogger(libLogger{log}))
	if err != nil {
		return nil, fmt.Errorf("scim: %w", err)
	}
	s := &server{cfg: cfg, tokens: o.tokens, log: log}
	h := s.logRecover(s.auth(s.queryLimits(s.bodyLimit(s.normalise(s.rewriteFilter(s.rewriteBody(s.quickLookup(s.rewriteResponse(lib)))))))))
	mux := http.NewServeMux()
	mux.Handle("/scim/v2/", http.StripPrefix("/scim/v2", h))
	mux.Handle("/scim/v2", http.StripPrefix("/scim/v2", h))
	return mux, nil
}

// libLogger adapts slog to the library's logger.
type libLogger struct{ l *slog.Logger }

func (l libLogger) Error(args ...any) {
	l.l.Error("scim library error", "detail", fmt.Sprint(args...))
}
