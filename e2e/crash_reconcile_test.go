package e2e

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/internal/testhttp"
	"github.com/wogate/wogate/internal/testplugin"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// TestLostWebhooksAreReconciled runs `gateway run` against a CorrigoPro
// whose webhooks never arrive (every delivery fails, no retry queue):
// reconciliation finds the work order, the plugin accepts it once, the
// webhook silence is reported, and the retention loop prunes the handled
// history.
func TestLostWebhooksAreReconciled(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short")
	}
	sb, err := sandbox.New(sandbox.Options{Seed: 11, Faults: sandbox.Faults{WebhookFailRate: 1}, NoWebhookRetry: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sb.Close() }()
	dir := t.TempDir()
	cert := filepath.Join(dir, "corrigo.pem")
	if err := os.WriteFile(cert, sb.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	port, adminPort := freePort(t), freePort(t)
	cfg := fmt.Sprintf(`listen: 127.0.0.1:%d
data_dir: %s
corrigo:
  accounts:
    main:
      base_url: %s
      oauth_url: %s
      client_id: sandbox
      client_secret: sandbox-secret
      webhook: {path: /webhooks/corrigo/main, certificate: "file:%s"}
      polling: {enabled: false}
      reconcile: {interval: 300ms, window: 2s, silence_alert: 500ms}
plugins:
  accept: {command: %s, timeout: 5s}
rules:
  - name: accept-new
    when: event.Action == "NewWorkOrder"
    plugin: accept
retention: {events: 2s, log: 2s}
admin: {listen: "127.0.0.1:%d"}
log: {level: info, format: json}
`, port, filepath.Join(dir, "data"), sb.BaseURL(), sb.OAuthURL(), cert, testplugin.Build(t, "accept"), adminPort)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, sb: sb, dir: dir, port: port, cfg: path, logBuf: &syncBuffer{}}
	e.start()
	sb.SetWebhookURL(e.url("/webhooks/corrigo/main"))

	id := e.create(sandbox.WorkOrderSpec{})
	e.waitFor("reconciled work order accepted", 30*time.Second, func() bool { return e.status(id) == corrigo.StatusAccepted })
	if ns := sb.Notifications(sandbox.NotificationFilter{WorkOrderId: id}); len(ns) != 1 || ns[0].State != sandbox.StateDead {
		t.Fatalf("the NewWorkOrder webhook was not lost as arranged: %+v", ns)
	}
	e.waitFor("webhook silence reported", 30*time.Second, func() bool {
		return strings.Contains(e.logBuf.String(), "webhook silence")
	})
	metrics := func() string {
		resp, err := testhttp.Get(t.Context(), fmt.Sprintf("http://127.0.0.1:%d/metrics", adminPort))
		if err != nil {
			return ""
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	e.waitFor("silence and the filled gap in the metrics", 30*time.Second, func() bool {
		m := metrics()
		return strings.Contains(m, `wogate_webhook_silent{account="main"} 1`) &&
			strings.Contains(m, `wogate_reconcile_gaps_filled_total{account="main",action="NewWorkOrder"} 1`)
	})
	e.waitFor("handled history pruned", 30*time.Second, func() bool {
		return strings.Contains(e.logBuf.String(), `"msg":"pruned old history"`)
	})
	// Later rounds keep finding the same work order, but fill its gap once.
	time.Sleep(time.Second)
	e.stop()
	if n := e.acceptCalls(id); n != 1 {
		t.Errorf("sandbox saw %d accept calls, want 1", n)
	}
	if n := strings.Count(e.logBuf.String(), `"msg":"reconciliation stored a missed change"`); n != 1 {
		t.Errorf("reconciliation stored %d events for one lost webhook, want 1", n)
	}
}
