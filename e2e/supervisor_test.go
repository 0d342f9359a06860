package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wogate/wogate/internal/testhttp"
	"github.com/wogate/wogate/pkg/core/admin"
)

// TestSupervisorUnderLoad proves the plugin supervisor against real
// processes: the sandbox fires a few hundred webhooks (with its duplicate,
// out-of-order and lost deliveries) at `gateway run`, and the test SIGKILLs
// the plugin process — never the gateway — found through the admin API
// (and checked to be the gateway's child in /proc):
//
//  1. twice, spaced out under load: the supervisor restarts it each time;
//  2. then each new process as soon as it runs, until the configured
//     max_crashes is reached: the plugin is quarantined (admin API,
//     /readyz 503, metrics), and calls fail fast;
//  3. while it is quarantined a second batch of work orders arrives: every
//     webhook is still answered 2xx and stored, nothing is handled, nothing
//     is dead-lettered — the events wait in their queue, retrying;
//  4. `gateway plugins restart worker` (the CLI, through the admin API)
//     lifts the quarantine, and the rest is handled.
//
// Then the crash tests' ledger: every accepted MessageId stored once and
// handled once, in order per work order; every action recorded by
// CorrigoPro exactly once; nothing pending, no dead letters.
func TestSupervisorUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("supervisor test: skipped in -short")
	}
	const (
		maxCrashes  = 4
		spacedKills = 2
		steps       = 5
	)
	batchA := envInt("WOGATE_SUPERVISOR_WORK_ORDERS", 60) // during the kills
	batchB := max(1, batchA/2)                            // while quarantined
	p := crashParams{
		WorkOrders: batchA, Steps: steps, PluginDelay: 2 * time.Millisecond,
		Senders: 24, Seed: crashSeed(), Drain: 90 * time.Second,
		Supervisor:       fmt.Sprintf("{max_crashes: %d, window: 10m, backoff_initial: 50ms, backoff_max: 1s}", maxCrashes),
		Admin:            true,
		ExpectQuarantine: true,
	}
	t.Logf("seed %d (rerun with WOGATE_CRASH_SEED=%d): %d + %d work orders × %d notifications, max_crashes %d",
		p.Seed, p.Seed, batchA, batchB, steps, maxCrashes)
	w := newCrashWorld(t, p)
	gw := w.gws[0]
	w.startAll()
	w.sb.SetWebhookURL(w.hook)
	start := time.Now()

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	trackCtx, stopTrack := context.WithCancel(ctx)
	defer stopTrack()
	go w.trackDeliveries(trackCtx)

	totalA := batchA * steps
	trafficA := make(chan error, 1)
	go func() { trafficA <- w.trafficN(ctx, batchA) }()

	plugin := func() admin.PluginInfo {
		t.Helper()
		var a struct{ Plugins []admin.PluginInfo }
		if code := adminJSON(t, gw, "GET", "/api/v1/plugins", &a); code != 200 || len(a.Plugins) != 1 {
			t.Fatalf("GET /api/v1/plugins: %d %+v", code, a)
		}
		return a.Plugins[0]
	}
	waitPlugin := func(what string, ok func(admin.PluginInfo) bool) admin.PluginInfo {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			h := plugin()
			if ok(h) {
				return h
			}
			if time.Now().After(deadline) {
				t.Fatalf("plugin never %s: %+v\n%s", what, h, gw.logTail(4000))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	kill := func(h admin.PluginInfo) {
		t.Helper()
		// The pid the admin API reports is the gateway's child: the test
		// kills the plugin, not some other process.
		if ppid := parentPID(h.PID); ppid != gw.cmd.Process.Pid {
			t.Fatalf("plugin pid %d has parent %d, want the gateway %d", h.PID, ppid, gw.cmd.Process.Pid)
		}
		fmt.Fprintf(gw.logf, "=== SIGKILL plugin %d at %s\n", h.PID, time.Now().Format(time.RFC3339Nano))
		if err := syscall.Kill(h.PID, syscall.SIGKILL); err != nil {
			t.Fatalf("kill plugin %d: %v", h.PID, err)
		}
	}

	// 1. Spaced kills under load: restarted each time.
	for k := 1; k <= spacedKills; k++ {
		w.waitProgress(ctx, totalA*k*20/100)
		// Kill it with calls in flight (the events they carry must go
		// back to their queue), or after 2 s whatever it is doing.
		busy := time.Now().Add(2 * time.Second)
		h := waitPlugin("running", func(h admin.PluginInfo) bool {
			return h.State == "running" && h.PID != 0 && (h.InFlight > 0 || time.Now().After(busy))
		})
		if h.Restarts != k-1 {
			t.Fatalf("before kill %d: %d restarts, want %d", k, h.Restarts, k-1)
		}
		kill(h)
		r := waitPlugin(fmt.Sprintf("restarted after kill %d", k), func(r admin.PluginInfo) bool {
			return r.State == "running" && r.Restarts == k && r.PID != 0 && r.PID != h.PID
		})
		// The supervisor notices either the exit or, first, a call in
		// flight that lost its connection.
		if r.RecentCrashes != k || !strings.Contains(r.LastError, "plugin process exited") && !strings.Contains(r.LastError, "plugin connection lost") {
			t.Errorf("after kill %d: %+v, want %d recent crashes and the exit as last error", k, r, k)
		}
		t.Logf("kill %d at %d/%d notifications accepted, %d calls in flight: pid %d → restarted as %d (%s)",
			k, w.deliveredCount(), totalA, h.InFlight, h.PID, r.PID, oneLineShort(r.LastError))
	}

	// 2. Rapid kills beyond the limit: each new process is killed as soon
	//    as it runs; the max_crashes-th crash quarantines the plugin.
	w.waitProgress(ctx, totalA*60/100)
	for k := spacedKills + 1; k <= maxCrashes; k++ {
		h := waitPlugin("running again", func(h admin.PluginInfo) bool {
			return h.State == "running" && h.Restarts == k-1 && h.PID != 0
		})
		kill(h)
	}
	q := waitPlugin("quarantined", func(h admin.PluginInfo) bool { return h.State == "quarantined" })
	if q.Restarts != maxCrashes-1 || q.RecentCrashes != maxCrashes || q.PID != 0 {
		t.Fatalf("quarantined plugin: %+v, want %d restarts, %d recent crashes, no pid", q, maxCrashes-1, maxCrashes)
	}
	t.Logf("quarantined at %d/%d notifications accepted, %v into the run", w.deliveredCount(), totalA, time.Since(start).Round(time.Millisecond))
	// The admin listener names the plugin; the public one only says so.
	if code, body := httpGet(t, adminURL(gw, "/readyz")); code != 503 || !strings.Contains(body, "plugin worker: quarantined") {
		t.Errorf("admin /readyz while quarantined: %d %s", code, body)
	}
	if code, body := httpGet(t, gw.url("/readyz")); code != 503 || strings.Join(strings.Fields(body), "") != `{"status":"unavailable"}` {
		t.Errorf("public /readyz while quarantined: %d %s, want 503 without details", code, body)
	}
	_, metrics := httpGet(t, adminURL(gw, "/metrics"))
	for _, m := range []string{
		`wogate_plugin_state{plugin="worker",state="quarantined"} 1`,
		`wogate_plugin_up{plugin="worker"} 0`,
		fmt.Sprintf(`wogate_plugin_restarts_total{plugin="worker"} %d`, maxCrashes-1),
		fmt.Sprintf(`wogate_plugin_recent_crashes{plugin="worker"} %d`, maxCrashes),
	} {
		if !strings.Contains(metrics, m) {
			t.Errorf("metrics lack %s", m)
		}
	}
	if err := <-trafficA; err != nil {
		t.Fatalf("traffic during the kills: %v", err)
	}

	// 3. Quarantined: a second batch arrives and is accepted and kept,
	//    but not handled and not dead-lettered.
	before := len(w.wos)
	if err := w.trafficN(ctx, batchB); err != nil {
		t.Fatalf("traffic while quarantined: %v", err)
	}
	for w.sb.PendingNotifications() > 0 {
		if ctx.Err() != nil {
			t.Fatalf("webhooks not answered while the plugin is quarantined: %d pending", w.sb.PendingNotifications())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var bl struct{ Backlog []admin.BacklogView }
	adminJSON(t, gw, "GET", "/api/v1/backlog", &bl)
	if len(bl.Backlog) != 1 || bl.Backlog[0].PendingEvents < batchB*steps {
		t.Errorf("backlog while quarantined: %+v, want at least the %d events of the second batch pending", bl.Backlog, batchB*steps)
	}
	var dl struct{ Count int }
	adminJSON(t, gw, "GET", "/api/v1/dead-letters", &dl)
	if dl.Count != 0 {
		t.Errorf("%d dead letters while quarantined: the events must wait, not die", dl.Count)
	}
	for _, id := range w.wos[before:] {
		if wo, _, _ := w.sb.WorkOrder(id); string(wo.Status) != "New" {
			t.Errorf("work order %d of the quarantine batch is %s: something handled it", id, wo.Status)
		}
	}
	if h := plugin(); h.State != "quarantined" {
		t.Fatalf("quarantine ended by itself: %+v", h)
	}
	log := gw.logText()
	crashes, quarantines := countLines(log, `"msg":"plugin crashed"`), countLines(log, `"msg":"plugin quarantined`)
	refused := countLines(log, "plugin quarantined after repeated crashes")
	backToQueue := countLines(log, `"msg":"event failed; will retry"`)
	// Before the quarantine: calls that were in flight when a process
	// died, or came while it restarted, put their events back.
	unavailable := 0
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, `"msg":"event failed; will retry"`) && strings.Contains(l, "plugin unavailable") &&
			!strings.Contains(l, "quarantined") {
			unavailable++
		}
	}
	if crashes != maxCrashes || quarantines != 1 || refused == 0 || unavailable == 0 {
		t.Errorf("log: %d crashes, %d quarantines, %d calls refused as quarantined, %d events put back while restarting; want %d, 1, some, some",
			crashes, quarantines, refused, unavailable, maxCrashes)
	}
	t.Logf("quarantine batch: %d work orders accepted and kept; %d events pending; %d retries scheduled so far (%d while restarting)",
		len(w.wos)-before, bl.Backlog[0].PendingEvents, backToQueue, unavailable)

	// 4. Lift the quarantine with the CLI.
	out, err := exec.CommandContext(ctx, gatewayBin, "plugins", "restart", "worker",
		"--admin-url", adminURL(gw, "")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "plugin worker is running again") {
		t.Fatalf("gateway plugins restart worker: %v\n%s", err, out)
	}
	r := plugin()
	if r.State != "running" || r.Restarts != maxCrashes || r.RecentCrashes != 0 || r.PID == 0 {
		t.Fatalf("after lifting the quarantine: %+v", r)
	}
	if code, body := httpGet(t, gw.url("/readyz")); code != 200 {
		t.Errorf("/readyz after the restart: %d %s", code, body)
	}

	dctx, dcancel := context.WithTimeout(ctx, p.Drain)
	defer dcancel()
	if err := w.drain(dctx); err != nil {
		t.Fatal(err)
	}
	if h := plugin(); h.State != "running" || h.Restarts != maxCrashes {
		t.Errorf("after the drain: %+v (no crash expected)", h)
	}
	w.termAll()
	bad, rep := w.checkLedger(context.Background())
	t.Logf("%s; total %v", rep, time.Since(start).Round(time.Millisecond))
	for _, b := range bad {
		t.Error(b)
	}
	if rep.PluginCrashes != maxCrashes {
		t.Errorf("%d plugin crashes logged, want %d", rep.PluginCrashes, maxCrashes)
	}
	if rep.EventsReclaimed == 0 {
		t.Error("no event was attempted more than once: the kills and the quarantine put nothing back in the queue")
	}
}

func oneLineShort(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// waitProgress blocks until at least n notifications were answered 2xx.
func (w *crashWorld) waitProgress(ctx context.Context, n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.delivered) < n && ctx.Err() == nil {
		w.cond.Wait()
	}
}

func (w *crashWorld) deliveredCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.delivered)
}

func adminURL(g *crashGateway, path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", g.admin, path)
}

// adminJSON calls the gateway's admin API and decodes its answer.
func adminJSON(t *testing.T, g *crashGateway, method, path string, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, adminURL(g, path), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s %s: %d %s: %v", method, path, res.StatusCode, b, err)
	}
	return res.StatusCode
}

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	res, err := testhttp.Get(t.Context(), u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// parentPID reads a process's parent from /proc (0 if it is gone).
func parentPID(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...; comm may contain spaces and parentheses.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}
