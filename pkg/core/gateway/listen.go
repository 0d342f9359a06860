package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
)

// Bind listens on addr, the value of the config key key ("listen",
// "admin.listen", "sandbox.listen"). Its error names the key and what to
// change, once:
//
//	admin.listen 127.0.0.1:8081: address already in use; set admin.listen to a free address
//
// The gateway binds every listener before it starts a plugin or logs that
// anything is live, so a taken port fails the start with nothing to undo.
func Bind(key, addr string) (net.Listener, error) {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, listenError(key, addr, err)
	}
	return ln, nil
}

// listenError turns net's "listen tcp ADDR: bind: CAUSE" into
// "KEY ADDR: CAUSE; HINT", keeping the cause for errors.Is.
func listenError(key, addr string, err error) error {
	cause := err
	var se *os.SyscallError
	var oe *net.OpError
	switch {
	case errors.As(err, &se):
		cause = se.Err
	case errors.As(err, &oe) && oe.Err != nil:
		cause = oe.Err
	}
	hint := "set " + key + " to a host:port this machine can listen on"
	switch {
	case errors.Is(cause, syscall.EADDRINUSE):
		hint = "set " + key + " to a free address"
	case errors.Is(cause, syscall.EACCES):
		hint = "set " + key + " to a port above 1023, or give the gateway CAP_NET_BIND_SERVICE"
	case errors.Is(cause, syscall.EADDRNOTAVAIL):
		hint = "set " + key + " to an address of this machine (or 0.0.0.0 for all)"
	}
	return fmt.Errorf("%s %s: %w; %s", key, addr, cause, hint)
}
