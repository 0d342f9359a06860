package tracing_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/tracing"
	"github.com/wogate/wogate/pkg/core/tracing/tracectx"
)

func cfg(exporter string) config.Tracing {
	return config.Tracing{Exporter: exporter, SampleRatio: 1, ServiceName: "wogate-test"}
}

func shutdown(t *testing.T, p *tracing.Provider) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestNoneIsNoop(t *testing.T) {
	for _, exp := range []string{"", "none"} {
		p, err := tracing.New(context.Background(), cfg(exp), tracing.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Enabled() {
			t.Errorf("exporter %q: Enabled", exp)
		}
		ctx, span := p.Tracer().Start(context.Background(), "webhook receive")
		if span.IsRecording() || span.SpanContext().IsValid() {
			t.Errorf("exporter %q: span records or has a valid context", exp)
		}
		if tp := tracectx.Traceparent(ctx); tp != "" {
			t.Errorf("exporter %q: traceparent %q stored while tracing is off", exp, tp)
		}
		span.End()
		shutdown(t, p)
	}
}

// TestStdoutFlushesOnShutdown: spans are batched, and Shutdown exports what
// is left.
func TestStdoutFlushesOnShutdown(t *testing.T) {
	var buf syncBuffer
	p, err := tracing.New(context.Background(), cfg("stdout"), tracing.Options{Stdout: &buf, ServiceVersion: "v9"})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Enabled() {
		t.Fatal("stdout exporter not enabled")
	}
	_, span := p.Tracer().Start(context.Background(), "dispatch event")
	span.End()
	shutdown(t, p)
	out := buf.String()
	for _, want := range []string{`"Name":"dispatch event"`, `"Value":"wogate-test"`, `"Value":"v9"`, tracectx.TracerName} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout export lacks %s:\n%s", want, out)
		}
	}
	shutdown(t, p) // twice is harmless
}

// TestOTLPHTTPExport sends a span to an OTLP/HTTP receiver with the
// configured headers.
func TestOTLPHTTPExport(t *testing.T) {
	type got struct {
		path, key, ctype string
		n                int
	}
	recv := make(chan got, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		recv <- got{r.URL.Path, r.Header.Get("X-Api-Key"), r.Header.Get("Content-Type"), len(b)}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	for endpoint, wantPath := range map[string]string{
		srv.URL:                                "/v1/traces", // a URL without a path gets OTLP's
		srv.URL + "/proxy/traces":              "/proxy/traces",
		strings.TrimPrefix(srv.URL, "http://"): "/v1/traces", // host:port
	} {
		c := cfg("otlp-http")
		c.Endpoint, c.Insecure = endpoint, true
		c.Headers = map[string]config.Secret{"x-api-key": "k3y"}
		p, err := tracing.New(context.Background(), c, tracing.Options{})
		if err != nil {
			t.Fatalf("endpoint %s: %v", endpoint, err)
		}
		_, span := p.Tracer().Start(context.Background(), "egress send accept")
		span.End()
		shutdown(t, p)
		select {
		case g := <-recv:
			if g.path != wantPath || g.key != "k3y" || g.ctype != "application/x-protobuf" || g.n == 0 {
				t.Errorf("endpoint %s: receiver got %+v", endpoint, g)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("endpoint %s: nothing exported", endpoint)
		}
	}
}

// TestOTLPGRPCBuildsWithoutCollector: an unreachable collector does not stop
// the gateway from starting, and shutting down does not hang on it.
func TestOTLPGRPCBuildsWithoutCollector(t *testing.T) {
	c := cfg("otlp-grpc")
	c.Endpoint, c.Insecure = "127.0.0.1:1", true
	p, err := tracing.New(context.Background(), c, tracing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Enabled() {
		t.Fatal("not enabled")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = p.Shutdown(ctx) // no spans: nothing to fail on
}

// TestSampleRatioZero: an unsampled trace still carries a valid context
// (flags 00), so dispatch and egress follow the webhook's decision.
func TestSampleRatioZero(t *testing.T) {
	var buf syncBuffer
	c := cfg("stdout")
	c.SampleRatio = 0
	p, err := tracing.New(context.Background(), c, tracing.Options{Stdout: &buf})
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := p.Tracer().Start(context.Background(), "webhook receive")
	if span.IsRecording() {
		t.Error("ratio 0 recorded a root span")
	}
	tp := tracectx.Traceparent(ctx)
	if !strings.HasSuffix(tp, "-00") {
		t.Errorf("traceparent %q, want the unsampled flag", tp)
	}
	span.End()
	_, child := p.Tracer().Start(tracectx.Continue(context.Background(), tp), "dispatch event")
	if child.IsRecording() {
		t.Error("child of an unsampled trace recorded")
	}
	child.End()
	shutdown(t, p)
	if buf.Len() != 0 {
		t.Errorf("exported spans of an unsampled trace:\n%s", buf.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

// TestExportErrorsReachTheLog: a collector that refuses spans is reported
// through the gateway's logger, and stopping does not fail because of it.
func TestExportErrorsReachTheLog(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusBadRequest) // not retried
	}))
	defer srv.Close()
	var logs syncBuffer
	c := cfg("otlp-http")
	c.Endpoint = srv.URL
	p, err := tracing.New(context.Background(), c, tracing.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	_, span := p.Tracer().Start(context.Background(), "webhook receive")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.Shutdown(ctx)
	if out := logs.String(); !strings.Contains(out, "tracing: export failed") || !strings.Contains(out, "400") {
		t.Errorf("export error not logged:\n%s", out)
	}
}
