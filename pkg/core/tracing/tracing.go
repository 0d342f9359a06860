// Package tracing builds the gateway's OpenTelemetry TracerProvider from
// the `tracing:` configuration block: no-op by default, or an SDK provider
// exporting through OTLP (gRPC or HTTP) or to stdout, with a parent-based
// ratio sampler, batched export and a flush on Shutdown.
//
// Why the OpenTelemetry SDK: it is the standard every tracing backend
// reads (an OpenTelemetry Collector, Jaeger, Grafana Tempo, Honeycomb,
// Datadog, ...), so operators point wogate at what they already run.
//
// The spans themselves are started by the stages (ingest, dispatch,
// egress), which only see a trace.Tracer; see pkg/core/tracing/tracectx
// for the attribute keys and the trace context kept in the store.
package tracing

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/tracing/tracectx"
)

// Options are settings that are not part of the configuration.
type Options struct {
	// ServiceVersion is the service.version resource attribute (the
	// gateway's build version); optional.
	ServiceVersion string
	// Stdout receives the stdout exporter's spans; default os.Stdout.
	Stdout io.Writer
	// Logger receives export errors (a collector that is down or refuses
	// spans) instead of OpenTelemetry's default stderr logger. Optional.
	Logger *slog.Logger
	// Exporter, if set, receives spans instead of the configured exporter,
	// synchronously (tests: tracetest.NewInMemoryExporter). It turns
	// tracing on even when the configuration says none.
	Exporter sdktrace.SpanExporter
}

// Provider is the gateway's tracer provider.
type Provider struct {
	tp  trace.TracerProvider
	sdk *sdktrace.TracerProvider // nil when tracing is off
}

// New builds the provider cfg describes. With exporter none (the default)
// it returns a no-op provider: spans cost a context value and record
// nothing, and no trace context is stored. Building an OTLP exporter does
// not connect: an unreachable collector shows up as export errors later,
// never as a gateway that does not start.
func New(ctx context.Context, cfg config.Tracing, opts Options) (*Provider, error) {
	var exp sdktrace.SpanExporter
	batch := true
	switch {
	case opts.Exporter != nil:
		exp, batch = opts.Exporter, false
	case !cfg.Enabled():
		return &Provider{tp: noop.NewTracerProvider()}, nil
	default:
		var err error
		if exp, err = newExporter(ctx, cfg, opts); err != nil {
			return nil, fmt.Errorf("tracing: %s exporter: %w", cfg.Exporter, err)
		}
	}
	name := cfg.ServiceName
	if name == "" {
		name = config.DefaultConfig.Tracing.ServiceName
	}
	kvs := []attribute.KeyValue{semconv.ServiceName(name)}
	if opts.ServiceVersion != "" {
		kvs = append(kvs, semconv.ServiceVersion(opts.ServiceVersion))
	}
	res := resource.NewWithAttributes(semconv.SchemaURL, kvs...)
	ratio := cfg.SampleRatio
	if opts.Exporter != nil && ratio == 0 {
		ratio = 1 // a test exporter with a zero-value config
	}
	po := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	}
	if batch {
		po = append(po, sdktrace.WithBatcher(exp))
	} else {
		po = append(po, sdktrace.WithSyncer(exp))
	}
	if opts.Logger != nil {
		// OpenTelemetry reports export failures through one global
		// handler; the gateway is one per process, so it takes it.
		log := opts.Logger
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			log.Warn("tracing: export failed; spans are dropped while it fails", "err", err)
		}))
	}
	sdk := sdktrace.NewTracerProvider(po...)
	return &Provider{tp: sdk, sdk: sdk}, nil
}

func newExporter(ctx context.Context, cfg config.Tracing, opts Options) (sdktrace.SpanExporter, error) {
	headers := make(map[string]string, len(cfg.Headers))
	for k, v := range cfg.Headers {
		headers[k] = v.Value()
	}
	isURL := strings.Contains(cfg.Endpoint, "://")
	switch cfg.Exporter {
	case "otlp-grpc":
		var o []otlptracegrpc.Option
		switch {
		case isURL:
			o = append(o, otlptracegrpc.WithEndpointURL(cfg.Endpoint))
		case cfg.Endpoint != "":
			o = append(o, otlptracegrpc.WithEndpoint(cfg.Endpoint))
		}
		if cfg.Insecure && !isURL {
			o = append(o, otlptracegrpc.WithInsecure())
		}
		if len(headers) > 0 {
			o = append(o, otlptracegrpc.WithHeaders(headers))
		}
		return otlptracegrpc.New(ctx, o...)
	case "otlp-http":
		var o []otlptracehttp.Option
		switch {
		case isURL:
			o = append(o, otlptracehttp.WithEndpointURL(httpTracesURL(cfg.Endpoint)))
		case cfg.Endpoint != "":
			o = append(o, otlptracehttp.WithEndpoint(cfg.Endpoint))
		}
		if cfg.Insecure && !isURL {
			o = append(o, otlptracehttp.WithInsecure())
		}
		if len(headers) > 0 {
			o = append(o, otlptracehttp.WithHeaders(headers))
		}
		return otlptracehttp.New(ctx, o...)
	case "stdout":
		w := opts.Stdout
		if w == nil {
			w = os.Stdout
		}
		return stdouttrace.New(stdouttrace.WithWriter(w))
	}
	return nil, fmt.Errorf("unknown exporter %q", cfg.Exporter)
}

// TracerProvider returns the provider (for instrumentation libraries).
func (p *Provider) TracerProvider() trace.TracerProvider { return p.tp }

// Tracer returns wogate's tracer.
func (p *Provider) Tracer() trace.Tracer { return p.tp.Tracer(tracectx.TracerName) }

// Enabled reports whether spans are recorded and exported.
func (p *Provider) Enabled() bool { return p.sdk != nil }

// Shutdown flushes the spans not exported yet and stops the exporter,
// within ctx's deadline. The gateway calls it last when it stops. Calling
// it again is harmless.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.sdk == nil {
		return nil
	}
	if err := p.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// httpTracesURL adds OTLP/HTTP's traces path to a URL without a path, as
// the standard OTEL_EXPORTER_OTLP_ENDPOINT variable does: endpoint
// http://collector:4318 exports to http://collector:4318/v1/traces. A URL
// with a path (a proxy, a hosted service) is used as written.
func httpTracesURL(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Path != "" && u.Path != "/") {
		return endpoint
	}
	u.Path = "/v1/traces"
	return u.String()
}
