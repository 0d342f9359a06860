// Package ingest is the receiving half of the gateway: the webhook endpoint
// CorrigoPro posts notifications to, and the poller that turns recently
// created work orders into the same events when webhooks are off or missed.
//
// Both write to the store and nowhere else. A webhook is answered 2xx only
// after its event is durably stored, so CorrigoPro's retry queue keeps
// anything the gateway did not keep.
package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/wogate/wogate/pkg/core/ratelog"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/tracing/tracectx"
	"github.com/wogate/wogate/pkg/corrigo"
)

// DefaultMaxBodyBytes bounds a webhook body. CorrigoPro's largest
// notification, NewWorkOrder with a full work order, is a few kilobytes.
const DefaultMaxBodyBytes = 1 << 20

// VerifyFunc checks a webhook bearer token. On failure it returns a short,
// stable reason ("expired", "bad_signature", ...) for the 401 answer, the log
// and the metrics, and the error with the details.
type VerifyFunc func(token string) (reason string, err error)

// Inserter is the part of store.Store the webhook handler needs.
type Inserter interface {
	InsertEvent(ctx context.Context, e *store.Event) (inserted bool, err error)
}

// WebhookOptions configure one account's webhook endpoint.
type WebhookOptions struct {
	// Account is the configured CorrigoPro account name.
	Account string
	// Verify checks the bearer token. Required: an endpoint that accepts
	// anything is a hole, so a nil Verify is refused by NewWebhook.
	Verify VerifyFunc
	// SourceAllowed, when set, is asked first whether the request's
	// source address may deliver webhooks (webhook.allowed_sources); it
	// returns the address it judged, for the log. Refused requests get
	// 403 before their token is looked at.
	SourceAllowed func(r *http.Request) (addr string, ok bool)
	// Store keeps accepted events.
	Store Inserter
	// MaxBodyBytes bounds the body; default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Logger receives one line per rejection; default slog.Default().
	Logger *slog.Logger
	// Stats counts outcomes; optional.
	Stats *Stats
	// OnStored is called after a new event is stored (not for duplicates),
	// typically to wake the dispatcher. It must not block.
	OnStored func(e *store.Event)
	// OnExchange receives a communication log entry for every request,
	// accepted or not, except requests with a missing or bad token
	// (CorrigoPro's usage log leaves those out too). It must not block.
	OnExchange func(store.LogEntry)
	// LogBodyBytes bounds the request body copied into the communication
	// log entry of an accepted webhook; the whole body is in the stored
	// event (same MessageId), so the log need not hold it twice. Default
	// 512; rejected requests are logged whole (up to the log's own bound)
	// because they are stored nowhere else.
	LogBodyBytes int
	// Now is the clock; default time.Now.
	Now func() time.Time
	// ExplainRejections puts the reason a token or source was refused
	// (bad_signature, expired, ...) and the verifier's message in the 401
	// or 403 body, for integrating. Off, the body is the same for every
	// refusal, so a client learns nothing about why its token failed; the
	// reason is always in the log, the metrics and the Stats.
	ExplainRejections bool
	// RejectLogBurst and RejectLogInterval bound the rejection log lines:
	// the first RejectLogBurst per reason and interval are logged, the rest
	// summarised (ratelog). Defaults ratelog.DefaultBurst and
	// DefaultInterval.
	RejectLogBurst    int
	RejectLogInterval time.Duration
	// Tracer starts a "webhook receive" span per request, the root of the
	// work order's trace; its context is stored with the event so dispatch
	// continues the trace. Default tracectx.Noop().
	Tracer trace.Tracer
	// Shed, if set, is asked after the token verified whether the gateway
	// is over its load limits (overload.Shedder.Shedding): the request is
	// then refused with 503 and Retry-After before its body is read, and
	// CorrigoPro delivers it again later.
	Shed func() (retryAfter time.Duration, shedding bool)
}

// Webhook is the http.Handler of one account's webhook path.
type Webhook struct {
	opts WebhookOptions
	log  *slog.Logger
	// rejections bounds the rejection log lines outsiders can cause: the
	// first ratelog.DefaultBurst per reason and minute, then one summary
	// line (and communication log entry) with the count. Stats counts
	// every rejection.
	rejections *ratelog.Limiter
}

// NewWebhook checks opts and returns the handler.
func NewWebhook(opts WebhookOptions) (*Webhook, error) {
	if opts.Account == "" {
		return nil, errors.New("ingest: webhook needs an account name")
	}
	if opts.Verify == nil {
		return nil, errors.New("ingest: webhook for account " + opts.Account + " needs a token verifier")
	}
	if opts.Store == nil {
		return nil, errors.New("ingest: webhook for account " + opts.Account + " needs a store")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.LogBodyBytes <= 0 {
		opts.LogBodyBytes = 512
	}
	if opts.Tracer == nil {
		opts.Tracer = tracectx.Noop()
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	h := &Webhook{opts: opts, log: log.With("account", opts.Account, "component", "webhook")}
	h.rejections = ratelog.New(ratelog.Options{Burst: opts.RejectLogBurst, Interval: opts.RejectLogInterval, Now: opts.Now, Summary: h.rejectionSummary})
	return h, nil
}

// FlushRejectionLog writes the pending rejection summaries now (at
// shutdown, so the last window's count is not lost).
func (h *Webhook) FlushRejectionLog() { h.rejections.Flush() }

// rejectionSummary reports rejections that were counted but not logged
// one by one. Requests refused for their token, method or source have no
// communication log entry of their own (they are not CorrigoPro's), so the
// summary gets one: the usage log shows a flood happened and how big.
func (h *Webhook) rejectionSummary(reason string, n int64, window time.Duration) {
	h.log.Warn("webhook rejections not logged one by one", "reason", reason, "suppressed", n, "window", window.Round(time.Second).String())
	switch reason {
	case ReasonBodyTooLarge, ReasonBodyRead, ReasonBadBody, ReasonStoreFailed:
		return // each has its communication log entry already
	}
	code := http.StatusUnauthorized
	switch reason {
	case ReasonMethod:
		code = http.StatusMethodNotAllowed
	case ReasonSource:
		code = http.StatusForbidden
	}
	now := h.opts.Now().UTC()
	h.emit(store.LogEntry{Time: now, Account: h.opts.Account, Direction: "inbound", Severity: "warn", Status: code,
		Error: itoa(n) + " more webhook requests rejected (" + reason + ") in the last " + window.Round(time.Second).String() + "; not logged one by one"})
}

// Rejection reasons, as they appear in 4xx/5xx answers, logs and Stats.
const (
	ReasonMethod        = "method_not_allowed"
	ReasonMissingToken  = "missing_token"
	ReasonSource        = "source_not_allowed"
	ReasonBodyTooLarge  = "body_too_large"
	ReasonBodyRead      = "body_read"
	ReasonBadBody       = "bad_body"
	ReasonStoreFailed   = "store_unavailable"
	ReasonOverloaded    = "overloaded"
	ReasonEventTypeDiff = "event_type_mismatch" // a warning, not a rejection
)

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

var (
	answerAccepted  = []byte(`{"status":"accepted"}` + "\n")
	answerDuplicate = []byte(`{"status":"duplicate"}` + "\n")
)

// ServeHTTP verifies, decodes and stores one notification, in a
// "webhook receive" span. The span starts a new trace: a traceparent
// header sent by the caller is not trusted (CorrigoPro sends none, and an
// outsider could otherwise choose trace ids).
func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, span := h.opts.Tracer.Start(r.Context(), "webhook receive",
		trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindServer))
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(tracectx.Account.String(h.opts.Account),
			semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPath(r.URL.Path))
	}
	sw := &statusWriter{ResponseWriter: w}
	h.serve(ctx, span, sw, r)
	if span.IsRecording() {
		span.SetAttributes(semconv.HTTPResponseStatusCode(sw.code))
		if sw.code >= 500 {
			span.SetStatus(codes.Error, sw.reason)
		}
		span.SetAttributes(tracectx.Result.String(sw.reason))
	}
}

// statusWriter remembers the answer's status and the result for the span.
type statusWriter struct {
	http.ResponseWriter
	code   int
	reason string
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (h *Webhook) serve(ctx context.Context, span trace.Span, w *statusWriter, r *http.Request) {
	start := h.opts.Now()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.reject(w, r, http.StatusMethodNotAllowed, ReasonMethod, "webhooks must be POSTed", nil)
		return
	}

	if h.opts.SourceAllowed != nil {
		if addr, ok := h.opts.SourceAllowed(r); !ok {
			h.reject(w, r, http.StatusForbidden, ReasonSource, "source address not allowed", errors.New("source "+addr+" is not in webhook.allowed_sources"))
			return
		}
	}

	token, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok {
		h.reject(w, r, http.StatusUnauthorized, ReasonMissingToken, "missing bearer token", nil)
		return
	}
	if reason, err := h.opts.Verify(token); err != nil {
		if reason == "" {
			reason = "invalid_token"
		}
		h.reject(w, r, http.StatusUnauthorized, reason, "invalid webhook token", err)
		return
	}
	if h.opts.Shed != nil {
		if wait, shed := h.opts.Shed(); shed {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int(wait.Round(time.Second)/time.Second))))
			h.reject(w, r, http.StatusServiceUnavailable, ReasonOverloaded,
				"overloaded: the gateway refuses webhooks until its backlog is back under its limits; deliver again later", nil)
			return
		}
	}

	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	_, err := buf.ReadFrom(http.MaxBytesReader(w.ResponseWriter, r.Body, h.opts.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			h.rejectLogged(w, r, start, buf.Bytes(), http.StatusRequestEntityTooLarge, ReasonBodyTooLarge,
				"body exceeds "+itoa(h.opts.MaxBodyBytes)+" bytes", nil)
			return
		}
		h.rejectLogged(w, r, start, buf.Bytes(), http.StatusBadRequest, ReasonBodyRead, "cannot read body", err)
		return
	}

	n, err := corrigo.DecodeNotification(buf.Bytes())
	if err != nil {
		h.rejectLogged(w, r, start, buf.Bytes(), http.StatusBadRequest, ReasonBadBody, err.Error(), nil)
		return
	}
	if et := r.Header.Get("Event-Type"); et != "" && et != string(n.Header.Action) {
		// The body is what CorrigoPro signed off on; the header is a hint.
		h.log.Warn("webhook Event-Type header differs from body; using the body",
			"event_type", et, "action", n.Header.Action, "message_id", n.Header.MessageId)
		h.opts.Stats.add(ReasonEventTypeDiff)
	}

	if span.IsRecording() {
		span.SetAttributes(tracectx.Action.String(string(n.Header.Action)), tracectx.WorkOrderID.Int64(n.Header.WorkOrderId),
			tracectx.MessageID.String(n.Header.MessageId))
	}
	ev := &store.Event{
		Account:     h.opts.Account,
		MessageID:   n.Header.MessageId,
		WorkOrderID: n.Header.WorkOrderId,
		Action:      string(n.Header.Action),
		ActionDate:  n.Header.ActionDate.Time,
		ReceivedAt:  start.UTC(),
		Source:      store.SourceWebhook,
		Body:        n.Raw,
		Status:      store.EventPending,
		TraceParent: tracectx.Traceparent(ctx), // "" when tracing is off
	}
	inserted, err := h.opts.Store.InsertEvent(ctx, ev)
	if err != nil {
		// 503 makes CorrigoPro retry later; nothing was promised.
		w.Header().Set("Retry-After", "5")
		h.rejectLogged(w, r, start, n.Raw, http.StatusServiceUnavailable, ReasonStoreFailed, "event store unavailable", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	answer := answerAccepted
	w.reason = "accepted"
	if inserted {
		h.opts.Stats.add("accepted")
		if h.opts.OnStored != nil {
			h.opts.OnStored(ev)
		}
	} else {
		answer = answerDuplicate
		w.reason = "duplicate"
		h.opts.Stats.add("duplicate")
		h.log.Debug("webhook duplicate MessageId", "message_id", ev.MessageID, "work_order", ev.WorkOrderID)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(answer)
	logged := n.Raw
	if len(logged) > h.opts.LogBodyBytes {
		logged = logged[:h.opts.LogBodyBytes]
	}
	x := h.entry(r, start, ev.WorkOrderID, ev.MessageID, logged, http.StatusOK, answer, "")
	if p, ok := n.Payload.(corrigo.NewWorkOrderPayload); ok {
		// The usage log shows the work order number and customer; a
		// NewWorkOrder carries both (others only the id: the gateway's
		// commlog.Directory fills those in).
		x.WorkOrderNumber = p.Details.WorkOrderNumber
		if p.Details.Customer != nil {
			x.Customer = p.Details.Customer.Name
		}
	}
	h.emit(x)
}

// bearerToken extracts the token of an "Authorization: Bearer x" header.
// The scheme is case-insensitive (third-party senders use "bearer").
func bearerToken(h string) (string, bool) {
	const scheme = "bearer "
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false
	}
	t := strings.TrimSpace(h[len(scheme):])
	return t, t != ""
}

type errorAnswer struct {
	Error  string `json:"error"`
	Reason string `json:"reason"`
}

// reject answers an error without a communication log entry (bad method or
// token: such requests are not CorrigoPro's and would only flood the log).
func (h *Webhook) reject(w http.ResponseWriter, r *http.Request, code int, reason, msg string, err error) {
	if sw, ok := w.(*statusWriter); ok {
		sw.reason = reason
	}
	h.opts.Stats.add(reason)
	if h.rejections.Allow(reason) {
		attrs := []any{"status", code, "reason", reason, "remote", r.RemoteAddr}
		if err != nil {
			attrs = append(attrs, "err", err)
		}
		h.log.Warn("webhook rejected: "+msg, attrs...)
	}
	writeJSON(w, code, h.answer(code, reason, msg, err))
}

// Generic answers of refusals before authentication.
var (
	answerUnauthorized = errorAnswer{Error: "unauthorized", Reason: "unauthorized"}
	answerForbidden    = errorAnswer{Error: "forbidden", Reason: "forbidden"}
)

// answer is the body of a refusal: the reason and message, except that
// 401 and 403 (token and source checks, where the caller is not known to
// be CorrigoPro) are generic unless ExplainRejections is set, which adds
// the verifier's message too (it names no secret: see
// corrigo.VerifyError).
func (h *Webhook) answer(code int, reason, msg string, err error) errorAnswer {
	if code == http.StatusUnauthorized || code == http.StatusForbidden {
		switch {
		case !h.opts.ExplainRejections && code == http.StatusUnauthorized:
			return answerUnauthorized
		case !h.opts.ExplainRejections:
			return answerForbidden
		case err != nil:
			msg += ": " + err.Error()
		}
	}
	return errorAnswer{Error: msg, Reason: reason}
}

// rejectLogged answers an error for a request that carried a valid token,
// and records it in the communication log.
func (h *Webhook) rejectLogged(w http.ResponseWriter, r *http.Request, start time.Time, body []byte, code int, reason, msg string, err error) {
	h.reject(w, r, code, reason, msg, err)
	detail := msg
	if err != nil {
		detail += ": " + err.Error()
	}
	answer, _ := json.Marshal(errorAnswer{Error: msg, Reason: reason})
	h.exchange(r, start, 0, "", body, code, answer, detail)
}

func (h *Webhook) exchange(r *http.Request, start time.Time, wo int64, msgID string, req []byte, code int, resp []byte, errText string) {
	h.emit(h.entry(r, start, wo, msgID, req, code, resp, errText))
}

func (h *Webhook) emit(e store.LogEntry) {
	if h.opts.OnExchange != nil {
		h.opts.OnExchange(e)
	}
}

func (h *Webhook) entry(r *http.Request, start time.Time, wo int64, msgID string, req []byte, code int, resp []byte, errText string) store.LogEntry {
	sev := "info"
	if code >= 500 {
		sev = "error"
	} else if code >= 400 {
		sev = "warn"
	}
	return store.LogEntry{
		Time:        start.UTC(),
		Duration:    h.opts.Now().Sub(start),
		Account:     h.opts.Account,
		Direction:   "inbound",
		Severity:    sev,
		Method:      r.Method,
		URL:         r.URL.Path,
		Status:      code,
		WorkOrderID: wo,
		MessageID:   msgID,
		Request:     string(req),
		Response:    string(bytes.TrimSpace(resp)),
		Error:       errText,
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
