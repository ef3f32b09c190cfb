package daemon

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/net/netutil"
)

// Limits bound what one client can hold on a listener: a connection that
// sends its headers or body slowly, or never reads its answer, is cut off,
// and no more than MaxConns connections are served at once.
type Limits struct {
	// ReadHeaderTimeout is the time to receive a request's headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout is the time to receive a whole request, body included:
	// the body deadline.
	ReadTimeout time.Duration
	// WriteTimeout is the time from the end of the request headers to the
	// end of the answer.
	WriteTimeout time.Duration
	// IdleTimeout is how long a kept-alive connection waits for its next
	// request.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps the request line and headers (a SCIM filter is in
	// the request line: this leaves room for the filter's own bound to
	// answer with a SCIM error).
	MaxHeaderBytes int
	// MaxConns caps the connections served at once on one listener; more
	// wait to be accepted.
	MaxConns int
}

// DefaultLimits are the limits of every listener of "rostersync serve".
var DefaultLimits = Limits{
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       30 * time.Second,
	WriteTimeout:      60 * time.Second,
	IdleTimeout:       2 * time.Minute,
	MaxHeaderBytes:    1 << 20,
	MaxConns:          256,
}

// MaxAdminBodyBytes caps a request body on the admin listener.
const MaxAdminBodyBytes = 64 << 10

// Server returns an http.Server for h with these limits.
func (l Limits) Server(h http.Handler, errorLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          errorLog,
	}
}

// Listener caps the connections ln hands out at MaxConns.
func (l Limits) Listener(ln net.Listener) net.Listener {
	if l.MaxConns <= 0 {
		return ln
	}
	return netutil.LimitListener(ln, l.MaxConns)
}

// IsLoopback reports whether the listen address addr (host:port) accepts
// connections only from this host: 127.0.0.0/8, ::1 or localhost. An empty
// host (every address) is not loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// OpenPaths are the admin paths served without the token: probes that say
// nothing about people or settings.
var OpenPaths = []string{"/healthz", "/readyz"}

// RequireToken wraps the whole admin mux: every request except a GET or
// HEAD of OpenPaths must carry "Authorization: Bearer TOKEN", checked from
// the headers alone, before any body is read; bodies are capped at
// MaxAdminBodyBytes. Routes added to the mux later are covered too. An
// empty token lets every request through (a loopback listener).
func RequireToken(token string, next http.Handler) http.Handler {
	digest := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, MaxAdminBodyBytes)
		}
		if token == "" || isOpen(r) {
			next.ServeHTTP(w, r)
			return
		}
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		d := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(d[:], digest[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rostersync admin"`)
			w.Header().Set("Connection", "close")
			http.Error(w, fmt.Sprintf("%s needs the admin bearer token (Authorization: Bearer …)", r.URL.Path),
				http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func isOpen(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	for _, p := range OpenPaths {
		if r.URL.Path == p {
			return true
		}
	}
	return false
}
