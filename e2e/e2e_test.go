// Package e2e runs the gateway as users run it: the `gateway` binary as a
// child process with a config file, a real plugin binary, and the CorrigoPro
// sandbox (in the test process, over real HTTP) on the other side. Each test
// waits for state with deadlines, never with fixed sleeps.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/wogate/wogate/internal/testhttp"
	"github.com/wogate/wogate/internal/testplugin"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

var gatewayBin string

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "wogate-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer func() { _ = os.RemoveAll(dir) }()
		gatewayBin = filepath.Join(dir, "gateway")
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Dir(filepath.Dir(file))
		cmd := exec.CommandContext(context.Background(), filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", gatewayBin, "./cmd/gateway") //nolint:staticcheck // SA1019: the toolchain that runs the test builds the binaries
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build gateway: %v\n%s", err, out)
			return 1
		}
		defer testplugin.Cleanup()
		return m.Run()
	}()
	os.Exit(code)
}

// env is one test's world: a sandbox and, once started, a gateway process.
type env struct {
	t      *testing.T
	sb     *sandbox.Sandbox
	dir    string
	port   int
	cfg    string
	logBuf *syncBuffer
	cmd    *exec.Cmd
	done   chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newEnv starts a sandbox with a fast retry queue (5 minutes become 30 ms).
func newEnv(t *testing.T) *env {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{TimeScale: 0.0001, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	return &env{t: t, sb: sb, dir: t.TempDir(), port: freePort(t), logBuf: &syncBuffer{}}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

// gwConfig are the knobs the tests turn.
type gwConfig struct {
	Port            int
	DataDir         string
	BaseURL         string
	OAuthURL        string
	CertFile        string
	WebhookDisabled bool
	Polling         bool
	Plugin          string
	PluginConfig    string // YAML flow map
	Inbound         string // plugins.accept.inbound, a YAML flow map; "" none
	Admin           string // admin.listen; "" off
	Explain         bool   // webhook.explain_rejections
	RetryAfterMax   string // delivery.retry_after_max, when set
}

var configTmpl = template.Must(template.New("cfg").Parse(`# written by the e2e test
listen: 127.0.0.1:{{.Port}}
data_dir: {{.DataDir}}
corrigo:
  accounts:
    main:
      base_url: {{.BaseURL}}
      oauth_url: {{.OAuthURL}}
      client_id: sandbox
      client_secret: sandbox-secret
      webhook:
        path: /webhooks/corrigo/main
        certificate: file:{{.CertFile}}
        disabled: {{.WebhookDisabled}}
        explain_rejections: {{.Explain}}
      polling:
        enabled: {{.Polling}}
        interval: 200ms
        lookback: 1h
plugins:
  accept:
    command: {{.Plugin}}
    timeout: 5s
    config: {{if .PluginConfig}}{{.PluginConfig}}{{else}}{}{{end}}
{{- if .Inbound}}
    inbound: {{.Inbound}}
{{- end}}
rules:
  - name: new-work-orders-to-accept
    when: event.Action == "NewWorkOrder"
    plugin: accept
delivery:
  backoff_initial: 50ms
  backoff_max: 300ms
{{if .RetryAfterMax}}  retry_after_max: {{.RetryAfterMax}}
{{end}}admin:
  listen: "{{.Admin}}"
log:
  level: debug
  format: json
`))

func (e *env) writeConfig(c gwConfig) {
	e.t.Helper()
	cert := filepath.Join(e.dir, "corrigo.pem")
	if err := os.WriteFile(cert, e.sb.CertificatePEM(), 0o600); err != nil {
		e.t.Fatal(err)
	}
	c.Port, c.DataDir, c.CertFile = e.port, filepath.Join(e.dir, "data"), cert
	c.BaseURL, c.OAuthURL = e.sb.BaseURL(), e.sb.OAuthURL()
	if c.Plugin == "" {
		c.Plugin = testplugin.Build(e.t, "accept")
	}
	var b bytes.Buffer
	if err := configTmpl.Execute(&b, c); err != nil {
		e.t.Fatal(err)
	}
	e.cfg = filepath.Join(e.dir, "config.yaml")
	if err := os.WriteFile(e.cfg, b.Bytes(), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) url(path string) string { return fmt.Sprintf("http://127.0.0.1:%d%s", e.port, path) }

// start runs `gateway run` and waits until /readyz answers 200.
func (e *env) start(extra ...string) {
	e.t.Helper()
	args := append([]string{"run", "--config", e.cfg}, extra...)
	e.cmd = exec.CommandContext(context.Background(), gatewayBin, args...)
	e.cmd.Stdout = e.logBuf
	e.cmd.Stderr = e.logBuf
	if err := e.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.done = make(chan error, 1)
	cmd, done := e.cmd, e.done // stop clears e.cmd while Wait runs
	go func() { done <- cmd.Wait() }()
	e.t.Cleanup(func() {
		e.stop()
		if e.t.Failed() {
			e.t.Logf("gateway log:\n%s", e.logBuf.String())
		}
	})
	e.waitFor("gateway ready", 20*time.Second, func() bool {
		select {
		case err := <-e.done:
			e.t.Fatalf("gateway exited before it was ready: %v\n%s", err, e.logBuf.String())
		default:
		}
		resp, err := testhttp.Get(context.Background(), e.url("/readyz"))
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// stop sends SIGTERM and waits for a clean exit.
func (e *env) stop() {
	if e.cmd == nil || e.cmd.Process == nil {
		return
	}
	cmd := e.cmd
	e.cmd = nil
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-e.done:
		if err != nil {
			e.t.Errorf("gateway exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		e.t.Errorf("gateway did not stop within 30s of SIGTERM")
	}
}

func (e *env) waitFor(what string, d time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) status(id int64) corrigo.Status {
	wo, _, ok := e.sb.WorkOrder(id)
	if !ok {
		e.t.Fatalf("sandbox has no work order %d", id)
	}
	return wo.Status
}

// acceptCalls counts the accept calls the sandbox received for a work order.
func (e *env) acceptCalls(id int64) int {
	n := 0
	for _, u := range e.sb.UsageLog() {
		if u.Direction == "Inbound" || u.Direction == "inbound" {
			if u.WorkOrderId == id && strings.Contains(strings.ToLower(u.Path), "workorder/accept") && u.Status == 200 {
				n++
			}
		}
	}
	return n
}

// waitAcceptCalls waits until the sandbox's usage log shows the accept
// call (the sandbox logs a call after answering it, so the work order can
// be Accepted a moment before), then stops the gateway so nothing more can
// happen, and checks that there was exactly one.
func (e *env) waitAcceptCalls(id int64) {
	e.t.Helper()
	e.waitFor("accept call in the usage log", 10*time.Second, func() bool { return e.acceptCalls(id) >= 1 })
	e.stop()
	if n := e.acceptCalls(id); n != 1 {
		e.t.Errorf("sandbox saw %d successful accept calls for work order %d, want 1", n, id)
	}
}

func (e *env) create(spec sandbox.WorkOrderSpec) int64 {
	e.t.Helper()
	if spec.Type == "" {
		spec.Type = corrigo.TypeRequest
	}
	wo, err := e.sb.CreateWorkOrder(spec)
	if err != nil {
		e.t.Fatal(err)
	}
	return wo.WorkOrderId
}

func TestWebhookWorkOrderIsAccepted(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(gwConfig{})
	e.start()
	e.sb.SetWebhookURL(e.url("/webhooks/corrigo/main"))

	id := e.create(sandbox.WorkOrderSpec{})
	e.waitFor("work order accepted", 20*time.Second, func() bool { return e.status(id) == corrigo.StatusAccepted })
	e.waitAcceptCalls(id)
	// The webhook was answered 2xx (so CorrigoPro will not retry it).
	ns := e.sb.Notifications(sandbox.NotificationFilter{WorkOrderId: id, Action: corrigo.ActionNewWorkOrder})
	if len(ns) != 1 || ns[0].LastStatus != 200 {
		t.Errorf("notifications = %+v", ns)
	}
}

func TestPollingWithWebhooksOff(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(gwConfig{WebhookDisabled: true, Polling: true})
	e.start()
	// No webhook URL: the sandbox records notifications but sends none.
	id := e.create(sandbox.WorkOrderSpec{})
	e.waitFor("polled work order accepted", 20*time.Second, func() bool { return e.status(id) == corrigo.StatusAccepted })
	resp, err := testhttp.Post(t.Context(), e.url("/webhooks/corrigo/main"), "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("disabled webhook path answered %d, want 404", resp.StatusCode)
	}
	e.waitAcceptCalls(id)
}

func TestForgedTokenGets401AndChangesNothing(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(gwConfig{Explain: true}) // the test reads why each token failed
	e.start()
	// A work order the gateway has never heard of (no webhook URL yet).
	id := e.create(sandbox.WorkOrderSpec{})
	ns := e.sb.Notifications(sandbox.NotificationFilter{WorkOrderId: id})
	if len(ns) != 1 || len(ns[0].Body) == 0 {
		t.Fatalf("notifications = %+v", ns)
	}
	body := ns[0].Body

	// Signed by a key that is not CorrigoPro's.
	key, _, err := corrigo.GenerateCertificate("mallory", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := corrigo.NewTokenIssuer(key, corrigo.IssuerOptions{}).Issue("CorrigoPro", "", 20*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	post := func(token string) (int, map[string]string) {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", e.url("/webhooks/corrigo/main"), bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Event-Type", "NewWorkOrder")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var ans map[string]string
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, &ans); err != nil {
			t.Fatalf("answer %d is not JSON: %q", resp.StatusCode, b)
		}
		return resp.StatusCode, ans
	}
	code, ans := post(forged)
	if code != 401 || ans["reason"] != "bad_signature" {
		t.Fatalf("forged token: %d %v; want 401 bad_signature", code, ans)
	}
	code, ans = post("")
	if code != 401 || ans["reason"] != "missing_token" {
		t.Fatalf("no token: %d %v; want 401 missing_token", code, ans)
	}
	// The gateway's own kind of token: an OAuth access token from
	// /OAuth/Token is signed by the same CorrigoPro key, but it is not a
	// webhook token (its name is the account's client id).
	code, ans = post(accessToken(t, e.sb.OAuthURL(), "sandbox", "sandbox-secret"))
	if code != 401 || ans["reason"] != "not_webhook_token" {
		t.Fatalf("OAuth access token as webhook bearer: %d %v; want 401 not_webhook_token", code, ans)
	}
	// Nothing changed: the work order is still New, and the same
	// notification with a real token is new to the gateway, not a duplicate.
	if s := e.status(id); s != corrigo.StatusNew {
		t.Fatalf("work order is %s after forged webhooks", s)
	}
	real, err := e.sb.WebhookToken()
	if err != nil {
		t.Fatal(err)
	}
	if code, ans = post(real); code != 200 || ans["status"] != "accepted" {
		t.Fatalf("genuine webhook after forged ones: %d %v; want 200 accepted", code, ans)
	}
	e.waitFor("work order accepted", 20*time.Second, func() bool { return e.status(id) == corrigo.StatusAccepted })
}

// accessToken gets an OAuth access token the way the gateway does.
func accessToken(t *testing.T, oauthURL, id, secret string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, oauthURL, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token from %s: %d %v", oauthURL, resp.StatusCode, err)
	}
	return tok.AccessToken
}

func TestRedeliveredMessageIdIsProcessedOnce(t *testing.T) {
	e := newEnv(t)
	e.writeConfig(gwConfig{})
	e.start()
	e.sb.SetWebhookURL(e.url("/webhooks/corrigo/main"))
	id := e.create(sandbox.WorkOrderSpec{})
	e.waitFor("work order accepted", 20*time.Second, func() bool { return e.status(id) == corrigo.StatusAccepted })

	ns := e.sb.Notifications(sandbox.NotificationFilter{WorkOrderId: id, Action: corrigo.ActionNewWorkOrder})
	if len(ns) != 1 {
		t.Fatalf("notifications = %+v", ns)
	}
	// CorrigoPro's retry queue sends the same MessageId again, twice.
	for range 2 {
		if _, err := e.sb.Redeliver(ns[0].Id, 0); err != nil {
			t.Fatal(err)
		}
	}
	e.waitFor("redeliveries answered", 20*time.Second, func() bool {
		n := 0
		for _, x := range e.sb.Notifications(sandbox.NotificationFilter{WorkOrderId: id}) {
			if x.CopyOf == ns[0].Id && x.LastStatus == 200 {
				n++
			}
		}
		return n == 2
	})
	// Give the gateway every chance to (wrongly) act again: wait until it
	// has handled everything it stored, by stopping it gracefully.
	e.stop()
	if n := e.acceptCalls(id); n != 1 {
		t.Errorf("sandbox saw %d accept calls for a MessageId delivered 3 times, want 1", n)
	}
	if !strings.Contains(e.logBuf.String(), "duplicate") {
		t.Errorf("gateway log does not mention the duplicate deliveries")
	}
}

func TestOutageOpensBreakerAndActionLandsAfterRecovery(t *testing.T) {
	e := newEnv(t)
	// The sandbox's 503s carry Retry-After (the rest of the outage), which
	// would keep the account quiet through it: the breaker would never see
	// three failures. Ignore it here; TestOutageTwoHoursCompressed runs
	// with it honoured.
	e.writeConfig(gwConfig{RetryAfterMax: "0s"})
	e.start("--breaker-failures", "3", "--breaker-open-timeout", "500ms")
	e.sb.SetWebhookURL(e.url("/webhooks/corrigo/main"))
	// CorrigoPro's API is down (503) for 3 seconds; webhooks still flow.
	if err := e.sb.SetFaults(sandbox.Faults{OutageFor: sandbox.Duration(3 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	id := e.create(sandbox.WorkOrderSpec{})
	e.waitFor("breaker open", 20*time.Second, func() bool {
		return strings.Contains(e.logBuf.String(), `"circuit breaker open"`)
	})
	if s := e.status(id); s != corrigo.StatusNew {
		t.Fatalf("work order is %s during the outage", s)
	}
	e.waitFor("work order accepted after the outage", 30*time.Second, func() bool { return e.status(id) == corrigo.StatusAccepted })
	e.waitAcceptCalls(id)
	if !strings.Contains(e.logBuf.String(), `"circuit breaker closed"`) {
		t.Errorf("breaker did not report closing after recovery")
	}
}

// TestEmbeddedSandbox runs what `make run` runs: an account with
// sandbox: true, the sandbox started inside the gateway process and
// creating work orders on its own, and no CorrigoPro account anywhere.
func TestEmbeddedSandbox(t *testing.T) {
	dir := t.TempDir()
	port, sbPort := freePort(t), freePort(t)
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
data_dir: %s
corrigo:
  accounts:
    main:
      sandbox: true
      polling: {enabled: false}
plugins:
  accept: {command: %s}
rules:
  - name: accept-new
    when: event.Action == "NewWorkOrder"
    plugin: accept
sandbox:
  listen: 127.0.0.1:%d
  auto_create: 100ms
admin: {listen: ""}
log: {level: info, format: json}
`, port, filepath.Join(dir, "data"), testplugin.Build(t, "accept"), sbPort)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, port: port, cfg: path, logBuf: &syncBuffer{}}
	e.start()
	control := fmt.Sprintf("http://127.0.0.1:%d/_sandbox/workorders?status=Accepted", sbPort)
	e.waitFor("work orders accepted in the embedded sandbox", 20*time.Second, func() bool {
		resp, err := testhttp.Get(t.Context(), control)
		if err != nil {
			return false
		}
		defer func() { _ = resp.Body.Close() }()
		var body struct{ WorkOrders []corrigo.WorkOrder }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			return false
		}
		return len(body.WorkOrders) >= 3
	})
	e.stop()
	log := e.logBuf.String()
	for _, want := range []string{`"msg":"embedded sandbox started"`, `"msg":"event handled"`, `"msg":"gateway stopped"`} {
		if !strings.Contains(log, want) {
			t.Errorf("gateway log lacks %s", want)
		}
	}
}
