package plugins

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

type captured struct {
	level slog.Level
	msg   string
	attrs map[string]any
}

type captureHandler struct {
	mu   sync.Mutex
	recs []captured
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	c := captured{level: r.Level, msg: r.Message, attrs: map[string]any{}}
	r.Attrs(func(a slog.Attr) bool { c.attrs[a.Key] = a.Value.Any(); return true })
	h.mu.Lock()
	h.recs = append(h.recs, c)
	h.mu.Unlock()
	return nil
}
func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *captureHandler) WithGroup(string) slog.Handler      { return h }

func TestStderrLog(t *testing.T) {
	h := &captureHandler{}
	s := newStderrLog(slog.New(h))
	// go-plugin writes each line, then its newline, separately.
	for _, chunk := range []string{
		`{"@level":"warn","@message":"slow ERP","@timestamp":"2026-01-01T00:00:00.000000Z","@module":"sdk","took_ms":812}`, "\n",
		`{"@level":7,"@message":{"odd":true}}`, "\n",
		"plain text line\n",
		"\n",
		"panic: boom\n\ngoroutine 1 [running]:\n",
		`{"not":"hclog"}` + "\n",
	} {
		if _, err := s.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	want := []captured{
		{slog.LevelWarn, "slow ERP", map[string]any{"module": "sdk", "took_ms": 812.0}},
		{slog.LevelInfo, "map[odd:true]", map[string]any{}},
		{slog.LevelInfo, "plain text line", map[string]any{"stream": "stderr"}},
		{slog.LevelError, "panic: boom", map[string]any{"stream": "stderr"}},
		{slog.LevelError, "goroutine 1 [running]:", map[string]any{"stream": "stderr"}},
		{slog.LevelError, `{"not":"hclog"}`, map[string]any{"stream": "stderr"}},
	}
	if len(h.recs) != len(want) {
		t.Fatalf("got %d records: %+v", len(h.recs), h.recs)
	}
	for i, w := range want {
		g := h.recs[i]
		if g.level != w.level || g.msg != w.msg || len(g.attrs) != len(w.attrs) {
			t.Errorf("record %d = %+v, want %+v", i, g, w)
			continue
		}
		for k, v := range w.attrs {
			if g.attrs[k] != v {
				t.Errorf("record %d attr %s = %v, want %v", i, k, g.attrs[k], v)
			}
		}
	}
	tail := s.Tail()
	if len(tail) != 6 || tail[len(tail)-1] != `{"not":"hclog"}` {
		t.Fatalf("tail = %q", tail)
	}
}

func TestLineWriterLongLine(t *testing.T) {
	var lines []int
	w := &lineWriter{emit: func(b []byte) { lines = append(lines, len(b)) }}
	long := strings.Repeat("x", maxLogLine+10)
	_, _ = w.Write([]byte(long))
	_, _ = w.Write([]byte("\n"))
	// The oversized partial line is flushed as soon as it passes the
	// limit, so memory stays bounded; the newline then ends an empty line.
	if len(lines) != 2 || lines[0] != maxLogLine+10 || lines[1] != 0 {
		t.Fatalf("lines = %v", lines)
	}
}

// FuzzParseHCLogLine: a plugin's stderr is outside input; parsing it must
// never panic, whatever the JSON holds.
func FuzzParseHCLogLine(f *testing.F) {
	f.Add([]byte(`{"@level":"info","@message":"m","k":[1,{"a":null}]}`))
	f.Add([]byte(`{"@message":null,"@level":["x"],"@timestamp":5,"@":1}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, ok := parseHCLogLine(b)
		if ok {
			for _, a := range e.attrs {
				if a.(slog.Attr).Key == "" {
					t.Fatal("empty attribute key")
				}
			}
		}
		s := newStderrLog(slog.New(slog.DiscardHandler))
		_, _ = s.Write(b)
		_, _ = s.Write([]byte("\n"))
	})
}
