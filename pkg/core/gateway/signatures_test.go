package gateway

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
)

// TestWebhookSignatureCombinationReported: the sandbox signs like the
// default verifier (SHA-256 over the decoded data); with SHA-512 tried
// first the gateway still finds SHA-256, logs it once with the config that
// pins it, counts every accepted token in the metric and reports it for
// /api/v1/status.
func TestWebhookSignatureCombinationReported(t *testing.T) {
	w := newWorld(t, worldOpts{webhookYAML: ", hashes: [sha512, sha256]"})
	a, b := w.create(), w.create()
	w.waitFor("both accepted", func() bool {
		return w.status(a) == corrigo.StatusAccepted && w.status(b) == corrigo.StatusAccepted
	})
	sigs := w.g.sigs.snapshot()
	if len(sigs) != 1 {
		t.Fatalf("signatures %+v", sigs)
	}
	s := sigs[0]
	if s.Account != "main" || s.Combination != "SHA-256/decoded" || s.Key != 0 || s.Verified < 2 || s.Changes != 0 ||
		strings.Join(s.Configured, ",") != "SHA-512/decoded,SHA-256/decoded" || s.FirstVerified.IsZero() || s.LastVerified.Before(s.FirstVerified) {
		t.Fatalf("signature state %+v", s)
	}
	logs := w.logs.String()
	if n := strings.Count(logs, "webhook token signature verified"); n != 1 {
		t.Errorf("the combination was logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs, `"pin":"corrigo.accounts.main.webhook: {hashes: [sha256], signed_bytes: [decoded]}"`) {
		t.Errorf("the log does not say how to pin it:\n%s", logs)
	}
	rec := httptest.NewRecorder()
	w.g.metrics.Handler().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), "GET", "/metrics", nil))
	want := `wogate_webhook_signatures_verified_total{account="main",combination="SHA-256/decoded"} `
	if !strings.Contains(rec.Body.String(), want) {
		t.Errorf("metrics lack %s", want)
	}
	tok, _ := w.sb.WebhookToken()
	if strings.Contains(logs, tok[:40]) {
		t.Error("the log holds a webhook token")
	}
}

// TestSignatureTrackerLogsChanges: a change of combination or key is
// logged (as a warning) once per change and counted.
func TestSignatureTrackerLogsChanges(t *testing.T) {
	var buf bytes.Buffer
	counted := map[string]int{}
	tr := newSignatureTracker(slog.New(slog.NewTextHandler(&buf, nil)), func(acc, c string) { counted[acc+" "+c]++ })
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tr.now = func() time.Time { return at }
	for _, o := range []struct {
		combo string
		key   int
	}{{"SHA-256/decoded", 0}, {"SHA-256/decoded", 0}, {"SHA-1/segment", 0}, {"SHA-1/segment", 0}, {"SHA-1/segment", 1}} {
		tr.observe("acme", o.combo, o.key)
	}
	s := tr.snapshot()[0]
	if s.Combination != "SHA-1/segment" || s.Key != 1 || s.Previous != "SHA-1/segment" || s.Changes != 2 || s.Verified != 5 {
		t.Fatalf("state %+v", s)
	}
	out := buf.String()
	if strings.Count(out, "level=INFO") != 1 || strings.Count(out, "level=WARN") != 2 || !strings.Contains(out, "previous=SHA-256/decoded") {
		t.Fatalf("log:\n%s", out)
	}
	if counted["acme SHA-256/decoded"] != 2 || counted["acme SHA-1/segment"] != 3 {
		t.Errorf("counted %v", counted)
	}
}
