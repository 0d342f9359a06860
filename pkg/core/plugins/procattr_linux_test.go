//go:build linux

package plugins

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A process launched the way launch does it (dieWithHost, forked inside
// onLaunchThread) dies with its host, even when it is no wogate plugin
// and cannot notice on its own; and it survives threads of the host
// ending, which is what would fire the parent-death signal of a child
// forked on an arbitrary thread. The host is this test binary re-run as a
// helper (TestHelperLauncher), killed with SIGKILL.
func TestLaunchedProcessDiesWithHost(t *testing.T) {
	helper := exec.CommandContext(context.Background(), os.Args[0], "-test.run=^TestHelperLauncher$") //nolint:gosec // G204: this test binary
	helper.Env = append(os.Environ(), "WOGATE_HELPER_LAUNCHER=1")
	helper.Stderr = os.Stderr
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = helper.Process.Kill(); _ = helper.Wait() })
	pidc := make(chan []int, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) > 1 && f[0] == "CHILDREN" {
				var pids []int
				for _, s := range f[1:] {
					n, _ := strconv.Atoi(s)
					pids = append(pids, n)
				}
				pidc <- pids
			}
		}
		close(pidc)
	}()
	var pids []int
	select {
	case pids = <-pidc:
	case <-time.After(20 * time.Second):
		t.Fatal("helper printed no child pids within 20s")
	}
	if len(pids) == 0 {
		t.Fatal("helper ended without children")
	}
	for _, pid := range pids {
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
		if !alive(pid) {
			t.Errorf("child %d died while its host was alive (a host thread ended and took it along)", pid)
		}
	}
	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()
	deadline := time.Now().Add(3 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("child %d still running 3s after its host was killed", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// TestHelperLauncher is the host of TestLaunchedProcessDiesWithHost (it
// does nothing in a normal run).
func TestHelperLauncher(t *testing.T) {
	if os.Getenv("WOGATE_HELPER_LAUNCHER") == "" {
		t.Skip("helper process of TestLaunchedProcessDiesWithHost")
	}
	// Each child is launched from a goroutine that locks its thread and
	// then ends, which ends that thread (except on the main thread, which
	// the runtime keeps: hence several children): only onLaunchThread's
	// own thread may matter.
	var pids []string
	for range 4 {
		cmd := exec.CommandContext(context.Background(), "sleep", "600")
		dieWithHost(cmd)
		errc := make(chan error, 1)
		go func() {
			runtime.LockOSThread()
			var err error
			onLaunchThread(func() { err = cmd.Start() })
			errc <- err
		}()
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		pids = append(pids, strconv.Itoa(cmd.Process.Pid))
	}
	// More threads end, as a library's locked goroutines would.
	for range 32 {
		done := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			close(done)
		}()
		<-done
	}
	time.Sleep(300 * time.Millisecond)
	fmt.Printf("CHILDREN %s\n", strings.Join(pids, " "))
	select {} // until SIGKILL
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}
