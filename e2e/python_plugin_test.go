package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/internal/testhttp"
	"github.com/wogate/wogate/pkg/core/admin"
	"github.com/wogate/wogate/pkg/corrigo"
)

// Plugins written in Python with sdk/python, through the real gateway
// binary, its embedded sandbox and real Python processes: the example
// plugin plugins/python-ticketing accepts and notes a new work order of its
// priority and leaves the others alone; a plugin that crashes on its first
// event is restarted by the supervisor and the event is retried, with
// nothing sent twice; a plugin that answers an unknown action kind dead-
// letters the event with the reason, promptly; a plugin that uses the host
// service (KV, through go-plugin's broker) gets it.
//
// The SDK needs Debian's python3-grpcio, python3-protobuf and
// python3-cryptography (.ci/run installs them): without them the test is
// skipped, except under CI=1, where it fails.
func TestPythonPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short")
	}
	python := pythonWithSDKDeps(t)
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	ticketing := filepath.Join(root, "plugins", "python-ticketing", "main.py")
	kvPlugin := filepath.Join(root, "sdk", "python", "tests", "kv_plugin.py")

	t.Run("new emergency accepted and noted", func(t *testing.T) {
		ex := startPython(t, python, ticketing, "priorities: [EMERGENCY]\n      accept_comment: Ticket on its way", 8)
		emergency := ex.createWorkOrder("EMERGENCY")
		low := ex.createWorkOrder("LOW")
		ex.waitFor("the emergency Accepted", 30*time.Second, func() bool {
			return ex.status(emergency.WorkOrderId) == corrigo.StatusAccepted
		})
		ex.waitFor("the note sent", 30*time.Second, func() bool {
			return countPuts(ex.usage(emergency.WorkOrderId), "note") == 1
		})
		if n := countPuts(ex.usage(emergency.WorkOrderId), "accept"); n != 1 {
			t.Errorf("%d accepts sent for the emergency, want 1", n)
		}
		// The LOW one was handled (the plugin said so in its log, which
		// the gateway carries under the plugin's name) and left alone.
		ex.waitFor("the plugin's log line for the LOW work order", 30*time.Second, func() bool {
			return strings.Contains(ex.log.String(), fmt.Sprintf("work_order=%d", low.WorkOrderId)) &&
				strings.Contains(ex.log.String(), `msg="left alone"`)
		})
		if st := ex.status(low.WorkOrderId); st != corrigo.StatusNew {
			t.Errorf("LOW work order is %s, want New", st)
		}
		if n := countPuts(ex.usage(low.WorkOrderId), ""); n != 0 {
			t.Errorf("%d PUTs for the LOW work order, want none", n)
		}
		if !strings.Contains(ex.log.String(), "ticket=TCK-"+emergency.WorkOrderNumber) {
			t.Errorf("the gateway log lacks the plugin's hclog line with the ticket number")
		}
		p := ex.plugin()
		if p.State != "running" || p.Version != "1.0.0" || p.Protocol != 1 || p.Restarts != 0 {
			t.Errorf("plugin info %+v, want running version 1.0.0, protocol 1, no restarts", p)
		}
		ex.stop()
		if strings.Contains(ex.log.String(), "level=ERROR") {
			t.Errorf("errors in the gateway log")
		}
	})

	t.Run("crash on the first event: restarted, retried, nothing doubled", func(t *testing.T) {
		marker := filepath.Join(t.TempDir(), "crashed")
		ex := startPython(t, python, ticketing, fmt.Sprintf("priorities: [EMERGENCY]\n      crash_marker: %q", marker), 8)
		wo := ex.createWorkOrder("EMERGENCY")
		ex.waitFor("the work order Accepted after the crash", 60*time.Second, func() bool {
			return ex.status(wo.WorkOrderId) == corrigo.StatusAccepted
		})
		ex.waitFor("the note sent", 30*time.Second, func() bool {
			return countPuts(ex.usage(wo.WorkOrderId), "note") >= 1
		})
		if _, err := os.Stat(marker); err != nil {
			t.Fatalf("the plugin never crashed (no marker): %v", err)
		}
		p := ex.plugin()
		if p.State != "running" || p.Restarts != 1 {
			t.Errorf("plugin info %+v, want running after 1 restart", p)
		}
		// Give a doubled delivery time to show up before counting.
		time.Sleep(2 * time.Second)
		u := ex.usage(wo.WorkOrderId)
		if a, n := countPuts(u, "accept"), countPuts(u, "note"); a != 1 || n != 1 {
			t.Errorf("%d accepts and %d notes sent, want 1 each: %+v", a, n, u)
		}
	})

	t.Run("unknown action kind: a dead letter with the reason, no hang", func(t *testing.T) {
		ex := startPython(t, python, kvPlugin, "answer: bad_kind", 8)
		wo := ex.createWorkOrder("LOW")
		start := time.Now()
		var found admin.TimelineEntry
		ex.waitFor("the event dead-lettered", 30*time.Second, func() bool {
			for _, e := range ex.timeline(wo.WorkOrderId).Entries {
				if e.Type == "dead_letter" {
					found = e
					return true
				}
			}
			return false
		})
		if !strings.Contains(found.Detail, "bad action") || !strings.Contains(found.Detail, "unknown action kind 99") {
			t.Errorf("dead letter detail %q, want it to name the bad action kind", found.Detail)
		}
		// One attempt is enough: the answer is wrong, not late.
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("dead-lettered after %v", d)
		}
		if st := ex.status(wo.WorkOrderId); st != corrigo.StatusNew {
			t.Errorf("work order is %s, want New", st)
		}
		if n := countPuts(ex.usage(wo.WorkOrderId), ""); n != 0 {
			t.Errorf("%d PUTs sent, want none", n)
		}
		if p := ex.plugin(); p.State != "running" || p.Restarts != 0 {
			t.Errorf("plugin info %+v: a bad answer is not a crash", p)
		}
	})

	// go-plugin hands every plugin the same port range; two Python
	// plugins must each get their own port (gRPC Python's SO_REUSEPORT
	// default would have them share one, and the gateway's connections).
	t.Run("two Python plugins in one gateway", func(t *testing.T) {
		ticket := pythonPluginYAML("ticketing", python, ticketing, "priorities: [EMERGENCY]", 8)
		kv := strings.TrimPrefix(pythonPluginYAML("kv", python, kvPlugin, "greeting: counted", 1), "plugins:\n")
		ex := startPythonConfig(t, ticket+kv+`rules:
  - name: emergencies
    when: event.Action == "NewWorkOrder" && workOrder.Sla.IsEmergency
    plugin: ticketing
    stop: true
  - name: the-rest
    when: event.Action == "NewWorkOrder"
    plugin: kv
`)
		emergency, low := ex.createWorkOrder("EMERGENCY"), ex.createWorkOrder("LOW")
		ex.waitFor("the emergency accepted by ticketing", 30*time.Second, func() bool {
			return ex.status(emergency.WorkOrderId) == corrigo.StatusAccepted
		})
		ex.waitFor("the LOW work order noted by kv", 30*time.Second, func() bool {
			return countPuts(ex.usage(low.WorkOrderId), "note") == 1
		})
		if n := countPuts(ex.usage(low.WorkOrderId), "accept"); n != 0 {
			t.Errorf("LOW work order got %d accepts, want 0", n)
		}
		ps := ex.plugins()
		if len(ps) != 2 || ps[0].PID == ps[1].PID {
			t.Fatalf("plugins %+v, want two processes", ps)
		}
		for _, p := range ps {
			if p.State != "running" || p.Restarts != 0 {
				t.Errorf("plugin %+v, want running, no restarts", p)
			}
		}
	})

	t.Run("host service through the broker", func(t *testing.T) {
		ex := startPython(t, python, kvPlugin, "greeting: counted", 1)
		a, b := ex.createWorkOrder("LOW"), ex.createWorkOrder("HIGH")
		for _, id := range []int64{a.WorkOrderId, b.WorkOrderId} {
			ex.waitFor("the note sent", 30*time.Second, func() bool {
				return countPuts(ex.usage(id), "note") == 1
			})
		}
		// The count lives in the gateway's store (KV through the broker),
		// so the second event saw the first's.
		for _, want := range []string{"count=1", "count=2"} {
			if !strings.Contains(ex.log.String(), want) {
				t.Errorf("gateway log lacks the plugin's %q", want)
			}
		}
	})
}

// pythonWithSDKDeps is an interpreter that can import what the SDK needs:
// Debian's (the packages install for it), else python3 from PATH.
func pythonWithSDKDeps(t *testing.T) string {
	t.Helper()
	var tried []string
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		path, err := exec.LookPath(p)
		if err != nil {
			continue
		}
		out, err := exec.CommandContext(t.Context(), path, "-c", "import grpc, google.protobuf, cryptography").CombinedOutput()
		if err == nil {
			return path
		}
		tried = append(tried, fmt.Sprintf("%s: %s", path, strings.TrimSpace(string(out))))
	}
	msg := "no python3 with grpc, protobuf and cryptography (apt-get install python3-grpcio python3-protobuf python3-cryptography); tried " + strings.Join(tried, "; ")
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// startPython runs the gateway with one Python plugin, "py", which every
// NewWorkOrder goes to.
func startPython(t *testing.T, python, script, pluginConfig string, concurrency int) *example {
	t.Helper()
	return startPythonConfig(t, pythonPluginYAML("py", python, script, pluginConfig, concurrency)+`rules:
  - name: to-python
    when: event.Action == "NewWorkOrder"
    plugin: py
`)
}

// pythonPluginYAML is one plugin's entry under plugins:.
func pythonPluginYAML(name, python, script, pluginConfig string, concurrency int) string {
	return fmt.Sprintf(`plugins:
  %s:
    command: %s
    args: [%q]
    concurrency: %d
    config:
      %s
    supervisor: {backoff_initial: 100ms, backoff_max: 1s}
`, name, python, script, concurrency, pluginConfig)
}

// startPythonConfig runs the gateway with the given plugins and rules
// (YAML) beside an embedded sandbox.
func startPythonConfig(t *testing.T, pluginsAndRules string) *example {
	t.Helper()
	dir := t.TempDir()
	ex := &example{t: t, port: freePort(t), adminPort: freePort(t), sbPort: freePort(t), log: &syncBuffer{}}
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
data_dir: %s
corrigo:
  accounts:
    main:
      sandbox: true
      polling: {enabled: false}
%sdelivery:
  max_attempts: 5
  backoff_initial: 200ms
  backoff_max: 1s
admin:
  listen: 127.0.0.1:%d
sandbox:
  listen: 127.0.0.1:%d
  auto_create: 0s
log: {level: info, format: text}
`, ex.port, filepath.Join(dir, "data"), pluginsAndRules, ex.adminPort, ex.sbPort)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	gw := exec.CommandContext(context.Background(), gatewayBin, "run", "--config", path)
	gw.Stdout, gw.Stderr = ex.log, ex.log
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	ex.gw, ex.gwDone = gw, make(chan error, 1)
	go func() { ex.gwDone <- gw.Wait() }()
	t.Cleanup(func() {
		ex.stop()
		if t.Failed() {
			t.Logf("gateway log:\n%s", ex.log.String())
		}
	})
	ex.waitFor("gateway ready", 30*time.Second, func() bool {
		select {
		case err := <-ex.gwDone:
			t.Fatalf("gateway exited before it was ready: %v\n%s", err, ex.log.String())
		default:
		}
		resp, err := testhttp.Get(t.Context(), fmt.Sprintf("http://127.0.0.1:%d/readyz", ex.port))
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return ex
}

// plugin is the only plugin's state from the admin API.
func (ex *example) plugin() admin.PluginInfo {
	ex.t.Helper()
	ps := ex.plugins()
	if len(ps) != 1 {
		ex.t.Fatalf("%d plugins, want 1: %+v", len(ps), ps)
	}
	return ps[0]
}

func (ex *example) plugins() []admin.PluginInfo {
	ex.t.Helper()
	var out struct{ Plugins []admin.PluginInfo }
	ex.getJSON(fmt.Sprintf("http://127.0.0.1:%d/api/v1/plugins", ex.adminPort), nil, &out)
	return out.Plugins
}

// countPuts counts the PUTs CorrigoPro received whose path contains what
// (case-insensitive; "" counts every PUT).
func countPuts(usage []struct{ Direction, Method, Path string }, what string) int {
	n := 0
	for _, u := range usage {
		if u.Direction == "Inbound" && u.Method == http.MethodPut && strings.Contains(strings.ToLower(u.Path), what) {
			n++
		}
	}
	return n
}
