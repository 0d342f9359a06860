package gateway

import (
	"context"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/wogate/wogate/pkg/core/tracing"
	"github.com/wogate/wogate/pkg/core/tracing/tracectx"
	"github.com/wogate/wogate/pkg/corrigo"
)

// setupTracing builds the tracer provider of cfg.Tracing (no-op unless an
// exporter is configured), or takes Options.TracerProvider, and arranges
// for the spans still buffered to be flushed last when the gateway stops.
func (g *Gateway) setupTracing(ctx context.Context) error {
	if tp := g.opts.TracerProvider; tp != nil {
		g.tracer, g.tracerProvider, g.tracingOn = tp.Tracer(tracectx.TracerName), tp, true
		return nil
	}
	p, err := tracing.New(ctx, g.cfg.Tracing, tracing.Options{ServiceVersion: g.opts.Version,
		Logger: g.log.With("component", "tracing")})
	if err != nil {
		return err
	}
	g.tracer, g.tracerProvider, g.tracingOn = p.Tracer(), p.TracerProvider(), p.Enabled()
	if p.Enabled() {
		g.log.Info("tracing on", "exporter", g.cfg.Tracing.Exporter, "endpoint", g.cfg.Tracing.Endpoint,
			"sample_ratio", g.cfg.Tracing.SampleRatio, "service_name", g.cfg.Tracing.ServiceName)
	}
	// Registered first, so it runs last: after egress, plugins and the
	// store have stopped, every span they ended is exported.
	g.onClose(func() {
		sctx, cancel := context.WithTimeout(context.Background(), g.opts.ShutdownTimeout)
		defer cancel()
		if err := p.Shutdown(sctx); err != nil {
			g.log.Warn("flush traces", "err", err)
		}
	})
	return nil
}

// corrigoHTTPClient is the HTTP client of the CorrigoPro clients. With
// tracing on, its transport records a span per call (OpenTelemetry HTTP
// semantic conventions), as a child of the span the call is made in
// (egress send, dispatch event); calls outside a sampled trace (polling,
// reconciliation, token refreshes in the background) pass straight
// through. No trace header is sent to CorrigoPro: it does not continue
// traces, and the ids are the gateway's business.
func (g *Gateway) corrigoHTTPClient() *http.Client {
	hc := g.opts.HTTPClient
	if !g.tracingOn {
		return hc // nil: the client's own default
	}
	if hc == nil {
		hc = corrigo.NewHTTPClient()
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	traced := *hc
	traced.Transport = otelhttp.NewTransport(base,
		otelhttp.WithTracerProvider(g.tracerProvider),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator()),
		otelhttp.WithFilter(func(r *http.Request) bool { return trace.SpanContextFromContext(r.Context()).IsSampled() }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }),
	)
	return &traced
}
