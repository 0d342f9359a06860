package ingest

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestWebhookShedsWhenOverloaded: while Shed says so, an authenticated
// webhook gets 503 with Retry-After and a JSON reason and nothing is
// stored; an unauthenticated one still gets its 401 (the shedding state is
// told only to CorrigoPro); when Shed stops, the same notification is
// stored.
func TestWebhookShedsWhenOverloaded(t *testing.T) {
	st := newMemStore()
	shedding := true
	stats := &Stats{}
	h, err := NewWebhook(WebhookOptions{
		Account: "main", Verify: testVerify, Store: st, Stats: stats,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Shed:   func() (time.Duration, bool) { return 30 * time.Second, shedding },
	})
	if err != nil {
		t.Fatal(err)
	}
	post := func(auth string) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/webhooks/corrigo/main", strings.NewReader(checkInBody("m-shed")))
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := post("Bearer " + goodToken)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "30" {
		t.Fatalf("shedding: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	var ans errorAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil || ans.Reason != ReasonOverloaded || !strings.Contains(ans.Error, "later") {
		t.Fatalf("shedding body %q: %v", rec.Body.String(), err)
	}
	if n := len(st.events); n != 0 {
		t.Fatalf("%d events stored while shedding", n)
	}
	if rec := post("Bearer forged"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("a forged token while shedding got %d, want 401", rec.Code)
	}
	shedding = false
	if rec := post("Bearer " + goodToken); rec.Code != http.StatusOK {
		t.Fatalf("after shedding: %d %s", rec.Code, rec.Body.String())
	}
	if n := len(st.events); n != 1 {
		t.Fatalf("%d events stored after shedding, want 1", n)
	}
	if got := stats.Snapshot()[ReasonOverloaded]; got != 1 {
		t.Errorf("overloaded count %d, want 1", got)
	}
}
