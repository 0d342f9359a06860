package dispatch

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/tracing/tracectx"
	"github.com/wogate/wogate/pkg/pluginapi"
)

func spanAttr(s tracetest.SpanStub, k attribute.Key) attribute.Value {
	for _, kv := range s.Attributes {
		if kv.Key == k {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// TestTracesAcrossRetries: every attempt at an event is a "dispatch event"
// span under the span that stored it, a failed attempt says so, and the
// action continues the trace from the plugin call that produced it.
func TestTracesAcrossRetries(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tracer := tp.Tracer(tracectx.TracerName)
	hctx, hook := tracer.Start(context.Background(), "webhook receive")
	hook.End()

	st := newMemStore()
	ok := newEvent(t, 42, "m1", newWO(42), time.Now())
	ok.TraceParent = tracectx.Traceparent(hctx)
	idOK := st.add(ok)
	dead := newEvent(t, 43, "m2", newWO(43), time.Now())
	dead.Source = "poll" // no trace context: a new trace
	idDead := st.add(dead)

	var calls atomic.Int32
	plug := pluginFunc(func(ctx context.Context, name string, ev pluginapi.Event) ([]pluginapi.Action, error) {
		if ev.Header.WorkOrderId == 43 {
			return nil, pluginapi.Permanent(errors.New("never"))
		}
		if calls.Add(1) == 1 {
			return nil, errors.New("busy")
		}
		return acceptAll(ctx, name, ev)
	})
	classify := func(err error) Verdict {
		var pe *pluginapi.Error
		if errors.As(err, &pe) && !pe.Retryable {
			return Dead
		}
		return Retry
	}
	var logs lockedBuf
	run(t, Options{Store: st, Evaluator: everything, Plugins: plug, MaxAttempts: 5, Tracer: tracer,
		Logger:      slog.New(slog.NewJSONHandler(&logs, nil)),
		BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond, Classify: classify})
	waitFor(t, "events settled", st.settled)
	if st.event(idOK).Status != store.EventDone || st.event(idDead).Status != store.EventDead {
		t.Fatalf("statuses %s, %s", st.event(idOK).Status, st.event(idDead).Status)
	}

	var attempts, calls42 []tracetest.SpanStub
	var deadSpan tracetest.SpanStub
	collect := func() {
		attempts, calls42, deadSpan = nil, nil, tracetest.SpanStub{}
		for _, s := range exp.GetSpans() {
			switch {
			case s.Name == "dispatch event" && spanAttr(s, tracectx.EventID).AsInt64() == idOK:
				attempts = append(attempts, s)
			case s.Name == "dispatch event" && spanAttr(s, tracectx.EventID).AsInt64() == idDead:
				deadSpan = s
			case s.Name == "plugin call p" && s.SpanContext.TraceID() == hook.SpanContext().TraceID():
				calls42 = append(calls42, s)
			}
		}
	}
	// A dispatch span ends after its outcome is stored: an event can be
	// settled a moment before the span of its last attempt is exported.
	// Wait for the spans; a third attempt would still fail below.
	deadline := time.Now().Add(5 * time.Second)
	for collect(); (len(attempts) < 2 || deadSpan.Name == "") && time.Now().Before(deadline); collect() {
		time.Sleep(2 * time.Millisecond)
	}
	if len(attempts) != 2 || len(calls42) != 2 {
		t.Fatalf("got %d dispatch spans and %d plugin spans for the traced event, want 2 and 2", len(attempts), len(calls42))
	}
	for i, s := range attempts {
		if s.Parent.SpanID() != hook.SpanContext().SpanID() || s.SpanContext.TraceID() != hook.SpanContext().TraceID() {
			t.Errorf("attempt %d: parent %v, want the webhook span", i+1, s.Parent)
		}
		if got := spanAttr(s, tracectx.Attempt).AsInt64(); got != int64(i+1) {
			t.Errorf("attempt %d: wogate.attempt = %d", i+1, got)
		}
	}
	if v := spanAttr(attempts[0], tracectx.Verdict).AsString(); v != "retry" || attempts[0].Status.Code != codes.Error {
		t.Errorf("first attempt: verdict %q, status %v; want retry, Error", v, attempts[0].Status)
	}
	if v := spanAttr(attempts[1], tracectx.Verdict).AsString(); v != "done" || attempts[1].Status.Code == codes.Error {
		t.Errorf("second attempt: verdict %q, status %v; want done, not Error", v, attempts[1].Status)
	}
	if calls42[0].Status.Code != codes.Error || calls42[1].Status.Code == codes.Error {
		t.Errorf("plugin call statuses %v, %v; want Error, then not", calls42[0].Status, calls42[1].Status)
	}
	acts := st.outbox()
	if len(acts) != 1 {
		t.Fatalf("outbox = %+v", acts)
	}
	ok2 := calls42[1].SpanContext
	if want := "00-" + ok2.TraceID().String() + "-" + ok2.SpanID().String() + "-01"; acts[0].TraceParent != want {
		t.Errorf("action trace context %q, want the successful plugin call's %q", acts[0].TraceParent, want)
	}

	// Log lines name the trace, so an operator can go from a log to it.
	if want := `"trace_id":"` + hook.SpanContext().TraceID().String() + `"`; !strings.Contains(logs.String(), want) {
		t.Errorf("dispatch log lines lack %s:\n%s", want, logs.String())
	}

	if deadSpan.Parent.IsValid() || deadSpan.SpanContext.TraceID() == hook.SpanContext().TraceID() {
		t.Errorf("untraced event: parent %v, want a new trace", deadSpan.Parent)
	}
	if v := spanAttr(deadSpan, tracectx.Verdict).AsString(); v != "dead" || deadSpan.Status.Code != codes.Error {
		t.Errorf("dead event: verdict %q, status %v", v, deadSpan.Status)
	}
}

// TestNoTraceContextWhenTracingOff: with the default no-op tracer nothing is
// stored with the actions.
func TestNoTraceContextWhenTracingOff(t *testing.T) {
	st := newMemStore()
	st.add(newEvent(t, 42, "m1", newWO(42), time.Now()))
	run(t, Options{Store: st, Evaluator: everything, Plugins: acceptAll})
	waitFor(t, "event settled", st.settled)
	if acts := st.outbox(); len(acts) != 1 || acts[0].TraceParent != "" {
		t.Fatalf("outbox = %+v; want one action without trace context", acts)
	}
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
