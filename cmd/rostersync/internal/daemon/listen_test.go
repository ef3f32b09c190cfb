package daemon

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRequireTokenWrapsTheWholeMux(t *testing.T) {
	triggered := 0
	mux := NewMux(HandlerConfig{Status: NewStatus(time.Now), ReadyAfter: time.Hour, Trigger: func() { triggered++ }})
	// A route added after wrapping, as a later write action would be.
	h := RequireToken("tok", mux)
	mux.HandleFunc("POST /held/approve", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })

	do := func(method, path, auth string) int {
		req := httptest.NewRequest(method, path, strings.NewReader("x=1"))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for _, c := range []struct {
		method, path, auth string
		want               int
	}{
		{"GET", "/healthz", "", 200},
		{"GET", "/readyz", "", 503},
		{"GET", "/status", "", 401},
		{"GET", "/status", "Bearer nope", 401},
		{"GET", "/status", "Basic tok", 401},
		{"GET", "/status", "Bearer tok", 200},
		{"POST", "/trigger", "", 401},
		{"POST", "/healthz", "", 401},
		{"POST", "/held/approve", "", 401},
		{"POST", "/held/approve", "bearer tok", 204},
		{"POST", "/trigger", "Bearer tok", 202},
	} {
		if got := do(c.method, c.path, c.auth); got != c.want {
			t.Errorf("%s %s (%q) = %d, want %d", c.method, c.path, c.auth, got, c.want)
		}
	}
	if triggered != 1 {
		t.Errorf("triggered %d times, want once (only with the token)", triggered)
	}
	// No token configured (loopback): everything is open.
	if rec := httptest.NewRecorder(); true {
		RequireToken("", mux).ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
		if rec.Code != 200 {
			t.Errorf("no token: /status = %d", rec.Code)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9380": true, "127.9.9.9:1": true, "[::1]:9380": true, "localhost:9380": true,
		":9380": false, "0.0.0.0:9380": false, "[::]:9380": false, "10.0.0.5:9380": false, "bad": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v", addr, got)
		}
	}
}

// TestSlowBodyIsCutOff: a request whose body trickles in is ended by the
// body deadline instead of holding its connection for ever, and an
// unauthenticated one is answered 401 from its headers, before any body.
func TestSlowBodyIsCutOff(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, "body: "+err.Error(), http.StatusRequestTimeout)
			return
		}
		w.WriteHeader(200)
	})
	start := func(readTimeout time.Duration) string {
		lim := DefaultLimits
		lim.ReadTimeout = readTimeout
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := lim.Server(RequireToken("tok", mux), nil)
		go srv.Serve(lim.Listener(ln))
		t.Cleanup(func() { srv.Close() })
		return ln.Addr().String()
	}
	send := func(addr, auth string, wait time.Duration) (string, error) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Length: 1000\r\n\r\nab", auth)
		c.SetReadDeadline(time.Now().Add(wait))
		return bufio.NewReader(c).ReadString('\n')
	}
	// The body deadline (an hour here) plays no part: the 401 comes from
	// the headers alone.
	if line, err := send(start(time.Hour), "Bearer wrong", 10*time.Second); err != nil || !strings.Contains(line, "401") {
		t.Fatalf("unauthenticated slow body: %q %v, want a 401 at once", line, err)
	}
	// Authenticated: the handler's read fails at the deadline, or the
	// connection is closed; either way it does not wait for the body.
	line, err := send(start(300*time.Millisecond), "Bearer tok", 30*time.Second)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("authenticated slow body: still open after 30s")
	}
	if err == nil && !strings.Contains(line, "408") {
		t.Fatalf("authenticated slow body: %q, want the read to fail at the deadline", line)
	}
}
