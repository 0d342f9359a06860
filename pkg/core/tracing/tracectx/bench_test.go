package tracectx_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/wogate/wogate/pkg/core/tracing/tracectx"
)

// BenchmarkStageTracingOff is what one pipeline stage adds per event with
// tracing off (the default): continue an empty stored context, start and
// end a no-op span, ask whether it records, and skip storing a context.
func BenchmarkStageTracingOff(b *testing.B) {
	tr := tracectx.Noop()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, span := tr.Start(tracectx.Continue(ctx, ""), "dispatch event", trace.WithSpanKind(trace.SpanKindConsumer))
		if span.IsRecording() {
			b.Fatal("no-op span records")
		}
		if tracectx.Traceparent(c) != "" {
			b.Fatal("context stored with tracing off")
		}
		span.End()
	}
}
