package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wogate/wogate/internal/testhttp"
	"github.com/wogate/wogate/internal/testplugin"
)

// The tests here check the gateway's processes as an operator sees them:
// which plugin processes exist after a failed start, a SIGKILL or a stop
// of the whole process group. The accept test plugin appends its pid to
// WOGATE_TEST_PIDFILE (set in plugins.accept.env: plugins get nothing of
// the gateway's environment but an allowlist), and /proc
// tells whether each pid is still alive.

// procWorld is a gateway with the embedded sandbox and a pid file.
type procWorld struct {
	t                  *testing.T
	dir, cfg, pidFile  string
	port, admin, sbox  int
	log                *syncBuffer
	cmd                *exec.Cmd
	done               chan error
	extraPlugin        string   // YAML of a second plugin entry, if any
	env                []string // added to the gateway's environment
	adminOn, sandboxOn bool
}

func newProcWorld(t *testing.T) *procWorld {
	dir := t.TempDir()
	return &procWorld{t: t, dir: dir, pidFile: filepath.Join(dir, "plugin.pids"), port: freePort(t), admin: freePort(t),
		sbox: freePort(t), log: &syncBuffer{}, adminOn: true, sandboxOn: true}
}

func (w *procWorld) writeConfig() {
	w.t.Helper()
	admin := `""`
	if w.adminOn {
		admin = fmt.Sprintf("127.0.0.1:%d", w.admin)
	}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
data_dir: %s
corrigo:
  accounts:
    main:
      sandbox: true
      polling: {enabled: false}
plugins:
  accept: {command: %s, env: {WOGATE_TEST_PIDFILE: %q}, config: {delay: 20ms}}
%srules:
  - name: accept-new
    when: event.Action == "NewWorkOrder"
    plugin: accept
sandbox:
  listen: 127.0.0.1:%d
  auto_create: 50ms
admin: {listen: %s}
log: {level: debug, format: json}
`, w.port, filepath.Join(w.dir, "data"), testplugin.Build(w.t, "accept"), w.pidFile, w.extraPlugin, w.sbox, admin)
	w.cfg = filepath.Join(w.dir, "config.yaml")
	if err := os.WriteFile(w.cfg, []byte(cfg), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// run starts `gateway run` in its own process group (so the test can
// signal the group, as systemd does); the pid file is the plugins'.
func (w *procWorld) run() {
	w.t.Helper()
	w.writeConfig()
	cmd := exec.CommandContext(context.Background(), gatewayBin, "run", "--config", w.cfg, "--shutdown-timeout", "5s")
	// The plugin gets its pid file from plugins.accept.env: it sees
	// nothing of this environment but the allowlist (PATH, HOME, ...).
	cmd.Env = append(os.Environ(), w.env...)
	cmd.Stdout, cmd.Stderr = w.log, w.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	w.cmd, w.done = cmd, make(chan error, 1)
	done := w.done
	go func() { done <- cmd.Wait() }()
	w.t.Cleanup(func() {
		// Whatever is left of the group is a leak the test reports; reap it.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		for _, pid := range w.pids() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if w.t.Failed() {
			w.t.Logf("gateway log:\n%s", w.log.String())
		}
	})
}

// exit waits for the gateway to end and returns its exit code.
func (w *procWorld) exit(within time.Duration) int {
	w.t.Helper()
	select {
	case err := <-w.done:
		if err == nil {
			return 0
		}
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		w.t.Fatalf("gateway: %v", err)
	case <-time.After(within):
		w.t.Fatalf("gateway still running after %s", within)
	}
	return -1
}

func (w *procWorld) waitReady() {
	w.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-w.done:
			w.t.Fatalf("gateway exited before it was ready: %v", err)
		default:
		}
		resp, err := testhttp.Get(context.Background(), fmt.Sprintf("http://127.0.0.1:%d/readyz", w.port))
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == 200 && len(w.pids()) > 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			w.t.Fatal("gateway not ready after 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pids are the plugin processes the gateway started so far.
func (w *procWorld) pids() []int {
	b, err := os.ReadFile(w.pidFile)
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// alive lists the pids that are still running (a zombie has exited).
func alive(pids []int) []int {
	var out []int
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 0 && (f[0] == "Z" || f[0] == "X") {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// waitGone waits until none of pids runs, for at most d.
func waitGone(t *testing.T, pids []int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for len(alive(pids)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("plugin processes %v still running %s later", alive(pids), d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func occupy(t *testing.T, port int) {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
}

// A plugin process's environment, as the kernel holds it
// (/proc/<pid>/environ), carries none of the gateway's secrets: the
// CorrigoPro client secret and admin token in the gateway's environment
// stay there, while the plugin's configured env and the allowlist arrive.
func TestPluginEnvironmentHoldsNoGatewaySecret(t *testing.T) {
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("no /proc")
	}
	w := newProcWorld(t)
	w.env = []string{"CORRIGO_CLIENT_SECRET=e2e-corrigo-client-secret", "WOGATE_ADMIN__TOKEN=e2e-admin-token-0123456789",
		"WOGATE_ADMIN_TOKEN=e2e-admin-token-0123456789", "ERP_TOKEN=e2e-erp-token", "TZ=Europe/Paris"}
	w.run()
	w.waitReady()
	pids := alive(w.pids())
	if len(pids) == 0 {
		t.Fatal("no plugin process")
	}
	for _, pid := range pids {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil {
			t.Fatal(err)
		}
		env := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		for _, secret := range []string{"e2e-corrigo-client-secret", "e2e-admin-token-0123456789", "e2e-erp-token", "WOGATE_ADMIN", "CORRIGO_"} {
			if strings.Contains(string(raw), secret) {
				t.Errorf("plugin %d environment holds %q: %q", pid, secret, env)
			}
		}
		for _, want := range []string{"WOGATE_TEST_PIDFILE=" + w.pidFile, "TZ=Europe/Paris", "PATH="} {
			if !slices.Contains(env, want) && !(want == "PATH=" && slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") })) {
				t.Errorf("plugin %d environment lacks %s: %q", pid, want, env)
			}
		}
	}
}

// A start that fails leaves no plugin process behind, and a taken port
// fails it before anything is started or announced, naming the key.
func TestFailedStartLeavesNoPlugin(t *testing.T) {
	notaplugin := testplugin.Build(t, "notaplugin")
	cases := []struct {
		name string
		// taken is the port to occupy (nil: none); want is then the
		// error's text with %d for that port.
		taken func(w *procWorld) int
		want  string
		// broken adds a second plugin that is no plugin: the start fails
		// after the first one started.
		broken bool
	}{
		{name: "listen taken", taken: func(w *procWorld) int { return w.port },
			want: "listen 127.0.0.1:%d: address already in use; set listen to a free address"},
		{name: "admin.listen taken", taken: func(w *procWorld) int { return w.admin },
			want: "admin.listen 127.0.0.1:%d: address already in use; set admin.listen to a free address"},
		{name: "sandbox.listen taken", taken: func(w *procWorld) int { return w.sbox },
			want: "sandbox.listen 127.0.0.1:%d: address already in use; set sandbox.listen to a free address"},
		{name: "second plugin fails", broken: true, want: `plugin \"broken\"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newProcWorld(t)
			want := c.want
			if c.taken != nil {
				occupy(t, c.taken(w))
				want = fmt.Sprintf(want, c.taken(w))
			}
			if c.broken {
				w.extraPlugin = fmt.Sprintf("  broken: {command: %s}\n", notaplugin)
			}
			w.run()
			if code := w.exit(30 * time.Second); code != 1 {
				t.Fatalf("exit code %d, want 1", code)
			}
			log := w.log.String()
			if !strings.Contains(log, want) {
				t.Errorf("log lacks %q", want)
			}
			for _, never := range []string{`"msg":"gateway listening"`, `"msg":"plugin live"`, `"msg":"account live"`, `"msg":"admin listening"`} {
				if strings.Contains(log, never) {
					t.Errorf("log announces %s although the start failed", never)
				}
			}
			pids := w.pids()
			if c.broken {
				if len(pids) == 0 {
					t.Fatal("no plugin was started: the case does not test what it should")
				}
			} else if len(pids) > 0 || strings.Contains(log, `"msg":"plugin started"`) || strings.Contains(log, "embedded sandbox started") {
				t.Errorf("something started before the listeners were bound (plugin pids %v)", pids)
			}
			if c.taken != nil && strings.Count(log, fmt.Sprintf(":%d", c.taken(w))) != 1 {
				t.Errorf("the error should name the address once")
			}
			if left := alive(pids); len(left) > 0 {
				t.Errorf("plugin processes %v outlived the failed start", left)
			}
		})
	}
}

// A gateway killed with SIGKILL (or by the OOM killer) takes its plugins
// with it within seconds: the parent-death signal and the SDK's own watch.
func TestGatewaySIGKILLEndsPlugins(t *testing.T) {
	w := newProcWorld(t)
	w.run()
	w.waitReady()
	pids := w.pids()
	if len(alive(pids)) == 0 {
		t.Fatalf("no plugin process running (pids %v)", pids)
	}
	// The gateway alone, not its group: a group kill would end the
	// plugins directly.
	if err := w.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-w.done
	waitGone(t, pids, 5*time.Second)
}

// SIGTERM to the whole process group, as systemd's default
// KillMode=control-group sends it, is a clean stop: exit status 0, every
// plugin stopped by the gateway, none reported as failed or crashed.
func TestSIGTERMToProcessGroupStopsCleanly(t *testing.T) {
	w := newProcWorld(t)
	w.run()
	w.waitReady()
	// Let events flow, so the stop finds calls in flight.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(w.log.String(), `"msg":"event handled"`) {
		if time.Now().After(deadline) {
			t.Fatal("no event handled within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	pids := w.pids()
	if err := syscall.Kill(-w.cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := w.exit(30 * time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM to the group, want 0", code)
	}
	log := w.log.String()
	// The embedded sandbox's own webhook client may see its connection
	// reset when the stopping gateway closes an idle keep-alive connection
	// (CorrigoPro retries those); what must not appear is a reset between
	// the gateway and its plugins, so the sandbox's lines are left out.
	var gwLines []string
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, `"component":"sandbox"`) {
			gwLines = append(gwLines, l)
		}
	}
	gwLog := strings.Join(gwLines, "\n")
	for _, bad := range []string{"plugin stop failed", "plugin crashed", "connection reset by peer", `"msg":"plugin had already exited"`} {
		if strings.Contains(gwLog, bad) {
			t.Errorf("log has %q", bad)
		}
	}
	if !strings.Contains(log, `"msg":"gateway stopped"`) {
		t.Error("log lacks gateway stopped")
	}
	waitGone(t, pids, 5*time.Second)
}
