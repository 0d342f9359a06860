package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

// LogEntryView is one communication log entry.
type LogEntryView struct {
	ID              int64     `json:"id"`
	Time            time.Time `json:"time"`
	DurationMS      float64   `json:"duration_ms"`
	Account         string    `json:"account"`
	Direction       string    `json:"direction"`
	Severity        string    `json:"severity"`
	Method          string    `json:"method,omitempty"`
	URL             string    `json:"url,omitempty"`
	Status          int       `json:"status,omitempty"`
	WorkOrderID     int64     `json:"work_order_id,omitempty"`
	WorkOrderNumber string    `json:"work_order_number,omitempty"`
	Customer        string    `json:"customer,omitempty"`
	MessageID       string    `json:"message_id,omitempty"`
	Request         string    `json:"request,omitempty"`
	Response        string    `json:"response,omitempty"`
	Error           string    `json:"error,omitempty"`
}

func logEntryView(e store.LogEntry) LogEntryView {
	return LogEntryView{ID: e.ID, Time: e.Time, DurationMS: float64(e.Duration.Microseconds()) / 1000, Account: e.Account,
		Direction: e.Direction, Severity: e.Severity, Method: e.Method, URL: e.URL, Status: e.Status, WorkOrderID: e.WorkOrderID,
		WorkOrderNumber: e.WorkOrderNumber, Customer: e.Customer, MessageID: e.MessageID, Request: e.Request,
		Response: e.Response, Error: e.Error}
}

// LogPage is one page of the communication log, newest first.
type LogPage struct {
	Items []LogEntryView `json:"items"`
	Count int            `json:"count"`
	// NextBeforeID continues with older entries (before_id); 0 when this
	// page was not full.
	NextBeforeID int64 `json:"next_before_id,omitempty"`
}

func (h *Handler) queryLog(ctx context.Context, f store.LogFilter) (LogPage, error) {
	entries, err := h.st.QueryLog(ctx, f)
	if err != nil {
		return LogPage{}, fmt.Errorf("query log: %w", err)
	}
	p := LogPage{Items: make([]LogEntryView, len(entries)), Count: len(entries)}
	for i, e := range entries {
		p.Items[i] = logEntryView(e)
	}
	if len(entries) > 0 && len(entries) == f.Limit {
		p.NextBeforeID = entries[len(entries)-1].ID
	}
	return p, nil
}

func (h *Handler) apiLog(w http.ResponseWriter, r *http.Request) {
	f, err := parseLogFilter(r.URL.Query(), h.accounts(), h.o.Now())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := h.queryLog(r.Context(), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// TimelineEntry is one thing that happened to a work order.
type TimelineEntry struct {
	Time time.Time `json:"time"`
	// Type is event (received), decision (rules evaluated), plugin_call,
	// action (created), action_sent, dead_letter, or http (a
	// communication log exchange).
	Type     string `json:"type"`
	Account  string `json:"account"`
	Summary  string `json:"summary"`
	Status   string `json:"status,omitempty"`
	Severity string `json:"severity,omitempty"` // info, warn, error
	EventID  int64  `json:"event_id,omitempty"`
	ActionID int64  `json:"action_id,omitempty"`
	LogID    int64  `json:"log_id,omitempty"`
	Rule     string `json:"rule,omitempty"`
	Plugin   string `json:"plugin,omitempty"`
	// PluginMS is how long the plugin call took.
	PluginMS float64 `json:"plugin_ms,omitempty"`
	Detail   string  `json:"detail,omitempty"`
	// Why is the reason behind an outcome, in the words of whoever gave
	// it: the plugin's reason for a reject or a park, the guard's or
	// CorrigoPro's for an action refused or failed, the refusals of a
	// plugin call's actions.
	Why string `json:"why,omitempty"`
	// Ref is set on dead letters (kind:id) for reprocess and ignore.
	Ref string `json:"ref,omitempty"`

	// Causal order (see orderTimeline): the chain an entry belongs to,
	// the chain's start, and the entry's step in it.
	chain  int64
	anchor time.Time
	step   int
}

// Timeline is a work order's history in causal order: each event with
// what it caused (decision, plugin calls, actions, the CorrigoPro calls
// that sent them), events by arrival.
type Timeline struct {
	WorkOrderID int64           `json:"work_order_id"`
	Accounts    []string        `json:"accounts"`
	Entries     []TimelineEntry `json:"entries"`
	Events      int             `json:"events"`
	Actions     int             `json:"actions"`
	// LogTruncated: the work order has more log entries than shown.
	LogTruncated bool `json:"log_truncated,omitempty"`
}

// timelineLogLimit bounds the log entries of one timeline.
const timelineLogLimit = 500

// timeline collects a work order's events, decisions, plugin calls,
// actions and log entries in one account, or in every account when
// account is "".
func (h *Handler) timeline(ctx context.Context, account string, id int64) (*Timeline, error) {
	accounts := []string{account}
	if account == "" {
		accounts = h.accounts()
	}
	t := &Timeline{WorkOrderID: id, Accounts: []string{}, Entries: []TimelineEntry{}}
	var allEvents []store.Event
	var allActions []store.OutboxAction
	for _, acc := range accounts {
		evs, err := h.st.EventsForWorkOrder(ctx, acc, id)
		if err != nil {
			return nil, fmt.Errorf("events of work order %d: %w", id, err)
		}
		acts, err := h.st.ActionsForWorkOrder(ctx, acc, id)
		if err != nil {
			return nil, fmt.Errorf("actions of work order %d: %w", id, err)
		}
		if len(evs)+len(acts) > 0 || account != "" {
			t.Accounts = append(t.Accounts, acc)
		}
		t.Events += len(evs)
		t.Actions += len(acts)
		allEvents = append(allEvents, evs...)
		allActions = append(allActions, acts...)
	}
	// The log is queried once for all accounts (or the one asked for).
	logs, err := h.st.QueryLog(ctx, store.LogFilter{Account: account, WorkOrderID: id, Limit: timelineLogLimit})
	if err != nil {
		return nil, fmt.Errorf("log of work order %d: %w", id, err)
	}
	t.LogTruncated = len(logs) == timelineLogLimit
	for _, e := range logs {
		if account == "" && !contains(t.Accounts, e.Account) {
			t.Accounts = append(t.Accounts, e.Account)
		}
	}
	t.Entries = orderTimeline(allEvents, allActions, logs)
	sort.Strings(t.Accounts)
	return t, nil
}

// Steps within one event's chain.
const (
	stepWebhook  = 0  // the inbound call that delivered the event
	stepEvent    = 10 // received
	stepDispatch = 20 // calls made while dispatching (fetching the work order)
	stepDecision = 30
	stepPlugin   = 40 // + rule index
	stepDead     = 90
	stepActions  = 100 // + 10 per action: created, its calls, sent
)

// orderTimeline builds the entries and puts them in causal order: each
// event starts a chain (the webhook call that delivered it, received,
// decision, plugin calls, its actions, each followed by the CorrigoPro
// calls that sent it and by sent), chains ordered by arrival. Log
// entries join the chain they belong to: an inbound call by its
// MessageId, an outbound call to the action whose endpoint it called
// (else the newest action created before it and not yet sent), else the
// event being dispatched at the time; the rest stand alone at their
// time. Clocks of different machines cannot reorder a chain.
func orderTimeline(evs []store.Event, acts []store.OutboxAction, logs []store.LogEntry) []TimelineEntry {
	out := []TimelineEntry{}
	byID := map[int64]*store.Event{}
	byMsg := map[string]*store.Event{}
	for i := range evs {
		e := &evs[i]
		byID[e.ID] = e
		if e.MessageID != "" {
			byMsg[e.Account+"\x00"+e.MessageID] = e
		}
		for _, en := range eventEntries(e) {
			en.chain, en.anchor = e.ID, e.ReceivedAt
			out = append(out, en)
		}
	}
	sort.Slice(acts, func(i, j int) bool { return acts[i].ID < acts[j].ID })
	rank := map[int64]int{}     // action id → its step base
	perEvent := map[int64]int{} // actions seen per event
	for i := range acts {
		a := &acts[i]
		base := stepActions + 10*perEvent[a.EventID]
		perEvent[a.EventID]++
		rank[a.ID] = base
		chain, anchor := a.EventID, a.CreatedAt
		if e, ok := byID[a.EventID]; ok {
			anchor = e.ReceivedAt
		} else {
			chain = -a.ID // its event is gone (pruned): a chain of its own
		}
		for j, en := range actionEntries(a) {
			en.chain, en.anchor, en.step = chain, anchor, base+5*j
			out = append(out, en)
		}
	}
	for _, l := range logs {
		en := logEntry(l)
		en.chain, en.anchor = -1<<62+l.ID, l.Time // alone, at its time
		if l.Direction == "inbound" {
			if e, ok := byMsg[l.Account+"\x00"+l.MessageID]; ok && l.MessageID != "" {
				en.chain, en.anchor, en.step = e.ID, e.ReceivedAt, stepWebhook
			}
		} else if a := actionOfCall(acts, l); a != nil {
			en.chain, en.step = a.EventID, rank[a.ID]+1
			if e, ok := byID[a.EventID]; ok {
				en.anchor = e.ReceivedAt
			} else {
				en.chain, en.anchor = -a.ID, a.CreatedAt
			}
		} else if e := eventDispatching(evs, l); e != nil {
			en.chain, en.anchor, en.step = e.ID, e.ReceivedAt, stepDispatch
		}
		out = append(out, en)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		switch {
		case !a.anchor.Equal(b.anchor):
			return a.anchor.Before(b.anchor)
		case a.chain != b.chain:
			return a.chain < b.chain
		case a.step != b.step:
			return a.step < b.step
		}
		return a.Time.Before(b.Time)
	})
	return out
}

func logEntry(e store.LogEntry) TimelineEntry {
	sum := e.Direction + " " + strings.TrimSpace(e.Method+" "+e.URL)
	if e.Status != 0 {
		sum += " → " + strconv.Itoa(e.Status)
	}
	en := TimelineEntry{Time: e.Time, Type: "http", Account: e.Account, Summary: sum, Severity: e.Severity, LogID: e.ID}
	if e.Error != "" {
		en.Why = e.Error
	}
	if e.MessageID != "" {
		en.Detail = "MessageId " + e.MessageID
	}
	return en
}

// kindEndpoints are the CorrigoPro Direct paths each action kind calls
// (pluginapi.ActionKind), to tell which action an outbound call sent.
var kindEndpoints = map[string]string{
	"accept": "/workorder/accept", "reject": "/workorder/reject", "check_in": "/workorder/checkin",
	"pause": "/workorder/pause", "check_out": "/workorder/checkout", "work_done_details": "/workorder/workdonedetails",
	"quote": "/workorder/quotesubmit", "invoice_update": "/invoice", "invoice_submit": "/invoice/submit",
	"note": "/workorder/note", "message": "/messages", "appointment": "/workorder/appointmentinfo",
}

// actionOfCall finds the action an outbound call was made for: the
// newest of the account's actions created before the call whose
// endpoint the call's URL ends with, or, for calls to no action's
// endpoint (the guard reading the work order), the newest action created
// before the call and not sent before it.
func actionOfCall(acts []store.OutboxAction, l store.LogEntry) *store.OutboxAction {
	path := strings.ToLower(l.URL)
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	var byEndpoint, byTime *store.OutboxAction
	for i := range acts {
		a := &acts[i]
		if a.Account != l.Account || a.CreatedAt.After(l.Time) {
			continue
		}
		if ep := kindEndpoints[a.Kind]; ep != "" && strings.HasSuffix(path, ep) {
			byEndpoint = a
		}
		if a.SentAt.IsZero() || !a.SentAt.Before(l.Time) {
			byTime = a
		}
	}
	if byEndpoint != nil {
		return byEndpoint
	}
	return byTime
}

// eventDispatching finds the event whose dispatch was under way when an
// outbound call was made: received before the call, handled after it.
func eventDispatching(evs []store.Event, l store.LogEntry) *store.Event {
	var found *store.Event
	for i := range evs {
		e := &evs[i]
		if e.Account == l.Account && !e.ReceivedAt.After(l.Time) && (e.HandledAt.IsZero() || !e.HandledAt.Before(l.Time)) {
			found = e
		}
	}
	return found
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func eventEntries(e *store.Event) []TimelineEntry {
	recv := TimelineEntry{Time: e.ReceivedAt, Type: "event", Account: e.Account, EventID: e.ID, Status: string(e.Status),
		Summary: fmt.Sprintf("%s received via %s", orDash(e.Action), orDash(string(e.Source))), Severity: "info", step: stepEvent}
	if e.MessageID != "" {
		recv.Detail = "MessageId " + e.MessageID
	}
	if !e.ActionDate.IsZero() {
		recv.Detail += " · ActionDate " + e.ActionDate.UTC().Format(time.RFC3339)
	}
	out := []TimelineEntry{recv}
	at := e.HandledAt
	if at.IsZero() {
		at = e.ReceivedAt
	}
	if rec, err := store.DecodeDecision(e.Decision); len(e.Decision) > 0 && err == nil {
		d := TimelineEntry{Time: at, Type: "decision", Account: e.Account, EventID: e.ID, Severity: "info", step: stepDecision}
		var names []string
		for _, r := range rec.Rules {
			names = append(names, r.Rule)
		}
		switch {
		case rec.Skipped != "":
			d.Summary = "skipped: " + rec.Skipped
		case len(names) == 0:
			d.Summary = "no rule matched"
		default:
			d.Summary = "rules matched: " + strings.Join(names, ", ")
			if rec.Stopped {
				d.Summary += " (stopped)"
			}
		}
		if e.ConfigVersion != "" {
			d.Detail = "config " + e.ConfigVersion
		}
		out = append(out, d)
		for i, r := range rec.Rules {
			if r.Plugin == "" {
				continue
			}
			c := TimelineEntry{Time: at, Type: "plugin_call", Account: e.Account, EventID: e.ID, Rule: r.Rule, Plugin: r.Plugin,
				PluginMS: r.Millis, Severity: "info", step: stepPlugin + i,
				Summary: fmt.Sprintf("rule %s → plugin %s: %d action(s) in %.1f ms", r.Rule, r.Plugin, r.Actions, r.Millis)}
			if r.Shadow {
				c.Summary += " (shadow)"
			}
			var refused []string
			for _, x := range r.Refused {
				refused = append(refused, fmt.Sprintf("#%d %s refused: %s", x.Index, x.Kind, x.Reason))
			}
			if len(refused) > 0 {
				c.Severity = "warn"
				c.Detail = strings.Join(refused, "; ")
				c.Why = c.Detail
			}
			out = append(out, c)
		}
	}
	if e.Status == store.EventDead || e.Status == store.EventParked || e.Status == store.EventIgnored {
		sev := "error"
		if e.Status == store.EventIgnored {
			sev = "warn"
		}
		out = append(out, TimelineEntry{Time: at, Type: "dead_letter", Account: e.Account, EventID: e.ID, Status: string(e.Status),
			Summary: "event is " + string(e.Status) + " after " + strconv.Itoa(e.Attempts) + " attempt(s)", Detail: e.LastError,
			Why: e.LastError, Severity: sev, Ref: ref{"event", e.ID}.String(), step: stepDead})
	} else if e.Status == store.EventPending && e.LastError != "" {
		out = append(out, TimelineEntry{Time: at, Type: "dead_letter", Account: e.Account, EventID: e.ID, Status: string(e.Status),
			Summary: "retrying after " + strconv.Itoa(e.Attempts) + " attempt(s)", Detail: e.LastError, Why: e.LastError, Severity: "warn", step: stepDead})
	}
	return out
}

func actionEntries(a *store.OutboxAction) []TimelineEntry {
	c := TimelineEntry{Time: a.CreatedAt, Type: "action", Account: a.Account, EventID: a.EventID, ActionID: a.ID, Rule: a.Rule,
		Plugin: a.Plugin, Status: string(a.Status), Severity: "info",
		Summary: fmt.Sprintf("%s created by rule %s (plugin %s), now %s", a.Kind, orDash(a.Rule), orDash(a.Plugin), a.Status)}
	switch a.Status {
	case store.ActionDead, store.ActionParked, store.ActionRefused, store.ActionIgnored:
		c.Severity = "error"
		if a.Status == store.ActionRefused || a.Status == store.ActionIgnored {
			c.Severity = "warn"
		}
		c.Detail = a.LastError
		c.Why = a.LastError
		c.Ref = ref{"action", a.ID}.String()
	default:
		if a.LastError != "" {
			c.Detail = "last error: " + a.LastError
		}
	}
	if a.Kind == "reject" {
		// The plugin's reason, sent to CorrigoPro as the reject comment.
		var p struct{ Comment string }
		if json.Unmarshal(a.Payload, &p) == nil && p.Comment != "" {
			c.Why = strings.TrimSpace("plugin's reason: " + p.Comment + "; " + c.Why)
			c.Why = strings.TrimSuffix(c.Why, ";")
		}
	}
	out := []TimelineEntry{c}
	if !a.SentAt.IsZero() {
		out = append(out, TimelineEntry{Time: a.SentAt, Type: "action_sent", Account: a.Account, EventID: a.EventID, ActionID: a.ID,
			Rule: a.Rule, Plugin: a.Plugin, Status: string(a.Status), Severity: "info",
			Summary: fmt.Sprintf("%s sent to CorrigoPro after %d attempt(s)", a.Kind, a.Attempts), Detail: sentNote(a)})
	}
	return out
}

// sentNote is what egress noted on a sent action (e.g. "already
// accepted: not sent again").
func sentNote(a *store.OutboxAction) string {
	if a.Status == store.ActionSent && a.LastError != "" {
		return a.LastError
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (h *Handler) apiTimeline(w http.ResponseWriter, r *http.Request) {
	id, err := parseID("id", r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	if err := checkParams(q, []string{"account"}); err != nil {
		h.fail(w, r, err)
		return
	}
	acc, err := checkAccount(q.Get("account"), h.accounts())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if acc == "" && len(h.accounts()) == 0 {
		h.fail(w, r, badField("account", "required: the admin handler does not know the configured accounts"))
		return
	}
	t, err := h.timeline(r.Context(), acc, id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// Runtime views.

func (h *Handler) rules() []RuleInfo {
	if h.rt == nil {
		return []RuleInfo{}
	}
	if rs := h.rt.Rules(); rs != nil {
		return rs
	}
	return []RuleInfo{}
}

func (h *Handler) plugins() []PluginInfo {
	if h.rt == nil {
		return []PluginInfo{}
	}
	if ps := h.rt.Plugins(); ps != nil {
		return ps
	}
	return []PluginInfo{}
}

func (h *Handler) breakers() []BreakerInfo {
	if h.rt == nil {
		return []BreakerInfo{}
	}
	if bs := h.rt.Breakers(); bs != nil {
		return bs
	}
	return []BreakerInfo{}
}

func (h *Handler) apiRules(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"rules": h.rules(), "config_version": h.configVersion()})
}

func (h *Handler) apiPlugins(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"plugins": h.plugins()})
}

func (h *Handler) apiBreakers(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"breakers": h.breakers()})
}

// BacklogView is one account's pending work.
type BacklogView struct {
	Account             string    `json:"account"`
	PendingEvents       int       `json:"pending_events"`
	OldestEvent         time.Time `json:"oldest_event,omitzero"`
	OldestEventAgeSecs  float64   `json:"oldest_event_age_seconds"`
	PendingActions      int       `json:"pending_actions"`
	OldestAction        time.Time `json:"oldest_action,omitzero"`
	OldestActionAgeSecs float64   `json:"oldest_action_age_seconds"`
}

func (h *Handler) backlog(ctx context.Context) ([]BacklogView, error) {
	bl, err := h.st.Backlog(ctx)
	if err != nil {
		return nil, fmt.Errorf("backlog: %w", err)
	}
	now := h.o.Now()
	names := make([]string, 0, len(bl))
	for k := range bl {
		names = append(names, k)
	}
	for _, a := range h.accounts() {
		if _, ok := bl[a]; !ok {
			names = append(names, a)
		}
	}
	sort.Strings(names)
	out := make([]BacklogView, 0, len(names))
	for _, n := range names {
		b := bl[n]
		v := BacklogView{Account: n, PendingEvents: b.PendingEvents, PendingActions: b.PendingActions}
		if b.PendingEvents > 0 && !b.OldestEvent.IsZero() {
			v.OldestEvent, v.OldestEventAgeSecs = b.OldestEvent, max(0, now.Sub(b.OldestEvent).Seconds())
		}
		if b.PendingActions > 0 && !b.OldestAction.IsZero() {
			v.OldestAction, v.OldestActionAgeSecs = b.OldestAction, max(0, now.Sub(b.OldestAction).Seconds())
		}
		out = append(out, v)
	}
	return out, nil
}

func (h *Handler) apiBacklog(w http.ResponseWriter, r *http.Request) {
	b, err := h.backlog(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"backlog": b})
}

// Status is the overview the health page shows.
type Status struct {
	ConfigVersion string        `json:"config_version,omitempty"`
	Accounts      []string      `json:"accounts"`
	StoreOK       bool          `json:"store_ok"`
	StoreError    string        `json:"store_error,omitempty"`
	Backlog       []BacklogView `json:"backlog"`
	Plugins       []PluginInfo  `json:"plugins"`
	Breakers      []BreakerInfo `json:"breakers"`
	DeadLetters   int           `json:"dead_letters"` // unresolved, capped at 1000
	// Reload is the last config reload attempt, when the runtime reports
	// reloads (ReloadReporter).
	Reload *ReloadInfo `json:"reload,omitempty"`
	// WebhookSignatures says, per account with a webhook, which
	// hash/signed-bytes combination verified its tokens
	// (SignatureReporter).
	WebhookSignatures []WebhookSignatureInfo `json:"webhook_signatures,omitempty"`
}

func (h *Handler) status(ctx context.Context) Status {
	s := Status{ConfigVersion: h.configVersion(), Accounts: h.accounts(), Plugins: h.plugins(), Breakers: h.breakers(), Backlog: []BacklogView{}}
	if s.Accounts == nil {
		s.Accounts = []string{}
	}
	if rr, ok := h.rt.(ReloadReporter); ok {
		if ri, ok := rr.LastReload(); ok {
			s.Reload = &ri
		}
	}
	if sr, ok := h.rt.(SignatureReporter); ok {
		if sigs, ok := sr.WebhookSignatures(); ok {
			s.WebhookSignatures = sigs
		}
	}
	if err := h.st.Ping(ctx); err != nil {
		s.StoreError = err.Error()
		return s
	}
	s.StoreOK = true
	if b, err := h.backlog(ctx); err == nil {
		s.Backlog = b
	} else {
		s.StoreError = err.Error()
	}
	if dls, err := h.st.ListDeadLetters(ctx, store.DeadLetterFilter{Limit: 1000}); err == nil {
		s.DeadLetters = len(dls)
	}
	return s
}

func (h *Handler) apiStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.status(r.Context()))
}
