package commlog

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"grant_type=client_credentials&client_id=abc&client_secret=s3cr3t", "grant_type=client_credentials&client_id=abc&client_secret=[redacted]"},
		{`{"access_token":"H4sIAAA<---->sig","token_type":"bearer","expires_in":1199}`, `{"access_token":"[redacted]","token_type":"bearer","expires_in":1199}`},
		{`{"Client_Secret" : "x"}`, `{"Client_Secret":"[redacted]"}`},
		{"Authorization: Bearer H4sIAAA<---->abc_-=", "Authorization: Bearer [redacted]"},
		{"password=hunter2", "password=[redacted]"},
		{`{"Header":{"WorkOrderId":42,"Action":"Accepted"},"Comment":"done"}`, `{"Header":{"WorkOrderId":42,"Action":"Accepted"},"Comment":"done"}`},
		{"", ""},
	}
	for _, tc := range tests {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := RedactURL("https://x/OAuth/Token?client_id=a&client_secret=b"); strings.Contains(got, "=b") {
		t.Errorf("RedactURL kept the secret: %s", got)
	}
}

type memAppender struct {
	mu      sync.Mutex
	batches [][]store.LogEntry
	fail    error
	block   chan struct{}
}

func (m *memAppender) AppendLog(ctx context.Context, es ...store.LogEntry) error {
	if m.block != nil {
		<-m.block
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.batches = append(m.batches, append([]store.LogEntry(nil), es...))
	return nil
}

func (m *memAppender) entries() []store.LogEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.LogEntry
	for _, b := range m.batches {
		out = append(out, b...)
	}
	return out
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestWriterBatchesAndFlushesOnClose(t *testing.T) {
	st := &memAppender{}
	w := New(st, Options{Batch: 10, Flush: time.Hour, MaxBody: 16, Logger: quiet()})
	for i := range 25 {
		w.Add(store.LogEntry{Direction: "inbound", Status: 200 + i, Request: strings.Repeat("x", 40) + " client_secret=abc"})
	}
	w.Close()
	es := st.entries()
	if len(es) != 25 {
		t.Fatalf("wrote %d entries, want 25", len(es))
	}
	for i, b := range st.batches {
		if len(b) > 10 {
			t.Errorf("batch %d has %d entries, want at most 10", i, len(b))
		}
	}
	if !strings.HasPrefix(es[0].Request, strings.Repeat("x", 16)) || !strings.Contains(es[0].Request, "truncated") || strings.Contains(es[0].Request, "abc") {
		t.Errorf("request not truncated: %q", es[0].Request)
	}
	written, dropped := w.Stats()
	if written != 25 || dropped != 0 {
		t.Errorf("stats = %d written, %d dropped", written, dropped)
	}
	w.Add(store.LogEntry{}) // after Close: dropped, never blocks
	if _, dropped := w.Stats(); dropped != 1 {
		t.Errorf("entry after Close not counted as dropped")
	}
}

func TestWriterFlushesOnTimer(t *testing.T) {
	st := &memAppender{}
	w := New(st, Options{Batch: 100, Flush: 10 * time.Millisecond, Logger: quiet()})
	defer w.Close()
	w.Add(store.LogEntry{Direction: "outbound"})
	deadline := time.Now().Add(5 * time.Second)
	for len(st.entries()) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("entry not written by the flush timer")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestWriterNeverBlocksProducers(t *testing.T) {
	st := &memAppender{block: make(chan struct{})}
	w := New(st, Options{Queue: 4, Batch: 1, Flush: time.Hour, Logger: quiet()})
	done := make(chan struct{})
	go func() {
		for range 100 {
			w.Add(store.LogEntry{})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Add blocked while the store was stuck")
	}
	if _, dropped := w.Stats(); dropped < 90 {
		t.Errorf("dropped %d entries; a stuck store with a queue of 4 should drop most of 100", dropped)
	}
	close(st.block)
	w.Close()
}

func TestWriterCountsFailedWrites(t *testing.T) {
	st := &memAppender{fail: errors.New("disk full")}
	w := New(st, Options{Batch: 5, Flush: time.Hour, Logger: quiet()})
	for range 5 {
		w.Add(store.LogEntry{})
	}
	w.Close()
	if written, dropped := w.Stats(); written != 0 || dropped != 5 {
		t.Errorf("stats = %d written, %d dropped; want 0 and 5", written, dropped)
	}
}

func BenchmarkRedactWorkOrderJSON(b *testing.B) {
	body := `{"Details":{"WorkOrderId":42,"WorkOrderNumber":"WO-42","Status":"New","AccompanyingMessage":"` + strings.Repeat("Walk-in freezer not holding temperature. ", 40) + `"},"Header":{"WorkOrderId":42,"Action":"NewWorkOrder","MessageId":"e6d28519"}}`
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		_ = Redact(body)
	}
}
