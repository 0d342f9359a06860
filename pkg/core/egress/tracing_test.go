package egress

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/tracing/tracectx"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// enqueueTraced is enqueue with the trace context dispatch stores with
// each action.
func enqueueTraced(t *testing.T, st store.Store, woID int64, traceparent string, a pluginapi.Action) {
	t.Helper()
	ctx := context.Background()
	ev := &store.Event{Account: "main", MessageID: fmt.Sprintf("m-%d", msgSeq.Add(1)), WorkOrderID: woID,
		Action: "NewWorkOrder", Source: "webhook", Body: json.RawMessage(`{}`)}
	if _, err := st.InsertEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if claimed, err := st.ClaimEvents(ctx, "dispatcher", time.Minute, 100); err != nil || len(claimed) != 1 {
		t.Fatalf("claim event: %v %+v", err, claimed)
	}
	a.WorkOrderID = woID
	b, _ := json.Marshal(a)
	out := store.Outcome{Status: store.EventDone, Actions: []store.OutboxAction{{IdempotencyKey: fmt.Sprintf("%d/rule/0", ev.ID),
		Account: "main", WorkOrderID: woID, Rule: "rule", Plugin: "p", Kind: string(a.Kind), Payload: b, TraceParent: traceparent}}}
	if err := st.CompleteEvent(ctx, ev.ID, "dispatcher", out); err != nil {
		t.Fatal(err)
	}
}

// TestSendSpans: each attempt at an action is an "egress send <kind>" span,
// a child of the span whose context was stored with the action, with its
// outcome; failures are marked as errors.
func TestSendSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := tp.Tracer(tracectx.TracerName)
	pctx, parent := tracer.Start(context.Background(), "plugin call p")
	parent.End()

	st := openStore(t)
	f := newFakeCorrigo(t)
	var logs strings.Builder
	var logMu sync.Mutex
	lg := slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), nil))
	s := newTestSender(t, f, Options{InitialBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Logger: lg})
	w := NewWorker(st, s, WorkerOptions{Concurrency: 2, PollInterval: 10 * time.Millisecond, Logger: quiet, Tracer: tracer})
	f.addWO(wo(500, corrigo.StatusNew))
	f.fail("api/workOrder/accept", 1, fault{503, 1000, "busy", ""})
	enqueueTraced(t, st, 500, tracectx.Traceparent(pctx), pluginapi.Action{Kind: pluginapi.KindAccept})
	f.addWO(wo(501, corrigo.StatusAccepted))
	f.fail("api/messages", 1, fault{400, 2100, "Model data validation failed", ""})
	enqueueTraced(t, st, 501, "", pluginapi.Action{Kind: pluginapi.KindMessage, Text: "x"}) // dead, untraced
	stop := runWorker(t, w)
	w.Kick()
	waitSettled(t, st, 500, 501)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	outcome := func(s tracetest.SpanStub) string {
		for _, kv := range s.Attributes {
			if kv.Key == tracectx.Outcome {
				return kv.Value.AsString()
			}
		}
		return ""
	}
	var accepts []tracetest.SpanStub
	var message tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		switch s.Name {
		case "egress send accept":
			accepts = append(accepts, s)
		case "egress send message":
			message = s
		}
	}
	if len(accepts) != 2 {
		t.Fatalf("%d accept send spans, want 2 (a retry, then sent)", len(accepts))
	}
	for i, s := range accepts {
		if s.Parent.SpanID() != parent.SpanContext().SpanID() || s.SpanContext.TraceID() != parent.SpanContext().TraceID() {
			t.Errorf("attempt %d: parent %v, want the stored span", i+1, s.Parent)
		}
		if !containsAttr(s.Attributes, tracectx.Attempt.Int(i+1)) || !containsAttr(s.Attributes, tracectx.WorkOrderID.Int64(500)) {
			t.Errorf("attempt %d: attributes %v", i+1, s.Attributes)
		}
	}
	if outcome(accepts[0]) != "retry" || accepts[0].Status.Code != codes.Error {
		t.Errorf("first attempt: outcome %q, status %v", outcome(accepts[0]), accepts[0].Status)
	}
	if outcome(accepts[1]) != "sent" || accepts[1].Status.Code == codes.Error {
		t.Errorf("second attempt: outcome %q, status %v", outcome(accepts[1]), accepts[1].Status)
	}
	// The retry's log line names the trace.
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	if want := `"trace_id":"` + parent.SpanContext().TraceID().String() + `"`; !strings.Contains(out, want) {
		t.Errorf("egress log lines lack %s:\n%s", want, out)
	}
	if message.Parent.IsValid() || outcome(message) != "dead" || message.Status.Code != codes.Error {
		t.Errorf("message: parent %v, outcome %q, status %v; want a root, dead, Error", message.Parent, outcome(message), message.Status)
	}
}

func containsAttr(kvs []attribute.KeyValue, want attribute.KeyValue) bool {
	for _, kv := range kvs {
		if kv == want {
			return true
		}
	}
	return false
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
