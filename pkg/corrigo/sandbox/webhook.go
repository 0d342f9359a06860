package sandbox

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/wogate/wogate/pkg/corrigo"
)

// Notification states.
const (
	StateQueued    = "queued"    // waiting for its first or next attempt
	StateDelivered = "delivered" // the receiver answered 2xx
	StateDead      = "dead"      // attempts exhausted; reprocess to try again
	StateSkipped   = "skipped"   // no webhook URL was configured
	StateIgnored   = "ignored"   // undelivered, then ignored in the retry queue; never sent again
)

// Notification is one webhook notification and its delivery state.
type Notification struct {
	Id              int64
	WorkOrderId     int64
	WorkOrderNumber string `json:",omitempty"`
	Customer        string `json:",omitempty"`
	Action          corrigo.Action
	MessageId       string
	State           string
	Attempts        int
	Created         time.Time
	NextAttempt     time.Time `json:",omitzero"`
	LastAttempt     time.Time `json:",omitzero"`
	LastStatus      int       `json:",omitempty"`
	LastError       string    `json:",omitempty"`
	// Injected is "duplicate" or "redelivery" for copies made by fault
	// injection or by Redeliver; CopyOf names the original.
	Injected string `json:",omitempty"`
	CopyOf   int64  `json:",omitempty"`
	// Emulated marks a sample sent by Emulate (POST /_sandbox/emulate).
	Emulated bool            `json:",omitempty"`
	Body     json.RawMessage `json:",omitempty"`
}

// NotificationFilter selects notifications. Zero fields match everything.
type NotificationFilter struct {
	State       string
	WorkOrderId int64
	Action      corrigo.Action
	Limit       int // newest Limit; 0 = all
}

// pendingNotification is a notification decided under a record's lock;
// its body is built and queued after the lock is released.
type pendingNotification struct {
	action  corrigo.Action
	sender  corrigo.Sender
	payload corrigo.Payload
}

type notifRec struct {
	Notification
	header  corrigo.Header
	payload corrigo.Payload
	gen     int64
	due     time.Time
	heapIdx int
}

// notifHeap orders delayed notifications by due time.
type notifHeap []*notifRec

func (h notifHeap) Len() int           { return len(h) }
func (h notifHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h notifHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}
func (h *notifHeap) Push(x any) {
	n := x.(*notifRec)
	n.heapIdx = len(*h)
	*h = append(*h, n)
}
func (h *notifHeap) Pop() any {
	old := *h
	n := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	n.heapIdx = -1
	return n
}

// webhooks is the delivery engine: an unbounded ready queue, a heap of
// retries, and a fixed pool of workers. Queuing never blocks the caller.
type webhooks struct {
	s      *Sandbox
	url    atomic.Pointer[string]
	client *http.Client

	mu        sync.Mutex
	gen       int64
	all       map[int64]*notifRec
	order     []int64 // ids in creation order (for listing)
	delivered []int64 // delivered ids, oldest first, for eviction
	ready     []*notifRec
	delayed   notifHeap
	inflight  int
	wake      chan struct{}
}

func newWebhooks(s *Sandbox) *webhooks {
	client := s.opts.HTTPClient
	if client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = 4 * s.opts.WebhookConcurrency
		tr.MaxIdleConnsPerHost = 2 * s.opts.WebhookConcurrency
		client = &http.Client{Transport: tr, Timeout: s.opts.WebhookTimeout}
	}
	return &webhooks{
		s:      s,
		client: client,
		all:    map[int64]*notifRec{},
		wake:   make(chan struct{}, 1),
	}
}

func (h *webhooks) setURL(u string) { h.url.Store(&u) }

func (h *webhooks) getURL() string {
	if p := h.url.Load(); p != nil {
		return *p
	}
	return ""
}

func (h *webhooks) start() {
	for i := 0; i < h.s.opts.WebhookConcurrency; i++ {
		h.s.wg.Add(1)
		go h.worker()
	}
}

func (h *webhooks) signal() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// prepare turns pending notifications into records with ids, message ids
// and headers; the caller holds rec.mu, so ids follow the history order. The
// bodies are built by enqueue, after the lock is released.
func (h *webhooks) prepare(rec *record, pending []pendingNotification) []*notifRec {
	if len(pending) == 0 {
		return nil
	}
	now := h.s.now().UTC()
	out := make([]*notifRec, 0, len(pending))
	for _, p := range pending {
		sender := p.sender
		n := &notifRec{
			Notification: Notification{
				Id:              h.s.nextSeq(),
				WorkOrderId:     rec.wo.WorkOrderId,
				WorkOrderNumber: rec.wo.WorkOrderNumber,
				Customer:        rec.customer.Name,
				Action:          p.action,
				MessageId:       uuid.NewString(),
				State:           StateQueued,
				Created:         now,
			},
			payload: p.payload,
			heapIdx: -1,
		}
		n.header = corrigo.Header{
			WorkOrderId: rec.wo.WorkOrderId, BranchId: rec.wo.BranchId, Sender: &sender,
			Action: p.action, ActionDate: corrigo.NewTime(now), ApiVersion: ApiVersion, MessageId: n.MessageId,
		}
		out = append(out, n)
	}
	return out
}

// enqueue builds the bodies and queues the notifications for delivery.
func (h *webhooks) enqueue(ns []*notifRec) {
	if len(ns) == 0 {
		return
	}
	for _, n := range ns {
		body, err := corrigo.NewNotification(n.header, n.payload)
		if err != nil {
			// Only a payload that cannot be marshalled gets here: a bug.
			h.s.log.Error("sandbox: build notification", "action", n.Action, "err", err)
			body = []byte(fmt.Sprintf(`{"error":%q}`, err.Error()))
		}
		n.Body = body
		n.payload = nil
	}
	url := h.getURL()
	h.mu.Lock()
	for _, n := range ns {
		n.gen = h.gen
		h.all[n.Id] = n
		h.order = append(h.order, n.Id)
		if url == "" {
			n.State = StateSkipped
			h.markFinished(n)
			continue
		}
		h.ready = append(h.ready, n)
	}
	h.mu.Unlock()
	h.signal()
}

// markFinished remembers a delivered or skipped notification for eviction
// once more than NotificationKeep are kept. Called with h.mu held.
func (h *webhooks) markFinished(n *notifRec) {
	h.delivered = append(h.delivered, n.Id)
	n.due = time.Time{}
	if len(h.delivered) > h.s.opts.NotificationKeep {
		drop := len(h.delivered) - h.s.opts.NotificationKeep
		for _, id := range h.delivered[:drop] {
			if m := h.all[id]; m != nil && (m.State == StateDelivered || m.State == StateSkipped || m.State == StateIgnored) {
				delete(h.all, id)
			}
		}
		h.delivered = slices.Clone(h.delivered[drop:])
		if len(h.order) > 2*len(h.all)+1024 {
			kept := h.order[:0]
			for _, id := range h.order {
				if _, ok := h.all[id]; ok {
					kept = append(kept, id)
				}
			}
			h.order = kept
		}
	}
}

// take returns the next due notification, or how long to wait for one.
func (h *webhooks) take() (*notifRec, time.Duration) {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	for len(h.delayed) > 0 && !h.delayed[0].due.After(now) {
		h.ready = append(h.ready, heap.Pop(&h.delayed).(*notifRec))
	}
	if len(h.ready) > 0 {
		n := h.ready[0]
		h.ready[0] = nil
		h.ready = h.ready[1:]
		h.inflight++
		if len(h.ready) > 0 {
			h.signal()
		}
		return n, 0
	}
	if len(h.delayed) > 0 {
		return nil, h.delayed[0].due.Sub(now)
	}
	return nil, time.Hour
}

func (h *webhooks) worker() {
	defer h.s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		n, wait := h.take()
		if n != nil {
			h.attempt(n)
			continue
		}
		timer.Reset(wait)
		select {
		case <-h.s.ctx.Done():
			return
		case <-h.wake:
		case <-timer.C:
		}
	}
}

// attempt delivers one notification once and files the outcome.
func (h *webhooks) attempt(n *notifRec) {
	s := h.s
	url := h.getURL()
	start := time.Now()
	status, respBody, errText := 0, "", ""
	attemptNo := n.Attempts + 1
	switch {
	case url == "":
		errText = "no webhook URL configured"
	case s.chance(s.faults.Load().WebhookFailRate):
		errText = "injected delivery failure"
	default:
		status, respBody, errText = h.post(url, n)
	}
	ok := status >= 200 && status < 300
	s.usage.add(UsageEntry{
		Time: start, Duration: time.Since(start), Direction: DirectionOutbound, Method: http.MethodPost, Path: url,
		Status: status, WorkOrderId: n.WorkOrderId, WorkOrderNumber: n.WorkOrderNumber, Customer: n.Customer,
		MessageId: n.MessageId, Action: string(n.Action), NotificationId: n.Id, Attempt: attemptNo, Error: errText,
		Request: string(n.Body), Response: respBody,
	})

	var copies []*notifRec
	h.mu.Lock()
	h.inflight--
	if n.gen != h.gen {
		h.mu.Unlock()
		return
	}
	n.Attempts = attemptNo
	n.LastAttempt = start
	n.LastStatus = status
	n.LastError = errText
	switch {
	case url == "" && n.State == StateQueued:
		n.State = StateSkipped
		h.markFinished(n)
	case ok:
		n.State = StateDelivered
		n.NextAttempt = time.Time{}
		h.markFinished(n)
		f := s.faults.Load()
		if n.Injected == "" && s.chance(f.DuplicateRate) {
			copies = append(copies, h.copyOf(n, "duplicate", 0))
		}
		if n.Injected == "" && s.chance(f.RedeliverRate) {
			copies = append(copies, h.copyOf(n, "redelivery", s.scaled(time.Duration(f.RedeliverDelay))))
		}
	case s.opts.NoWebhookRetry || n.Attempts >= s.opts.WebhookMaxAttempts:
		n.State = StateDead
		n.NextAttempt = time.Time{}
	default:
		sched := s.opts.RetrySchedule
		delay := sched[min(n.Attempts-1, len(sched)-1)]
		n.due = time.Now().Add(s.scaled(delay))
		n.NextAttempt = n.due
		heap.Push(&h.delayed, n)
	}
	for _, c := range copies {
		h.schedule(c)
	}
	state, next := n.State, n.NextAttempt
	h.mu.Unlock()
	switch state {
	case StateDelivered:
		s.log.Debug("sandbox: webhook delivered", "id", n.Id, "action", n.Action, "workOrder", n.WorkOrderId, "attempt", attemptNo, "status", status)
	case StateDead:
		s.log.Warn("sandbox: webhook dead", "id", n.Id, "action", n.Action, "workOrder", n.WorkOrderId, "attempts", attemptNo, "status", status, "err", errText)
	case StateQueued:
		s.log.Info("sandbox: webhook delivery failed", "id", n.Id, "action", n.Action, "workOrder", n.WorkOrderId, "attempt", attemptNo,
			"status", status, "err", errText, "next", next.Format(time.RFC3339Nano))
	}
	if len(copies) > 0 || !ok {
		h.signal()
	}
}

// post sends one attempt and returns the status, the (bounded) answer and
// an error text.
func (h *webhooks) post(url string, n *notifRec) (int, string, string) {
	tok, err := h.s.tokens.webhookToken()
	if err != nil {
		return 0, "", "issue webhook token: " + err.Error()
	}
	ctx, cancel := context.WithTimeout(h.s.ctx, h.s.opts.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(n.Body))
	if err != nil {
		return 0, "", err.Error()
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Event-Type", string(n.Action))
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, "", err.Error()
	}
	defer func() { _ = resp.Body.Close() }() // read-only body
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), ""
}

// copyOf makes an injected copy of a delivered notification. Called with
// h.mu held.
func (h *webhooks) copyOf(n *notifRec, kind string, delay time.Duration) *notifRec {
	c := &notifRec{
		Notification: Notification{
			Id: h.s.nextSeq(), WorkOrderId: n.WorkOrderId, WorkOrderNumber: n.WorkOrderNumber, Customer: n.Customer,
			Action: n.Action, MessageId: n.MessageId, State: StateQueued, Created: time.Now(),
			Injected: kind, CopyOf: n.Id, Body: n.Body,
		},
		header: n.header, gen: h.gen, heapIdx: -1,
	}
	if delay > 0 {
		c.due = time.Now().Add(delay)
		c.NextAttempt = c.due
	}
	h.all[c.Id] = c
	h.order = append(h.order, c.Id)
	return c
}

// schedule queues n now or at n.due. Called with h.mu held.
func (h *webhooks) schedule(n *notifRec) {
	if n.due.After(time.Now()) {
		heap.Push(&h.delayed, n)
		return
	}
	h.ready = append(h.ready, n)
}

func (h *webhooks) reset() {
	h.mu.Lock()
	h.gen++
	h.all = map[int64]*notifRec{}
	h.order = nil
	h.delivered = nil
	h.ready = nil
	h.delayed = nil
	h.mu.Unlock()
}

func (h *webhooks) list(f NotificationFilter) []Notification {
	h.mu.Lock()
	out := make([]Notification, 0, len(h.order))
	for _, id := range h.order {
		n := h.all[id]
		if n == nil {
			continue
		}
		if (f.State != "" && f.State != n.State) || (f.WorkOrderId != 0 && f.WorkOrderId != n.WorkOrderId) ||
			(f.Action != "" && f.Action != n.Action) {
			continue
		}
		out = append(out, n.Notification)
	}
	h.mu.Unlock()
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[len(out)-f.Limit:]
	}
	return out
}

// reprocess queues dead notifications again with a fresh attempt count
// (CorrigoPro's Queue management tool). No ids: every dead notification.
func (h *webhooks) reprocess(ids []int64) int {
	h.mu.Lock()
	n := 0
	requeue := func(m *notifRec) {
		if m == nil || m.State != StateDead {
			return
		}
		m.State, m.Attempts, m.NextAttempt, m.due = StateQueued, 0, time.Time{}, time.Time{}
		h.ready = append(h.ready, m)
		n++
	}
	if len(ids) == 0 {
		for _, id := range h.order {
			requeue(h.all[id])
		}
	} else {
		for _, id := range ids {
			requeue(h.all[id])
		}
	}
	h.mu.Unlock()
	h.signal()
	return n
}

// ignore takes undelivered notifications out of the retry queue for good:
// dead ones, and queued ones waiting for their next attempt (CorrigoPro's
// Retry Queue lets a Pro reprocess or ignore them). A notification being
// sent at that moment is not ignored. No ids: every dead notification.
// It returns the ids ignored.
func (h *webhooks) ignore(ids []int64) []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []int64
	drop := func(m *notifRec) {
		if m == nil {
			return
		}
		switch {
		case m.State == StateDead:
		case m.State == StateQueued && m.heapIdx >= 0:
			heap.Remove(&h.delayed, m.heapIdx)
		case m.State == StateQueued:
			i := slices.Index(h.ready, m)
			if i < 0 {
				return // in flight
			}
			h.ready = slices.Delete(h.ready, i, i+1)
		default:
			return
		}
		m.State, m.NextAttempt, m.due = StateIgnored, time.Time{}, time.Time{}
		h.markFinished(m)
		out = append(out, m.Id)
	}
	if len(ids) == 0 {
		for _, id := range h.order {
			if m := h.all[id]; m != nil && m.State == StateDead {
				drop(m)
			}
		}
	} else {
		for _, id := range ids {
			drop(h.all[id])
		}
	}
	return out
}

// redeliver sends a copy of a known notification again after delay.
func (h *webhooks) redeliver(id int64, delay time.Duration) (int64, error) {
	h.mu.Lock()
	n := h.all[id]
	if n == nil || len(n.Body) == 0 {
		h.mu.Unlock()
		return 0, fmt.Errorf("notification %d not found", id)
	}
	c := h.copyOf(n, "redelivery", delay)
	h.schedule(c)
	h.mu.Unlock()
	h.signal()
	return c.Id, nil
}

// busy counts notifications queued, scheduled for retry or in flight.
func (h *webhooks) busy() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ready) + len(h.delayed) + h.inflight
}

// SetWebhookURL changes where notifications go. Empty switches webhooks off.
func (s *Sandbox) SetWebhookURL(url string) {
	s.hooks.setURL(url)
	s.hooks.signal()
}

// WebhookURL returns the configured webhook URL.
func (s *Sandbox) WebhookURL() string { return s.hooks.getURL() }

// Notifications lists notifications matching f, oldest first.
func (s *Sandbox) Notifications(f NotificationFilter) []Notification { return s.hooks.list(f) }

// Reprocess queues dead notifications again (all dead ones when ids is
// empty) and returns how many were queued.
func (s *Sandbox) Reprocess(ids ...int64) int { return s.hooks.reprocess(ids) }

// Redeliver sends a copy of notification id again (same body and
// MessageId) after delay: a duplicate or, with a delay, an out-of-order
// redelivery. It returns the copy's id.
func (s *Sandbox) Redeliver(id int64, delay time.Duration) (int64, error) {
	return s.hooks.redeliver(id, delay)
}

// Ignore takes undelivered notifications (dead, or queued for a retry) out
// of the retry queue for good, like the Ignore of CorrigoPro's Retry Queue;
// no ids: every dead one. It returns the ids ignored.
func (s *Sandbox) Ignore(ids ...int64) []int64 { return s.hooks.ignore(ids) }

// PendingNotifications counts notifications not yet delivered or dead.
func (s *Sandbox) PendingNotifications() int { return s.hooks.busy() }

// WaitIdle waits until no notification is queued, waiting for a retry or in
// flight.
func (s *Sandbox) WaitIdle(ctx context.Context) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for s.hooks.busy() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
