package tracectx_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/wogate/wogate/pkg/core/tracing/tracectx"
)

func TestTraceparentRoundTrip(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	ctx, span := tp.Tracer("t").Start(context.Background(), "webhook receive")
	defer span.End()
	s := tracectx.Traceparent(ctx)
	sc := span.SpanContext()
	want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
	if s != want {
		t.Fatalf("Traceparent = %q, want %q", s, want)
	}
	// A span started from the stored context is the stored span's child.
	cctx := tracectx.Continue(context.Background(), s)
	if !tracectx.Parent(cctx) {
		t.Fatal("Continue lost the span context")
	}
	_, child := tp.Tracer("t").Start(cctx, "dispatch event")
	defer child.End()
	ro := child.(sdktrace.ReadOnlySpan)
	if ro.Parent().SpanID() != sc.SpanID() || ro.SpanContext().TraceID() != sc.TraceID() || !ro.Parent().IsRemote() {
		t.Fatalf("child parent %v, want remote %v", ro.Parent(), sc)
	}
}

func TestNoContextNoTraceparent(t *testing.T) {
	if s := tracectx.Traceparent(context.Background()); s != "" {
		t.Errorf("Traceparent without a span = %q", s)
	}
	ctx, span := tracectx.Noop().Start(context.Background(), "x")
	defer span.End()
	if s := tracectx.Traceparent(ctx); s != "" {
		t.Errorf("Traceparent of a no-op span = %q", s)
	}
}

func TestContinueIgnoresBadInput(t *testing.T) {
	for _, s := range []string{"", "garbage", "00-00000000000000000000000000000000-0000000000000000-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"} {
		ctx := tracectx.Continue(context.Background(), s)
		if tracectx.Parent(ctx) || trace.SpanContextFromContext(ctx).IsValid() {
			t.Errorf("Continue(%q) produced a parent", s)
		}
	}
}
