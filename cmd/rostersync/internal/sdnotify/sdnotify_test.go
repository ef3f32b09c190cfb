package sdnotify

import (
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// listen opens a real unixgram socket as systemd would and returns it with
// a lookup that names it as NOTIFY_SOCKET.
func listen(t *testing.T, name string) (*net.UnixConn, func(string) (string, bool)) {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, func(k string) (string, bool) {
		if k == "NOTIFY_SOCKET" {
			return name, true
		}
		return "", false
	}
}

func recv(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read notification: %v", err)
	}
	return string(buf[:n])
}

func TestSendInOrder(t *testing.T) {
	for _, tc := range []struct{ name, socket string }{
		{"path", filepath.Join(t.TempDir(), "notify.sock")},
		{"abstract", "@rostersync-test-" + strconv.FormatInt(time.Now().UnixNano(), 36)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, lookup := listen(t, tc.socket)
			n, err := New(lookup)
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			if !n.Enabled() {
				t.Fatal("notifier disabled with NOTIFY_SOCKET set")
			}
			want := []string{Ready, "STATUS=last pass 12:00:03: 3 changes applied", Watchdog, Stopping}
			if err := n.Send(Ready); err != nil {
				t.Fatal(err)
			}
			if err := n.Send(Status("last pass 12:00:03:\n3 changes applied")); err != nil {
				t.Fatal(err)
			}
			if err := n.Send(Watchdog); err != nil {
				t.Fatal(err)
			}
			if err := n.Send(Stopping); err != nil {
				t.Fatal(err)
			}
			for i, w := range want {
				if got := recv(t, conn); got != w {
					t.Errorf("datagram %d = %q, want %q", i, got, w)
				}
			}
		})
	}
}

func TestSeveralStatesInOneDatagram(t *testing.T) {
	conn, lookup := listen(t, filepath.Join(t.TempDir(), "n.sock"))
	n, err := New(lookup)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Send(Ready, Status("ok")); err != nil {
		t.Fatal(err)
	}
	if got, want := recv(t, conn), "READY=1\nSTATUS=ok"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestDisabledWithoutSocket(t *testing.T) {
	n, err := New(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if n.Enabled() {
		t.Error("enabled without NOTIFY_SOCKET")
	}
	if err := n.Send(Ready); err != nil {
		t.Errorf("disabled Send: %v", err)
	}
	var nilN *Notifier
	if err := nilN.Send(Ready); err != nil || nilN.Enabled() {
		t.Errorf("nil notifier: %v", err)
	}
}

func TestRejectsRelativeSocket(t *testing.T) {
	_, err := New(func(string) (string, bool) { return "notify.sock", true })
	if err == nil {
		t.Error("relative NOTIFY_SOCKET accepted")
	}
}

func TestSendFailsWhenNobodyListens(t *testing.T) {
	name := filepath.Join(t.TempDir(), "gone.sock")
	n, _ := New(func(string) (string, bool) { return name, true })
	if err := n.Send(Ready); err == nil {
		t.Error("Send to a missing socket succeeded")
	}
}

func TestWatchdogInterval(t *testing.T) {
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want time.Duration
		on   bool
		err  bool
	}{
		{"off", nil, 0, false, false},
		{"on", map[string]string{"WATCHDOG_USEC": "30000000"}, 30 * time.Second, true, false},
		{"this pid", map[string]string{"WATCHDOG_USEC": "1000", "WATCHDOG_PID": "42"}, time.Millisecond, true, false},
		{"other pid", map[string]string{"WATCHDOG_USEC": "1000", "WATCHDOG_PID": "7"}, 0, false, false},
		{"garbage", map[string]string{"WATCHDOG_USEC": "soon"}, 0, false, true},
		{"zero", map[string]string{"WATCHDOG_USEC": "0"}, 0, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, on, err := WatchdogInterval(env(tc.env), 42)
			if (err != nil) != tc.err || on != tc.on || d != tc.want {
				t.Errorf("got %v, %v, %v; want %v, %v, error %v", d, on, err, tc.want, tc.on, tc.err)
			}
		})
	}
}
