package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/trace"

	"github.com/wogate/wogate/internal/testhttp"
	"github.com/wogate/wogate/internal/testplugin"
	"github.com/wogate/wogate/pkg/core/assemble"
	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testplugin.Cleanup()
	os.Exit(code)
}

// world is an in-process gateway wired to a sandbox over loopback HTTP,
// with the real accept plugin binary.
type world struct {
	t    *testing.T
	sb   *sandbox.Sandbox
	g    *Gateway
	addr string
	logs *lockedBuffer
	stop func() error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type worldOpts struct {
	extraYAML    string // appended at top level
	accountYAML  string // appended inside the account
	webhookYAML  string // appended inside the account's webhook flow map, e.g. ", names: [x]"
	polling      string // the account's polling block; default {enabled: false}
	pluginConfig string
	rules        string
	postgres     string // DSN; empty: SQLite
	// tracerProvider replaces the (off by default) configured tracing.
	tracerProvider trace.TracerProvider
	// wrapStore is Options.WrapStore (fault injection around the real store).
	wrapStore func(store.Store) store.Store
	// corrigoYAML is appended inside the corrigo block (before accounts).
	corrigoYAML string
	// apiURL, if set, maps the sandbox to the account's base_url (a
	// proxy in front of it); default the sandbox's own.
	apiURL func(*sandbox.Sandbox) string
}

func newWorld(t *testing.T, o worldOpts) *world {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{TimeScale: 0.0001})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	dir := t.TempDir()
	cert := filepath.Join(dir, "corrigo.pem")
	if err := os.WriteFile(cert, sb.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if o.pluginConfig == "" {
		o.pluginConfig = "{}"
	}
	if o.polling == "" {
		o.polling = "{enabled: false}"
	}
	if o.rules == "" {
		o.rules = `
  - name: new-to-accept
    when: event.Action == "NewWorkOrder"
    plugin: accept`
	}
	storeYAML := ""
	if o.postgres != "" {
		storeYAML = "store: {driver: postgres, dsn: \"" + o.postgres + "\"}\n"
	}
	apiURL := sb.BaseURL()
	if o.apiURL != nil {
		apiURL = o.apiURL(sb)
	}
	yaml := fmt.Sprintf(`listen: 127.0.0.1:1
data_dir: %s
%scorrigo:
%s  accounts:
    main:
      base_url: %s
      oauth_url: %s
      client_id: sandbox
      client_secret: sandbox-secret
      webhook: {certificate: "file:%s"%s}
      polling: %s
%s
plugins:
  accept: {command: %s, timeout: 5s, config: %s}
rules:%s
delivery: {backoff_initial: 20ms, backoff_max: 100ms, max_attempts: 3}
admin: {listen: ""}
%s`, dir, storeYAML, o.corrigoYAML, apiURL, sb.OAuthURL(), cert, o.webhookYAML, o.polling, o.accountYAML, testplugin.Build(t, "accept"), o.pluginConfig, o.rules, o.extraYAML)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config:\n%s\n%v", yaml, err)
	}
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	opts := Options{Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Listener: ln,
		ShutdownTimeout: 5 * time.Second}
	if o.postgres != "" {
		opts.PostgresSchema = freshSchema(t, o.postgres)
	}
	opts.TracerProvider = o.tracerProvider
	opts.WrapStore = o.wrapStore
	g, err := New(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	w := &world{t: t, sb: sb, g: g, addr: ln.Addr().String(), logs: logs}
	var once sync.Once
	var runErr error
	w.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				runErr = fmt.Errorf("Run did not return within 30s")
			}
		})
		return runErr
	}
	t.Cleanup(func() {
		if err := w.stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})
	sb.SetWebhookURL("http://" + w.addr + "/webhooks/corrigo/main")
	return w
}

func (w *world) waitFor(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (w *world) status(id int64) corrigo.Status {
	wo, _, _ := w.sb.WorkOrder(id)
	return wo.Status
}

func (w *world) create() int64 {
	w.t.Helper()
	wo, err := w.sb.CreateWorkOrder(sandbox.WorkOrderSpec{Type: corrigo.TypeRequest})
	if err != nil {
		w.t.Fatal(err)
	}
	return wo.WorkOrderId
}

func testPostgresDSN(t *testing.T) string {
	dsn, set := os.LookupEnv("WOGATE_TEST_POSTGRES")
	if !set || dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		if set {
			t.Fatalf("WOGATE_TEST_POSTGRES=%s is set but unreachable: %v", dsn, err)
		}
		t.Skipf("PostgreSQL not reachable (set WOGATE_TEST_POSTGRES to require it): %v", err)
	}
	_ = conn.Close(ctx)
	return dsn
}

func freshSchema(t *testing.T, dsn string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "wogate_gw_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, dsn); err == nil {
			_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			_ = conn.Close(ctx)
		}
	})
	return schema
}

func TestPipelineOnSQLite(t *testing.T)   { testPipeline(t, "") }
func TestPipelineOnPostgres(t *testing.T) { testPipeline(t, testPostgresDSN(t)) }

// testPipeline: webhook → store → rule → plugin → outbox → CorrigoPro, with
// the decision, the action and both directions of the communication log
// recorded, and no secret in the log.
func testPipeline(t *testing.T, pg string) {
	w := newWorld(t, worldOpts{postgres: pg})
	id := w.create()
	w.waitFor("accepted", func() bool { return w.status(id) == corrigo.StatusAccepted })

	ctx := context.Background()
	evs, err := w.g.Store().EventsForWorkOrder(ctx, "main", id)
	if err != nil || len(evs) != 1 {
		t.Fatalf("events = %+v, %v", evs, err)
	}
	if evs[0].Status != store.EventDone || evs[0].Source != "webhook" || !strings.Contains(string(evs[0].Decision), `"rule":"new-to-accept"`) ||
		evs[0].ConfigVersion == "" {
		t.Errorf("event = %+v, decision %s", evs[0], evs[0].Decision)
	}
	w.waitFor("action marked sent", func() bool {
		acts, _ := w.g.Store().ActionsForWorkOrder(ctx, "main", id)
		return len(acts) == 1 && acts[0].Status == store.ActionSent
	})
	// Tracing is off by default: no trace context is formatted or stored.
	acts, _ := w.g.Store().ActionsForWorkOrder(ctx, "main", id)
	if evs[0].TraceParent != "" || acts[0].TraceParent != "" {
		t.Errorf("tracing off, yet trace context stored: event %q, action %q", evs[0].TraceParent, acts[0].TraceParent)
	}

	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := testhttp.Get(t.Context(), "http://"+w.addr+path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s = %d %s", path, resp.StatusCode, b)
		}
	}
	// The communication log is written in batches; stopping flushes it.
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	st := w.g.Stats()
	if st.Webhooks["accepted"] != 1 || st.Dispatch.Done != 1 || st.Egress["sent"] != 1 {
		t.Errorf("stats = %+v", st)
	}
	if !strings.Contains(w.logs.String(), `"msg":"gateway listening"`) || !strings.Contains(w.logs.String(), `"msg":"rule live"`) {
		t.Errorf("start log does not say what is live:\n%s", w.logs.String())
	}
	if strings.Contains(w.logs.String(), "sandbox-secret") {
		t.Errorf("the client secret appears in the gateway log")
	}
}

func TestCommunicationLogBothDirections(t *testing.T) {
	w := newWorld(t, worldOpts{})
	id := w.create()
	w.waitFor("accepted", func() bool { return w.status(id) == corrigo.StatusAccepted })
	// Read the log through a second handle after the gateway closed the
	// store (the log writer flushes on stop).
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	st, err := assemble.OpenStore(context.Background(), w.g.cfg, assemble.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	entries, err := st.QueryLog(context.Background(), store.LogFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var in, out, token int
	for _, e := range entries {
		if strings.Contains(e.Request+e.Response, "sandbox-secret") {
			t.Errorf("secret in the communication log: %+v", e)
		}
		switch {
		case e.Direction == "inbound" && e.WorkOrderID == id && e.Status == 200:
			in++
		case e.Direction == "outbound" && strings.Contains(strings.ToLower(e.URL), "workorder/accept") && e.Status == 200:
			out++
		case e.Direction == "outbound" && strings.Contains(e.URL, "OAuth"):
			token++
		}
	}
	if in != 1 || out != 1 || token < 1 {
		t.Errorf("log has %d inbound webhooks, %d accept calls, %d token calls; want 1, 1, ≥1:\n%+v", in, out, token, entries)
	}
}

func TestShadowAccountRecordsButDoesNotSend(t *testing.T) {
	w := newWorld(t, worldOpts{accountYAML: "      shadow: true"})
	id := w.create()
	ctx := context.Background()
	w.waitFor("shadow action recorded", func() bool {
		acts, _ := w.g.Store().ActionsForWorkOrder(ctx, "main", id)
		return len(acts) == 1 && acts[0].Status == store.ActionShadow
	})
	if s := w.status(id); s != corrigo.StatusNew {
		t.Errorf("shadow account changed the work order to %s", s)
	}
}

func TestPermanentPluginErrorIsDeadLetter(t *testing.T) {
	w := newWorld(t, worldOpts{pluginConfig: "{fail_rate: 1, fail_permanent: true}"})
	id := w.create()
	ctx := context.Background()
	w.waitFor("dead letter", func() bool {
		evs, _ := w.g.Store().EventsForWorkOrder(ctx, "main", id)
		return len(evs) == 1 && evs[0].Status == store.EventDead
	})
	dl, err := w.g.Store().ListDeadLetters(ctx, store.DeadLetterFilter{WorkOrderID: id})
	if err != nil || len(dl) != 1 || !strings.Contains(dl[0].Event.LastError, "configured failure") {
		t.Fatalf("dead letters = %+v, %v", dl, err)
	}
}

func TestNeedsPersonPluginErrorIsParked(t *testing.T) {
	// The verdict travels over the real protocol: the test plugin answers
	// with pluginapi.NeedsPerson, the event is parked (not dead, not
	// retried) with the plugin's reason.
	w := newWorld(t, worldOpts{pluginConfig: "{fail_rate: 1, fail_needs_person: true}"})
	id := w.create()
	ctx := context.Background()
	w.waitFor("parked", func() bool {
		evs, _ := w.g.Store().EventsForWorkOrder(ctx, "main", id)
		return len(evs) == 1 && evs[0].Status == store.EventParked
	})
	evs, _ := w.g.Store().EventsForWorkOrder(ctx, "main", id)
	if evs[0].Attempts != 1 {
		t.Errorf("parked after %d attempts, want 1 (no retries)", evs[0].Attempts)
	}
	dl, err := w.g.Store().ListDeadLetters(ctx, store.DeadLetterFilter{WorkOrderID: id})
	if err != nil || len(dl) != 1 || dl[0].Event == nil || !strings.Contains(dl[0].Event.LastError, "configured failure") {
		t.Fatalf("dead letters = %+v, %v", dl, err)
	}
}

func TestRetryablePluginErrorGivesUpAfterMaxAttempts(t *testing.T) {
	w := newWorld(t, worldOpts{pluginConfig: "{fail_rate: 1}"})
	id := w.create()
	ctx := context.Background()
	w.waitFor("dead after retries", func() bool {
		evs, _ := w.g.Store().EventsForWorkOrder(ctx, "main", id)
		return len(evs) == 1 && evs[0].Status == store.EventDead
	})
	evs, _ := w.g.Store().EventsForWorkOrder(ctx, "main", id)
	if evs[0].Attempts != 3 || !strings.Contains(evs[0].LastError, "gave up after 3 attempts") {
		t.Errorf("event = attempts %d, error %q", evs[0].Attempts, evs[0].LastError)
	}
}

func TestRuleNeedingWorkOrderFetchesIt(t *testing.T) {
	// MessageSent does not carry the work order; the rule reads it, so the
	// gateway fetches it (through the breaker) before evaluating.
	w := newWorld(t, worldOpts{
		pluginConfig: "{actions: {MessageSent: note}}",
		rules: `
  - name: messages-on-new-work-orders
    when: event.Action == "MessageSent" && workOrder.Status == "New"
    plugin: accept`,
	})
	id := w.create()
	if _, err := w.sb.Act(id, sandbox.Action{Action: sandbox.ActMessage, Text: "Please call before arriving"}); err != nil {
		t.Fatalf("customer message: %v", err)
	}
	ctx := context.Background()
	w.waitFor("note sent", func() bool {
		acts, _ := w.g.Store().ActionsForWorkOrder(ctx, "main", id)
		return len(acts) == 1 && acts[0].Kind == "note" && acts[0].Status == store.ActionSent
	})
}

func TestGracefulShutdownFinishesInFlightWork(t *testing.T) {
	w := newWorld(t, worldOpts{pluginConfig: "{delay: 400ms}"})
	id := w.create()
	ctx := context.Background()
	w.waitFor("event claimed by the dispatcher", func() bool {
		evs, _ := w.g.Store().EventsForWorkOrder(ctx, "main", id)
		return len(evs) == 1 && evs[0].Attempts == 1
	})
	start := time.Now()
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	// The plugin call in flight finished and its action was sent before
	// Run returned.
	if s := w.status(id); s != corrigo.StatusAccepted {
		t.Errorf("after graceful stop the work order is %s, want Accepted (stop took %v)", s, time.Since(start))
	}
	if res, err := testhttp.Post(t.Context(), "http://"+w.addr+"/webhooks/corrigo/main", "application/json", strings.NewReader("{}")); err == nil {
		_ = res.Body.Close()
		t.Errorf("the listener still accepts connections after shutdown")
	}
}

func TestNewFailsClearlyAndCleansUp(t *testing.T) {
	sb, err := sandbox.New(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sb.Close() }()
	dir := t.TempDir()
	cert := filepath.Join(dir, "c.pem")
	_ = os.WriteFile(cert, sb.CertificatePEM(), 0o600)
	yaml := fmt.Sprintf(`listen: 127.0.0.1:1
data_dir: %s
corrigo:
  accounts:
    main:
      base_url: http://127.0.0.1:1/Direct/
      client_id: x
      client_secret: y
      webhook: {certificate: "file:%s"}
plugins:
  erp: {command: %s}
rules:
  - {name: r, when: "true", plugin: erp}
admin: {listen: ""}
`, dir, cert, testplugin.Build(t, "notaplugin"))
	path := filepath.Join(dir, "config.yaml")
	_ = os.WriteFile(path, []byte(yaml), 0o600)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(context.Background(), cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil || !strings.Contains(err.Error(), "start plugins") || !strings.Contains(err.Error(), "erp") {
		t.Fatalf("New with a binary that is not a plugin: %v; want an error naming the plugin", err)
	}
	// The store New opened was closed again: a second gateway can open it.
	st, err := assemble.OpenStore(context.Background(), cfg, assemble.StoreOptions{})
	if err != nil {
		t.Fatalf("store left open after a failed New: %v", err)
	}
	_ = st.Close()
}

func TestReadyzReportsStoppedPlugin(t *testing.T) {
	w := newWorld(t, worldOpts{pluginConfig: "{exit_after: 300ms}"})
	w.waitFor("readyz unavailable", func() bool {
		resp, err := testhttp.Get(t.Context(), "http://"+w.addr+"/readyz")
		if err != nil {
			return false
		}
		defer func() { _ = resp.Body.Close() }()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		// The public listener says only that; the details are the admin's.
		return resp.StatusCode == 503 && len(body) == 1 && body["status"] == "unavailable" &&
			strings.Contains(fmt.Sprint(w.g.problems(t.Context())), "plugin accept")
	})
}
