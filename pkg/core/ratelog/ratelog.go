// Package ratelog bounds log lines that outsiders can cause. Anyone who
// can reach the webhook port can send a request with a bad token; a line
// per request lets them fill the disk (238,269 expired tokens in 60 s
// wrote 64 MB). A Limiter lets the first Burst events of each key (a
// rejection reason) through per Interval and counts the rest; when the
// interval ends, Summary is told how many were held back, once. Counting
// is exact: Burst lines plus the summaries add up to every event.
//
// The Limiter decides; it does not log. Callers keep their own log lines
// and metrics (which must count every event), and choose what a summary
// writes.
package ratelog

import (
	"sync"
	"time"
)

// Defaults.
const (
	DefaultBurst    = 10
	DefaultInterval = time.Minute
	// DefaultMaxKeys bounds the keys tracked; beyond it events share the
	// key OverflowKey, so an unbounded key space cannot grow the map.
	DefaultMaxKeys = 256
	OverflowKey    = "(other)"
)

// Options configure a Limiter.
type Options struct {
	// Burst events per key and interval are allowed; default
	// DefaultBurst. Negative: none (only summaries).
	Burst int
	// Interval is the window; default DefaultInterval.
	Interval time.Duration
	// MaxKeys bounds the keys tracked; default DefaultMaxKeys.
	MaxKeys int
	// Summary is called, outside the Limiter's lock, when a window in
	// which events of key were suppressed ends: suppressed is how many,
	// window how long the window was. It runs on a timer goroutine (or in
	// Allow, or in Flush) and must not block for long.
	Summary func(key string, suppressed int64, window time.Duration)
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// AfterFunc schedules the end-of-window summary (tests); default
	// time.AfterFunc.
	AfterFunc func(d time.Duration, f func()) *time.Timer
}

// Limiter is safe for concurrent use. The zero value is not usable; call
// New.
type Limiter struct {
	o    Options
	mu   sync.Mutex
	keys map[string]*window
}

type window struct {
	start      time.Time
	allowed    int
	suppressed int64
	timer      *time.Timer // pending summary, nil when none
}

// New returns a Limiter.
func New(o Options) *Limiter {
	if o.Burst == 0 {
		o.Burst = DefaultBurst
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = DefaultMaxKeys
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.AfterFunc == nil {
		o.AfterFunc = time.AfterFunc
	}
	return &Limiter{o: o, keys: map[string]*window{}}
}

// Allow reports whether an event of key may be logged. When it returns
// false the event is counted for the window's summary.
func (l *Limiter) Allow(key string) bool {
	now := l.o.Now()
	l.mu.Lock()
	w := l.keys[key]
	if w == nil {
		if len(l.keys) >= l.o.MaxKeys {
			key = OverflowKey
			w = l.keys[key]
		}
		if w == nil {
			w = &window{start: now}
			l.keys[key] = w
		}
	}
	var due int64
	var dueWindow time.Duration
	if now.Sub(w.start) >= l.o.Interval {
		// A new window. Its predecessor's summary is normally sent by its
		// timer; if the timer has not run yet, send it here, once.
		if w.suppressed > 0 {
			due, dueWindow = w.suppressed, now.Sub(w.start)
			w.suppressed = 0
			if w.timer != nil {
				w.timer.Stop()
				w.timer = nil
			}
		}
		w.start, w.allowed = now, 0
	}
	ok := w.allowed < l.o.Burst
	if ok {
		w.allowed++
	} else {
		w.suppressed++
		if w.timer == nil {
			k := key
			w.timer = l.o.AfterFunc(w.start.Add(l.o.Interval).Sub(now), func() { l.flushKey(k) })
		}
	}
	l.mu.Unlock()
	if due > 0 && l.o.Summary != nil {
		l.o.Summary(key, due, dueWindow)
	}
	return ok
}

// flushKey sends key's pending summary.
func (l *Limiter) flushKey(key string) {
	l.mu.Lock()
	w := l.keys[key]
	var n int64
	var d time.Duration
	if w != nil && w.suppressed > 0 {
		n, d = w.suppressed, l.o.Now().Sub(w.start)
		w.suppressed = 0
		if w.timer != nil {
			w.timer.Stop()
			w.timer = nil
		}
	}
	l.mu.Unlock()
	if n > 0 && l.o.Summary != nil {
		l.o.Summary(key, n, d)
	}
}

// Flush sends every pending summary now (at shutdown, so the last
// window's count is not lost). A nil Limiter has nothing to flush.
func (l *Limiter) Flush() {
	if l == nil {
		return
	}
	l.mu.Lock()
	keys := make([]string, 0, len(l.keys))
	for k, w := range l.keys {
		if w.suppressed > 0 {
			keys = append(keys, k)
		}
	}
	l.mu.Unlock()
	for _, k := range keys {
		l.flushKey(k)
	}
}
