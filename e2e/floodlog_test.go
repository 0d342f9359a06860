package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wogate/wogate/internal/testhttp"
	"github.com/wogate/wogate/pkg/corrigo"
)

// TestBadTokenFloodWritesBoundedLog: issue 11 finding 6 through the real
// gateway. Thousands of requests with bad tokens write a handful of log
// lines (the first few per reason, then one summary with the count), and
// the metrics count every one of them exactly.
func TestBadTokenFloodWritesBoundedLog(t *testing.T) {
	e := newEnv(t)
	adminPort := freePort(t)
	e.writeConfig(gwConfig{Admin: fmt.Sprintf("127.0.0.1:%d", adminPort)})
	e.start()

	key, _, err := corrigo.GenerateCertificate("mallory", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := corrigo.NewTokenIssuer(key, corrigo.IssuerOptions{}).Issue("CorrigoPro", "", 20*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	const perKind = 1600 // 8 senders × 400 requests, half each kind
	before := len(e.logBuf.String())
	tr := &http.Transport{MaxIdleConnsPerHost: 8}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2 * perKind / 8 {
				tok := "garbage-without-separator"
				if i%2 == 0 {
					tok = forged
				}
				req, _ := http.NewRequestWithContext(context.Background(), "POST", e.url("/webhooks/corrigo/main"), strings.NewReader(`{}`))
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					errs <- fmt.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// The flood's log, before the probes below add their own lines (one
	// of them, the missing token, is a third reason).
	flood := e.logBuf.String()[before:]

	// By default the answer says nothing about why the token failed.
	for _, tok := range []string{forged, "garbage-without-separator", ""} {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", e.url("/webhooks/corrigo/main"), strings.NewReader(`{}`))
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || string(b) != `{"error":"unauthorized","reason":"unauthorized"}`+"\n" {
			t.Errorf("401 body %d %q, want the generic one", resp.StatusCode, b)
		}
	}
	lines := strings.Count(flood, "webhook rejected")
	if lines > 2*10 {
		t.Errorf("%d rejection lines for %d bad requests, want at most 10 per reason", lines, 2*perKind)
	}
	if len(flood) > 32<<10 {
		t.Errorf("%d bytes of log for %d bad requests", len(flood), 2*perKind)
	}
	t.Logf("%d requests with bad tokens: %d log lines, %d bytes", 2*perKind, strings.Count(flood, "\n"), len(flood))

	// Every request is counted.
	resp, err := testhttp.Get(t.Context(), fmt.Sprintf("http://127.0.0.1:%d/metrics", adminPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	for _, want := range []string{
		fmt.Sprintf(`wogate_webhook_requests_total{result="bad_signature"} %d`, perKind+1),
		fmt.Sprintf(`wogate_webhook_requests_total{result="malformed"} %d`, perKind+1),
		`wogate_webhook_requests_total{result="missing_token"} 1`,
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// SIGTERM flushes the summaries: the log then accounts for every request.
	e.stop()
	all := e.logBuf.String()[before:]
	for _, reason := range []string{"bad_signature", "malformed"} {
		want := fmt.Sprintf(`"reason":%q,"suppressed":%d`, reason, perKind+1-10)
		if !strings.Contains(all, want) {
			t.Errorf("no summary %s in the log after stop:\n%.3000s", want, all)
		}
	}
}
