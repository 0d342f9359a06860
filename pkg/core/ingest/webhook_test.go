package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
)

const goodToken = "H4sIgood<---->sig"

// testVerify accepts goodToken and names a reason for anything else, as
// the real verifier does.
func testVerify(token string) (string, error) {
	switch token {
	case goodToken:
		return "", nil
	case "expired":
		return "expired", errors.New("token expired 3m ago")
	}
	return "bad_signature", errors.New("signature does not verify")
}

func checkInBody(msgID string) string {
	return `{"Status":"CheckedIn","Location":{"Latitude":36.281445,"Longitude":-75.794662},
 "Header":{"WorkOrderId":42,"BranchId":492042,"Sender":{"Name":"Jon Snow","Type":"CorrigoPro"},
 "Action":"CheckedIn","ActionDate":"2017-10-05T10:17:40.7259888Z","ApiVersion":"1.0","MessageId":"` + msgID + `"}}`
}

func newTestWebhook(t *testing.T, st Inserter) (*Webhook, *Stats, *[]store.LogEntry) {
	t.Helper()
	return newExplainingWebhook(t, st, false)
}

func newExplainingWebhook(t *testing.T, st Inserter, explain bool) (*Webhook, *Stats, *[]store.LogEntry) {
	t.Helper()
	stats := &Stats{}
	var logged []store.LogEntry
	h, err := NewWebhook(WebhookOptions{
		Account: "main", Verify: testVerify, Store: st, MaxBodyBytes: 4096, Stats: stats, ExplainRejections: explain,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnExchange: func(e store.LogEntry) { logged = append(logged, e) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return h, stats, &logged
}

func TestWebhookAnswers(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		auth       string
		eventType  string
		body       string
		wantCode   int
		wantReason string // in the JSON answer; "" for 2xx
		wantStatus string // {"status":...} for 2xx
		wantStored int
		wantLogged int // communication log entries
	}{
		{name: "accepted", method: "POST", auth: "Bearer " + goodToken, eventType: "CheckedIn", body: checkInBody("m1"),
			wantCode: 200, wantStatus: "accepted", wantStored: 1, wantLogged: 1},
		{name: "lowercase bearer", method: "POST", auth: "bearer " + goodToken, body: checkInBody("m1"),
			wantCode: 200, wantStatus: "accepted", wantStored: 1, wantLogged: 1},
		{name: "event type mismatch trusts body", method: "POST", auth: "Bearer " + goodToken, eventType: "Paused", body: checkInBody("m1"),
			wantCode: 200, wantStatus: "accepted", wantStored: 1, wantLogged: 1},
		{name: "GET refused", method: "GET", auth: "Bearer " + goodToken,
			wantCode: 405, wantReason: ReasonMethod},
		{name: "no token", method: "POST", body: checkInBody("m1"),
			wantCode: 401, wantReason: ReasonMissingToken},
		{name: "basic auth is not a token", method: "POST", auth: "Basic dXNlcjpwYXNz", body: checkInBody("m1"),
			wantCode: 401, wantReason: ReasonMissingToken},
		{name: "forged token", method: "POST", auth: "Bearer forged<---->x", body: checkInBody("m1"),
			wantCode: 401, wantReason: "bad_signature"},
		{name: "expired token", method: "POST", auth: "Bearer expired", body: checkInBody("m1"),
			wantCode: 401, wantReason: "expired"},
		{name: "empty body", method: "POST", auth: "Bearer " + goodToken, body: "",
			wantCode: 400, wantReason: ReasonBadBody, wantLogged: 1},
		{name: "not json", method: "POST", auth: "Bearer " + goodToken, body: "<xml/>",
			wantCode: 400, wantReason: ReasonBadBody, wantLogged: 1},
		{name: "no message id", method: "POST", auth: "Bearer " + goodToken, body: `{"Header":{"WorkOrderId":1,"Action":"Accepted"}}`,
			wantCode: 400, wantReason: ReasonBadBody, wantLogged: 1},
		{name: "too large", method: "POST", auth: "Bearer " + goodToken, body: `{"Header":{},"X":"` + strings.Repeat("a", 5000) + `"}`,
			wantCode: 413, wantReason: ReasonBodyTooLarge, wantLogged: 1},
	}
	for _, tc := range tests {
		for _, explain := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/explain=%v", tc.name, explain), func(t *testing.T) {
				st := newMemStore()
				h, stats, logged := newExplainingWebhook(t, st, explain)
				req := httptest.NewRequestWithContext(t.Context(), tc.method, "/webhooks/corrigo/main", strings.NewReader(tc.body))
				if tc.auth != "" {
					req.Header.Set("Authorization", tc.auth)
				}
				if tc.eventType != "" {
					req.Header.Set("Event-Type", tc.eventType)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != tc.wantCode {
					t.Fatalf("code = %d, want %d; body %s", rec.Code, tc.wantCode, rec.Body)
				}
				if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
				var ans map[string]string
				if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
					t.Fatalf("answer is not JSON: %q", rec.Body)
				}
				if tc.wantReason != "" {
					switch {
					case tc.wantCode == 401 && !explain:
						// The default: every 401 is the same, whatever failed.
						if rec.Body.String() != `{"error":"unauthorized","reason":"unauthorized"}`+"\n" {
							t.Errorf("401 body %q, want the generic one", rec.Body)
						}
					case ans["reason"] != tc.wantReason || ans["error"] == "":
						t.Errorf("answer = %v, want reason %q and an error", ans, tc.wantReason)
					case tc.wantCode == 401 && tc.wantReason != ReasonMissingToken && !strings.Contains(ans["error"], ": "):
						t.Errorf("explained 401 %q lacks the verifier's message", ans["error"])
					}
					if stats.Get(tc.wantReason) != 1 {
						t.Errorf("stats[%s] = %d, want 1", tc.wantReason, stats.Get(tc.wantReason))
					}
				} else if ans["status"] != tc.wantStatus {
					t.Errorf("answer = %v, want status %q", ans, tc.wantStatus)
				}
				if got := len(st.snapshot()); got != tc.wantStored {
					t.Errorf("stored %d events, want %d", got, tc.wantStored)
				}
				if len(*logged) != tc.wantLogged {
					t.Errorf("communication log got %d entries, want %d", len(*logged), tc.wantLogged)
				}
			})
		}
	}
}

func TestWebhookStoresEventFields(t *testing.T) {
	st := newMemStore()
	h, stats, logged := newTestWebhook(t, st)
	var woken []*store.Event
	h.opts.OnStored = func(e *store.Event) { woken = append(woken, e) }
	body := checkInBody("e6d28519")
	post := func() *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(t.Context(), "POST", "/w", strings.NewReader("  "+body+"\n"))
		req.Header.Set("Authorization", "Bearer "+goodToken)
		req.Header.Set("Event-Type", "CheckedIn")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := post(); rec.Code != 200 || !strings.Contains(rec.Body.String(), "accepted") {
		t.Fatalf("first delivery: %d %s", rec.Code, rec.Body)
	}
	if rec := post(); rec.Code != 200 || !strings.Contains(rec.Body.String(), "duplicate") {
		t.Fatalf("redelivery: %d %s", rec.Code, rec.Body)
	}
	evs := st.snapshot()
	if len(evs) != 1 {
		t.Fatalf("stored %d events, want 1", len(evs))
	}
	e := evs[0]
	if e.Account != "main" || e.MessageID != "e6d28519" || e.WorkOrderID != 42 || e.Action != "CheckedIn" ||
		e.Source != "webhook" || e.Status != store.EventPending || e.ReceivedAt.IsZero() ||
		e.ActionDate.Format("2006-01-02T15:04:05.0000000") != "2017-10-05T10:17:40.7259888" {
		t.Errorf("stored event = %+v", e)
	}
	if !bytes.Equal(e.Body, []byte(body)) {
		t.Errorf("stored body differs from what was sent (trimmed):\n%s", e.Body)
	}
	n, err := corrigo.DecodeNotification(e.Body)
	if err != nil || n.Header.MessageId != "e6d28519" {
		t.Errorf("stored body does not decode back: %v", err)
	}
	if len(woken) != 1 {
		t.Errorf("OnStored called %d times, want 1 (not for the duplicate)", len(woken))
	}
	if stats.Get("accepted") != 1 || stats.Get("duplicate") != 1 {
		t.Errorf("stats = %v", stats.Snapshot())
	}
	if len(*logged) != 2 || (*logged)[0].Direction != "inbound" || (*logged)[0].WorkOrderID != 42 || (*logged)[0].MessageID != "e6d28519" {
		t.Errorf("communication log = %+v", *logged)
	}
}

func TestWebhookStoreDownAnswers503(t *testing.T) {
	st := newMemStore()
	st.fail = errDown
	h, stats, logged := newTestWebhook(t, st)
	req := httptest.NewRequestWithContext(t.Context(), "POST", "/w", strings.NewReader(checkInBody("m1")))
	req.Header.Set("Authorization", "Bearer "+goodToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("code = %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	if stats.Get(ReasonStoreFailed) != 1 {
		t.Errorf("stats = %v", stats.Snapshot())
	}
	if len(*logged) != 1 || (*logged)[0].Severity != "error" || !strings.Contains((*logged)[0].Error, "database is down") {
		t.Errorf("communication log = %+v", *logged)
	}
}

func TestNewWebhookRefusesMissingVerifier(t *testing.T) {
	if _, err := NewWebhook(WebhookOptions{Account: "main", Store: newMemStore()}); err == nil {
		t.Fatal("a webhook without a verifier was accepted")
	}
	if _, err := NewWebhook(WebhookOptions{Account: "main", Verify: testVerify}); err == nil {
		t.Fatal("a webhook without a store was accepted")
	}
}

// FuzzWebhookBody: whatever a caller with a valid token posts, the handler
// answers 200 or a 4xx with a JSON reason, and never panics.
func FuzzWebhookBody(f *testing.F) {
	f.Add([]byte(checkInBody("m1")))
	f.Add([]byte(`{"Header":{"WorkOrderId":1,"Action":"NewWorkOrder","MessageId":"x"},"Details":{"WorkOrderId":"nope"}}`))
	f.Add([]byte(`{"Header":null}`))
	f.Add([]byte(`[]`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		st := newMemStore()
		h, err := NewWebhook(WebhookOptions{Account: "main", Verify: testVerify, Store: st, MaxBodyBytes: 1 << 16,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequestWithContext(t.Context(), "POST", "/w", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+goodToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200:
			if len(st.snapshot()) != 1 {
				t.Fatalf("200 but %d events stored", len(st.snapshot()))
			}
		case 400, 413:
			if len(st.snapshot()) != 0 {
				t.Fatal("rejected body was stored")
			}
		default:
			t.Fatalf("unexpected code %d", rec.Code)
		}
		var ans map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
			t.Fatalf("answer is not JSON: %q", rec.Body)
		}
	})
}

// TestWebhookLogsNewWorkOrderCustomer: a NewWorkOrder's log entry carries
// the work order number and customer name from its details; other
// notifications carry neither (the gateway's commlog.Directory fills them).
func TestWebhookLogsNewWorkOrderCustomer(t *testing.T) {
	h, _, logged := newTestWebhook(t, newMemStore())
	for _, body := range []string{
		`{"Details":{"WorkOrderId":7,"WorkOrderNumber":"FAB7","Customer":{"ID":1,"Name":"Fabrikam Foods"}},
		  "Header":{"WorkOrderId":7,"Action":"NewWorkOrder","ActionDate":"2026-01-02T10:00:00Z","MessageId":"n7"}}`,
		checkInBody("c42"),
	} {
		req := httptest.NewRequestWithContext(t.Context(), "POST", "/w", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+goodToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	if len(*logged) != 2 {
		t.Fatalf("logged %d entries", len(*logged))
	}
	if e := (*logged)[0]; e.WorkOrderID != 7 || e.WorkOrderNumber != "FAB7" || e.Customer != "Fabrikam Foods" {
		t.Errorf("NewWorkOrder entry: %+v", e)
	}
	if e := (*logged)[1]; e.WorkOrderID != 42 || e.Customer != "" || e.WorkOrderNumber != "" {
		t.Errorf("CheckedIn entry: %+v", e)
	}
}

// TestRejectionLogBounded: a flood of bad tokens writes the first few
// lines per reason and then one summary per window, while Stats counts
// every request and the communication log gets one summary entry.
func TestRejectionLogBounded(t *testing.T) {
	var buf bytes.Buffer
	stats := &Stats{}
	var logged []store.LogEntry
	now := time.Unix(1_700_000_000, 0)
	h, err := NewWebhook(WebhookOptions{
		Account: "main", Verify: testVerify, Store: newMemStore(), Stats: stats,
		Logger:         slog.New(slog.NewJSONHandler(&buf, nil)),
		OnExchange:     func(e store.LogEntry) { logged = append(logged, e) },
		Now:            func() time.Time { return now },
		RejectLogBurst: 5, RejectLogInterval: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	send := func(auth string, n int) {
		for range n {
			req := httptest.NewRequestWithContext(t.Context(), "POST", "/webhooks/corrigo/main", strings.NewReader(checkInBody("m1")))
			req.Header.Set("Authorization", auth)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status %d", w.Code)
			}
		}
	}
	send("Bearer expired", 2000)
	send("Bearer forged<---->x", 3)
	lines := strings.Count(buf.String(), `"msg":"webhook rejected`)
	if lines != 5+3 {
		t.Fatalf("%d rejection lines for 2003 requests, want 8:\n%.2000s", lines, buf.String())
	}
	if got := stats.Snapshot(); got["expired"] != 2000 || got["bad_signature"] != 3 {
		t.Fatalf("stats %v, want every request counted", got)
	}
	// The window ends; the next rejection carries its predecessor's count.
	now = now.Add(time.Minute)
	send("Bearer expired", 1)
	h.rejections.Flush()
	out := buf.String()
	if !strings.Contains(out, `"msg":"webhook rejections not logged one by one","account":"main","component":"webhook","reason":"expired","suppressed":1995`) {
		t.Fatalf("no summary line with the exact count:\n%s", out[max(0, len(out)-2000):])
	}
	if strings.Count(out, "not logged one by one") != 1 {
		t.Fatalf("want exactly one summary (bad_signature suppressed none):\n%s", out[max(0, len(out)-2000):])
	}
	if len(logged) != 1 || logged[0].Status != 401 || !strings.Contains(logged[0].Error, "1995 more webhook requests rejected (expired)") {
		t.Fatalf("communication log entries %+v, want one summary", logged)
	}
	if len(buf.Bytes()) > 8<<10 {
		t.Fatalf("%d bytes of log for 2004 rejected requests", buf.Len())
	}
}
