package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/tracing/tracectx"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

func TestTraceOnSQLite(t *testing.T)   { testTrace(t, "") }
func TestTraceOnPostgres(t *testing.T) { testTrace(t, testPostgresDSN(t)) }

// testTrace sends one work order through the real pipeline (sandbox
// webhook, store, rules, the accept plugin process, egress, sandbox API)
// and checks that one trace follows it: webhook receive → dispatch event →
// plugin call accept → egress send <kind> → the CorrigoPro HTTP call, each
// the child of the one before, with their attributes; that the trace
// context is the one stored with the event and the actions; and that the
// plugin received the context of its call.
func testTrace(t *testing.T, pg string) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	// report: the plugin adds a note whose text says what it saw,
	// including the traceparent of its call.
	w := newWorld(t, worldOpts{tracerProvider: tp, postgres: pg, pluginConfig: "{report: true}"})
	id := w.create()
	ctx := context.Background()
	w.waitFor("both actions sent", func() bool {
		acts, _ := w.g.Store().ActionsForWorkOrder(ctx, "main", id)
		return len(acts) == 2 && acts[0].Status == store.ActionSent && acts[1].Status == store.ActionSent
	})
	evs, err := w.g.Store().EventsForWorkOrder(ctx, "main", id)
	if err != nil || len(evs) != 1 {
		t.Fatalf("events = %v, %v", evs, err)
	}
	acts, err := w.g.Store().ActionsForWorkOrder(ctx, "main", id)
	if err != nil || len(acts) != 2 {
		t.Fatalf("actions = %v, %v", acts, err)
	}
	if err := w.stop(); err != nil { // every span has ended
		t.Fatal(err)
	}
	spans := exp.GetSpans()

	// 1. The webhook: the root of the trace.
	hook := find(t, spans, "webhook receive", func(s tracetest.SpanStub) bool {
		return attr(s, tracectx.WorkOrderID).AsInt64() == id
	})
	if hook.Parent.IsValid() || hook.SpanKind != trace.SpanKindServer {
		t.Errorf("webhook span: parent %v kind %v, want a server root", hook.Parent, hook.SpanKind)
	}
	wantAttrs(t, hook, map[attribute.Key]any{
		tracectx.Account: "main", tracectx.Action: "NewWorkOrder", tracectx.Result: "accepted",
		"http.request.method": "POST", "http.response.status_code": int64(200), "url.path": "/webhooks/corrigo/main",
	})
	if attr(hook, tracectx.MessageID).AsString() == "" {
		t.Error("webhook span has no message id")
	}
	traceID := hook.SpanContext.TraceID()
	inTrace := func(s tracetest.SpanStub) bool { return s.SpanContext.TraceID() == traceID }
	childOf := func(parent tracetest.SpanStub) func(tracetest.SpanStub) bool {
		return func(s tracetest.SpanStub) bool { return inTrace(s) && s.Parent.SpanID() == parent.SpanContext.SpanID() }
	}

	// 2. Dispatch continues the trace from the context stored with the event.
	if want := traceparentOf(hook); evs[0].TraceParent != want {
		t.Errorf("stored event trace context %q, want the webhook span's %q", evs[0].TraceParent, want)
	}
	disp := find(t, spans, "dispatch event", childOf(hook))
	if !disp.Parent.IsRemote() {
		t.Error("dispatch span's parent should come from the store (remote)")
	}
	wantAttrs(t, disp, map[attribute.Key]any{
		tracectx.EventID: evs[0].ID, tracectx.Account: "main", tracectx.WorkOrderID: id, tracectx.Action: "NewWorkOrder",
		tracectx.EventSource: "webhook", tracectx.Verdict: "done", tracectx.ConfigVersion: w.g.cfg.Version,
		tracectx.ActionsCount: int64(2),
	})
	if got := attr(disp, tracectx.RulesMatched).AsStringSlice(); len(got) != 1 || got[0] != "new-to-accept" {
		t.Errorf("rules matched = %v", got)
	}

	// 3. The plugin call, whose context the plugin received.
	call := find(t, spans, "plugin call accept", childOf(disp))
	wantAttrs(t, call, map[attribute.Key]any{
		tracectx.Plugin: "accept", tracectx.Rule: "new-to-accept", tracectx.ActionsCount: int64(2),
	})
	if call.SpanKind != trace.SpanKindClient {
		t.Errorf("plugin call kind %v", call.SpanKind)
	}
	var note pluginapi.Action
	if err := json.Unmarshal(acts[1].Payload, &note); err != nil {
		t.Fatal(err)
	}
	var seen struct{ Traceparent string }
	_ = json.Unmarshal([]byte(note.Text), &seen)
	if want := traceparentOf(call); seen.Traceparent != want {
		t.Errorf("plugin saw traceparent %q, want its call's %q", seen.Traceparent, want)
	}

	// 4. Each action is sent in a child of the plugin call that produced
	// it, and 5. each CorrigoPro call is a child of its send.
	for _, a := range acts {
		if want := traceparentOf(call); a.TraceParent != want {
			t.Errorf("action %s: stored trace context %q, want %q", a.Kind, a.TraceParent, want)
		}
		send := find(t, spans, "egress send "+a.Kind, childOf(call))
		wantAttrs(t, send, map[attribute.Key]any{
			tracectx.OutboxID: a.ID, tracectx.ActionKind: a.Kind, tracectx.Outcome: "sent", tracectx.Account: "main",
			tracectx.WorkOrderID: id, tracectx.Plugin: "accept", tracectx.Attempt: int64(1),
		})
		httpCall := find(t, spans, "HTTP call of "+a.Kind, func(s tracetest.SpanStub) bool {
			return childOf(send)(s) && s.SpanKind == trace.SpanKindClient && attr(s, "http.request.method").AsString() != "" &&
				!strings.Contains(s.Name, "OAuth")
		})
		if code := attr(httpCall, "http.response.status_code").AsInt64(); code != 200 {
			t.Errorf("%s: HTTP span status %d (%s)", a.Kind, code, httpCall.Name)
		}
		if u := attr(httpCall, "url.full").AsString(); !strings.HasPrefix(u, w.sb.BaseURL()) {
			t.Errorf("%s: HTTP span url %q, want the sandbox's", a.Kind, u)
		}
		if want := map[string]string{"accept": "PUT /Direct/api/workOrder/accept", "note": "PUT /Direct/api/workOrder/note"}[a.Kind]; httpCall.Name != want {
			t.Errorf("%s: HTTP span name %q, want %q", a.Kind, httpCall.Name, want)
		}
	}
	if t.Failed() {
		dumpSpans(t, spans)
	}
}

// TestTracedWorkOrderWithoutWebhookStartsATrace: an event stored without
// trace context (polling, reconciliation, tracing turned on later) gets a
// new trace at dispatch, which egress continues.
func TestTracedWorkOrderWithoutWebhookStartsATrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	w := newWorld(t, worldOpts{tracerProvider: tp})
	w.sb.SetWebhookURL("") // no webhook reaches the gateway
	id := w.create()
	wo, _, ok := w.sb.WorkOrder(id)
	if !ok {
		t.Fatal("sandbox lost the work order")
	}
	// What the poller stores: a NewWorkOrder event without trace context.
	msgID := fmt.Sprintf("poll-main-%d", id)
	body, err := corrigo.NewNotification(corrigo.Header{WorkOrderId: id, MessageId: msgID, ApiVersion: "1.1"},
		corrigo.NewWorkOrderPayload{Details: wo})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.g.Store().InsertEvent(context.Background(), &store.Event{Account: "main", MessageID: msgID,
		WorkOrderID: id, Action: "NewWorkOrder", Source: "poll", Body: body}); err != nil {
		t.Fatal(err)
	}
	w.g.disp.Wake()
	w.waitFor("accepted", func() bool { return w.status(id) == corrigo.StatusAccepted })
	if err := w.stop(); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	disp := find(t, spans, "dispatch event", func(s tracetest.SpanStub) bool { return attr(s, tracectx.WorkOrderID).AsInt64() == id })
	if disp.Parent.IsValid() {
		t.Errorf("dispatch of an untraced event has parent %v, want a new root", disp.Parent)
	}
	if src := attr(disp, tracectx.EventSource).AsString(); src != "poll" {
		t.Errorf("source %q", src)
	}
	call := find(t, spans, "plugin call accept", func(s tracetest.SpanStub) bool { return s.Parent.SpanID() == disp.SpanContext.SpanID() })
	find(t, spans, "egress send accept", func(s tracetest.SpanStub) bool {
		return s.SpanContext.TraceID() == disp.SpanContext.TraceID() && s.Parent.SpanID() == call.SpanContext.SpanID()
	})
	for _, s := range spans {
		if s.Name == "webhook receive" {
			t.Errorf("a webhook span with the webhook disabled: %+v", s)
		}
	}
}

func find(t *testing.T, spans tracetest.SpanStubs, name string, ok func(tracetest.SpanStub) bool) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range spans {
		if (strings.HasPrefix(name, "HTTP call") || s.Name == name) && ok(s) {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		dumpSpans(t, spans)
		t.Fatalf("found %d %q spans, want 1", len(found), name)
	}
	return found[0]
}

func attr(s tracetest.SpanStub, k attribute.Key) attribute.Value {
	for _, kv := range s.Attributes {
		if kv.Key == k {
			return kv.Value
		}
	}
	return attribute.Value{}
}

func wantAttrs(t *testing.T, s tracetest.SpanStub, want map[attribute.Key]any) {
	t.Helper()
	for k, v := range want {
		if got := attr(s, k).AsInterface(); got != v {
			t.Errorf("%s: %s = %v (%T), want %v (%T)", s.Name, k, got, got, v, v)
		}
	}
}

func traceparentOf(s tracetest.SpanStub) string {
	return "00-" + s.SpanContext.TraceID().String() + "-" + s.SpanContext.SpanID().String() + "-01"
}

func dumpSpans(t *testing.T, spans tracetest.SpanStubs) {
	t.Helper()
	for _, s := range spans {
		t.Logf("span %q trace %s id %s parent %s kind %v attrs %v", s.Name, s.SpanContext.TraceID(), s.SpanContext.SpanID(),
			s.Parent.SpanID(), s.SpanKind, s.Attributes)
	}
}

// tracedInbound is a plugin host stand-in that records the trace context
// each inbound call carried.
type tracedInbound struct {
	seen []string
	err  error
}

func (f *tracedInbound) HandleInbound(ctx context.Context, _ string, _ pluginapi.InboundRequest) (pluginapi.InboundResponse, []pluginapi.Action, error) {
	f.seen = append(f.seen, tracectx.Traceparent(ctx))
	if f.err != nil {
		return pluginapi.InboundResponse{}, nil, f.err
	}
	return pluginapi.InboundResponse{Status: 202}, []pluginapi.Action{{Kind: pluginapi.KindCheckIn, WorkOrderID: 77}}, nil
}

// TestInboundRequestStartsATrace: a request to /plugins/<name>/inbound is
// the root of a trace; the plugin call runs in it and the events storing
// the plugin's actions carry it, so their dispatch and sends join it.
func TestInboundRequestStartsATrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	w := newIntakeWorld(t, map[string]bool{"acme": false})
	f := &tracedInbound{}
	mux := http.NewServeMux()
	registerInbound(mux, &inboundHandler{plugins: f, intake: w.in, log: w.in.log, maxBody: DefaultInboundMaxBytes, policy: openOnLoopback,
		tracer: tp.Tracer(tracectx.TracerName)})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	if a := call(t, "POST", srv.URL+"/plugins/erp/inbound/jobs/1", `{}`, map[string]string{AccountHeader: "acme"}); a.status != 202 {
		t.Fatalf("answer %d %s", a.status, a.body)
	}
	s := find(t, exp.GetSpans(), "plugin inbound erp", func(tracetest.SpanStub) bool { return true })
	if s.Parent.IsValid() || s.SpanKind != trace.SpanKindServer {
		t.Errorf("inbound span: parent %v kind %v, want a server root", s.Parent, s.SpanKind)
	}
	wantAttrs(t, s, map[attribute.Key]any{tracectx.Plugin: "erp", "http.response.status_code": int64(202), tracectx.ActionsCount: int64(1)})
	want := traceparentOf(s)
	if len(f.seen) != 1 || f.seen[0] != want {
		t.Errorf("plugin call carried %q, want %q", f.seen, want)
	}
	evs := w.events("acme", 77)
	if len(evs) != 1 || evs[0].TraceParent != want {
		t.Fatalf("stored events %+v, want one with trace context %q", evs, want)
	}
	// The dispatcher writes the action under that trace.
	if acts := w.outbox("acme", 77, 1); acts[0].TraceParent == "" || !strings.Contains(acts[0].TraceParent, s.SpanContext.TraceID().String()) {
		t.Errorf("action trace context %q, want trace %s", acts[0].TraceParent, s.SpanContext.TraceID())
	}

	// A plugin failure is an error on the span.
	exp.Reset()
	f.err = errors.New("erp down")
	if a := call(t, "POST", srv.URL+"/plugins/erp/inbound", `{}`, nil); a.status != 500 {
		t.Fatalf("answer %d %s", a.status, a.body)
	}
	s = find(t, exp.GetSpans(), "plugin inbound erp", func(tracetest.SpanStub) bool { return true })
	if s.Status.Code != codes.Error || attr(s, "http.response.status_code").AsInt64() != 500 {
		t.Errorf("failed inbound span: status %v, attributes %v", s.Status, s.Attributes)
	}
}
