// Package pgtest runs a real, throwaway PostgreSQL server on loopback for
// tests: initdb into a temporary directory, postgres listening on 127.0.0.1
// only (no Unix socket), password authentication (scram-sha-256) for a
// superuser named "rostersync". Nothing touches a system service or /etc.
//
// The server binaries come from Debian's postgresql package
// (/usr/lib/postgresql/N/bin is searched as well as PATH). When they are
// missing the test is skipped with a message naming the package, unless
// ROSTERSYNC_REQUIRE_POSTGRES=1 (set by CI), in which case it fails.
//
// PostgreSQL refuses to run as root; under root the server runs as the
// "postgres" user the package creates (or "nobody"), in a directory handed
// to that user.
//
// A test package shares one server: call Main from TestMain, then
// Shared(t).Database(t) gives each test an empty database of its own. A
// test that kills or partitions its server starts a private one with Start.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// RequireEnv is the variable that turns "server binary missing" from a skip
// into a failure.
const RequireEnv = "ROSTERSYNC_REQUIRE_POSTGRES"

// Install is the command that provides the server binaries.
const Install = "apt-get install postgresql"

// Superuser and Password are the credentials of the server's superuser.
const (
	Superuser = "rostersync"
	Password  = "pgtest-password"
)

// Server is a running PostgreSQL server.
type Server struct {
	Dir  string // the data directory's parent; removed by Stop
	Port int

	bin  string
	cmd  *exec.Cmd
	done chan struct{}
	cred *syscall.Credential

	mu      sync.Mutex
	stopped bool
	dbs     atomic.Int64
}

// binDir finds the directory holding initdb and postgres, or "".
func binDir() string {
	if p, err := exec.LookPath("postgres"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p)
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d
		}
	}
	return ""
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// Available reports whether the server binaries are installed.
func Available() bool { return binDir() != "" }

// need skips or fails t when the binaries are missing.
func need(t testing.TB) string {
	t.Helper()
	d := binDir()
	if d != "" {
		return d
	}
	msg := fmt.Sprintf("PostgreSQL server binaries (initdb, postgres) not found; install with: %s", Install)
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s (%s=1 makes this a failure)", msg, RequireEnv)
	}
	t.Skip(msg)
	return ""
}

// Start starts a private server for t, stopped when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start(need(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

var shared struct {
	sync.Mutex
	s   *Server
	err error
}

// Shared returns the package's shared server, starting it on first use.
// Main stops it when the tests are done.
func Shared(t testing.TB) *Server {
	t.Helper()
	bin := need(t)
	shared.Lock()
	defer shared.Unlock()
	if shared.s == nil && shared.err == nil {
		shared.s, shared.err = start(bin)
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.s
}

// Main runs the tests and then stops the shared server, if one started.
// Use it as the package's TestMain: func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	shared.Lock()
	if shared.s != nil {
		shared.s.Stop()
	}
	shared.Unlock()
	os.Exit(code)
}

func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("pgtest: running as root and neither a postgres nor a nobody user exists to run the server as")
}

func start(bin string) (*Server, error) {
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "rostersync-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, bin: bin, cred: cred}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	pw := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pw, []byte(Password+"\n"), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if cred != nil {
		os.Chown(pw, int(cred.Uid), int(cred.Gid))
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.data(), "-U", Superuser,
		"--pwfile="+pw, "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	if err := s.run(false); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) data() string { return filepath.Join(s.Dir, "data") }

// A commit is in the server's WAL (in the operating system's hands) before
// it returns, so Kill loses nothing committed; fsync is off because only a
// machine crash would need it.

// run starts postgres on a free port and waits until it accepts logins.
// With samePort (a restart: the URLs handed out name the port) it retries
// on the same port, which the killed server may hold for a moment yet.
func (s *Server) run(samePort bool) error {
	var lastErr error
	attempts := 3
	if samePort {
		attempts = 10
	}
	for attempt := 0; attempt < attempts; attempt++ {
		switch {
		case samePort && attempt > 0:
			time.Sleep(500 * time.Millisecond)
		case s.Port == 0 || attempt > 0:
			s.Port = freePort()
		}
		cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", s.data(),
			"-c", "listen_addresses=127.0.0.1", "-c", "port="+strconv.Itoa(s.Port),
			"-c", "unix_socket_directories=", "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=32MB")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
		logf, err := os.OpenFile(filepath.Join(s.Dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			logf.Close()
			return fmt.Errorf("pgtest: start postgres: %w", err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); logf.Close(); close(done) }()
		s.cmd, s.done = cmd, done
		if lastErr = s.waitReady(done); lastErr == nil {
			return nil
		}
		cmd.Process.Kill()
		<-done
	}
	log, _ := os.ReadFile(filepath.Join(s.Dir, "postgres.log"))
	return fmt.Errorf("pgtest: postgres did not start: %v\n%s", lastErr, tail(string(log), 2000))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (s *Server) waitReady(done <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return errors.New("postgres exited")
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var c *pgx.Conn
		c, err = pgx.Connect(ctx, s.URL("postgres"))
		cancel()
		if err == nil {
			c.Close(context.Background())
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// URL is the connection URL of database db, with the password in it.
func (s *Server) URL(db string) string {
	return s.URLWithout(db, true)
}

// URLWithout is the connection URL of database db; withPassword false
// leaves the password out (for tests of password files).
func (s *Server) URLWithout(db string, withPassword bool) string {
	u := url.URL{Scheme: "postgres", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)), Path: "/" + db,
		RawQuery: "sslmode=disable"}
	if withPassword {
		u.User = url.UserPassword(Superuser, Password)
	} else {
		u.User = url.User(Superuser)
	}
	return u.String()
}

// Database creates an empty database for t (dropped when t ends) and
// returns its URL, password included.
func (s *Server) Database(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t%d_%s", s.dbs.Add(1), sanitize(t.Name()))
	if len(name) > 60 {
		name = name[:60]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if s.isStopped() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, s.URL("postgres"))
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return s.URL(name)
}

func sanitize(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func (s *Server) isStopped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopped
}

// Kill stops the server at once (SIGKILL), as a crash would; Restart brings
// it back on the same port with the same data.
func (s *Server) Kill() {
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) // the postmaster and its backends
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// Restart starts a killed server again on its port.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.run(true); err != nil {
		t.Fatal(err)
	}
}

// Stop shuts the server down and removes its directory.
func (s *Server) Stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	s.mu.Unlock()
	select {
	case <-s.done:
	default:
		s.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	}
	os.RemoveAll(s.Dir)
}
