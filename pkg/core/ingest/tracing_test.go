package ingest

import (
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wogate/wogate/pkg/core/tracing/tracectx"
)

// TestWebhookSpans: each request is a "webhook receive" span that starts a
// new trace (a caller's traceparent is not trusted), says what became of
// the request, and — when the event is stored — is the trace context
// stored with it.
func TestWebhookSpans(t *testing.T) {
	tests := []struct {
		name       string
		auth       string
		body       string
		storeFails bool
		wantCode   int64
		wantResult string
		wantError  bool
		wantStored bool
	}{
		{name: "accepted", auth: "Bearer " + goodToken, body: checkInBody("m1"), wantCode: 200, wantResult: "accepted", wantStored: true},
		{name: "bad token", auth: "Bearer forged", body: checkInBody("m1"), wantCode: 401, wantResult: "bad_signature"},
		{name: "bad body", auth: "Bearer " + goodToken, body: "<xml/>", wantCode: 400, wantResult: ReasonBadBody},
		{name: "store down", auth: "Bearer " + goodToken, body: checkInBody("m1"), storeFails: true, wantCode: 503,
			wantResult: ReasonStoreFailed, wantError: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
			defer func() { _ = tp.Shutdown(t.Context()) }()
			st := newMemStore()
			if tc.storeFails {
				st.fail = errors.New("database is locked")
			}
			h, err := NewWebhook(WebhookOptions{Account: "main", Verify: testVerify, Store: st,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Tracer: tp.Tracer(tracectx.TracerName)})
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequestWithContext(t.Context(), "POST", "/webhooks/corrigo/main", strings.NewReader(tc.body))
			req.Header.Set("Authorization", tc.auth)
			req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
			h.ServeHTTP(httptest.NewRecorder(), req)

			spans := exp.GetSpans()
			if len(spans) != 1 || spans[0].Name != "webhook receive" {
				t.Fatalf("spans = %+v", spans)
			}
			s := spans[0]
			if s.Parent.IsValid() || s.SpanContext.TraceID().String() == "4bf92f3577b34da6a3ce929d0e0e4736" || s.SpanKind != trace.SpanKindServer {
				t.Errorf("span continues the caller's trace or is no server root: parent %v, trace %s", s.Parent, s.SpanContext.TraceID())
			}
			got := map[attribute.Key]attribute.Value{}
			for _, kv := range s.Attributes {
				got[kv.Key] = kv.Value
			}
			if got["http.response.status_code"].AsInt64() != tc.wantCode || got[tracectx.Result].AsString() != tc.wantResult ||
				got[tracectx.Account].AsString() != "main" {
				t.Errorf("attributes %v", s.Attributes)
			}
			if (s.Status.Code == codes.Error) != tc.wantError {
				t.Errorf("status %v, want error %v", s.Status, tc.wantError)
			}
			evs := st.snapshot()
			if tc.wantStored {
				if len(evs) != 1 {
					t.Fatalf("stored %d events", len(evs))
				}
				sc := s.SpanContext
				if want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"; evs[0].TraceParent != want {
					t.Errorf("stored trace context %q, want %q", evs[0].TraceParent, want)
				}
				if got[tracectx.WorkOrderID].AsInt64() != 42 || got[tracectx.MessageID].AsString() != "m1" || got[tracectx.Action].AsString() != "CheckedIn" {
					t.Errorf("event attributes missing: %v", s.Attributes)
				}
			}
		})
	}
}
