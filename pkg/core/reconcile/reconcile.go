// Package reconcile is the gateway's safety net for webhooks that never
// arrive. Periodically it searches CorrigoPro for the work orders changed
// within a window, compares them with what the store has seen, and fills
// the gaps as events: a NewWorkOrder (with the full work order) for a work
// order the gateway never heard of, and a status-change notification for a
// work order whose status moved without the gateway being told. It also
// reports webhook silence: no notification for longer than a configured
// time while the search keeps finding changes the webhooks should have
// brought.
//
// Reconciliation writes to the store like the webhook and the poller do and
// nothing else; dispatch cannot tell a filled gap from a webhook but by
// Source "reconcile". Synthetic MessageIds are derived from the work order,
// its status and its LastUpdate, so a gap is filled once however many
// rounds (or replicas) see it.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// Source is the Source of the events reconciliation stores.
const Source = store.SourceReconcile

// API is the part of *corrigo.Client reconciliation uses.
type API interface {
	SearchWorkOrders(ctx context.Context, p corrigo.SearchParameters) ([]corrigo.WorkOrderSummary, error)
	GetWorkOrders(ctx context.Context, ids []int64) ([]corrigo.WorkOrder, error)
}

// Store is the part of store.Store reconciliation uses.
type Store interface {
	InsertEvent(ctx context.Context, e *store.Event) (bool, error)
	SeenWorkOrders(ctx context.Context, account string, ids []int64) (map[int64]bool, error)
	EventsForWorkOrder(ctx context.Context, account string, workOrderID int64) ([]store.Event, error)
	ActionsForWorkOrder(ctx context.Context, account string, workOrderID int64) ([]store.OutboxAction, error)
	QueryLog(ctx context.Context, f store.LogFilter) ([]store.LogEntry, error)
}

// Options configure one account's reconciler.
type Options struct {
	Account string
	API     API
	Store   Store
	// Interval between rounds; default 1 hour.
	Interval time.Duration
	// Window is how far back each round searches by LastUpdate; default
	// 24 hours. Unseen work orders are filled only if they were created
	// within it, so the store must keep events at least this long (the
	// gateway raises its retention to the longest window).
	Window time.Duration
	// Settle leaves changes younger than this to the webhook for one more
	// round, so a notification merely in flight (or in CorrigoPro's retry
	// queue for a minute) is not doubled by a synthetic one. Default half
	// the interval, at most 2 minutes.
	Settle time.Duration
	// SilenceAlert: when no webhook arrived for this long and a round finds
	// gaps, the webhook is reported silent (warn log and OnSilence). 0
	// turns the report off.
	SilenceAlert time.Duration
	// WebhookPath is the account's webhook path; the time of the last
	// webhook is read from the communication log entries for it. Empty
	// when the webhook is disabled: there is no silence to report then.
	WebhookPath string
	// LastWebhook, if set, is asked instead of the communication log.
	LastWebhook func(ctx context.Context) (time.Time, error)
	// OnStored is called after each event is stored (to wake dispatch).
	OnStored func(*store.Event)
	// OnSilence is called after each round that finds the webhook silent,
	// and once with Silent false when it speaks again (metrics, health).
	OnSilence func(Silence)
	Logger    *slog.Logger
	Now       func() time.Time
}

// Silence describes a silent (or recovered) webhook.
type Silence struct {
	Account string
	Silent  bool
	// LastWebhook is when the last webhook arrived (zero: none since the
	// reconciler started and none in the communication log).
	LastWebhook time.Time
	// For is how long the webhook has been quiet.
	For time.Duration
	// Gaps is how many changes rounds found, since the last webhook, that
	// no webhook brought.
	Gaps int
}

// Result is what one round found and did.
type Result struct {
	Checked    int // work orders changed within the window
	Unseen     int // of those, never seen by the gateway
	StatusGaps int // seen, but their status moved without a notification
	Stored     int // events stored (gaps already filled are not counted)
	Skipped    int // left alone: still settling, the gateway is busy with them, or unseen but created before the window
	Silent     bool
}

// Gaps is the number of changes no webhook brought.
func (r Result) Gaps() int { return r.Unseen + r.StatusGaps }

// Reconciler runs the rounds of one account.
type Reconciler struct {
	o       Options
	log     *slog.Logger
	started time.Time

	mu        sync.Mutex
	silent    bool
	quietGaps int       // changes found since the last webhook
	lastGap   time.Time // when a round last found one
	last      Result
	rounds    int
}

// New checks opts and returns a reconciler.
func New(o Options) (*Reconciler, error) {
	if o.Account == "" || o.API == nil || o.Store == nil {
		return nil, errors.New("reconcile: needs an account, an API client and a store")
	}
	if o.Interval <= 0 {
		o.Interval = time.Hour
	}
	if o.Window <= 0 {
		o.Window = 24 * time.Hour
	}
	if o.Settle <= 0 {
		o.Settle = min(o.Interval/2, 2*time.Minute)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Reconciler{o: o, log: log.With("account", o.Account, "component", "reconcile"), started: o.Now()}, nil
}

// Run reconciles once per Interval until ctx ends. The first round runs
// after one interval, not at start: right after a start the webhook queue
// CorrigoPro kept for the gateway is still draining.
func (r *Reconciler) Run(ctx context.Context) error {
	t := time.NewTicker(r.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		res, err := r.RunOnce(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			r.log.Warn("reconciliation failed; will retry", "err", err, "stored", res.Stored)
		case res.Stored > 0:
			r.log.Info("reconciliation filled gaps", "checked", res.Checked, "unseen", res.Unseen,
				"status_gaps", res.StatusGaps, "stored", res.Stored)
		default:
			r.log.Debug("reconciliation found no gaps", "checked", res.Checked, "skipped", res.Skipped)
		}
	}
}

// Last returns the result of the last completed round and how many rounds
// ran.
func (r *Reconciler) Last() (Result, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, r.rounds
}

// fetchBatch is CorrigoPro's limit of ids per GET api/workOrder call.
const fetchBatch = 50

// RunOnce runs one round: search, compare, fill, report.
func (r *Reconciler) RunOnce(ctx context.Context) (Result, error) {
	var res Result
	now := r.o.Now().UTC()
	found, err := r.o.API.SearchWorkOrders(ctx, corrigo.SearchParameters{
		LastUpdate: &corrigo.DateRange{From: corrigo.NewTime(now.Add(-r.o.Window)), To: corrigo.NewTime(now)},
	})
	if err != nil {
		return res, fmt.Errorf("search work orders updated in the last %v: %w", r.o.Window, err)
	}
	settled := now.Add(-r.o.Settle)
	byID := map[int64]corrigo.WorkOrderSummary{}
	ids := make([]int64, 0, len(found))
	for _, s := range found {
		if s.WorkOrderId == 0 {
			continue
		}
		if _, dup := byID[s.WorkOrderId]; dup {
			continue
		}
		res.Checked++
		if s.LastUpdate.After(settled) {
			res.Skipped++
			continue
		}
		byID[s.WorkOrderId] = s
		ids = append(ids, s.WorkOrderId)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })

	var unseen []int64
	for start := 0; start < len(ids); start += 500 {
		batch := ids[start:min(start+500, len(ids))]
		seen, err := r.o.Store.SeenWorkOrders(ctx, r.o.Account, batch)
		if err != nil {
			return res, fmt.Errorf("check seen work orders: %w", err)
		}
		for _, id := range batch {
			if !seen[id] {
				unseen = append(unseen, id)
				continue
			}
			gap, err := r.statusGap(ctx, byID[id])
			if err != nil {
				return res, err
			}
			switch gap {
			case gapBusy:
				res.Skipped++
			case gapNone:
			default:
				res.StatusGaps++
				ev, err := statusEvent(r.o.Account, byID[id], now)
				if err != nil {
					r.log.Debug("status moved without a notification, but no notification action names it",
						"work_order", id, "status", byID[id].Status, "err", err)
					res.StatusGaps--
					continue
				}
				if err := r.store(ctx, ev, &res); err != nil {
					return res, err
				}
			}
		}
	}
	// A work order created before the window may have been seen and its
	// events pruned since (retention): it is not a gap, whatever its
	// LastUpdate says. The gateway keeps events at least a window long,
	// so one created inside the window and unseen never reached it.
	horizon := now.Add(-r.o.Window)
	recent := unseen[:0]
	for _, id := range unseen {
		if c := byID[id].Created; !c.IsZero() && c.Before(horizon) {
			res.Skipped++
			r.log.Debug("unseen work order created before the window; not a gap", "work_order", id, "created", c.Time)
			continue
		}
		recent = append(recent, id)
	}
	unseen = recent
	res.Unseen = len(unseen)
	for len(unseen) > 0 {
		batch := unseen[:min(fetchBatch, len(unseen))]
		unseen = unseen[len(batch):]
		wos, err := r.o.API.GetWorkOrders(ctx, batch)
		if err != nil {
			return res, fmt.Errorf("fetch %d unseen work orders: %w", len(batch), err)
		}
		for i := range wos {
			ev, err := newWorkOrderEvent(r.o.Account, &wos[i], now)
			if err != nil {
				return res, err
			}
			if err := r.store(ctx, ev, &res); err != nil {
				return res, err
			}
		}
	}
	if err := r.checkSilence(ctx, now, &res); err != nil {
		r.log.Warn("cannot tell when the last webhook arrived", "err", err)
	}
	r.mu.Lock()
	r.last = res
	r.rounds++
	r.mu.Unlock()
	return res, nil
}

func (r *Reconciler) store(ctx context.Context, ev *store.Event, res *Result) error {
	inserted, err := r.o.Store.InsertEvent(ctx, ev)
	if err != nil {
		return fmt.Errorf("store reconciled event for work order %d: %w", ev.WorkOrderID, err)
	}
	if !inserted {
		return nil
	}
	res.Stored++
	r.log.Info("reconciliation stored a missed change", "work_order", ev.WorkOrderID, "action", ev.Action, "message_id", ev.MessageID)
	if r.o.OnStored != nil {
		r.o.OnStored(ev)
	}
	return nil
}

// checkSilence decides whether the webhook is silent: quiet for longer
// than SilenceAlert while rounds during that quiet time found changes it
// should have brought.
func (r *Reconciler) checkSilence(ctx context.Context, now time.Time, res *Result) error {
	if r.o.SilenceAlert <= 0 || (r.o.WebhookPath == "" && r.o.LastWebhook == nil) {
		return nil
	}
	last, err := r.lastWebhook(ctx)
	if err != nil {
		return err
	}
	quietSince := last
	if quietSince.Before(r.started) {
		quietSince = r.started
	}
	quiet := now.Sub(quietSince)

	r.mu.Lock()
	if r.lastGap.Before(quietSince) {
		r.quietGaps = 0 // those changes came before the last webhook
	}
	if res.Gaps() > 0 {
		r.quietGaps += res.Gaps()
		r.lastGap = now
	}
	gaps := r.quietGaps
	silent := quiet > r.o.SilenceAlert && gaps > 0
	was := r.silent
	r.silent = silent
	r.mu.Unlock()

	res.Silent = silent
	s := Silence{Account: r.o.Account, Silent: silent, LastWebhook: last, For: quiet, Gaps: gaps}
	switch {
	case silent:
		attrs := []any{"quiet_for", quiet.Round(time.Second).String(), "changes_found", gaps, "alert_after", r.o.SilenceAlert.String()}
		if last.IsZero() {
			attrs = append(attrs, "last_webhook", "none")
		} else {
			attrs = append(attrs, "last_webhook", last.Format(time.RFC3339))
		}
		r.log.Warn("webhook silence: no notification arrived while CorrigoPro changed work orders; check the webhook URL and certificate in CorrigoPro Desktop", attrs...)
	case was:
		r.log.Info("webhook silence ended", "last_webhook", last.Format(time.RFC3339))
	}
	if r.o.OnSilence != nil && (silent || was) {
		r.o.OnSilence(s)
	}
	return nil
}

// lastWebhook is when the last webhook (2xx, duplicates included) arrived,
// read from the communication log so it survives restarts and is shared
// by replicas.
func (r *Reconciler) lastWebhook(ctx context.Context) (time.Time, error) {
	if r.o.LastWebhook != nil {
		return r.o.LastWebhook(ctx)
	}
	entries, err := r.o.Store.QueryLog(ctx, store.LogFilter{Account: r.o.Account, Direction: "inbound", Limit: 200})
	if err != nil {
		return time.Time{}, fmt.Errorf("read communication log: %w", err)
	}
	for _, e := range entries {
		if e.URL == r.o.WebhookPath && e.Status >= 200 && e.Status < 300 {
			return e.Time, nil
		}
	}
	return time.Time{}, nil
}

type gapKind int

const (
	gapNone gapKind = iota
	gapStatus
	gapBusy // the gateway still has pending work for it: compare later
)

// statusGap compares CorrigoPro's status with the last status the gateway
// knows: from the notifications it handled and the actions it sent.
func (r *Reconciler) statusGap(ctx context.Context, s corrigo.WorkOrderSummary) (gapKind, error) {
	if s.Status == "" {
		return gapNone, nil
	}
	evs, err := r.o.Store.EventsForWorkOrder(ctx, r.o.Account, s.WorkOrderId)
	if err != nil {
		return gapNone, fmt.Errorf("read events of work order %d: %w", s.WorkOrderId, err)
	}
	acts, err := r.o.Store.ActionsForWorkOrder(ctx, r.o.Account, s.WorkOrderId)
	if err != nil {
		return gapNone, fmt.Errorf("read actions of work order %d: %w", s.WorkOrderId, err)
	}
	known, busy := KnownStatus(evs, acts)
	if busy {
		return gapBusy, nil
	}
	if known == "" || known == s.Status {
		return gapNone, nil
	}
	return gapStatus, nil
}

// KnownStatus is the last status of a work order the gateway knows of: the
// latest of the statuses its notifications carried (by ActionDate) and the
// statuses its sent actions set (by SentAt). busy is true while an event or
// action of the work order is pending: the comparison would be premature.
func KnownStatus(evs []store.Event, acts []store.OutboxAction) (status corrigo.Status, busy bool) {
	var at time.Time
	consider := func(st corrigo.Status, t time.Time) {
		if st != "" && !t.Before(at) {
			status, at = st, t
		}
	}
	for _, e := range evs {
		if e.Status == store.EventPending {
			return "", true
		}
		if e.Status != store.EventDone {
			continue
		}
		n, err := corrigo.DecodeNotification(e.Body)
		if err != nil {
			continue
		}
		t := e.ActionDate
		if t.IsZero() {
			t = e.ReceivedAt
		}
		consider(statusOf(n), t)
	}
	for _, a := range acts {
		if a.Status == store.ActionPending {
			return "", true
		}
		if a.Status != store.ActionSent {
			continue
		}
		consider(statusAfter(pluginapi.ActionKind(a.Kind)), a.SentAt)
	}
	return status, false
}

// statusOf is the status a notification reports, "" if it reports none.
func statusOf(n *corrigo.Notification) corrigo.Status {
	switch p := n.Payload.(type) {
	case corrigo.NewWorkOrderPayload:
		if p.Details.Status != "" {
			return p.Details.Status
		}
		return corrigo.StatusNew
	case corrigo.CheckedOutPayload:
		return corrigo.StatusCheckedOut
	}
	if sc, ok := statusChangeOf(n.Payload); ok {
		if sc.Status != "" {
			return sc.Status
		}
		if st, ok := actionStatus[n.Header.Action]; ok {
			return st
		}
	}
	return ""
}

func statusChangeOf(p corrigo.Payload) (corrigo.StatusChange, bool) {
	switch p := p.(type) {
	case corrigo.AcceptedPayload:
		return p.StatusChange, true
	case corrigo.RejectedPayload:
		return p.StatusChange, true
	case corrigo.CheckedInPayload:
		return p.StatusChange, true
	case corrigo.PausedPayload:
		return p.StatusChange, true
	case corrigo.NeedsCompletionDetailsPayload:
		return p.StatusChange, true
	case corrigo.PutOnHoldPayload:
		return p.StatusChange, true
	case corrigo.ReopenedPayload:
		return p.StatusChange, true
	case corrigo.RecalledPayload:
		return p.StatusChange, true
	}
	return corrigo.StatusChange{}, false
}

// actionStatus is the status a status-change notification implies when its
// payload leaves Status out.
var actionStatus = map[corrigo.Action]corrigo.Status{
	corrigo.ActionAccepted:               corrigo.StatusAccepted,
	corrigo.ActionRejected:               corrigo.StatusRejected,
	corrigo.ActionCheckedIn:              corrigo.StatusCheckedIn,
	corrigo.ActionPaused:                 corrigo.StatusPaused,
	corrigo.ActionCheckedOut:             corrigo.StatusCheckedOut,
	corrigo.ActionNeedsCompletionDetails: corrigo.StatusNeedsCompletionDetails,
	corrigo.ActionPutOnHold:              corrigo.StatusOnHold,
	corrigo.ActionReopened:               corrigo.StatusNew,
	corrigo.ActionRecalled:               corrigo.StatusRecalled,
}

// statusAfter is the status a successfully sent action leaves the work
// order in, "" for actions that do not change it. A check-out may also end
// in NeedsCompletionDetails; CheckedOut is close enough to tell a later
// move apart, and a difference only costs one synthetic notification.
func statusAfter(k pluginapi.ActionKind) corrigo.Status {
	switch k {
	case pluginapi.KindAccept:
		return corrigo.StatusAccepted
	case pluginapi.KindReject:
		return corrigo.StatusRejected
	case pluginapi.KindCheckIn:
		return corrigo.StatusCheckedIn
	case pluginapi.KindPause:
		return corrigo.StatusPaused
	case pluginapi.KindCheckOut:
		return corrigo.StatusCheckedOut
	case pluginapi.KindWorkDoneDetails:
		return corrigo.StatusCheckedOut
	}
	return ""
}

// MessageID is the synthetic MessageId of a reconciled change: the same
// work order, status and LastUpdate always give the same id, so a gap
// found by several rounds (or replicas) is stored once.
func MessageID(account string, workOrderID int64, status corrigo.Status, lastUpdate time.Time) string {
	return string(Source) + "-" + account + "-" + strconv.FormatInt(workOrderID, 10) + "-" + string(status) + "-" +
		strconv.FormatInt(lastUpdate.UTC().UnixMicro(), 10)
}

var gatewaySender = corrigo.Sender{Name: "wogate reconcile", Type: "Gateway"}

// newWorkOrderEvent builds the NewWorkOrder event of a work order the
// gateway never saw, with the full work order as Details. Its ActionDate
// is the work order's creation, so it sorts before any later notification.
func newWorkOrderEvent(account string, wo *corrigo.WorkOrder, now time.Time) (*store.Event, error) {
	msgID := MessageID(account, wo.WorkOrderId, corrigo.StatusNew, wo.Created.Time)
	actionDate := wo.Created
	if actionDate.IsZero() {
		actionDate = corrigo.NewTime(now)
	}
	body, err := corrigo.NewNotification(corrigo.Header{
		WorkOrderId: wo.WorkOrderId, BranchId: wo.BranchId, Sender: &gatewaySender,
		ActionDate: actionDate, ApiVersion: "1.1", MessageId: msgID,
	}, corrigo.NewWorkOrderPayload{Details: *wo})
	if err != nil {
		return nil, fmt.Errorf("build notification for work order %d: %w", wo.WorkOrderId, err)
	}
	return &store.Event{
		Account: account, MessageID: msgID, WorkOrderID: wo.WorkOrderId,
		Action: string(corrigo.ActionNewWorkOrder), ActionDate: actionDate.Time, ReceivedAt: now,
		Source: Source, Body: body, Status: store.EventPending,
	}, nil
}

// statusEvent builds the status-change notification CorrigoPro would have
// sent for a work order now in s.Status. ActionDate is LastUpdate: the
// latest moment the change can have happened.
func statusEvent(account string, s corrigo.WorkOrderSummary, now time.Time) (*store.Event, error) {
	sc := corrigo.StatusChange{Status: s.Status, Comment: "status found by wogate reconciliation; the notification never arrived"}
	var p corrigo.Payload
	switch s.Status {
	case corrigo.StatusAccepted:
		p = corrigo.AcceptedPayload{StatusChange: sc}
	case corrigo.StatusRejected:
		p = corrigo.RejectedPayload{StatusChange: sc}
	case corrigo.StatusCheckedIn:
		p = corrigo.CheckedInPayload{StatusChange: sc}
	case corrigo.StatusPaused:
		p = corrigo.PausedPayload{StatusChange: sc}
	case corrigo.StatusNeedsCompletionDetails:
		p = corrigo.NeedsCompletionDetailsPayload{StatusChange: sc}
	case corrigo.StatusOnHold:
		p = corrigo.PutOnHoldPayload{StatusChange: sc}
	case corrigo.StatusRecalled:
		p = corrigo.RecalledPayload{StatusChange: sc}
	case corrigo.StatusNew:
		p = corrigo.ReopenedPayload{StatusChange: sc}
	case corrigo.StatusCheckedOut:
		p = corrigo.CheckedOutPayload{Comment: sc.Comment}
	default:
		return nil, fmt.Errorf("no notification reports status %q", s.Status)
	}
	actionDate := s.LastUpdate
	if actionDate.IsZero() {
		actionDate = corrigo.NewTime(now)
	}
	msgID := MessageID(account, s.WorkOrderId, s.Status, actionDate.Time)
	body, err := corrigo.NewNotification(corrigo.Header{
		WorkOrderId: s.WorkOrderId, Sender: &gatewaySender, ActionDate: actionDate, ApiVersion: "1.1", MessageId: msgID,
	}, p)
	if err != nil {
		return nil, fmt.Errorf("build %s notification for work order %d: %w", s.Status, s.WorkOrderId, err)
	}
	return &store.Event{
		Account: account, MessageID: msgID, WorkOrderID: s.WorkOrderId,
		Action: string(corrigo.ActionOf(p)), ActionDate: actionDate.Time, ReceivedAt: now,
		Source: Source, Body: body, Status: store.EventPending,
	}, nil
}
