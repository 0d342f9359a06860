// Package commlog writes the communication log: one entry per HTTP
// exchange with CorrigoPro in either direction, like CorrigoPro's own usage
// log. Producers (the client's Observer, the webhook handler) must never
// wait for the database, so entries go through a bounded queue and are
// written in batches; when the queue is full an entry is dropped and
// counted rather than slowing a webhook answer.
package commlog

import (
	"context"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

// Appender is the part of store.Store the writer uses.
type Appender interface {
	AppendLog(ctx context.Context, entries ...store.LogEntry) error
}

// Options configure a Writer.
type Options struct {
	// Queue bounds entries waiting to be written; default 8192.
	Queue int
	// Batch is the most entries written in one call; default 256.
	Batch int
	// Flush is the longest an entry waits before being written; default 200ms.
	Flush time.Duration
	// MaxBody truncates request and response bodies; default 8 KiB.
	MaxBody int
	// Directory, if set, fills in the work order number and customer of
	// entries that carry only the work order id, when a batch is written.
	Directory *Directory
	Logger    *slog.Logger
}

// Writer batches entries into the store.
type Writer struct {
	st      Appender
	o       Options
	log     *slog.Logger
	q       chan store.LogEntry
	dropped atomic.Int64
	written atomic.Int64
	wg      sync.WaitGroup
	closing chan struct{}
	once    sync.Once
}

// New starts a writer; Close flushes and stops it.
func New(st Appender, o Options) *Writer {
	if o.Queue <= 0 {
		o.Queue = 8192
	}
	if o.Batch <= 0 {
		o.Batch = 256
	}
	if o.Flush <= 0 {
		o.Flush = 200 * time.Millisecond
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 8 << 10
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	w := &Writer{st: st, o: o, log: log.With("component", "commlog"), q: make(chan store.LogEntry, o.Queue), closing: make(chan struct{})}
	w.wg.Add(1)
	go w.loop()
	return w
}

// Add queues an entry. It never blocks: a full queue drops the entry.
func (w *Writer) Add(e store.LogEntry) {
	e.Request = Redact(truncate(e.Request, w.o.MaxBody))
	e.Response = Redact(truncate(e.Response, w.o.MaxBody))
	select {
	case <-w.closing:
		w.dropped.Add(1)
		return
	default:
	}
	select {
	case w.q <- e:
	default:
		if w.dropped.Add(1)%1000 == 1 {
			w.log.Warn("communication log queue full; dropping entries", "dropped_total", w.dropped.Load())
		}
	}
}

// Stats returns how many entries were written and dropped.
func (w *Writer) Stats() (written, dropped int64) { return w.written.Load(), w.dropped.Load() }

// Close writes what is queued and stops the writer.
func (w *Writer) Close() {
	w.once.Do(func() { close(w.closing) })
	w.wg.Wait()
}

func (w *Writer) loop() {
	defer w.wg.Done()
	batch := make([]store.LogEntry, 0, w.o.Batch)
	t := time.NewTicker(w.o.Flush)
	defer t.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		w.o.Directory.fill(ctx, batch)
		if err := w.st.AppendLog(ctx, batch...); err != nil {
			w.dropped.Add(int64(len(batch)))
			w.log.Warn("write communication log failed", "entries", len(batch), "err", err)
		} else {
			w.written.Add(int64(len(batch)))
		}
		cancel()
		batch = batch[:0]
	}
	for {
		select {
		case e := <-w.q:
			batch = append(batch, e)
			if len(batch) >= w.o.Batch {
				flush()
			}
		case <-t.C:
			flush()
		case <-w.closing:
			for {
				select {
				case e := <-w.q:
					batch = append(batch, e)
					if len(batch) >= w.o.Batch {
						flush()
					}
				default:
					flush()
					return
				}
			}
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…[truncated " + itoa(len(s)-n) + " bytes]"
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for n >= 10 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	i--
	b[i] = byte('0' + n) //nolint:gosec // G115: n is a single digit here
	return string(b[i:])
}

var (
	formSecret  = regexp.MustCompile(`(?i)(client_secret|password)=[^&\s]*`)
	jsonSecret  = regexp.MustCompile(`(?i)"(access_token|client_secret|password|refresh_token)"\s*:\s*"[^"]*"`)
	bearerToken = regexp.MustCompile(`(?i)bearer\s+[A-Za-z0-9\-_.~+/=<>]+`)
)

// Redact removes secrets from a logged body: OAuth client secrets, access
// tokens and bearer tokens. The log is for people; secrets never go there.
func Redact(s string) string {
	if !mayHoldSecret(s) {
		return s
	}
	s = formSecret.ReplaceAllString(s, "${1}=[redacted]")
	s = jsonSecret.ReplaceAllString(s, `"${1}":"[redacted]"`)
	s = bearerToken.ReplaceAllString(s, "Bearer [redacted]")
	return s
}

// secretWords are looked for, in three letter cases each, before the
// regular expressions run: most bodies (work orders, notifications) hold
// none, and strings.Contains is far cheaper than three regexp passes.
var secretWords = func() []string {
	var out []string
	for _, w := range []string{"secret", "password", "token", "bearer"} {
		out = append(out, w, strings.ToUpper(w[:1])+w[1:], strings.ToUpper(w))
	}
	return out
}()

// mayHoldSecret is a cheap pre-check that spares the regular expressions
// for the common case.
func mayHoldSecret(s string) bool {
	for _, w := range secretWords {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// RedactURL removes secrets from a URL's query.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.RawQuery == "" {
		return raw
	}
	q := u.Query()
	changed := false
	for k := range q {
		lk := strings.ToLower(k)
		if lk == "client_secret" || lk == "access_token" || lk == "password" {
			q.Set(k, "[redacted]")
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.String()
}
