package csvexport

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/pluginapi/plugintest"
)

// BenchmarkHandleEvent measures one event end to end in-process: KV check,
// column evaluation, one fsynced append, KV mark (fake in-memory host).
func BenchmarkHandleEvent(b *testing.B) {
	p := New()
	applied, errs := Schema().Apply(map[string]any{"dir": b.TempDir()})
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	if err := p.Configure(context.Background(), applied, plugintest.NewHost()); err != nil {
		b.Fatal(err)
	}
	wo := sampleWorkOrder()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := p.HandleEvent(ctx, newWOEvent(strconv.Itoa(i), wo)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvalRow measures the default columns for one event.
func BenchmarkEvalRow(b *testing.B) {
	cols, err := compileColumns(append(DefaultColumns, Column{Name: "event_id", Value: eventIDValue}))
	if err != nil {
		b.Fatal(err)
	}
	wo := sampleWorkOrder()
	env := newEnv(newWOEvent("1", wo), &wo, time.Now())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := evalRow(cols, env, true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseInbox measures parsing the mixed sample inbox file.
func BenchmarkParseInbox(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "inbox", "mixed.csv"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		parseInbox(data, time.UTC, parseGoldenNow)
	}
}
