//go:build !linux

package sdnotify

import "errors"

// monotonicUsec: systemd runs on Linux only; elsewhere RELOADING=1 goes
// without a timestamp.
func monotonicUsec() (int64, error) { return 0, errors.New("no CLOCK_MONOTONIC") }
