//go:build linux

package pluginapi_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	pluginhost "github.com/wogate/wogate/pkg/pluginapi/host"
)

// A plugin built with Serve exits when its host dies, although this host
// sets no parent-death signal: the helper host below is this test binary,
// re-run, launching the idle test plugin (testdata/idle) with plain go-plugin and then
// killed with SIGKILL.
//
// Two shapes, one per sign the SDK watches: the plugin as the host's
// child (its parent changes when the host dies), and the plugin behind a
// shell that outlives the host (its parent stays; only the host's gRPC
// connection closing tells).
func TestServeExitsWhenHostDies(t *testing.T) {
	bin := buildIdle(t)
	cases := []struct {
		name    string
		command []string
	}{
		{"child of the host", []string{bin}},
		{"behind a shell wrapper", []string{"/bin/sh", "-c", bin + "; true"}}, // "; true": sh stays and waits
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pids")
			helper := exec.CommandContext(context.Background(), os.Args[0], "-test.run=^TestHelperHost$") //nolint:gosec // G204: this test binary
			helper.Env = append(os.Environ(), "WOGATE_HELPER_HOST="+strings.Join(c.command, "\x1f"), "WOGATE_TEST_PIDFILE="+pidFile)
			helper.Stderr = os.Stderr
			out, err := helper.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := helper.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = helper.Process.Kill(); _ = helper.Wait() })
			ready := make(chan string, 1)
			go func() {
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "READY") {
						ready <- sc.Text()
					}
				}
				close(ready)
			}()
			select {
			case line, ok := <-ready:
				if !ok {
					t.Fatal("helper host ended before the plugin was up")
				}
				t.Log(line)
			case <-time.After(30 * time.Second):
				t.Fatal("helper host did not start the plugin within 30s")
			}
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatal(err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("pid file %q: %v", b, err)
			}
			t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
			if !running(pid) {
				t.Fatalf("plugin %d is not running", pid)
			}

			if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = helper.Wait()
			deadline := time.Now().Add(8 * time.Second)
			for running(pid) {
				if time.Now().After(deadline) {
					t.Fatalf("plugin %d still running 8s after its host was killed", pid)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// TestHelperHost is the helper host of TestServeExitsWhenHostDies (it
// does nothing in a normal run): it starts the plugin, checks that it
// answers, prints READY and waits to be killed.
func TestHelperHost(t *testing.T) {
	spec := os.Getenv("WOGATE_HELPER_HOST")
	if spec == "" {
		t.Skip("helper process of TestServeExitsWhenHostDies")
	}
	args := strings.Split(spec, "\x1f")
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  pluginhost.Handshake,
		VersionedPlugins: pluginhost.VersionedPlugins(0),
		Cmd:              exec.CommandContext(context.Background(), args[0], args[1:]...), //nolint:gosec // G204: the test's plugin
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		Logger:           hclog.NewNullLogger(),
	})
	cp, err := client.Client()
	if err != nil {
		t.Fatal(err)
	}
	r, err := pluginhost.Dispense(cp)
	if err != nil {
		t.Fatal(err)
	}
	info, err := r.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("READY %s\n", info.Name)
	select {} // until SIGKILL
}

// running tells whether pid is a live process (a zombie has exited).
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// buildIdle compiles testdata/idle into the test's temporary directory.
func buildIdle(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "idle")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./testdata/idle")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./testdata/idle: %v\n%s", err, out)
	}
	return bin
}
