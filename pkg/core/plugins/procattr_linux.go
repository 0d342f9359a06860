//go:build linux

package plugins

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// dieWithHost makes the kernel send the plugin SIGTERM when the gateway
// dies, however it dies (kill -9, the OOM killer, a panic): without it a
// killed gateway leaves its plugins running, reparented to init, until
// they notice on their own. SIGTERM rather than SIGKILL: a plugin built
// with pluginapi.Serve sees that its host is gone, finishes the calls in
// flight and runs its Stop (flushing files, say) before it exits; any
// other program ends on SIGTERM by default.
func dieWithHost(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
}

// onLaunchThread runs start, which forks the plugin process, and returns a
// func to call once that process has ended.
//
// The parent-death signal is tied to the *thread* that forked the child,
// not to the process (prctl(2), PR_SET_PDEATHSIG): the child gets it when
// that thread exits. The Go runtime ends a thread in one case only: a
// goroutine that called runtime.LockOSThread returns without unlocking.
// go-plugin forks synchronously in the goroutine that calls
// Client.Client, on whatever thread it happens to run; if some other
// goroutine later locked that thread and exited (a library doing
// per-thread work, a cgo callback), the plugin would be killed while the
// gateway is fine. So the fork happens on a thread this goroutine locks,
// and it keeps it locked — the thread parked, costing one idle OS thread
// per plugin process — until the process has ended. Unlocking earlier
// would hand the thread back to the scheduler with the same risk.
func onLaunchThread(start func()) (release func()) {
	started := make(chan struct{})
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		start()
		close(started)
		<-done
		runtime.UnlockOSThread()
	}()
	<-started
	return sync.OnceFunc(func() { close(done) })
}
