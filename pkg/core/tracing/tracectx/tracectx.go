// Package tracectx is the small part of tracing the pipeline stages use:
// the tracer name, the wogate.* attribute keys, and the W3C trace context
// carried through the store (an event's and an action's traceparent), so
// a trace that starts at a webhook goes on in dispatch and egress although
// they run later, in other goroutines, maybe in another replica.
//
// It depends on the OpenTelemetry API only. Building a TracerProvider from
// the configuration (SDK, exporters) is pkg/core/tracing's job; stages get
// a trace.Tracer in their options and default to Noop.
package tracectx

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TracerName is the instrumentation scope of every wogate span.
const TracerName = "github.com/wogate/wogate"

// Attribute keys of wogate's own spans. HTTP spans use the OpenTelemetry
// semantic conventions (http.request.method, url.full, ...) instead.
const (
	Account       = attribute.Key("wogate.account")        // configured account name
	Action        = attribute.Key("wogate.action")         // CorrigoPro action (NewWorkOrder, ...)
	WorkOrderID   = attribute.Key("wogate.work_order.id")  // CorrigoPro work order id
	MessageID     = attribute.Key("wogate.message_id")     // CorrigoPro MessageId
	Result        = attribute.Key("wogate.result")         // webhook: accepted, duplicate or the rejection reason
	EventID       = attribute.Key("wogate.event.id")       // stored event id
	EventSource   = attribute.Key("wogate.event.source")   // webhook, poll, reconcile, inbound
	Attempt       = attribute.Key("wogate.attempt")        // attempt number of an event or action
	RulesMatched  = attribute.Key("wogate.rules.matched")  // names of the rules that matched
	ConfigVersion = attribute.Key("wogate.config.version") // config version of the decision
	Verdict       = attribute.Key("wogate.verdict")        // dispatch: done, dead, parked, retry
	Rule          = attribute.Key("wogate.rule")           // rule that sent the event to a plugin
	Plugin        = attribute.Key("wogate.plugin")         // plugin name
	ActionsCount  = attribute.Key("wogate.actions")        // actions a plugin returned / an event produced
	OutboxID      = attribute.Key("wogate.outbox.id")      // stored outbox action id
	ActionKind    = attribute.Key("wogate.outbox.kind")    // accept, check_in, ...
	Outcome       = attribute.Key("wogate.outcome")        // egress: sent, refused, retry, dead, parked
	Reason        = attribute.Key("wogate.reason")         // why an event or action failed or was refused
	Skipped       = attribute.Key("wogate.skipped")        // why dispatch skipped an event (duplicate)
	Shadow        = attribute.Key("wogate.shadow")         // the rule or account is in shadow mode
)

// Noop is the tracer stages use when none is configured: it records
// nothing and costs one context value per span.
func Noop() trace.Tracer { return noop.NewTracerProvider().Tracer(TracerName) }

// Traceparent returns the W3C traceparent of the span in ctx, or "" when
// ctx holds no valid span context (tracing off), so that nothing is
// formatted or stored then.
func Traceparent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}

// Continue returns ctx with the remote span context of traceparent (as
// Traceparent wrote it), so a span started from it is a child of the span
// that stored the event or action. An empty or malformed traceparent
// returns ctx unchanged: the next span starts a new trace.
func Continue(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// Parent reports whether ctx carries a valid span context, i.e. whether a
// span started from it joins an existing trace.
func Parent(ctx context.Context) bool { return trace.SpanContextFromContext(ctx).IsValid() }
