package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wogate/wogate/internal/testhttp"
)

// TestSystemdNotify runs `gateway run` as systemd runs a Type=notify unit,
// with a real notification socket: READY=1 comes when the gateway answers
// and not before, a SIGHUP reload is bracketed by RELOADING=1 (with
// MONOTONIC_USEC) and READY=1, SIGTERM sends STOPPING=1, and the plugin
// processes do not inherit the socket.
func TestSystemdNotify(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(gwConfig{})
	sockPath := filepath.Join(e.dir, "notify")
	sock, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sock.Close() }()
	next := func(within time.Duration) string {
		t.Helper()
		_ = sock.SetReadDeadline(time.Now().Add(within))
		buf := make([]byte, 4096)
		n, err := sock.Read(buf)
		if err != nil {
			t.Fatalf("no notification within %v: %v\ngateway log:\n%s", within, err, e.logBuf.String())
		}
		return string(buf[:n])
	}

	cmd := exec.CommandContext(context.Background(), gatewayBin, "run", "--config", e.cfg, "--watch-config=false")
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sockPath)
	cmd.Stdout, cmd.Stderr = e.logBuf, e.logBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	exited := false
	defer func() {
		if !exited {
			_ = cmd.Process.Kill()
			<-done
		}
	}()

	if got := next(30 * time.Second); got != "READY=1" {
		t.Fatalf("first notification %q, want READY=1", got)
	}
	// Ready means answering: no retry loop here.
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := testhttp.Get(t.Context(), e.url(path))
		if err != nil {
			t.Fatalf("GET %s right after READY=1: %v", path, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s right after READY=1: %d", path, resp.StatusCode)
		}
	}

	// The plugin runs, as a child of the gateway, without NOTIFY_SOCKET.
	kids := children(t, cmd.Process.Pid)
	if len(kids) == 0 {
		t.Fatal("no plugin process under the gateway")
	}
	for _, pid := range kids {
		env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains("\x00"+string(env), "\x00NOTIFY_SOCKET=") {
			t.Errorf("plugin process %d inherited NOTIFY_SOCKET", pid)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	got := next(10 * time.Second)
	if !strings.HasPrefix(got, "RELOADING=1\nMONOTONIC_USEC=") {
		t.Fatalf("after SIGHUP %q, want RELOADING=1 and MONOTONIC_USEC", got)
	}
	if usec, err := strconv.ParseInt(strings.TrimPrefix(got, "RELOADING=1\nMONOTONIC_USEC="), 10, 64); err != nil || usec <= 0 {
		t.Errorf("MONOTONIC_USEC in %q: %v", got, err)
	}
	if got := next(30 * time.Second); got != "READY=1" {
		t.Fatalf("after the reload %q, want READY=1", got)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if got := next(10 * time.Second); got != "STOPPING=1" {
		t.Fatalf("after SIGTERM %q, want STOPPING=1", got)
	}
	select {
	case err := <-done:
		exited = true
		if err != nil {
			t.Errorf("gateway exited with %v after SIGTERM\n%s", err, e.logBuf.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("gateway did not stop within 30s of SIGTERM")
	}
}

// children lists the processes whose parent is pid.
func children(t *testing.T, pid int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var kids []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, p)
		}
	}
	return kids
}
