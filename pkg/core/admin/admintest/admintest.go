// Package admintest seeds a store with a known set of events, actions,
// dead letters and communication log entries, and provides a fixed
// admin.Runtime, for tests of the admin API, its web UI and the dlq CLI.
// It goes through the store's public interface only (insert, claim,
// complete, finish), so the seeded rows are exactly what the pipeline
// would have written.
package admintest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wogate/wogate/pkg/core/admin"
	"github.com/wogate/wogate/pkg/core/store"
)

// Accounts are the seeded accounts.
var Accounts = []string{"acme", "globex"}

// Seeded names the rows Seed wrote.
type Seeded struct {
	// Work order 1001 (acme): NewWorkOrder handled by rule erp-new,
	// producing an accept (sent) and a note (dead).
	DoneEvent  int64
	SentAction int64
	DeadAction int64
	// Work order 1002 (acme): CheckedIn, dead.
	DeadEvent int64
	// Work order 1003 (acme): Accepted, parked.
	ParkedEvent int64
	// Work order 2001 (globex): NewWorkOrder, dead.
	GlobexDeadEvent int64
	// Work order 1004 (acme): a check_out the guard refused.
	RefusedAction int64
	// Work order 1005 (acme): pending, never dispatched.
	PendingEvent int64
	// LogEntries is how many log entries were appended.
	LogEntries int
	// Base is when the first event arrived: an hour before Seed ran, to
	// the second. Event k (in the order above) arrived k minutes later.
	// Decisions, actions and outbound calls carry the store's clock (the
	// time Seed ran), as they would in a live gateway.
	Base time.Time
}

func body(wo int64, action, msg string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"Header":{"WorkOrderId":%d,"Action":%q,"MessageId":%q,"ActionDate":"2026-03-02T09:00:00Z"},"Payload":{"WorkOrderNumber":"WO-%d"}}`, wo, action, msg, wo))
}

func decision(rules ...string) json.RawMessage {
	var rec store.Decision
	for _, r := range rules {
		rec.Rules = append(rec.Rules, store.RuleDecision{Rule: r, Plugin: "erp", Actions: 2, Millis: 3.25})
	}
	b, _ := rec.Encode()
	return b
}

// Seed writes the fixture into an empty store.
func Seed(ctx context.Context, st store.Store) (*Seeded, error) {
	s := &Seeded{Base: time.Now().UTC().Truncate(time.Second).Add(-time.Hour)}
	base := s.Base
	type evSpec struct {
		id      *int64
		account string
		wo      int64
		action  string
		at      time.Duration
	}
	specs := []evSpec{
		{&s.DoneEvent, "acme", 1001, "NewWorkOrder", 0},
		{&s.DeadEvent, "acme", 1002, "CheckedIn", time.Minute},
		{&s.ParkedEvent, "acme", 1003, "Accepted", 2 * time.Minute},
		{&s.GlobexDeadEvent, "globex", 2001, "NewWorkOrder", 3 * time.Minute},
		{new(int64), "acme", 1004, "CheckedOut", 4 * time.Minute},
		{&s.PendingEvent, "acme", 1005, "Paused", 5 * time.Minute},
	}
	for i, sp := range specs {
		msg := fmt.Sprintf("msg-%d-%d", sp.wo, i)
		e := &store.Event{Account: sp.account, MessageID: msg, WorkOrderID: sp.wo, Action: sp.action,
			ActionDate: base.Add(sp.at), ReceivedAt: base.Add(sp.at), Source: "webhook", Body: body(sp.wo, sp.action, msg)}
		if sp.wo == 1005 {
			e.NextAt = base.Add(100 * 365 * 24 * time.Hour) // stays pending, never claimed
		}
		if _, err := st.InsertEvent(ctx, e); err != nil {
			return nil, fmt.Errorf("seed event: %w", err)
		}
		*sp.id = e.ID
	}
	const owner = "admintest"
	evs, err := st.ClaimEvents(ctx, owner, time.Minute, 100)
	if err != nil {
		return nil, fmt.Errorf("seed claim: %w", err)
	}
	if len(evs) != 5 {
		return nil, fmt.Errorf("seed claim: got %d events, want 5", len(evs))
	}
	for _, e := range evs {
		var out store.Outcome
		switch e.WorkOrderID {
		case 1001:
			out = store.Outcome{Status: store.EventDone, Decision: decision("erp-new"), ConfigVersion: "cfg-1", Actions: []store.OutboxAction{
				{IdempotencyKey: "k-1001-0", WorkOrderID: 1001, Rule: "erp-new", Plugin: "erp", Kind: "accept", Payload: json.RawMessage(`{"kind":"accept","work_order_id":1001}`)},
				{IdempotencyKey: "k-1001-1", WorkOrderID: 1001, Rule: "erp-new", Plugin: "erp", Kind: "note", Payload: json.RawMessage(`{"kind":"note","work_order_id":1001,"note":"hello"}`)},
			}}
		case 1002:
			out = store.Outcome{Status: store.EventDead, Decision: decision("erp-all"), ConfigVersion: "cfg-1", LastError: `rule "erp-all": plugin "erp": unknown site 77`}
		case 1003:
			out = store.Outcome{Status: store.EventParked, ConfigVersion: "cfg-1", LastError: `rule "notify": plugin "mailer" is not configured`}
		case 2001:
			out = store.Outcome{Status: store.EventDead, ConfigVersion: "cfg-1", LastError: "stored body does not decode"}
		case 1004:
			out = store.Outcome{Status: store.EventDone, Decision: decision("erp-all"), ConfigVersion: "cfg-1", Actions: []store.OutboxAction{
				{IdempotencyKey: "k-1004-0", WorkOrderID: 1004, Rule: "erp-all", Plugin: "erp", Kind: "check_out", Payload: json.RawMessage(`{"kind":"check_out","work_order_id":1004}`)},
			}}
		}
		if err := st.CompleteEvent(ctx, e.ID, owner, out); err != nil {
			return nil, fmt.Errorf("seed complete %d: %w", e.ID, err)
		}
	}
	// Actions: the heads of lanes 1001 and 1004, then 1001's second.
	for round := 0; round < 2; round++ {
		acts, err := st.ClaimActions(ctx, owner, time.Minute, 100)
		if err != nil {
			return nil, fmt.Errorf("seed claim actions: %w", err)
		}
		for _, a := range acts {
			var status store.ActionStatus
			var msg string
			switch a.IdempotencyKey {
			case "k-1001-0":
				status, s.SentAction = store.ActionSent, a.ID
			case "k-1001-1":
				status, msg, s.DeadAction = store.ActionDead, "corrigo: 400 validation: note text too long", a.ID
			case "k-1004-0":
				status, msg, s.RefusedAction = store.ActionRefused, "guard: check-out needs completion notes (customer settings)", a.ID
			default:
				return nil, fmt.Errorf("seed: unexpected action %q", a.IdempotencyKey)
			}
			if err := st.FinishAction(ctx, a.ID, owner, status, msg); err != nil {
				return nil, fmt.Errorf("seed finish action %d: %w", a.ID, err)
			}
		}
	}
	if s.SentAction == 0 || s.DeadAction == 0 || s.RefusedAction == 0 {
		return nil, fmt.Errorf("seed: actions not all finished: %+v", s)
	}

	var entries []store.LogEntry
	now := time.Now().UTC()
	add := func(at time.Time, acc, dir, sev, method, url string, status int, wo int64, cust, errText string) {
		entries = append(entries, store.LogEntry{Time: at, Duration: 42 * time.Millisecond, Account: acc, Direction: dir, Severity: sev,
			Method: method, URL: url, Status: status, WorkOrderID: wo, WorkOrderNumber: fmt.Sprintf("WO-%d", wo), Customer: cust,
			MessageID: fmt.Sprintf("log-%d", len(entries)), Request: `{"WorkOrderId":` + fmt.Sprint(wo) + `}`, Response: `{"ok":true}`, Error: errText})
	}
	add(base, "acme", "inbound", "info", "POST", "/webhooks/corrigo/acme", 200, 1001, "Contoso Retail", "")
	add(now, "acme", "outbound", "info", "PUT", "https://am-api.corrigopro.com/Direct/api/workOrder/accept", 200, 1001, "Contoso Retail", "")
	add(now.Add(time.Millisecond), "acme", "outbound", "warn", "PUT", "https://am-api.corrigopro.com/Direct/api/workOrder/note", 400, 1001, "Contoso Retail", "validation: note text too long")
	add(base.Add(time.Minute), "acme", "inbound", "info", "POST", "/webhooks/corrigo/acme", 200, 1002, "Fabrikam Foods", "")
	add(base.Add(2*time.Minute), "acme", "inbound", "info", "POST", "/webhooks/corrigo/acme", 200, 1003, "Fabrikam Foods", "")
	add(base.Add(3*time.Minute), "globex", "inbound", "info", "POST", "/webhooks/corrigo/globex", 200, 2001, "Northwind", "")
	add(base.Add(3*time.Minute+time.Second), "globex", "outbound", "error", "GET", "https://emea-api.corrigopro.com/Direct/api/workOrder/2001", 503, 2001, "Northwind", "service unavailable")
	add(base.Add(4*time.Minute), "acme", "inbound", "warn", "POST", "/webhooks/corrigo/acme", 401, 0, "", "invalid webhook token: expired")
	if err := st.AppendLog(ctx, entries...); err != nil {
		return nil, fmt.Errorf("seed log: %w", err)
	}
	s.LogEntries = len(entries)
	return s, nil
}

// Runtime is a fixed admin.Runtime.
type Runtime struct {
	Version       string
	RuleList      []admin.RuleInfo
	PluginList    []admin.PluginInfo
	BreakerList   []admin.BreakerInfo
	AccountsNames []string
}

// NewRuntime returns a runtime matching the seeded data.
func NewRuntime() *Runtime {
	since := time.Now().UTC().Truncate(time.Second).Add(-2 * time.Hour)
	return &Runtime{
		Version:       "cfg-2",
		AccountsNames: append([]string(nil), Accounts...),
		RuleList: []admin.RuleInfo{
			{Index: 0, Name: "erp-new", When: `event.action == "NewWorkOrder"`, Plugin: "erp", Hits: 7, HitsSince: since},
			{Index: 1, Name: "erp-all", When: `true`, Plugin: "erp", Stop: true, Hits: 12, HitsSince: since},
			{Index: 2, Name: "notify", When: `event.action == "Accepted"`, Plugin: "mailer", Shadow: true, HitsSince: since},
		},
		PluginList: []admin.PluginInfo{
			{Name: "erp", State: "running", Since: since, PID: 4242, Version: "1.2.0", Protocol: 1},
			{Name: "mailer", State: "quarantined", Since: since, Restarts: 3, RecentCrashes: 5, LastError: "exit status 2", LastErrorAt: since},
		},
		BreakerList: []admin.BreakerInfo{{Account: "acme", State: "closed"}, {Account: "globex", State: "open"}},
	}
}

// Accounts implements admin.Runtime.
func (r *Runtime) Accounts() []string { return r.AccountsNames }

// ConfigVersion implements admin.Runtime.
func (r *Runtime) ConfigVersion() string { return r.Version }

// Rules implements admin.Runtime.
func (r *Runtime) Rules() []admin.RuleInfo { return r.RuleList }

// Plugins implements admin.Runtime.
func (r *Runtime) Plugins() []admin.PluginInfo { return r.PluginList }

// Breakers implements admin.Runtime.
func (r *Runtime) Breakers() []admin.BreakerInfo { return r.BreakerList }
