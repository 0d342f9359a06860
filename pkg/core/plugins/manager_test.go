package plugins_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/wogate/wogate/internal/testplugin"
	"github.com/wogate/wogate/pkg/core/plugins"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/pkg/pluginapi/plugintest"
)

// Test plugin binaries are built on first use (once per test binary), so
// that fuzz workers, which run no subprocess tests, do not build them.
func acceptBin(t testing.TB) string     { return testplugin.Build(t, "accept") }
func notAPluginBin(t testing.TB) string { return testplugin.Build(t, "notaplugin") }
func futureBin(t testing.TB) string     { return testplugin.Build(t, "future") }

func TestMain(m *testing.M) {
	if sock := os.Getenv(echoSocketEnv); sock != "" {
		os.Exit(runEcho(sock)) // the far end of BenchmarkSocketFloor
	}
	code := m.Run()
	testplugin.Cleanup()
	os.Exit(code)
}

// services is an in-memory HostServices.
type services struct {
	mu   sync.Mutex
	kv   map[string][]byte
	wos  map[int64]corrigo.WorkOrder
	sets map[int]corrigo.CustomerSettings
}

func newServices() *services {
	return &services{kv: map[string][]byte{}, wos: map[int64]corrigo.WorkOrder{}, sets: map[int]corrigo.CustomerSettings{}}
}

func (s *services) GetWorkOrder(_ context.Context, _ string, id int64) (*corrigo.WorkOrder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wo, ok := s.wos[id]
	if !ok {
		return nil, fmt.Errorf("work order %d: %w", id, pluginapi.ErrNotFound)
	}
	return &wo, nil
}

func (s *services) GetCustomerSettings(_ context.Context, _ string, id int) (*corrigo.CustomerSettings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs, ok := s.sets[id]
	if !ok {
		return nil, pluginapi.ErrNotFound
	}
	return &cs, nil
}

func (s *services) KVGet(_ context.Context, plugin, key string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.kv[plugin+"/"+key]
	return v, ok, nil
}

func (s *services) KVPut(_ context.Context, plugin, key string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kv[plugin+"/"+key] = append([]byte(nil), v...)
	return nil
}

func (s *services) KVDelete(_ context.Context, plugin, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.kv, plugin+"/"+key)
	return nil
}

func (s *services) get(k string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.kv[k])
}

// logRecorder is a slog.Handler keeping every record with its attributes.
type logRecorder struct {
	mu    *sync.Mutex
	recs  *[]map[string]any
	attrs []slog.Attr
}

func newLogRecorder() *logRecorder {
	return &logRecorder{mu: &sync.Mutex{}, recs: &[]map[string]any{}}
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	m := map[string]any{"msg": r.Message, "level": r.Level.String()}
	for _, a := range h.attrs {
		m[a.Key] = a.Value.Any()
	}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.Any(); return true })
	h.mu.Lock()
	*h.recs = append(*h.recs, m)
	h.mu.Unlock()
	return nil
}
func (h *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &logRecorder{mu: h.mu, recs: h.recs, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}
func (h *logRecorder) WithGroup(string) slog.Handler { return h }

func (h *logRecorder) find(f func(map[string]any) bool) map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range *h.recs {
		if f(r) {
			return r
		}
	}
	return nil
}

var fastSupervisor = plugins.Supervisor{
	HealthInterval: 100 * time.Millisecond,
	PingTimeout:    time.Second,
	BackoffMin:     20 * time.Millisecond,
	BackoffMax:     200 * time.Millisecond,
	MaxCrashes:     5,
	CrashWindow:    time.Minute,
}

func newManager(t *testing.T, svc plugins.HostServices, opts ...plugins.Option) (*plugins.Manager, *logRecorder) {
	t.Helper()
	rec := newLogRecorder()
	m := plugins.NewManager(svc, slog.New(rec), append([]plugins.Option{plugins.WithSupervisor(fastSupervisor)}, opts...)...)
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m, rec
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func event(id int64) pluginapi.Event {
	return plugintest.NewWorkOrderEvent("acme", corrigo.WorkOrder{WorkOrderId: id, WorkOrderNumber: fmt.Sprintf("WO-%d", id), Status: corrigo.StatusNew})
}

type report struct {
	PID             int    `json:"pid"`
	Events          int    `json:"events"`
	Inflight        int    `json:"inflight"`
	MaxInflight     int    `json:"max_inflight"`
	Seen            int    `json:"seen"`
	Probe           string `json:"probe"`
	WorkOrderNumber string `json:"work_order_number"`
	Traceparent     string `json:"traceparent"`
}

func reportOf(t *testing.T, actions []pluginapi.Action) report {
	t.Helper()
	for _, a := range actions {
		if a.Kind == pluginapi.KindNote {
			var r report
			if err := json.Unmarshal([]byte(a.Text), &r); err != nil {
				t.Fatalf("report note: %v", err)
			}
			return r
		}
	}
	t.Fatalf("no report note in %+v", actions)
	return report{}
}

// TestTraceparentReachesPlugin: the trace context of the caller's span
// goes to the plugin in the gRPC metadata, and nothing goes without one.
func TestTraceparentReachesPlugin(t *testing.T) {
	m, _ := newManager(t, newServices())
	ctx := ctxT(t)
	if err := m.Start(ctx, []plugins.Spec{{Name: "acc", Command: acceptBin(t), Config: map[string]any{"report": true}}}); err != nil {
		t.Fatal(err)
	}
	actions, err := m.HandleEvent(ctx, "acc", event(7))
	if err != nil {
		t.Fatal(err)
	}
	if r := reportOf(t, actions); r.Traceparent != "" {
		t.Fatalf("plugin saw traceparent %q without a span", r.Traceparent)
	}
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	sctx, span := tp.Tracer("test").Start(ctx, "plugin call acc")
	defer span.End()
	actions, err = m.HandleEvent(sctx, "acc", event(7))
	if err != nil {
		t.Fatal(err)
	}
	sc := span.SpanContext()
	want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
	if r := reportOf(t, actions); r.Traceparent != want {
		t.Fatalf("plugin saw traceparent %q, want %q", r.Traceparent, want)
	}
}

// TestPluginGetsNoGatewaySecrets: the plugin process's environment
// (/proc/<pid>/environ, what the kernel gave it) holds the allowlist and
// Spec.Env, not the gateway's secrets.
func TestPluginGetsNoGatewaySecrets(t *testing.T) {
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		t.Skip("no /proc")
	}
	t.Setenv("CORRIGO_CLIENT_SECRET", "corrigo-secret-in-gateway-env")
	t.Setenv("WOGATE_ADMIN_TOKEN", "admin-token-in-gateway-env")
	t.Setenv("WOGATE_TEST_PROBE", "from-gateway")
	t.Setenv("TZ", "Europe/Paris")
	m, _ := newManager(t, newServices())
	ctx := ctxT(t)
	if err := m.Start(ctx, []plugins.Spec{{Name: "acc", Command: acceptBin(t), Env: []string{"ERP_TOKEN=configured"},
		Config: map[string]any{"report": true}}}); err != nil {
		t.Fatal(err)
	}
	actions, err := m.HandleEvent(ctx, "acc", event(7))
	if err != nil {
		t.Fatal(err)
	}
	r := reportOf(t, actions)
	if r.Probe != "" {
		t.Errorf("plugin saw WOGATE_TEST_PROBE=%q from the gateway's environment", r.Probe)
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", r.PID))
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Split(string(raw), "\x00")
	for _, bad := range []string{"corrigo-secret-in-gateway-env", "admin-token-in-gateway-env", "CORRIGO_CLIENT_SECRET", "WOGATE_ADMIN_TOKEN", "WOGATE_TEST_PROBE"} {
		if strings.Contains(string(raw), bad) {
			t.Errorf("plugin environment holds %q: %q", bad, env)
		}
	}
	for _, want := range []string{"ERP_TOKEN=configured", "TZ=Europe/Paris", "WOGATE_PLUGIN_COOKIE="} {
		found := false
		for _, kv := range env {
			found = found || strings.HasPrefix(kv, want)
		}
		if !found {
			t.Errorf("plugin environment lacks %s: %q", want, env)
		}
	}
}

func TestHandleEventWithHostCallbacks(t *testing.T) {
	svc := newServices()
	svc.wos[501] = corrigo.WorkOrder{WorkOrderId: 501, WorkOrderNumber: "WO-FROM-HOST"}
	m, rec := newManager(t, svc)
	ctx := ctxT(t)
	t.Setenv("WOGATE_TEST_PROBE", "from-gateway")
	err := m.Start(ctx, []plugins.Spec{{
		Name: "acc", Command: acceptBin(t), Env: []string{"WOGATE_TEST_PROBE=from-spec"},
		Config: map[string]any{"kv": true, "fetch_work_order": true, "report": true,
			"actions": map[string]any{"NewWorkOrder": "accept,check_in"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for want := 1; want <= 2; want++ {
		actions, err := m.HandleEvent(ctx, "acc", event(501))
		if err != nil {
			t.Fatal(err)
		}
		if len(actions) != 3 || actions[0].Kind != pluginapi.KindAccept || actions[1].Kind != pluginapi.KindCheckIn {
			t.Fatalf("actions = %+v", actions)
		}
		if actions[0].WorkOrderID != 501 || actions[0].Comment == "" {
			t.Fatalf("accept action = %+v", actions[0])
		}
		r := reportOf(t, actions)
		if r.Seen != want || r.WorkOrderNumber != "WO-FROM-HOST" || r.Probe != "from-spec" {
			t.Fatalf("report = %+v, want seen %d and the host's work order", r, want)
		}
	}
	if got := svc.get("acc/seen/501"); got != "2" {
		t.Fatalf("host KV acc/seen/501 = %q, want 2 (namespaced by plugin name)", got)
	}
	h := m.Health()["acc"]
	if h.State != plugins.StateRunning || h.PID == 0 || h.Version != "1.0.0" || h.Protocol != 1 {
		t.Fatalf("health = %+v", h)
	}
	info, ok := m.Info("acc")
	if !ok || info.Name != "accept" || !info.HandlesInbound {
		t.Fatalf("info = %+v, %v", info, ok)
	}
	// Host.Log and the plugin's stderr (hclog JSON) both reach our slog
	// logger under the plugin's name.
	if rec.find(func(r map[string]any) bool {
		return r["msg"] == "configured" && r["plugin"] == "acc" && r["via"] == "host"
	}) == nil {
		t.Error("Host.Log line not found in the gateway log")
	}
	if rec.find(func(r map[string]any) bool {
		return r["msg"] == "handled event" && r["plugin"] == "acc" && r["level"] == "DEBUG"
	}) == nil {
		t.Error("plugin stderr (hclog JSON) line not re-logged")
	}
}

func TestUnknownPlugin(t *testing.T) {
	m, _ := newManager(t, nil)
	_, err := m.HandleEvent(ctxT(t), "nope", event(1))
	if !errors.Is(err, plugins.ErrUnknownPlugin) {
		t.Fatalf("err = %v", err)
	}
}

func TestValidate(t *testing.T) {
	m, _ := newManager(t, nil)
	ctx := ctxT(t)
	tests := []struct {
		name string
		cfg  map[string]any
		want []string // "key: substring"
	}{
		{"good", map[string]any{"delay": "10ms", "kv": true, "mode": "quiet"}, nil},
		{"empty", nil, nil},
		{"schema", map[string]any{"delay": "soon", "mode": "loud", "kvv": true, "crash_after": 1.5},
			[]string{"crash_after: whole number", "delay: duration", "kvv: unknown key (did you mean \"kv\"?)", "mode: one of normal, quiet"}},
		{"plugin rule", map[string]any{"fail_rate": 2}, []string{"fail_rate: between 0 and 1"}},
		{"env strings", map[string]any{"fail_rate": "0.5", "crash_after": "3", "kv": "true"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ces, err := m.Validate(ctx, plugins.Spec{Name: "v", Command: acceptBin(t), Config: tt.cfg})
			if err != nil {
				t.Fatal(err)
			}
			if len(ces) != len(tt.want) {
				t.Fatalf("errors = %v, want %v", ces, tt.want)
			}
			for i, w := range tt.want {
				key, sub, _ := strings.Cut(w, ": ")
				if ces[i].Key != key || !strings.Contains(ces[i].Message, sub) {
					t.Errorf("error %d = %v, want key %q containing %q", i, ces[i], key, sub)
				}
			}
		})
	}
	// Start refuses the same bad config, naming plugin and key.
	err := m.Start(ctx, []plugins.Spec{{Name: "bad", Command: acceptBin(t), Config: map[string]any{"fail_rate": 2}}})
	var ice *plugins.InvalidConfigError
	if !errors.As(err, &ice) || ice.Plugin != "bad" || !strings.Contains(err.Error(), `plugin "bad": invalid config: config.fail_rate`) {
		t.Fatalf("start err = %v", err)
	}
	if len(m.Names()) != 0 {
		t.Fatalf("a plugin that failed to start is registered: %v", m.Names())
	}
}

func TestInspectDescribesSchema(t *testing.T) {
	m, _ := newManager(t, nil)
	info, ces, err := m.Inspect(ctxT(t), plugins.Spec{Name: "i", Command: acceptBin(t)})
	if err != nil || len(ces) != 0 {
		t.Fatal(err, ces)
	}
	f, ok := info.ConfigSchema.Field("token")
	if !ok || !f.Secret || f.Type != pluginapi.TypeString {
		t.Fatalf("token field = %+v", f)
	}
	f, _ = info.ConfigSchema.Field("delay")
	if f.Type != pluginapi.TypeDuration || f.Default != "0s" {
		t.Fatalf("delay field = %+v", f)
	}
	if !strings.Contains(info.ConfigSchema.Markdown(), "| `mode` | string | no | `\"normal\"` |") {
		t.Fatalf("markdown:\n%s", info.ConfigSchema.Markdown())
	}
}

func TestHandleInbound(t *testing.T) {
	m, _ := newManager(t, nil)
	ctx := ctxT(t)
	if err := m.Start(ctx, []plugins.Spec{{Name: "in", Command: acceptBin(t)}}); err != nil {
		t.Fatal(err)
	}
	resp, actions, err := m.HandleInbound(ctx, "in", pluginapi.InboundRequest{
		Method: "POST", Path: "/jobs/done", Body: []byte(`{"WorkOrderId": 77, "Kind": "check_out"}`),
		Header: map[string][]string{"Content-Type": {"application/json"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 202 || resp.Header.Get("X-Path") != "/jobs/done" || string(resp.Body) != `{"WorkOrderId": 77, "Kind": "check_out"}` {
		t.Fatalf("resp = %+v", resp)
	}
	if len(actions) != 1 || actions[0].Kind != pluginapi.KindCheckOut || actions[0].WorkOrderID != 77 || actions[0].RepairInfo == nil {
		t.Fatalf("actions = %+v", actions)
	}
	resp, actions, err = m.HandleInbound(ctx, "in", pluginapi.InboundRequest{Method: "POST", Body: []byte("junk")})
	if err != nil || resp.Status != 400 || len(actions) != 0 {
		t.Fatalf("bad inbound: %+v %+v %v", resp, actions, err)
	}
}

func TestPluginErrors(t *testing.T) {
	m, _ := newManager(t, nil)
	ctx := ctxT(t)
	err := m.Start(ctx, []plugins.Spec{
		{Name: "retry", Command: acceptBin(t), Config: map[string]any{"fail_rate": 1}},
		{Name: "perm", Command: acceptBin(t), Config: map[string]any{"fail_rate": 1, "fail_permanent": true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, retryable := range map[string]bool{"retry": true, "perm": false} {
		_, err := m.HandleEvent(ctx, name, event(1))
		var pe *pluginapi.Error
		if !errors.As(err, &pe) || pe.Retryable != retryable || plugins.IsRetryable(err) != retryable {
			t.Errorf("%s: err = %#v", name, err)
		}
		if !strings.Contains(err.Error(), "configured failure") {
			t.Errorf("%s: message lost: %v", name, err)
		}
	}
	// A plugin error is not a crash.
	if h := m.Health()["retry"]; h.State != plugins.StateRunning || h.RecentCrashes != 0 {
		t.Fatalf("health = %+v", h)
	}
}

func TestTimeout(t *testing.T) {
	m, _ := newManager(t, nil)
	ctx := ctxT(t)
	err := m.Start(ctx, []plugins.Spec{{Name: "slow", Command: acceptBin(t), Timeout: 50 * time.Millisecond,
		Config: map[string]any{"delay": "5s"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.HandleEvent(ctx, "slow", event(1))
	if !errors.Is(err, plugins.ErrTimeout) || !plugins.IsRetryable(err) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	// The caller's own cancellation is reported as such, not as a timeout.
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	_, err = m.HandleEvent(cctx, "slow", event(2))
	if !errors.Is(err, context.Canceled) || errors.Is(err, plugins.ErrTimeout) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if h := m.Health()["slow"]; h.State != plugins.StateRunning {
		t.Fatalf("a slow plugin must not be restarted: %+v", h)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	m, _ := newManager(t, nil)
	ctx := ctxT(t)
	err := m.Start(ctx, []plugins.Spec{{Name: "c", Command: acceptBin(t), Concurrency: 2,
		Config: map[string]any{"delay": "100ms", "report": true}}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	reports := make([]report, 6)
	errs := make([]error, 6)
	for k := range reports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			actions, err := m.HandleEvent(ctx, "c", event(int64(k+1)))
			errs[k] = err
			if err == nil {
				reports[k] = reportOf(t, actions)
			}
		}()
	}
	wg.Wait()
	maxSeen := 0
	for k, r := range reports {
		if errs[k] != nil {
			t.Fatal(errs[k])
		}
		maxSeen = max(maxSeen, r.MaxInflight)
	}
	if maxSeen != 2 {
		t.Fatalf("plugin saw at most %d calls in flight, want exactly the limit 2", maxSeen)
	}
}

func TestSHA256Pinning(t *testing.T) {
	b, err := os.ReadFile(acceptBin(t))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	good := hex.EncodeToString(sum[:])
	bad := strings.Repeat("0", 64)
	m, _ := newManager(t, nil)
	ctx := ctxT(t)

	err = m.Start(ctx, []plugins.Spec{{Name: "pinned", Command: acceptBin(t), SHA256: bad}})
	if !errors.Is(err, plugins.ErrChecksumMismatch) || !strings.Contains(err.Error(), good) || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("err = %v", err)
	}
	err = m.Start(ctx, []plugins.Spec{{Name: "malformed", Command: acceptBin(t), SHA256: "abc"}})
	if err == nil || !strings.Contains(err.Error(), "64 hex digits") {
		t.Fatalf("err = %v", err)
	}
	if err := m.Start(ctx, []plugins.Spec{{Name: "pinned", Command: acceptBin(t), SHA256: "SHA256:" + strings.ToUpper(good)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.HandleEvent(ctx, "pinned", event(1)); err != nil {
		t.Fatal(err)
	}
}

func TestNotAPlugin(t *testing.T) {
	m, _ := newManager(t, nil, plugins.WithStartTimeout(10*time.Second))
	ctx := ctxT(t)
	tests := []struct {
		name, cmd string
		args      []string
		is        error
		want      string
	}{
		{"garbage", notAPluginBin(t), nil, plugins.ErrNotAPlugin, "hello from a program that is not a plugin"},
		{"exits", "/bin/false", nil, plugins.ErrNotAPlugin, "exited before completing the plugin handshake"},
		{"future", futureBin(t), nil, plugins.ErrIncompatible, "speaks plugin protocol 1"},
		{"missing", "/nonexistent/plugin", nil, nil, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := m.Validate(ctx, plugins.Spec{Name: tt.name, Command: tt.cmd, Args: tt.args})
			if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %v containing %q", err, tt.is, tt.want)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("plugin %q", tt.name)) {
				t.Errorf("error does not name the plugin: %v", err)
			}
		})
	}
}

// waitState polls Health until the plugin reaches want.
func waitState(t *testing.T, m *plugins.Manager, name string, want plugins.State, restarts int) plugins.PluginHealth {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		h := m.Health()[name]
		if h.State == want && h.Restarts >= restarts {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin %s: health %+v, want state %s with ≥%d restarts", name, h, want, restarts)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCrashRestartConfiguresAgain(t *testing.T) {
	svc := newServices()
	m, rec := newManager(t, svc)
	ctx := ctxT(t)
	err := m.Start(ctx, []plugins.Spec{{Name: "crashy", Command: acceptBin(t),
		Config: map[string]any{"crash_after": 2, "report": true, "kv": true}}})
	if err != nil {
		t.Fatal(err)
	}
	actions, err := m.HandleEvent(ctx, "crashy", event(9))
	if err != nil {
		t.Fatal(err)
	}
	first := reportOf(t, actions)
	_, err = m.HandleEvent(ctx, "crashy", event(9)) // the process exits mid-call
	if !errors.Is(err, plugins.ErrUnavailable) || !plugins.IsRetryable(err) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	h := waitState(t, m, "crashy", plugins.StateRunning, 1)
	if h.PID == first.PID || h.LastError == "" {
		t.Fatalf("health after restart = %+v (old pid %d)", h, first.PID)
	}
	actions, err = m.HandleEvent(ctx, "crashy", event(9))
	if err != nil {
		t.Fatal(err)
	}
	r := reportOf(t, actions)
	// Configured again (kv on), and state survived in the host KV store.
	if r.PID != h.PID || r.Events != 1 || r.Seen != 2 {
		t.Fatalf("report after restart = %+v", r)
	}
	if rec.find(func(r map[string]any) bool { return r["msg"] == "plugin crashed" && r["plugin"] == "crashy" }) == nil {
		t.Error("crash not logged")
	}
	if rec.find(func(r map[string]any) bool {
		return r["msg"] == "test plugin: crashing as configured" && r["event"] == float64(2) && r["plugin"] == "crashy" && r["level"] == "ERROR"
	}) == nil {
		t.Error("plugin's last words on stderr not logged")
	}
}

func TestCrashLoopQuarantined(t *testing.T) {
	var mu sync.Mutex
	var states []plugins.State
	hook := plugins.WithStateHook(func(name string, h plugins.PluginHealth) {
		mu.Lock()
		states = append(states, h.State)
		mu.Unlock()
	})
	sup := fastSupervisor
	sup.MaxCrashes = 3
	m, _ := newManager(t, nil, plugins.WithSupervisor(sup), hook)
	ctx := ctxT(t)
	// Every process dies on its first event.
	err := m.Start(ctx, []plugins.Spec{{Name: "loop", Command: acceptBin(t), Config: map[string]any{"crash_after": 1}}})
	if err != nil {
		t.Fatal(err)
	}
	for crash := 1; crash <= 3; crash++ {
		waitState(t, m, "loop", plugins.StateRunning, crash-1)
		if _, err := m.HandleEvent(ctx, "loop", event(int64(crash))); !errors.Is(err, plugins.ErrUnavailable) {
			t.Fatalf("crash %d: err = %v", crash, err)
		}
	}
	h := waitState(t, m, "loop", plugins.StateQuarantined, 0)
	if h.Restarts != 2 || h.RecentCrashes != 3 || h.PID != 0 || h.LastError == "" {
		t.Fatalf("health = %+v, want 2 restarts and 3 crashes", h)
	}
	_, err = m.HandleEvent(ctx, "loop", event(1))
	if !errors.Is(err, plugins.ErrUnavailable) || !errors.Is(err, plugins.ErrQuarantined) || !plugins.IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if states[len(states)-1] != plugins.StateQuarantined {
		t.Fatalf("state hook saw %v", states)
	}
}

// A process that exits on its own, with no call in flight, is noticed and
// replaced.
func TestSpontaneousExitRestarted(t *testing.T) {
	m, _ := newManager(t, nil)
	ctx := ctxT(t)
	err := m.Start(ctx, []plugins.Spec{{Name: "flaky", Command: acceptBin(t), Config: map[string]any{"exit_after": "1s"}}})
	if err != nil {
		t.Fatal(err)
	}
	pid := m.Health()["flaky"].PID
	h := waitState(t, m, "flaky", plugins.StateRunning, 1)
	if h.PID == pid || h.LastError == "" {
		t.Fatalf("health = %+v (first pid %d)", h, pid)
	}
}

func TestKilledUnderLoad(t *testing.T) {
	sup := fastSupervisor
	sup.MaxCrashes = 100
	m, _ := newManager(t, nil, plugins.WithSupervisor(sup))
	ctx := ctxT(t)
	if err := m.Start(ctx, []plugins.Spec{{Name: "victim", Command: acceptBin(t), Config: map[string]any{"mode": "quiet"}}}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }); wg.Wait() }
	defer halt()
	var okCount, retryCount, otherCount int64
	var cmu sync.Mutex
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				_, err := m.HandleEvent(ctx, "victim", event(int64(n)))
				cmu.Lock()
				switch {
				case err == nil:
					okCount++
				case plugins.IsRetryable(err):
					retryCount++
				default:
					otherCount++
					t.Errorf("non-retryable error under crash: %v", err)
				}
				cmu.Unlock()
				if err != nil {
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	for kill := 1; kill <= 3; kill++ {
		h := waitState(t, m, "victim", plugins.StateRunning, kill-1)
		if err := syscall.Kill(h.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitState(t, m, "victim", plugins.StateRunning, kill)
		time.Sleep(20 * time.Millisecond) // let some calls succeed
	}
	halt()
	if okCount == 0 || otherCount != 0 {
		t.Fatalf("ok %d, retryable %d, other %d", okCount, retryCount, otherCount)
	}
	if h := m.Health()["victim"]; h.Restarts != 3 {
		t.Fatalf("health = %+v", h)
	}
}

func TestCloseStopsProcesses(t *testing.T) {
	m := plugins.NewManager(nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := ctxT(t)
	if err := m.Start(ctx, []plugins.Spec{{Name: "a", Command: acceptBin(t)}, {Name: "b", Command: acceptBin(t)}}); err != nil {
		t.Fatal(err)
	}
	pids := []int{m.Health()["a"].PID, m.Health()["b"].PID}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("plugin process %d still running after Close", pid)
		}
	}
	if _, err := m.HandleEvent(ctx, "a", event(1)); !errors.Is(err, plugins.ErrClosed) {
		t.Fatalf("err = %v", err)
	}
	if err := m.Start(ctx, []plugins.Spec{{Name: "c", Command: acceptBin(t)}}); !errors.Is(err, plugins.ErrClosed) {
		t.Fatalf("start after close: %v", err)
	}
}

func TestStartRejectsBadSpecs(t *testing.T) {
	m, _ := newManager(t, nil)
	ctx := ctxT(t)
	err := m.Start(ctx, []plugins.Spec{{Name: "x", Command: acceptBin(t)}, {Name: "x", Command: acceptBin(t)}, {Name: "", Command: "a"}, {Name: "y"}})
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{`plugin "x" is listed twice`, "no name", `plugin "y": no command`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// One plugin failing to start stops the ones started with it.
	err = m.Start(ctx, []plugins.Spec{{Name: "ok", Command: acceptBin(t)}, {Name: "broken", Command: notAPluginBin(t)}})
	if !errors.Is(err, plugins.ErrNotAPlugin) || len(m.Names()) != 0 {
		t.Fatalf("err = %v, names = %v", err, m.Names())
	}
}

// Each Spec may tune its own supervisor; fields it leaves zero come from
// the manager's.
func TestPerSpecSupervisor(t *testing.T) {
	m, _ := newManager(t, nil) // fastSupervisor: 5 crashes per minute
	ctx := ctxT(t)
	strict := plugins.Supervisor{MaxCrashes: 2}
	err := m.Start(ctx, []plugins.Spec{
		{Name: "strict", Command: acceptBin(t), Supervisor: strict, Config: map[string]any{"mode": "quiet"}},
		{Name: "lenient", Command: acceptBin(t), Config: map[string]any{"mode": "quiet"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for kill := 1; kill <= 2; kill++ {
		for _, name := range []string{"strict", "lenient"} {
			h := waitState(t, m, name, plugins.StateRunning, kill-1)
			if err := syscall.Kill(h.PID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
		waitState(t, m, "lenient", plugins.StateRunning, kill)
	}
	if h := waitState(t, m, "strict", plugins.StateQuarantined, 0); h.Restarts != 1 || h.RecentCrashes != 2 {
		t.Fatalf("strict: %+v, want quarantined after 2 crashes (1 restart)", h)
	}
	if h := m.Health()["lenient"]; h.State != plugins.StateRunning || h.Restarts != 2 {
		t.Fatalf("lenient: %+v, want running after 2 restarts", h)
	}
	// A negative setting is refused.
	err = m.Start(ctx, []plugins.Spec{{Name: "bad", Command: acceptBin(t), Supervisor: plugins.Supervisor{MaxCrashes: -1}}})
	if err == nil || !strings.Contains(err.Error(), `plugin "bad": supervisor`) {
		t.Fatalf("negative supervisor setting: %v", err)
	}
}

// Restart lifts a quarantine: the plugin is launched afresh (pin checked
// again), its crash count forgotten, and it is supervised again.
func TestRestartLiftsQuarantine(t *testing.T) {
	src, err := os.ReadFile(acceptBin(t))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(src)
	bin := t.TempDir() + "/accept"
	if err := os.WriteFile(bin, src, 0o755); err != nil {
		t.Fatal(err)
	}
	m, rec := newManager(t, nil)
	ctx := ctxT(t)
	err = m.Start(ctx, []plugins.Spec{{Name: "q", Command: bin, SHA256: hex.EncodeToString(sum[:]),
		Supervisor: plugins.Supervisor{MaxCrashes: 1}, Config: map[string]any{"report": true}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Restart(ctx, "q"); !errors.Is(err, plugins.ErrNotQuarantined) {
		t.Fatalf("restart of a running plugin: %v", err)
	}
	if _, err := m.Restart(ctx, "nope"); !errors.Is(err, plugins.ErrUnknownPlugin) {
		t.Fatalf("restart of an unknown plugin: %v", err)
	}
	first := m.Health()["q"].PID
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitState(t, m, "q", plugins.StateQuarantined, 0)
	if rec.find(func(r map[string]any) bool {
		return r["msg"] != nil && strings.HasPrefix(r["msg"].(string), "plugin quarantined") && fmt.Sprint(r["max_crashes"]) == "1"
	}) == nil {
		t.Error("quarantine not logged with its limit")
	}

	// The binary was swapped: the restart is refused, it stays quarantined.
	if err := os.WriteFile(bin, append(src[:len(src):len(src)], 0), 0o755); err != nil {
		t.Fatal(err)
	}
	h, err := m.Restart(ctx, "q")
	if !errors.Is(err, plugins.ErrChecksumMismatch) || h.State != plugins.StateQuarantined ||
		!strings.Contains(h.LastError, "restart after quarantine failed") {
		t.Fatalf("restart with a swapped binary: %+v, %v", h, err)
	}
	if _, err := m.HandleEvent(ctx, "q", event(1)); !errors.Is(err, plugins.ErrQuarantined) {
		t.Fatalf("call while quarantined: %v", err)
	}

	if err := os.WriteFile(bin, src, 0o755); err != nil {
		t.Fatal(err)
	}
	h, err = m.Restart(ctx, "q")
	if err != nil || h.State != plugins.StateRunning || h.RecentCrashes != 0 || h.Restarts != 1 || h.PID == 0 || h.PID == first {
		t.Fatalf("restart: %+v, %v", h, err)
	}
	actions, err := m.HandleEvent(ctx, "q", event(2))
	if err != nil {
		t.Fatal(err)
	}
	if r := reportOf(t, actions); r.PID != h.PID {
		t.Fatalf("answered by pid %d, want %d", r.PID, h.PID)
	}
	// Supervised again: a crash is noticed (and, with max_crashes 1,
	// quarantines it again).
	if err := syscall.Kill(h.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitState(t, m, "q", plugins.StateQuarantined, 0)
	h, err = m.Restart(ctx, "q")
	if err != nil || h.State != plugins.StateRunning {
		t.Fatalf("second restart: %+v, %v", h, err)
	}
	// Close ends the restarted process.
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(h.PID, 0); err == nil {
		t.Errorf("plugin process %d still running after Close", h.PID)
	}
}
