package sandbox

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"time"
)

// Directions of a usage log entry, as CorrigoPro's Web Services Usage Log
// names them: Inbound = a call to the API, Outbound = a webhook delivery.
const (
	DirectionInbound  = "Inbound"
	DirectionOutbound = "Outbound"
)

// maxLoggedBody bounds the request and response text kept per entry.
const maxLoggedBody = 16 << 10

// UsageEntry is one line of the usage log (API.md §3.5): every inbound API
// request and every outbound notification attempt.
type UsageEntry struct {
	Seq             int64
	Time            time.Time
	Duration        time.Duration
	Direction       string
	Method          string `json:",omitempty"`
	Path            string `json:",omitempty"` // request path, or the webhook URL
	Status          int    // HTTP status; 0 when the webhook could not be reached
	Code            int    `json:",omitempty"` // CorrigoPro error code of an error answer
	Client          string `json:",omitempty"`
	WorkOrderId     int64  `json:",omitempty"`
	WorkOrderNumber string `json:",omitempty"`
	Customer        string `json:",omitempty"`
	MessageId       string `json:",omitempty"`
	Action          string `json:",omitempty"` // Event-Type of an outbound notification
	NotificationId  int64  `json:",omitempty"`
	Attempt         int    `json:",omitempty"`
	Error           string `json:",omitempty"`
	Request         string `json:",omitempty"`
	Response        string `json:",omitempty"`
}

// UsageFilter selects usage log entries. Zero fields match everything.
type UsageFilter struct {
	Direction   string
	WorkOrderId int64
	MessageId   string
	Action      string
	PathPrefix  string // case-insensitive, e.g. "/Direct/api/workOrder/accept"
	Status      int
	Since       time.Time
	AfterSeq    int64
	Limit       int // newest Limit entries; 0 = all
}

func (f UsageFilter) match(e *UsageEntry) bool {
	switch {
	case f.Direction != "" && !strings.EqualFold(f.Direction, e.Direction):
		return false
	case f.WorkOrderId != 0 && f.WorkOrderId != e.WorkOrderId:
		return false
	case f.MessageId != "" && f.MessageId != e.MessageId:
		return false
	case f.Action != "" && !strings.EqualFold(f.Action, e.Action):
		return false
	case f.PathPrefix != "" && !strings.HasPrefix(strings.ToLower(e.Path), strings.ToLower(f.PathPrefix)):
		return false
	case f.Status != 0 && f.Status != e.Status:
		return false
	case !f.Since.IsZero() && e.Time.Before(f.Since):
		return false
	case f.AfterSeq != 0 && e.Seq <= f.AfterSeq:
		return false
	}
	return true
}

// usageLog is a bounded ring of entries. Appends take a short lock; bodies
// are truncated before the lock is taken.
type usageLog struct {
	mu   sync.Mutex
	buf  []UsageEntry
	next int
	full bool
	seq  int64
}

func newUsageLog(size int) *usageLog { return &usageLog{buf: make([]UsageEntry, size)} }

func truncateBody(s string) string {
	if len(s) <= maxLoggedBody {
		return s
	}
	return s[:maxLoggedBody] + "…(truncated)"
}

func (u *usageLog) add(e UsageEntry) {
	e.Request = truncateBody(e.Request)
	e.Response = truncateBody(e.Response)
	u.mu.Lock()
	u.seq++
	e.Seq = u.seq
	u.buf[u.next] = e
	u.next++
	if u.next == len(u.buf) {
		u.next, u.full = 0, true
	}
	u.mu.Unlock()
}

// list returns matching entries, oldest first.
func (u *usageLog) list(f UsageFilter) []UsageEntry {
	u.mu.Lock()
	var all []UsageEntry
	if u.full {
		all = append(all, u.buf[u.next:]...)
	}
	all = append(all, u.buf[:u.next]...)
	u.mu.Unlock()
	out := make([]UsageEntry, 0, len(all))
	for i := range all {
		if f.match(&all[i]) {
			out = append(out, all[i])
		}
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[len(out)-f.Limit:]
	}
	return out
}

func (u *usageLog) reset() {
	u.mu.Lock()
	clear(u.buf)
	u.next, u.full = 0, false
	u.mu.Unlock()
}

// UsageLog returns the whole usage log, oldest first.
func (s *Sandbox) UsageLog() []UsageEntry { return s.usage.list(UsageFilter{}) }

// Usage returns the usage log entries matching f.
func (s *Sandbox) Usage(f UsageFilter) []UsageEntry { return s.usage.list(f) }

// marshal encodes JSON without HTML escaping: CorrigoPro (.NET) writes
// tokens' "<---->" separator literally, and so does the sandbox.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// marshalIndent is marshal, indented for people (control API).
func marshalIndent(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
