package sdnotify

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listen opens a real notification socket, as systemd does, at name.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func receive(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	return string(buf[:n])
}

func TestMessages(t *testing.T) {
	for _, tc := range []struct {
		name   string
		socket func(t *testing.T) string
	}{
		{"path", func(t *testing.T) string { return filepath.Join(t.TempDir(), "notify") }},
		{"abstract", func(t *testing.T) string {
			return fmt.Sprintf("@wogate-sdnotify-test-%d-%d", os.Getpid(), time.Now().UnixNano())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := tc.socket(t)
			srv := listen(t, name)
			t.Setenv(EnvSocket, name)
			n, err := FromEnv()
			if err != nil || n == nil {
				t.Fatalf("FromEnv = %v, %v", n, err)
			}
			if v, ok := os.LookupEnv(EnvSocket); ok {
				t.Fatalf("%s still set (%q): plugin processes would inherit it", EnvSocket, v)
			}

			if err := n.Ready(); err != nil {
				t.Fatal(err)
			}
			if got := receive(t, srv); got != "READY=1" {
				t.Errorf("Ready sent %q", got)
			}

			before := now(t)
			if err := n.Reloading(); err != nil {
				t.Fatal(err)
			}
			got := receive(t, srv)
			after := now(t)
			lines := strings.Split(got, "\n")
			if len(lines) != 2 || lines[0] != "RELOADING=1" || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") {
				t.Fatalf("Reloading sent %q, want RELOADING=1 and MONOTONIC_USEC=", got)
			}
			usec, err := strconv.ParseInt(strings.TrimPrefix(lines[1], "MONOTONIC_USEC="), 10, 64)
			if err != nil || usec < before || usec > after {
				t.Errorf("MONOTONIC_USEC=%d (%v), want within [%d, %d] of CLOCK_MONOTONIC", usec, err, before, after)
			}

			if err := n.Stopping(); err != nil {
				t.Fatal(err)
			}
			if got := receive(t, srv); got != "STOPPING=1" {
				t.Errorf("Stopping sent %q", got)
			}
		})
	}
}

func now(t *testing.T) int64 {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return ts.Sec*1_000_000 + ts.Nsec/1_000
}

func TestNotUnderServiceManager(t *testing.T) {
	t.Setenv(EnvSocket, "")
	n, err := FromEnv()
	if n != nil || err != nil {
		t.Fatalf("FromEnv with empty %s = %v, %v; want nil, nil", EnvSocket, n, err)
	}
	// The nil Notifier is what gateway run holds outside systemd.
	for _, f := range []func() error{n.Ready, n.Reloading, n.Stopping} {
		if err := f(); err != nil {
			t.Errorf("nil Notifier: %v", err)
		}
	}
}

func TestBadSockets(t *testing.T) {
	for _, tc := range []struct{ name, socket, want string }{
		{"vsock", "vsock:2:1234", "only a path or an abstract"},
		{"relative", "run/notify", "only a path or an abstract"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvSocket, tc.socket)
			if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("FromEnv(%q) = %v, want an error containing %q", tc.socket, err, tc.want)
			}
		})
	}
	// A socket nobody listens on: the send fails and says so.
	n, err := New(filepath.Join(t.TempDir(), "gone"))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Ready(); err == nil {
		t.Error("Ready to a missing socket succeeded")
	}
	if err := n.Notify(""); err == nil {
		t.Error("an empty message was sent")
	}
}
