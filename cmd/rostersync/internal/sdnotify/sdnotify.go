// Package sdnotify speaks systemd's notification protocol (sd_notify(3))
// over the unix datagram socket named by $NOTIFY_SOCKET, without cgo or
// libsystemd: READY, STATUS, WATCHDOG and STOPPING.
//
// Outside systemd (no $NOTIFY_SOCKET) every call is a no-op, so the daemon
// runs the same under a terminal, a container or a unit.
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Messages the daemon sends.
const (
	Ready    = "READY=1"
	Stopping = "STOPPING=1"
	Watchdog = "WATCHDOG=1"
)

// Notifier sends notifications to the service manager. The zero value and a
// nil *Notifier are disabled: they send nothing. It is safe for concurrent
// use.
type Notifier struct {
	addr *net.UnixAddr

	mu   sync.Mutex
	conn *net.UnixConn
}

// New returns a Notifier for the socket named by lookupEnv("NOTIFY_SOCKET"),
// or a disabled one when the variable is unset or empty. A name starting
// with "@" is a Linux abstract socket. Only path and abstract sockets are
// supported (not vsock).
func New(lookupEnv func(string) (string, bool)) (*Notifier, error) {
	name, _ := lookupEnv("NOTIFY_SOCKET")
	if name == "" {
		return &Notifier{}, nil
	}
	if !strings.HasPrefix(name, "/") && !strings.HasPrefix(name, "@") {
		return nil, fmt.Errorf("sdnotify: NOTIFY_SOCKET %q: want an absolute path or an @abstract name", name)
	}
	return &Notifier{addr: &net.UnixAddr{Name: name, Net: "unixgram"}}, nil
}

// Enabled reports whether notifications go anywhere.
func (n *Notifier) Enabled() bool { return n != nil && n.addr != nil }

// Send sends one datagram holding the given state lines ("READY=1",
// "STATUS=…"). Newlines inside a STATUS text are replaced by spaces, since a
// newline separates assignments.
func (n *Notifier) Send(states ...string) error {
	if !n.Enabled() || len(states) == 0 {
		return nil
	}
	var b strings.Builder
	for i, s := range states {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strings.ReplaceAll(s, "\n", " "))
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		c, err := net.DialUnix("unixgram", nil, n.addr)
		if err != nil {
			return fmt.Errorf("sdnotify: %w", err)
		}
		n.conn = c
	}
	if _, err := n.conn.Write([]byte(b.String())); err != nil {
		// The manager may have been restarted (daemon-reexec): dial anew next time.
		n.conn.Close()
		n.conn = nil
		return fmt.Errorf("sdnotify: %w", err)
	}
	return nil
}

// Status returns the STATUS= assignment for text.
func Status(text string) string { return "STATUS=" + text }

// Close releases the socket.
func (n *Notifier) Close() error {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn == nil {
		return nil
	}
	err := n.conn.Close()
	n.conn = nil
	return err
}

// WatchdogInterval returns the watchdog timeout systemd expects pings
// within (WatchdogSec=, passed as $WATCHDOG_USEC), and false when the
// watchdog is off or meant for another process ($WATCHDOG_PID ≠ pid).
// Ping at half the interval.
func WatchdogInterval(lookupEnv func(string) (string, bool), pid int) (time.Duration, bool, error) {
	us, ok := lookupEnv("WATCHDOG_USEC")
	if !ok || us == "" {
		return 0, false, nil
	}
	if p, ok := lookupEnv("WATCHDOG_PID"); ok && p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return 0, false, fmt.Errorf("sdnotify: WATCHDOG_PID %q: %w", p, err)
		}
		if n != pid {
			return 0, false, nil
		}
	}
	n, err := strconv.ParseInt(us, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("sdnotify: WATCHDOG_USEC %q: %w", us, err)
	}
	if n <= 0 {
		return 0, false, errors.New("sdnotify: WATCHDOG_USEC must be positive")
	}
	return time.Duration(n) * time.Microsecond, true, nil
}
