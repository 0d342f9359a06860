package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"

	pluginhost "github.com/wogate/wogate/pkg/pluginapi/host"
)

// quietHCLog is the logger handed to go-plugin. It is switched off: the
// manager logs process lifecycle itself, and an enabled go-plugin logger
// would make go-plugin parse the plugin's stderr with unchecked type
// assertions (a plugin printing {"@message": 1} would panic the gateway).
// Plugin stderr is parsed by stderrLog instead.
var quietHCLog = hclog.New(&hclog.LoggerOptions{Level: hclog.Off, Output: io.Discard})

// maxLogLine bounds one buffered stderr/stdout line; longer lines are
// logged in pieces.
const maxLogLine = 64 << 10

// lineWriter splits writes into lines and hands each to emit. go-plugin
// writes a line and its newline separately, so partial lines are buffered.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	emit func(line []byte)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			if len(w.buf) >= maxLogLine {
				w.emit(w.buf)
				w.buf = w.buf[:0]
			}
			break
		}
		w.buf = append(w.buf, p[:i]...)
		w.emit(w.buf)
		w.buf = w.buf[:0]
		p = p[i+1:]
	}
	return n, nil
}

// stderrLog re-logs a plugin's stderr through slog: hclog JSON lines keep
// their level, message and attributes; other lines are logged as text (at
// error level once a Go panic or fatal error starts). It keeps the last
// lines for error messages about failed starts.
type stderrLog struct {
	lineWriter
	log     *slog.Logger
	inPanic bool
	tailMu  sync.Mutex
	tail    []string
}

const stderrTail = 8

func newStderrLog(log *slog.Logger) *stderrLog {
	s := &stderrLog{log: log}
	s.emit = s.line
	return s
}

func (s *stderrLog) line(b []byte) {
	text := strings.TrimRight(string(b), "\r")
	if strings.TrimSpace(text) == "" {
		return
	}
	s.tailMu.Lock()
	s.tail = append(s.tail, text)
	if len(s.tail) > stderrTail {
		s.tail = s.tail[len(s.tail)-stderrTail:]
	}
	s.tailMu.Unlock()

	if e, ok := parseHCLogLine(b); ok {
		s.log.Log(context.Background(), e.level, e.message, e.attrs...)
		return
	}
	if strings.HasPrefix(text, "panic: ") || strings.HasPrefix(text, "fatal error: ") {
		s.inPanic = true
	}
	level := slog.LevelInfo
	if s.inPanic {
		level = slog.LevelError
	}
	s.log.Log(context.Background(), level, text, "stream", "stderr")
}

// Tail returns the last stderr lines, oldest first.
func (s *stderrLog) Tail() []string {
	s.tailMu.Lock()
	defer s.tailMu.Unlock()
	return append([]string(nil), s.tail...)
}

// hclogEntry is one parsed hclog JSON line.
type hclogEntry struct {
	level   slog.Level
	message string
	attrs   []any
}

// parseHCLogLine parses an hclog JSON line ({"@level":..., "@message":...,
// "@timestamp":..., other keys as attributes}). It accepts any value types
// and never panics; ok is false for anything that is not a JSON object
// with an "@message".
func parseHCLogLine(b []byte) (hclogEntry, bool) {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '{' {
		return hclogEntry{}, false
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return hclogEntry{}, false
	}
	msg, ok := raw["@message"]
	if !ok {
		return hclogEntry{}, false
	}
	e := hclogEntry{level: slog.LevelInfo}
	if s, ok := msg.(string); ok {
		e.message = s
	} else {
		e.message = fmt.Sprint(msg)
	}
	if l, ok := raw["@level"].(string); ok {
		e.level = pluginhost.SlogLevel(l)
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		switch k {
		case "@message", "@level", "@timestamp":
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := strings.TrimPrefix(k, "@")
		if name == "" {
			name = "_"
		}
		e.attrs = append(e.attrs, slog.Any(name, raw[k]))
	}
	return e, true
}

// streamLog logs each line of a plugin's os.Stdout or os.Stderr (which
// go-plugin forwards over the connection once the plugin is serving).
func streamLog(log *slog.Logger, stream string, level slog.Level) io.Writer {
	w := &lineWriter{}
	w.emit = func(b []byte) {
		text := strings.TrimRight(string(b), "\r")
		if strings.TrimSpace(text) != "" {
			log.Log(context.Background(), level, text, "stream", stream)
		}
	}
	return w
}
