package e2e

import (
	"bytes"
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wogate/wogate/internal/testhttp"
	"github.com/wogate/wogate/internal/testplugin"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// crashParams size one crash run. The defaults fit `make test`; `make
// crash-test` raises them through WOGATE_CRASH_* variables.
type crashParams struct {
	WorkOrders int // each gets Steps notifications
	Steps      int // 1 NewWorkOrder + (Steps-1) alternating NteChanged / SlaChanged
	Kills      int // SIGKILLs of the gateway's process group
	// PluginCrashAfter makes every plugin process exit while handling its
	// Nth event (0: never).
	PluginCrashAfter int
	PluginDelay      time.Duration
	Senders          int // concurrent traffic goroutines
	Seed             uint64
	Drain            time.Duration // deadline for everything to settle after the traffic
	// Postgres, when set, is the DSN of a PostgreSQL server: the gateways
	// share one database (a fresh schema) instead of a SQLite file.
	Postgres string
	// Replicas is the number of gateway processes (default 1). With more
	// than one, a round-robin proxy in front of them receives the
	// webhooks, as a load balancer would, and each kill picks a replica.
	Replicas int
	// Pace makes each sender wait this long before each work order, to
	// spread the traffic over time (0: as fast as the gateway answers).
	Pace time.Duration
	// Supervisor, when set, is the plugin's supervisor block (a YAML flow
	// mapping, e.g. "{max_crashes: 4, window: 5m}").
	Supervisor string
	// Admin turns the admin listener on (a free port per replica).
	Admin bool
	// ExpectQuarantine: the run quarantines the plugin on purpose (the
	// ledger otherwise takes a quarantine for a wrongly sized run).
	ExpectQuarantine bool
	// Delivery, when set, replaces the delivery section's body (YAML,
	// indented two spaces, ending in a newline).
	Delivery string
	// FetchWorkOrder makes the rule fetch the work order from CorrigoPro
	// for every event but NewWorkOrder (fetch_work_order: true).
	FetchWorkOrder bool
}

// crashDelivery is the crash runs' delivery section: many quick retries,
// so that kills, not retry budgets, are what the runs test.
const crashDelivery = `  max_attempts: 1000
  backoff_initial: 20ms
  backoff_max: 250ms
  event_lease: 2s
`

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err == nil && n >= 0 {
			return n
		}
	}
	return def
}

// crashGateway is `gateway run` as a child process in its own process
// group, so a SIGKILL takes its plugin processes down with it, as a
// machine or container crash would.
type crashGateway struct {
	t      *testing.T
	cfg    string
	port   int
	admin  int // admin listener port, 0 when off
	logf   *os.File
	cmd    *exec.Cmd
	done   chan error
	starts int
}

func (g *crashGateway) url(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", g.port, path)
}

// start launches the gateway and waits until /readyz answers 200.
func (g *crashGateway) start() {
	g.t.Helper()
	g.starts++
	fmt.Fprintf(g.logf, "=== start %d at %s\n", g.starts, time.Now().Format(time.RFC3339Nano))
	cmd := exec.CommandContext(context.Background(), gatewayBin, "run", "--config", g.cfg, "--shutdown-timeout", "5s")
	cmd.Stdout, cmd.Stderr = g.logf, g.logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	g.cmd, g.done = cmd, done
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-done:
			g.cmd = nil
			g.t.Fatalf("gateway exited before it was ready: %v\n%s", err, g.logTail(4000))
		default:
		}
		resp, err := testhttp.Get(context.Background(), g.url("/readyz"))
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("gateway not ready after 30s\n%s", g.logTail(4000))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill SIGKILLs the gateway and its plugins and waits for the gateway to
// be reaped.
func (g *crashGateway) kill() {
	if g.cmd == nil {
		return
	}
	pid := g.cmd.Process.Pid
	fmt.Fprintf(g.logf, "=== SIGKILL process group %d at %s\n", pid, time.Now().Format(time.RFC3339Nano))
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	fmt.Fprintf(g.logf, "=== exited: %v\n", <-g.done)
	g.cmd = nil
}

// term stops the gateway gracefully and expects exit status 0.
func (g *crashGateway) term() {
	g.t.Helper()
	if g.cmd == nil {
		return
	}
	cmd := g.cmd
	g.cmd = nil
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-g.done:
		if err != nil {
			g.t.Errorf("gateway exited with %v after SIGTERM", err)
		}
	case <-time.After(45 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		g.t.Errorf("gateway did not stop within 45s of SIGTERM")
	}
	// Plugins of a cleanly stopped gateway are gone; anything left in the
	// group is a leak, but not this test's business: reap it.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

func (g *crashGateway) logText() string {
	b, _ := os.ReadFile(g.logf.Name())
	return string(b)
}

func (g *crashGateway) logTail(n int) string {
	s := g.logText()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

var crashConfigTmpl = template.Must(template.New("crash").Parse(`# written by the crash test
listen: 127.0.0.1:{{.Port}}
data_dir: {{.DataDir}}
{{if .DSN}}store:
  driver: postgres
  dsn: "{{.DSN}}"
{{end}}corrigo:
  accounts:
    main:
      base_url: {{.BaseURL}}
      oauth_url: {{.OAuthURL}}
      client_id: sandbox
      client_secret: sandbox-secret
      webhook:
        path: /webhooks/corrigo/main
        certificate: file:{{.CertFile}}
      polling:
        enabled: false
      reconcile:
        interval: 0s
plugins:
  worker:
    command: {{.Plugin}}
    timeout: 2s
    concurrency: 16
    config:
      actions: {NewWorkOrder: accept, NteChanged: check_in, SlaChanged: pause}
      mode: quiet
      crash_after: {{.CrashAfter}}
      delay: {{.Delay}}
{{if .Supervisor}}    supervisor: {{.Supervisor}}
{{end}}rules:
  - name: every-event
    when: "true"
    plugin: worker
{{if .Fetch}}    fetch_work_order: true
{{end}}delivery:
{{.Delivery}}admin:
  listen: "{{if .AdminPort}}127.0.0.1:{{.AdminPort}}{{end}}"
log:
  level: info
  format: json
`))

// crashWorld is one crash run: the sandbox, the gateway process and the
// traffic.
type crashWorld struct {
	t      *testing.T
	p      crashParams
	sb     *sandbox.Sandbox
	gws    []*crashGateway
	hook   string // the URL CorrigoPro posts to
	schema string // PostgreSQL schema, if any
	dir    string
	rng    *rand.Rand

	mu        sync.Mutex
	delivered map[int64]bool // notification id → answered 2xx
	cond      *sync.Cond
	wos       []int64
	kills     atomic.Int64
}

func newCrashWorld(t *testing.T, p crashParams) *crashWorld {
	t.Helper()
	total := p.WorkOrders * p.Steps
	sb, err := sandbox.New(sandbox.Options{
		// CorrigoPro's 5-minute first retry becomes 30 ms.
		TimeScale:          0.0001,
		Seed:               int64(p.Seed%1e9) + 1,
		WebhookConcurrency: 8,
		WebhookTimeout:     5 * time.Second,
		UsageLogSize:       40*total + 10000,
		NotificationKeep:   4*total + 1000,
		Faults: sandbox.Faults{
			// Same MessageId again at once, and again after later
			// notifications (out of order); some deliveries lost on the
			// way; some API calls refused with a transient 500.
			DuplicateRate:   0.05,
			RedeliverRate:   0.05,
			RedeliverDelay:  sandbox.Duration(10 * time.Minute),
			WebhookFailRate: 0.02,
			ErrorRate:       0.01,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	dir := t.TempDir()
	w := &crashWorld{t: t, p: p, sb: sb, dir: dir, rng: rand.New(rand.NewPCG(p.Seed, p.Seed^0xc7a5)), delivered: map[int64]bool{}}
	w.cond = sync.NewCond(&w.mu)

	cert := filepath.Join(dir, "corrigo.pem")
	if err := os.WriteFile(cert, sb.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	dsn := ""
	if p.Postgres != "" {
		w.schema = crashSchema(t, p.Postgres)
		dsn = p.Postgres + "&search_path=" + w.schema
	}
	for i := range max(1, p.Replicas) {
		port, adminPort := freePort(t), 0
		if p.Admin {
			adminPort = freePort(t)
		}
		var b bytes.Buffer
		if err := crashConfigTmpl.Execute(&b, map[string]any{
			"Port": port, "DataDir": filepath.Join(dir, "data"), "BaseURL": sb.BaseURL(), "OAuthURL": sb.OAuthURL(), "DSN": dsn,
			"CertFile": cert, "Plugin": pluginBin(t), "CrashAfter": p.PluginCrashAfter, "Delay": p.PluginDelay.String(),
			"Supervisor": p.Supervisor, "AdminPort": adminPort, "Delivery": cmp.Or(p.Delivery, crashDelivery), "Fetch": p.FetchWorkOrder,
		}); err != nil {
			t.Fatal(err)
		}
		cfg := filepath.Join(dir, fmt.Sprintf("config-%d.yaml", i))
		if err := os.WriteFile(cfg, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("gateway-%d.log", i)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = logf.Close() })
		gw := &crashGateway{t: t, cfg: cfg, port: port, admin: adminPort, logf: logf}
		w.gws = append(w.gws, gw)
		t.Cleanup(func() {
			gw.kill()
			if t.Failed() {
				t.Logf("gateway %d log (tail):\n%s", i, gw.logTail(20000))
			}
		})
	}
	w.hook = w.gws[0].url("/webhooks/corrigo/main")
	if len(w.gws) > 1 {
		w.hook = roundRobin(t, w.gws) + "/webhooks/corrigo/main"
	}
	return w
}

// roundRobin starts a proxy that sends each request to the next replica,
// with no health checks: a request that lands on a dead replica fails
// (502), and CorrigoPro's retry queue tries again.
func roundRobin(t *testing.T, gws []*crashGateway) string {
	var next atomic.Uint64
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			gw := gws[next.Add(1)%uint64(len(gws))]
			u, _ := url.Parse(gw.url(""))
			r.SetURL(u)
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv.URL
}

// crashSchema creates a fresh PostgreSQL schema for one run and drops it
// afterwards.
func crashSchema(t *testing.T, dsn string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = crand.Read(b)
	schema := "wogate_crash_" + hex.EncodeToString(b)
	run := func(q string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close(ctx) }()
		_, err = conn.Exec(ctx, q)
		return err
	}
	if err := run("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if err := run("DROP SCHEMA IF EXISTS " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// startAll starts every replica.
func (w *crashWorld) startAll() {
	for _, gw := range w.gws {
		gw.start()
	}
}

// termAll stops every replica gracefully.
func (w *crashWorld) termAll() {
	for _, gw := range w.gws {
		gw.term()
	}
}

// starts counts the starts of all replicas.
func (w *crashWorld) starts() int {
	n := 0
	for _, gw := range w.gws {
		n += gw.starts
	}
	return n
}

// logText is the log of every replica.
func (w *crashWorld) logText() string {
	var b strings.Builder
	for _, gw := range w.gws {
		b.WriteString(gw.logText())
	}
	return b.String()
}

// trackDeliveries refreshes the set of notifications answered 2xx until
// ctx ends and wakes the senders waiting for one.
func (w *crashWorld) trackDeliveries(ctx context.Context) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		ns := w.sb.Notifications(sandbox.NotificationFilter{State: sandbox.StateDelivered})
		w.mu.Lock()
		for _, n := range ns {
			w.delivered[n.Id] = true
		}
		w.cond.Broadcast()
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			w.mu.Lock()
			w.cond.Broadcast()
			w.mu.Unlock()
			return
		case <-t.C:
		}
	}
}

// waitDelivered blocks until notification id was answered 2xx or ctx
// ends.
func (w *crashWorld) waitDelivered(ctx context.Context, id int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for !w.delivered[id] {
		if ctx.Err() != nil {
			return false
		}
		w.cond.Wait()
	}
	return true
}

// stepAction is the customer change of step i ≥ 1 and the action the
// plugin answers it with: NteChanged → check_in, SlaChanged → pause, so a
// work order walks Accepted → CheckedIn → Paused → CheckedIn → ... and
// CorrigoPro refuses any action that arrives out of order.
func stepAction(i int) sandbox.Action {
	if i%2 == 1 {
		return sandbox.Action{Action: sandbox.ActNteChange, Amount: float64(500 + i)}
	}
	return sandbox.Action{Action: sandbox.ActSlaChange, Sla: &corrigo.Sla{PriorityName: []string{"HIGH", "MEDIUM"}[i/2%2]}}
}

// finalStatus is the status a work order ends in after steps
// notifications were handled.
func finalStatus(steps int) corrigo.Status {
	switch {
	case steps <= 1:
		return corrigo.StatusAccepted
	case steps%2 == 0:
		return corrigo.StatusCheckedIn
	default:
		return corrigo.StatusPaused
	}
}

// traffic creates the work orders and their changes. A work order's next
// change is made only after CorrigoPro's previous notification for it was
// answered 2xx (so every notification the gateway must order is stored
// before the next exists); work orders run in parallel.
func (w *crashWorld) traffic(ctx context.Context) error { return w.trafficN(ctx, w.p.WorkOrders) }

// trafficN is traffic for n work orders (more than p.WorkOrders when a
// test sends its traffic in batches).
func (w *crashWorld) trafficN(ctx context.Context, n int) error {
	ids := make(chan int, n)
	for i := range n {
		ids <- i
	}
	close(ids)
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	fail := func(err error) {
		firstErr.CompareAndSwap(nil, &err)
	}
	var created sync.Mutex
	for range w.p.Senders {
		wg.Go(func() {
			for range ids {
				if ctx.Err() != nil {
					return
				}
				if w.p.Pace > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(w.p.Pace):
					}
				}
				wo, err := w.sb.CreateWorkOrder(sandbox.WorkOrderSpec{Type: corrigo.TypeRequest})
				if err != nil {
					fail(fmt.Errorf("create work order: %w", err))
					return
				}
				created.Lock()
				w.wos = append(w.wos, wo.WorkOrderId)
				created.Unlock()
				last := w.sb.Notifications(sandbox.NotificationFilter{WorkOrderId: wo.WorkOrderId, Action: corrigo.ActionNewWorkOrder})
				if len(last) != 1 {
					fail(fmt.Errorf("work order %d has %d NewWorkOrder notifications", wo.WorkOrderId, len(last)))
					return
				}
				prev := last[0].Id
				for step := 1; step < w.p.Steps; step++ {
					if !w.waitDelivered(ctx, prev) {
						return
					}
					res, err := w.sb.Act(wo.WorkOrderId, stepAction(step))
					if err != nil {
						fail(fmt.Errorf("work order %d step %d: %w", wo.WorkOrderId, step, err))
						return
					}
					if len(res.NotificationIds) != 1 {
						fail(fmt.Errorf("work order %d step %d sent %d notifications", wo.WorkOrderId, step, len(res.NotificationIds)))
						return
					}
					prev = res.NotificationIds[0]
				}
			}
		})
	}
	wg.Wait()
	if p := firstErr.Load(); p != nil {
		return *p
	}
	return ctx.Err()
}

// killer SIGKILLs the gateway Kills times at random moments while traffic
// flows, restarting it after each kill. The moments are tied to progress,
// not to the clock, so a fast or a loaded machine gets all of them: kill i
// comes at a random point of the i-th slice of the notifications, plus a
// random few milliseconds so it lands anywhere in the pipeline.
func (w *crashWorld) killer(ctx context.Context) {
	total := float64(w.p.WorkOrders * w.p.Steps)
	for i := 0; i < w.p.Kills; i++ {
		at := int(total * (float64(i) + 0.1 + 0.8*w.rng.Float64()) / float64(w.p.Kills))
		w.mu.Lock()
		for len(w.delivered) < at && ctx.Err() == nil {
			w.cond.Wait()
		}
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Duration(w.rng.Int64N(int64(20 * time.Millisecond)))):
		}
		gw := w.gws[w.rng.IntN(len(w.gws))]
		gw.kill()
		w.kills.Add(1)
		// Restart at once: CorrigoPro's retry queue finds it again.
		gw.start()
	}
}

// drain waits until the sandbox has nothing left to deliver and every work
// order reached its final status with all its actions recorded.
func (w *crashWorld) drain(ctx context.Context) error {
	want := finalStatus(w.p.Steps)
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("not drained: %d notifications pending, work orders not final: %v", w.sb.PendingNotifications(), w.notFinal(want, 10))
		}
		if w.sb.PendingNotifications() == 0 && len(w.notFinal(want, 1)) == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// notFinal lists up to limit work orders whose status or provider history
// is not yet what the traffic leads to.
func (w *crashWorld) notFinal(want corrigo.Status, limit int) []string {
	var out []string
	for _, id := range w.wos {
		wo, hist, ok := w.sb.WorkOrder(id)
		n := 0
		for _, h := range hist {
			if h.Actor == sandbox.ActorProvider {
				n++
			}
		}
		if !ok || wo.Status != want || n < w.p.Steps {
			out = append(out, fmt.Sprintf("%d:%s/%d", id, wo.Status, n))
			if len(out) >= limit {
				break
			}
		}
	}
	return out
}

func pluginBin(t *testing.T) string { return testplugin.Build(t, "accept") }

// countLines counts log lines containing s.
func countLines(log, s string) int {
	n := 0
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}
