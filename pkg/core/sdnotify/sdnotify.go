// Package sdnotify tells the service manager what the gateway is doing,
// with the datagram protocol of sd_notify(3): READY=1 once it serves,
// RELOADING=1 while it applies a new config, STOPPING=1 when it begins to
// shut down. Under a systemd unit with Type=notify that makes `systemctl
// start` return when the gateway really answers, and orders units that
// depend on it after that moment rather than after the exec.
//
// It is the protocol only, a few lines over a Unix datagram socket, so the
// gateway needs no systemd library.
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// EnvSocket is the variable the service manager sets to its socket.
const EnvSocket = "NOTIFY_SOCKET"

// Notifier sends state changes to one notification socket. A nil
// *Notifier (not started by a service manager) ignores every call, so
// callers need no check.
type Notifier struct {
	addr *net.UnixAddr
	mu   sync.Mutex // one message at a time: READY=1 must not overtake RELOADING=1
}

// FromEnv returns a Notifier for $NOTIFY_SOCKET, or nil when it is unset.
// It removes the variable from the environment: plugin processes inherit
// the gateway's environment, and a plugin must not speak for the gateway.
// An address it cannot use (systemd's vsock: form) is an error.
func FromEnv() (*Notifier, error) {
	name, ok := os.LookupEnv(EnvSocket)
	if !ok || name == "" {
		return nil, nil
	}
	_ = os.Unsetenv(EnvSocket) // cannot fail for a valid name
	return New(name)
}

// New returns a Notifier for the socket name: an absolute path, or "@"
// and a name in the abstract namespace.
func New(name string) (*Notifier, error) {
	if !strings.HasPrefix(name, "/") && !strings.HasPrefix(name, "@") {
		return nil, fmt.Errorf("%s=%q: only a path or an abstract @name is supported", EnvSocket, name)
	}
	// net maps a leading "@" to the abstract namespace's NUL byte.
	return &Notifier{addr: &net.UnixAddr{Name: name, Net: "unixgram"}}, nil
}

// Ready says the gateway serves (also after a reload, done or refused).
func (n *Notifier) Ready() error { return n.Notify("READY=1") }

// Reloading says a reload begins. MONOTONIC_USEC lets systemd tell this
// reload from an earlier one (systemd 253 and later require it).
func (n *Notifier) Reloading() error {
	usec, err := monotonicUsec()
	if err != nil {
		return n.Notify("RELOADING=1")
	}
	return n.Notify("RELOADING=1\nMONOTONIC_USEC=" + strconv.FormatInt(usec, 10))
}

// Stopping says the gateway begins its shutdown.
func (n *Notifier) Stopping() error { return n.Notify("STOPPING=1") }

// Notify sends one message of newline-separated VAR=value assignments.
func (n *Notifier) Notify(state string) error {
	if n == nil {
		return nil
	}
	if state == "" {
		return errors.New("sdnotify: empty message")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	c, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	defer func() { _ = c.Close() }() // a datagram socket: nothing buffered to lose
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("sdnotify: %w", err)
	}
	return nil
}
