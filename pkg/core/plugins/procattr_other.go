//go:build !linux

package plugins

import "os/exec"

// dieWithHost is a no-op outside Linux, which has no parent-death signal;
// plugins built with pluginapi.Serve still exit on their own when their
// host goes away (pkg/pluginapi, hostwatch.go).
func dieWithHost(*exec.Cmd) {}

// onLaunchThread runs start; only Linux ties anything to the launching
// thread.
func onLaunchThread(start func()) (release func()) {
	start()
	return func() {}
}
