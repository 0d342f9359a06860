package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

// DeadLetterView is one dead letter in a list.
type DeadLetterView struct {
	Ref         string    `json:"ref"` // kind:id, what reprocess and ignore take
	Kind        string    `json:"kind"`
	ID          int64     `json:"id"`
	Account     string    `json:"account"`
	WorkOrderID int64     `json:"work_order_id"`
	Action      string    `json:"action"` // the event's CorrigoPro action, or the action's kind
	Status      string    `json:"status"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error,omitempty"`
	Time        time.Time `json:"time"` // received (event) or created (action)
	MessageID   string    `json:"message_id,omitempty"`
	Source      string    `json:"source,omitempty"`
	EventID     int64     `json:"event_id,omitempty"` // an action's event
	Rule        string    `json:"rule,omitempty"`
	Plugin      string    `json:"plugin,omitempty"`
}

// EventView is a stored event in full.
type EventView struct {
	ID            int64           `json:"id"`
	Account       string          `json:"account"`
	MessageID     string          `json:"message_id"`
	WorkOrderID   int64           `json:"work_order_id"`
	Action        string          `json:"action"`
	ActionDate    time.Time       `json:"action_date,omitzero"`
	ReceivedAt    time.Time       `json:"received_at"`
	Source        string          `json:"source"`
	Plugin        string          `json:"plugin,omitempty"`
	Status        string          `json:"status"`
	Attempts      int             `json:"attempts"`
	NextAt        time.Time       `json:"next_at,omitzero"`
	LastError     string          `json:"last_error,omitempty"`
	Decision      json.RawMessage `json:"decision,omitempty"`
	ConfigVersion string          `json:"config_version,omitempty"`
	HandledAt     time.Time       `json:"handled_at,omitzero"`
	Body          json.RawMessage `json:"body,omitempty"`
}

// ActionView is a stored outbox action in full.
type ActionView struct {
	ID             int64           `json:"id"`
	Ref            string          `json:"ref"`
	EventID        int64           `json:"event_id"`
	IdempotencyKey string          `json:"idempotency_key"`
	Account        string          `json:"account"`
	WorkOrderID    int64           `json:"work_order_id"`
	Rule           string          `json:"rule"`
	Plugin         string          `json:"plugin"`
	Kind           string          `json:"kind"`
	Payload        json.RawMessage `json:"payload,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	Status         string          `json:"status"`
	Attempts       int             `json:"attempts"`
	NextAt         time.Time       `json:"next_at,omitzero"`
	LastError      string          `json:"last_error,omitempty"`
	SentAt         time.Time       `json:"sent_at,omitzero"`
}

// DeadLetterDetail is one dead letter with what explains it: the event
// (body, decision, last error) and the actions it produced, or the action
// and the event that produced it.
type DeadLetterDetail struct {
	DeadLetterView
	Event *EventView `json:"event,omitempty"`
	// Outbox is the action itself, for an action dead letter.
	Outbox  *ActionView  `json:"outbox_action,omitempty"`
	Actions []ActionView `json:"actions"` // the event's actions
}

func eventView(e *store.Event) *EventView {
	v := &EventView{ID: e.ID, Account: e.Account, MessageID: e.MessageID, WorkOrderID: e.WorkOrderID, Action: e.Action,
		ActionDate: e.ActionDate, ReceivedAt: e.ReceivedAt, Source: string(e.Source), Plugin: e.Plugin, Status: string(e.Status),
		Attempts: e.Attempts, NextAt: e.NextAt, LastError: e.LastError, ConfigVersion: e.ConfigVersion, HandledAt: e.HandledAt}
	if json.Valid(e.Decision) {
		v.Decision = e.Decision
	}
	if json.Valid(e.Body) {
		v.Body = e.Body
	} else if len(e.Body) > 0 {
		v.Body, _ = json.Marshal(string(e.Body))
	}
	return v
}

func actionView(a *store.OutboxAction) ActionView {
	v := ActionView{ID: a.ID, Ref: ref{"action", a.ID}.String(), EventID: a.EventID, IdempotencyKey: a.IdempotencyKey,
		Account: a.Account, WorkOrderID: a.WorkOrderID, Rule: a.Rule, Plugin: a.Plugin, Kind: a.Kind,
		CreatedAt: a.CreatedAt, Status: string(a.Status), Attempts: a.Attempts, NextAt: a.NextAt, LastError: a.LastError, SentAt: a.SentAt}
	if json.Valid(a.Payload) {
		v.Payload = a.Payload
	}
	return v
}

func deadLetterView(d store.DeadLetter) DeadLetterView {
	if d.Event != nil {
		e := d.Event
		return DeadLetterView{Ref: ref{"event", e.ID}.String(), Kind: "event", ID: e.ID, Account: e.Account, WorkOrderID: e.WorkOrderID,
			Action: e.Action, Status: string(e.Status), Attempts: e.Attempts, LastError: e.LastError, Time: e.ReceivedAt,
			MessageID: e.MessageID, Source: string(e.Source), Plugin: e.Plugin}
	}
	a := d.Action
	return DeadLetterView{Ref: ref{"action", a.ID}.String(), Kind: "action", ID: a.ID, Account: a.Account, WorkOrderID: a.WorkOrderID,
		Action: a.Kind, Status: string(a.Status), Attempts: a.Attempts, LastError: a.LastError, Time: a.CreatedAt,
		EventID: a.EventID, Rule: a.Rule, Plugin: a.Plugin}
}

func (h *Handler) listDeadLetters(ctx context.Context, f store.DeadLetterFilter) ([]DeadLetterView, error) {
	dls, err := h.st.ListDeadLetters(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	out := make([]DeadLetterView, 0, len(dls))
	for _, d := range dls {
		if d.Event == nil && d.Action == nil {
			continue
		}
		out = append(out, deadLetterView(d))
	}
	return out, nil
}

// deadLetter loads one event or action with its context.
func (h *Handler) deadLetter(ctx context.Context, r ref) (*DeadLetterDetail, error) {
	d := &DeadLetterDetail{Actions: []ActionView{}}
	var ev *store.Event
	switch r.Kind {
	case "event":
		e, err := h.st.GetEvent(ctx, r.ID)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", r.ID, err)
		}
		ev = e
		d.DeadLetterView = deadLetterView(store.DeadLetter{Kind: "event", Event: e})
	case "action":
		a, err := h.st.GetAction(ctx, r.ID)
		if err != nil {
			return nil, fmt.Errorf("action %d: %w", r.ID, err)
		}
		av := actionView(a)
		d.Outbox = &av
		d.DeadLetterView = deadLetterView(store.DeadLetter{Kind: "action", Action: a})
		if a.EventID != 0 {
			e, err := h.st.GetEvent(ctx, a.EventID)
			switch {
			case err == nil:
				ev = e
			case !errors.Is(err, store.ErrNotFound): // pruned events are fine
				return nil, fmt.Errorf("event %d of action %d: %w", a.EventID, r.ID, err)
			}
		}
	}
	if ev != nil {
		d.Event = eventView(ev)
		acts, err := h.st.ActionsForWorkOrder(ctx, ev.Account, ev.WorkOrderID)
		if err != nil {
			return nil, fmt.Errorf("actions of event %d: %w", ev.ID, err)
		}
		for i := range acts {
			if acts[i].EventID == ev.ID {
				d.Actions = append(d.Actions, actionView(&acts[i]))
			}
		}
	}
	return d, nil
}

type resolveOp string

const (
	opReprocess resolveOp = "reprocess"
	opIgnore    resolveOp = "ignore"
)

// done is the status a dead letter has after the operation.
func (o resolveOp) done() string {
	if o == opReprocess {
		return "requeued"
	}
	return "ignored"
}

// resolve requeues or ignores one dead letter.
func (h *Handler) resolve(ctx context.Context, op resolveOp, r ref) error {
	var err error
	switch {
	case op == opReprocess && r.Kind == "event":
		err = h.st.RequeueEvent(ctx, r.ID)
	case op == opReprocess:
		err = h.st.RequeueAction(ctx, r.ID)
	case r.Kind == "event":
		err = h.st.IgnoreEvent(ctx, r.ID)
	default:
		err = h.st.IgnoreAction(ctx, r.ID)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, r, err)
	}
	h.log.Info("dead letter "+op.done(), "ref", r.String(), "config_version", h.configVersion())
	return nil
}

// ResolveResult is the outcome for one dead letter of a reprocess or
// ignore.
type ResolveResult struct {
	Ref    string `json:"ref"`
	OK     bool   `json:"ok"`
	Status string `json:"status,omitempty"` // requeued or ignored
	Code   int    `json:"code,omitempty"`   // HTTP status of the failure: 404, 409
	Error  string `json:"error,omitempty"`
}

// BulkResult is the answer to a bulk reprocess or ignore.
type BulkResult struct {
	Operation string `json:"operation"`
	// ConfigVersion is the config requeued events will be handled under:
	// the one running now.
	ConfigVersion string          `json:"config_version,omitempty"`
	Requested     int             `json:"requested"`
	Succeeded     int             `json:"succeeded"`
	Failed        int             `json:"failed"`
	Results       []ResolveResult `json:"results"`
}

func (h *Handler) resolveAll(ctx context.Context, op resolveOp, refs []ref) BulkResult {
	res := BulkResult{Operation: string(op), ConfigVersion: h.configVersion(), Requested: len(refs), Results: make([]ResolveResult, 0, len(refs))}
	for _, r := range refs {
		rr := ResolveResult{Ref: r.String()}
		if err := h.resolve(ctx, op, r); err != nil {
			rr.Code, _ = storeStatus(err)
			rr.Error = err.Error()
			res.Failed++
		} else {
			rr.OK, rr.Status = true, op.done()
			res.Succeeded++
		}
		res.Results = append(res.Results, rr)
	}
	if len(refs) > 1 {
		h.log.Info("bulk dead letter operation", "operation", op, "requested", res.Requested, "succeeded", res.Succeeded, "failed", res.Failed)
	}
	return res
}

// refsMatching lists the refs of every dead letter f matches (up to its
// limit).
func (h *Handler) refsMatching(ctx context.Context, f store.DeadLetterFilter) ([]ref, error) {
	dls, err := h.listDeadLetters(ctx, f)
	if err != nil {
		return nil, err
	}
	refs := make([]ref, len(dls))
	for i, d := range dls {
		refs[i] = ref{Kind: d.Kind, ID: d.ID}
	}
	return refs, nil
}

// API handlers.

func (h *Handler) apiListDeadLetters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := checkParams(q, deadLetterParams); err != nil {
		h.fail(w, r, err)
		return
	}
	f, err := filterInputFromQuery(q).parse(h.accounts(), h.o.Now(), maxListLimit)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	items, err := h.listDeadLetters(r.Context(), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "count": len(items), "limit": f.Limit})
}

func (h *Handler) apiShowDeadLetter(w http.ResponseWriter, r *http.Request) {
	rf, err := parseKindID("ref", r.PathValue("kind"), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d, err := h.deadLetter(r.Context(), rf)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (h *Handler) apiResolveOne(op resolveOp) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rf, err := parseKindID("ref", r.PathValue("kind"), r.PathValue("id"))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if err := h.resolve(r.Context(), op, rf); err != nil {
			h.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ref": rf.String(), "ok": true, "status": op.done(), "config_version": h.configVersion()})
	}
}

// bulkRequest is the body of a bulk reprocess or ignore: exactly one of
// refs and filter.
type bulkRequest struct {
	Refs   []string         `json:"refs"`
	Filter *DeadLetterQuery `json:"filter"`
}

const maxBulkBody = 1 << 20

func (h *Handler) apiResolveBulk(op resolveOp) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "" && !isJSONType(ct) {
			writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "", "send the body as application/json, not "+ct)
			return
		}
		var req bulkRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBulkBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_argument", "body", "body must be a JSON object {\"refs\": [\"event:12\", ...]} or {\"filter\": {...}}: "+err.Error())
			return
		}
		if dec.More() {
			writeError(w, http.StatusBadRequest, "invalid_argument", "body", "body must hold one JSON object")
			return
		}
		var refs []ref
		switch {
		case req.Filter != nil && req.Refs != nil:
			h.fail(w, r, badField("refs", "give either refs or filter, not both"))
			return
		case req.Filter != nil:
			f, err := req.Filter.parse(h.accounts(), h.o.Now(), maxBulk)
			if err != nil {
				var fe *fieldError
				if errors.As(err, &fe) {
					fe.Field = "filter." + fe.Field
				}
				h.fail(w, r, err)
				return
			}
			if req.Filter.Limit == "" {
				f.Limit = maxBulk
			}
			if refs, err = h.refsMatching(r.Context(), f); err != nil {
				h.fail(w, r, err)
				return
			}
		case len(req.Refs) == 0:
			h.fail(w, r, badField("refs", "give a non-empty list of refs (event:12, action:7) or a filter"))
			return
		case len(req.Refs) > maxBulk:
			h.fail(w, r, badField("refs", fmt.Sprintf("at most %d refs per request", maxBulk)))
			return
		default:
			seen := map[ref]bool{}
			for i, s := range req.Refs {
				rf, err := parseRef(fmt.Sprintf("refs[%d]", i), s)
				if err != nil {
					h.fail(w, r, err)
					return
				}
				if !seen[rf] {
					seen[rf] = true
					refs = append(refs, rf)
				}
			}
		}
		writeJSON(w, http.StatusOK, h.resolveAll(r.Context(), op, refs))
	}
}

func isJSONType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}
