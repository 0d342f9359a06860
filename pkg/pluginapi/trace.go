package pluginapi

import (
	"context"

	"google.golang.org/grpc/metadata"
)

// TraceparentKey is the gRPC metadata key under which the gateway sends the
// W3C trace context of its "plugin call <name>" span with HandleEvent and
// HandleInbound, when tracing is on.
const TraceparentKey = "traceparent"

// Traceparent returns the W3C traceparent the gateway sent with the call
// whose ctx this is, or "" when tracing is off. A plugin that traces its
// own work continues the gateway's trace from it, with OpenTelemetry:
//
//	carrier := propagation.MapCarrier{"traceparent": pluginapi.Traceparent(ctx)}
//	ctx = propagation.TraceContext{}.Extract(ctx, carrier)
//	ctx, span := tracer.Start(ctx, "erp create job")
func Traceparent(ctx context.Context) string {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return ""
	}
	if v := md.Get(TraceparentKey); len(v) > 0 {
		return v[0]
	}
	return ""
}
