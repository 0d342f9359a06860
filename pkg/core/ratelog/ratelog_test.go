package ratelog

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeTimers runs scheduled summaries when the test says so.
type fakeTimers struct {
	mu  sync.Mutex
	fns []func()
}

func (f *fakeTimers) after(_ time.Duration, fn func()) *time.Timer {
	f.mu.Lock()
	f.fns = append(f.fns, fn)
	f.mu.Unlock()
	// A real, never-firing timer so Stop works.
	return time.NewTimer(time.Hour)
}

func (f *fakeTimers) fire() {
	f.mu.Lock()
	fns := f.fns
	f.fns = nil
	f.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

type summary struct {
	key string
	n   int64
}

func newTest(burst int) (*Limiter, *time.Time, *fakeTimers, *[]summary) {
	now := time.Unix(1_700_000_000, 0)
	ft := &fakeTimers{}
	var mu sync.Mutex
	var got []summary
	l := New(Options{Burst: burst, Interval: time.Minute, Now: func() time.Time { return now }, AfterFunc: ft.after,
		Summary: func(k string, n int64, _ time.Duration) {
			mu.Lock()
			got = append(got, summary{k, n})
			mu.Unlock()
		}})
	return l, &now, ft, &got
}

func TestBurstThenSummary(t *testing.T) {
	l, now, ft, got := newTest(3)
	allowed := 0
	for range 100 {
		if l.Allow("expired") {
			allowed++
		}
	}
	for range 2 {
		if l.Allow("bad_signature") {
			allowed++
		}
	}
	if allowed != 5 {
		t.Fatalf("allowed %d, want 3 expired + 2 bad_signature", allowed)
	}
	if len(*got) != 0 {
		t.Fatalf("summary before the window ended: %v", *got)
	}
	*now = now.Add(time.Minute)
	ft.fire()
	if len(*got) != 1 || (*got)[0] != (summary{"expired", 97}) {
		t.Fatalf("summaries %v, want one for expired with 97", *got)
	}
	// A new window lets a burst through again; nothing suppressed, no summary.
	for i := range 3 {
		if !l.Allow("expired") {
			t.Fatalf("event %d of the new window refused", i)
		}
	}
	ft.fire()
	if len(*got) != 1 {
		t.Fatalf("summary for a window without suppressed events: %v", *got)
	}
}

// The next event after a window ended sends that window's summary when
// the timer has not yet run (a slow timer goroutine), and the timer then
// sends nothing: each suppressed event is counted once.
func TestSummaryOnceWhenTimerLate(t *testing.T) {
	l, now, ft, got := newTest(1)
	l.Allow("k")
	l.Allow("k")
	l.Allow("k")
	*now = now.Add(61 * time.Second)
	if !l.Allow("k") {
		t.Fatal("first event of a new window refused")
	}
	ft.fire()
	if len(*got) != 1 || (*got)[0] != (summary{"k", 2}) {
		t.Fatalf("summaries %v, want k:2 once", *got)
	}
}

func TestFlushAndExactCounts(t *testing.T) {
	l, _, _, got := newTest(10)
	var logged int64
	for i := range 1000 {
		if l.Allow(fmt.Sprint("r", i%3)) {
			logged++
		}
	}
	l.Flush()
	l.Flush() // nothing twice
	total := logged
	for _, s := range *got {
		total += s.n
	}
	if total != 1000 || logged != 30 || len(*got) != 3 {
		t.Fatalf("logged %d + summaries %v = %d, want 30 + 3 summaries = 1000", logged, *got, total)
	}
}

func TestKeysBounded(t *testing.T) {
	now := time.Unix(0, 0)
	l := New(Options{Burst: 1, MaxKeys: 4, Now: func() time.Time { return now }, AfterFunc: (&fakeTimers{}).after})
	for i := range 1000 {
		l.Allow(fmt.Sprint("key-", i))
	}
	if n := len(l.keys); n > 5 {
		t.Fatalf("%d keys tracked, want at most MaxKeys+1", n)
	}
	if l.keys[OverflowKey] == nil || l.keys[OverflowKey].suppressed != 1000-4-1 {
		t.Fatalf("overflow key: %+v", l.keys[OverflowKey])
	}
}

// With real timers a summary arrives after the interval without further
// events.
func TestRealTimer(t *testing.T) {
	var n atomic.Int64
	done := make(chan struct{})
	l := New(Options{Burst: 1, Interval: 20 * time.Millisecond, Summary: func(_ string, s int64, _ time.Duration) {
		n.Add(s)
		close(done)
	}})
	for range 5 {
		l.Allow("k")
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no summary")
	}
	if n.Load() != 4 {
		t.Fatalf("summary counted %d, want 4", n.Load())
	}
}

func TestConcurrent(t *testing.T) {
	var sum atomic.Int64
	l := New(Options{Burst: 5, Interval: time.Hour, Summary: func(_ string, s int64, _ time.Duration) { sum.Add(s) }})
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 500 {
				if l.Allow(fmt.Sprint(g % 2)) {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	l.Flush()
	if allowed.Load() != 10 || allowed.Load()+sum.Load() != 4000 {
		t.Fatalf("allowed %d, summarised %d", allowed.Load(), sum.Load())
	}
}
