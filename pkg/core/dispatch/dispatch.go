// Package dispatch turns stored events into stored actions: it claims
// pending events from the store (one lane per work order, so a work order's
// events are handled one at a time and in order), evaluates the rules, calls
// the plugins the matching rules name, and writes the decision and the
// actions the plugins returned in one transaction (the outbox). Sending the
// actions is egress's job; dispatch only wakes it.
//
// Dispatch never talks to CorrigoPro except to read a work order a rule or
// plugin needs, and it never sends an action itself: the store is the only
// hand-over, which is what makes "each action once" provable.
package dispatch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/wogate/wogate/internal/backoff"
	"github.com/wogate/wogate/internal/leasekeep"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/tracing/tracectx"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// Store is the part of store.Store the dispatcher uses.
type Store interface {
	ClaimEvents(ctx context.Context, owner string, lease time.Duration, limit int) ([]store.Event, error)
	CompleteEvent(ctx context.Context, id int64, owner string, out store.Outcome) error
	RetryEvent(ctx context.Context, id int64, owner string, next time.Time, lastErr string) error
	DeferEvent(ctx context.Context, id int64, owner string, next time.Time, lastErr string, minAttempts int) error
	EventsForWorkOrder(ctx context.Context, account string, workOrderID int64) ([]store.Event, error)
}

// Plugins calls a plugin by name (pkg/core/plugins.Manager).
type Plugins interface {
	HandleEvent(ctx context.Context, plugin string, ev pluginapi.Event) ([]pluginapi.Action, error)
}

// WorkOrders reads a work order from CorrigoPro for rules that need it.
type WorkOrders interface {
	GetWorkOrder(ctx context.Context, account string, id int64) (*corrigo.WorkOrder, error)
}

// Evaluator decides which rules match an event. The gateway adapts the
// compiled rule set (pkg/core/rules) to it; keeping the interface here lets
// dispatch be tested and reloaded without knowing how rules are written.
type Evaluator interface {
	Evaluate(ctx context.Context, in *Input) (Decision, error)
}

// Decision is what the rules decided for one event.
type Decision struct {
	Matched []Match
	// Stopped is true when a matching rule with stop ended the evaluation.
	Stopped bool
	// ConfigVersion is the version of the config the rules came from; it
	// is recorded with the event.
	ConfigVersion string
}

// Match is one matched rule.
type Match struct {
	Rule   string
	Plugin string
	Index  int // the rule's position in the config
	// Shadow: the rule or the account is in shadow mode; its actions are
	// recorded but never sent.
	Shadow bool
}

// Input is one event as the evaluator sees it.
type Input struct {
	Event        *store.Event
	Notification *corrigo.Notification

	ctx       context.Context
	fetch     WorkOrders
	mu        sync.Mutex
	workOrder *corrigo.WorkOrder
	fetched   bool
	fetchErr  error
}

// WorkOrder returns the event's work order: the notification's Details for
// NewWorkOrder, otherwise fetched from CorrigoPro once, on first use. Rules
// that never look at the work order cost no API call.
func (in *Input) WorkOrder() (*corrigo.WorkOrder, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.workOrder != nil || in.fetched {
		return in.workOrder, in.fetchErr
	}
	in.fetched = true
	if in.fetch == nil {
		in.fetchErr = errors.New("no CorrigoPro client to fetch the work order")
		return nil, in.fetchErr
	}
	in.workOrder, in.fetchErr = in.fetch.GetWorkOrder(in.ctx, in.Event.Account, in.Event.WorkOrderID)
	if in.fetchErr != nil {
		in.fetchErr = fmt.Errorf("fetch work order %d: %w", in.Event.WorkOrderID, in.fetchErr)
	}
	return in.workOrder, in.fetchErr
}

// Known returns the work order if it is known without a fetch (NewWorkOrder
// details, or fetched earlier by WorkOrder), else nil.
func (in *Input) Known() *corrigo.WorkOrder {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.workOrder
}

// NeedsPerson wraps an error that retrying cannot fix but a person can (a
// rule condition that fails at run time, a rule naming a plugin that is not
// configured): the event is parked with the reason instead of retried.
func NeedsPerson(err error) error { return &needsPerson{err} }

type needsPerson struct{ err error }

func (e *needsPerson) Error() string { return e.err.Error() }
func (e *needsPerson) Unwrap() error { return e.err }

// Verdict says what to do with an event whose plugin call failed.
type Verdict int

const (
	Retry Verdict = iota // transient: try again later, with backoff
	Dead                 // permanent: a dead letter now
	Park                 // needs a person: a dead letter with the reason
)

// Options configure a Dispatcher.
type Options struct {
	Store      Store
	Evaluator  Evaluator
	Plugins    Plugins
	WorkOrders WorkOrders // optional; without it rules needing a work order fail
	// Owner identifies this process in leases; default a random id.
	Owner string
	// Workers bounds concurrent events; default 32.
	Workers int
	// Lease is how long a claimed event is ours without a renewal. While
	// an event is handled its lease is renewed every third of Lease (when
	// the Store can: RenewEventLeases), so a plugin call may take its whole
	// PluginTimeout and a dead process's events are claimed again within
	// one Lease. Default 10s.
	Lease time.Duration
	// PluginTimeout bounds one plugin call; default 30s.
	PluginTimeout time.Duration
	// PollInterval is how often the store is checked when nothing woke the
	// dispatcher (retries coming due, leases expiring); default 500ms.
	PollInterval time.Duration
	// MaxAttempts bounds retries; then the event is dead. Default 10.
	MaxAttempts int
	// BackoffBase and BackoffMax shape the jittered exponential backoff;
	// defaults 1s and 5m.
	BackoffBase, BackoffMax time.Duration
	// OutageWait, if set, says whether the event's account is cut off from
	// CorrigoPro (its circuit breaker is open, or it waits out a
	// Retry-After) and how long to wait. A retryable failure then does not
	// count against MaxAttempts (store.DeferEvent): a plugin or rule that
	// needs CorrigoPro fails while it is down, and an outage of hours must
	// not dead-letter its events.
	OutageWait func(account string) (time.Duration, bool)
	// RetryAfterMax caps the wait a plugin asks for with
	// pluginapi.Error.RetryAfter (it replaces the backoff when longer).
	// Default 10m; negative ignores it.
	RetryAfterMax time.Duration
	// DrainTimeout is how long Run waits for in-flight events after its
	// context ends; default 10s. Unfinished leases expire and are
	// reclaimed at the next start.
	DrainTimeout time.Duration
	// Classify says whether a plugin error is worth retrying; default:
	// always retry (bounded by MaxAttempts).
	Classify func(error) Verdict
	// Observe is told every notification as it is handled, in order per
	// work order (egress.Guard.ObserveNotification keeps its status cache
	// from it). Optional; must be fast.
	Observe func(account string, n *corrigo.Notification)
	// OnOutbox is called after an outcome with pending actions is stored
	// (to wake egress). Optional; must not block.
	OnOutbox func()
	Logger   *slog.Logger
	Now      func() time.Time
	// Tracer starts a "dispatch event" span per event, a child of the
	// span that stored it (the webhook's) or a new trace, and a "plugin
	// call <name>" span per plugin call; the span context of the call
	// that produced an action is stored with it for egress. Default
	// tracectx.Noop().
	Tracer trace.Tracer
	// Replay marks every plugin call as a replay (pluginapi.Event.Replay):
	// gateway replay's dispatcher, whose outcomes are compared, never
	// stored.
	Replay bool
}

// Dispatcher runs the dispatch loop.
type Dispatcher struct {
	o    Options
	log  *slog.Logger
	wake chan struct{}
	// retry, once set by SetRetryPolicy, overrides the retry fields of o.
	retry atomic.Pointer[RetryPolicy]
	// keep renews the leases of the events in flight; nil when the Store
	// cannot renew.
	keep *leasekeep.Keeper
	// stats
	mu    sync.Mutex
	stats Stats
}

// Stats are the dispatcher's counters.
type Stats struct {
	Done, Dead, Parked, Retried, Duplicates, Actions int64
}

// New checks opts and returns a dispatcher.
func New(o Options) (*Dispatcher, error) {
	if o.Store == nil || o.Evaluator == nil || o.Plugins == nil {
		return nil, errors.New("dispatch: needs a store, an evaluator and plugins")
	}
	if o.Owner == "" {
		o.Owner = "dispatch-" + strconv.FormatUint(rand.Uint64(), 36) //nolint:gosec // G404: a lease owner name, unique not secret
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if o.Workers <= 0 {
		o.Workers = 32
	}
	def(&o.Lease, 10*time.Second)
	def(&o.PluginTimeout, 30*time.Second)
	def(&o.PollInterval, 500*time.Millisecond)
	def(&o.BackoffBase, time.Second)
	def(&o.BackoffMax, 5*time.Minute)
	def(&o.DrainTimeout, 10*time.Second)
	if o.RetryAfterMax == 0 {
		o.RetryAfterMax = 10 * time.Minute
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 10
	}
	if o.Classify == nil {
		o.Classify = func(error) Verdict { return Retry }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Tracer == nil {
		o.Tracer = tracectx.Noop()
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	d := &Dispatcher{o: o, log: log.With("component", "dispatch"), wake: make(chan struct{}, 1)}
	if r, ok := o.Store.(leaseRenewer); ok {
		d.keep = leasekeep.New(o.Lease, func(ctx context.Context, ids []int64) (int, error) {
			return r.RenewEventLeases(ctx, o.Owner, o.Lease, ids)
		}, d.log)
	}
	return d, nil
}

// leaseRenewer is the part of store.Store that renews event leases. A
// Store without it (replay's and rule tests' histories, which never claim)
// gets no heartbeat: its leases simply run out.
type leaseRenewer interface {
	RenewEventLeases(ctx context.Context, owner string, lease time.Duration, ids []int64) (int, error)
}

// Wake tells the dispatcher new events may be waiting. It never blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Stats returns a copy of the counters.
func (d *Dispatcher) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

func (d *Dispatcher) count(f func(*Stats)) {
	d.mu.Lock()
	f(&d.stats)
	d.mu.Unlock()
}

// Run claims and handles events until ctx ends, then waits up to
// DrainTimeout for in-flight events before abandoning them to their leases.
func (d *Dispatcher) Run(ctx context.Context) error {
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	// Leases are renewed until the last in-flight event is done or
	// abandoned (drain), not only until ctx ends.
	go d.keep.Run(workCtx)
	done := make(chan struct{}, d.o.Workers)
	inflight := 0
	timer := time.NewTimer(0)
	defer timer.Stop()
	// Claim in batches: while busy, wait until half of the workers are
	// free, so a full pool costs one store query per batch, not per event.
	// A claim costs about the same whatever its limit (the store looks at
	// every pending lane head), so fewer, larger claims are cheaper.
	threshold := max(1, d.o.Workers/2)
	for {
		free := d.o.Workers - inflight
		if free >= threshold || (free > 0 && inflight == 0) {
			evs, err := d.o.Store.ClaimEvents(ctx, d.o.Owner, d.o.Lease, free)
			if err != nil && ctx.Err() == nil {
				d.log.Error("claim events failed", "err", err)
			}
			for i := range evs {
				inflight++
				ev := evs[i]
				go func() {
					d.handle(workCtx, &ev)
					done <- struct{}{}
				}()
			}
			if len(evs) == free && free > 0 {
				// The batch was full: more may be waiting.
				select {
				case d.wake <- struct{}{}:
				default:
				}
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(d.o.PollInterval)
		select {
		case <-ctx.Done():
			return d.drain(inflight, done, cancelWork)
		case <-done:
			inflight--
			// A finished event may unblock the next one in its lane.
			d.Wake()
		case <-d.wake:
		case <-timer.C:
		}
	}
}

func (d *Dispatcher) drain(inflight int, done chan struct{}, cancel context.CancelFunc) error {
	if inflight == 0 {
		return nil
	}
	d.log.Info("waiting for in-flight events", "count", inflight, "deadline", d.o.DrainTimeout)
	deadline := time.NewTimer(d.o.DrainTimeout)
	defer deadline.Stop()
	for inflight > 0 {
		select {
		case <-done:
			inflight--
		case <-deadline.C:
			d.log.Warn("drain deadline passed; unfinished events will be reclaimed after their lease", "count", inflight)
			cancel()
			for inflight > 0 {
				<-done
				inflight--
			}
			return nil
		}
	}
	return nil
}

// handle processes one claimed event to a final outcome or a retry.
func (d *Dispatcher) handle(ctx context.Context, ev *store.Event) {
	// The lease is renewed while the event is handled; if it can no longer
	// be (the store is unreachable), ctx ends and the event is abandoned
	// before its lease can lapse and another worker take it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hold := d.keep.Hold(ev.ID, cancel)
	defer hold.Release()
	// The stored trace context makes this span a child of the webhook's;
	// without one (polling, reconciliation, tracing off when it arrived)
	// it starts a new trace.
	ctx, span := d.o.Tracer.Start(tracectx.Continue(ctx, ev.TraceParent), "dispatch event", trace.WithSpanKind(trace.SpanKindConsumer))
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(tracectx.EventID.Int64(ev.ID), tracectx.Account.String(ev.Account), tracectx.Action.String(ev.Action),
			tracectx.WorkOrderID.Int64(ev.WorkOrderID), tracectx.MessageID.String(ev.MessageID),
			tracectx.EventSource.String(string(ev.Source)), tracectx.Attempt.Int(ev.Attempts))
	}
	log := d.log.With("event", ev.ID, "account", ev.Account, "work_order", ev.WorkOrderID, "action", ev.Action, "message_id", ev.MessageID)
	if sc := span.SpanContext(); sc.IsSampled() {
		log = log.With("trace_id", sc.TraceID().String()) // find the event's trace from its log lines
	}
	out, verdict, err := d.process(ctx, ev, log)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		if ctx.Err() != nil {
			// Shutting down: leave the lease to expire; the event is
			// reclaimed at the next start.
			span.SetAttributes(tracectx.Verdict.String("abandoned"))
			return
		}
		var outage time.Duration
		down := false
		if verdict == Retry && d.o.OutageWait != nil {
			outage, down = d.o.OutageWait(ev.Account)
		}
		switch {
		case down:
			// Not the event's failure: give the attempt back and wait for
			// CorrigoPro. (Plugins do not see Attempts, and nothing keys
			// off an event's earlier tries, so the floor is 0.)
			next := d.o.Now().Add(max(d.backoff(ev.Attempts), d.retryAfter(err), outage))
			span.SetAttributes(tracectx.Verdict.String("waiting"))
			log.Warn("event failed while CorrigoPro is unavailable; will retry without counting the attempt", "attempt", ev.Attempts, "next", next, "err", err)
			if rerr := d.o.Store.DeferEvent(ctx, ev.ID, d.o.Owner, next, err.Error(), 0); rerr != nil {
				log.Error("schedule retry failed", "err", rerr)
			}
			d.count(func(s *Stats) { s.Retried++ })
			return
		case verdict == Retry && ev.Attempts < d.retryPolicy().MaxAttempts:
			next := d.o.Now().Add(max(d.backoff(ev.Attempts), d.retryAfter(err)))
			span.SetAttributes(tracectx.Verdict.String("retry"))
			log.Warn("event failed; will retry", "attempt", ev.Attempts, "next", next, "err", err)
			if rerr := d.o.Store.RetryEvent(ctx, ev.ID, d.o.Owner, next, err.Error()); rerr != nil {
				log.Error("schedule retry failed", "err", rerr)
			}
			d.count(func(s *Stats) { s.Retried++ })
			return
		case verdict == Park:
			out = store.Outcome{Status: store.EventParked, LastError: err.Error(), Decision: out.Decision, ConfigVersion: out.ConfigVersion}
		default:
			msg := err.Error()
			if verdict == Retry {
				msg = "gave up after " + strconv.Itoa(ev.Attempts) + " attempts: " + msg
			}
			out = store.Outcome{Status: store.EventDead, LastError: msg, Decision: out.Decision, ConfigVersion: out.ConfigVersion}
		}
		log.Error("event is a dead letter", "status", out.Status, "err", out.LastError)
	}
	if span.IsRecording() {
		span.SetAttributes(tracectx.Verdict.String(string(out.Status)), tracectx.ActionsCount.Int(len(out.Actions)))
		if out.ConfigVersion != "" {
			span.SetAttributes(tracectx.ConfigVersion.String(out.ConfigVersion))
		}
	}
	// Actions not produced by a plugin call (a plugin's own submissions)
	// continue the trace from this span; the rest from their call's.
	if tp := tracectx.Traceparent(ctx); tp != "" {
		for i := range out.Actions {
			if out.Actions[i].TraceParent == "" {
				out.Actions[i].TraceParent = tp
			}
		}
	}
	if err := d.completeEvent(ctx, hold, ev.ID, out, log); err != nil {
		if errors.Is(err, store.ErrLeaseLost) {
			log.Warn("lease lost before the outcome was stored; another worker has the event")
			return
		}
		if ctx.Err() == nil {
			log.Error("store outcome failed; the event will be retried after its lease", "err", err)
		} else {
			log.Warn("store outcome failed until the lease could no longer be renewed; the event will be handled again", "err", err)
		}
		return
	}
	pending := 0
	kinds := make([]string, 0, len(out.Actions))
	for _, a := range out.Actions {
		if a.Status == store.ActionPending {
			pending++
		}
		kinds = append(kinds, a.Kind)
	}
	if out.Status == store.EventDone && log.Enabled(ctx, slog.LevelInfo) {
		rec, _ := store.DecodeDecision(out.Decision)
		rules := make([]string, 0, len(rec.Rules))
		for _, r := range rec.Rules {
			rules = append(rules, r.Rule)
		}
		attrs := []any{"source", ev.Source, "rules", rules, "actions", kinds}
		if shadow := len(out.Actions) - pending; shadow > 0 {
			attrs = append(attrs, "shadow", shadow)
		}
		if rec.Skipped != "" {
			attrs = append(attrs, "skipped", rec.Skipped)
		}
		log.Info("event handled", attrs...)
	}
	d.count(func(s *Stats) {
		switch out.Status {
		case store.EventDone:
			s.Done++
		case store.EventDead:
			s.Dead++
		case store.EventParked:
			s.Parked++
		}
		s.Actions += int64(len(out.Actions))
	})
	if pending > 0 && d.o.OnOutbox != nil {
		d.o.OnOutbox()
	}
}

// Decide evaluates the rules and calls the plugins for one event exactly as
// Run does, without claiming the event or storing anything: it returns the
// outcome Run would store (decision, actions with their idempotency keys),
// or the verdict and error of an event that fails. gateway replay uses it
// to compare stored events with what another configuration decides; the
// Store it is given need only answer EventsForWorkOrder.
func (d *Dispatcher) Decide(ctx context.Context, ev *store.Event) (store.Outcome, Verdict, error) {
	log := d.log.With("event", ev.ID, "account", ev.Account, "work_order", ev.WorkOrderID, "action", ev.Action)
	return d.process(ctx, ev, log)
}

// process evaluates the rules and calls the plugins. A non-nil error comes
// with the verdict for it; out then carries what is known of the decision.
func (d *Dispatcher) process(ctx context.Context, ev *store.Event, log *slog.Logger) (store.Outcome, Verdict, error) {
	if ev.Source == store.SourceInbound {
		return d.processInbound(ctx, ev)
	}
	n, err := corrigo.DecodeNotification(ev.Body)
	if err != nil {
		return store.Outcome{}, Dead, fmt.Errorf("stored body does not decode: %w", err)
	}
	if d.o.Observe != nil {
		d.o.Observe(ev.Account, n)
	}
	if n.Header.Action == corrigo.ActionNewWorkOrder {
		if dup, err := d.duplicateNew(ctx, ev); err != nil {
			return store.Outcome{}, Retry, err
		} else if dup != "" {
			d.count(func(s *Stats) { s.Duplicates++ })
			log.Info("skipping duplicate NewWorkOrder", "reason", dup)
			trace.SpanFromContext(ctx).SetAttributes(tracectx.Skipped.String(dup))
			b, _ := store.Decision{Skipped: dup}.Encode()
			return store.Outcome{Status: store.EventDone, Decision: b}, Retry, nil
		}
	}

	in := &Input{Event: ev, Notification: n, ctx: ctx, fetch: d.o.WorkOrders}
	if p, ok := n.Payload.(corrigo.NewWorkOrderPayload); ok && p.Details.WorkOrderId != 0 {
		wo := p.Details
		in.workOrder = &wo
	}
	dec, err := d.o.Evaluator.Evaluate(ctx, in)
	if err != nil {
		// A rule that cannot be evaluated because the work order could not
		// be fetched is retried (CorrigoPro may be down for a moment); one
		// whose condition fails by itself needs a person.
		var np *needsPerson
		if errors.As(err, &np) {
			return store.Outcome{ConfigVersion: dec.ConfigVersion}, Park, fmt.Errorf("evaluate rules: %w", err)
		}
		return store.Outcome{ConfigVersion: dec.ConfigVersion}, Retry, fmt.Errorf("evaluate rules: %w", err)
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		names := make([]string, len(dec.Matched))
		for i, m := range dec.Matched {
			names[i] = m.Rule
		}
		span.SetAttributes(tracectx.RulesMatched.StringSlice(names), tracectx.ConfigVersion.String(dec.ConfigVersion))
	}
	rec := store.Decision{Rules: make([]store.RuleDecision, 0, len(dec.Matched)), Stopped: dec.Stopped}
	var actions []store.OutboxAction
	for _, m := range dec.Matched {
		if m.Plugin == "" {
			// A stop rule without a plugin: the event goes nowhere else.
			rec.Rules = append(rec.Rules, store.RuleDecision{Rule: m.Rule})
			continue
		}
		pev := pluginapi.Event{
			ID:        strconv.FormatInt(ev.ID, 10),
			Account:   ev.Account,
			Source:    string(ev.Source),
			Rule:      m.Rule,
			Header:    n.Header,
			WorkOrder: in.Known(),
			Body:      ev.Body,
			Replay:    d.o.Replay,
		}
		start := time.Now()
		acts, tp, err := d.callPlugin(ctx, m.Plugin, m.Rule, m.Shadow, pev)
		rr := store.RuleDecision{Rule: m.Rule, Plugin: m.Plugin, Shadow: m.Shadow, Millis: float64(time.Since(start).Microseconds()) / 1000}
		if err != nil {
			rec.Rules = append(rec.Rules, rr)
			b, _ := rec.Encode()
			return store.Outcome{Decision: b, ConfigVersion: dec.ConfigVersion}, d.o.Classify(err),
				fmt.Errorf("rule %q: plugin %q: %w", m.Rule, m.Plugin, err)
		}
		src := actionSource{Rule: m.Rule, KeyRule: m.Rule, Plugin: m.Plugin, Shadow: m.Shadow, TraceParent: tp}
		for i, a := range acts {
			oa, verr := d.outboxAction(ev, src, i, a)
			if verr != nil {
				rr.Refused = append(rr.Refused, store.RefusedAction{Index: i, Kind: string(a.Kind), Reason: verr.Error()})
				log.Warn("plugin returned an invalid action; not sending it", "rule", m.Rule, "plugin", m.Plugin, "index", i, "err", verr)
				continue
			}
			actions = append(actions, oa)
			rr.Actions++
		}
		rec.Rules = append(rec.Rules, rr)
	}
	b, err := rec.Encode()
	if err != nil {
		return store.Outcome{}, Dead, fmt.Errorf("encode decision: %w", err)
	}
	return store.Outcome{Status: store.EventDone, Decision: b, ConfigVersion: dec.ConfigVersion, Actions: actions}, Retry, nil
}

// processInbound forwards an event a plugin's own system sent (through the
// gateway's inbound endpoint) to that plugin; no rules apply.
func (d *Dispatcher) processInbound(ctx context.Context, ev *store.Event) (store.Outcome, Verdict, error) {
	if ev.Plugin == "" {
		return store.Outcome{}, Dead, errors.New("inbound event names no plugin")
	}
	if ev.Action == ActionPluginActions {
		return d.processPluginActions(ev) // pluginactions.go: the plugin already decided
	}
	acts, tp, err := d.callPlugin(ctx, ev.Plugin, "inbound", false, pluginapi.Event{
		ID: strconv.FormatInt(ev.ID, 10), Account: ev.Account, Source: string(ev.Source), Rule: "inbound",
		Header: corrigo.Header{WorkOrderId: ev.WorkOrderID, Action: corrigo.Action(ev.Action), MessageId: ev.MessageID},
		Body:   ev.Body,
	})
	if err != nil {
		return store.Outcome{}, d.o.Classify(err), fmt.Errorf("plugin %q: %w", ev.Plugin, err)
	}
	rr := store.RuleDecision{Rule: "inbound", Plugin: ev.Plugin}
	var actions []store.OutboxAction
	src := actionSource{Rule: "inbound", KeyRule: "inbound:" + ev.Plugin, Plugin: ev.Plugin, TraceParent: tp}
	for i, a := range acts {
		oa, verr := d.outboxAction(ev, src, i, a)
		if verr != nil {
			rr.Refused = append(rr.Refused, store.RefusedAction{Index: i, Kind: string(a.Kind), Reason: verr.Error()})
			continue
		}
		actions = append(actions, oa)
		rr.Actions++
	}
	b, _ := store.Decision{Rules: []store.RuleDecision{rr}}.Encode()
	return store.Outcome{Status: store.EventDone, Decision: b, Actions: actions}, Retry, nil
}

// actionSource is what produced a plugin's actions: the rule and plugin
// they are recorded under, the rule their idempotency keys derive from
// (inbound actions use "inbound:<plugin>", so two plugins' answers to one
// event never share a key), whether they are only recorded (shadow), and
// the trace context of the call that returned them.
type actionSource struct {
	Rule, KeyRule, Plugin string
	Shadow                bool
	TraceParent           string
}

// outboxAction is action i of a plugin's answer for ev as its outbox row.
// An action naming no work order is for ev's. The error is why the action
// is refused instead: it does not validate, names no work order, or does
// not encode.
func (d *Dispatcher) outboxAction(ev *store.Event, src actionSource, i int, a pluginapi.Action) (store.OutboxAction, error) {
	if a.WorkOrderID == 0 {
		a.WorkOrderID = ev.WorkOrderID
	}
	if err := a.Validate(); err != nil {
		return store.OutboxAction{}, err
	}
	if a.WorkOrderID <= 0 {
		return store.OutboxAction{}, errors.New("action names no work order")
	}
	payload, err := json.Marshal(a)
	if err != nil {
		return store.OutboxAction{}, err
	}
	status := store.ActionPending
	if src.Shadow {
		status = store.ActionShadow
	}
	return store.OutboxAction{
		EventID:        ev.ID,
		IdempotencyKey: IdempotencyKey(ev.Account, ev.MessageID, src.KeyRule, i),
		Account:        ev.Account,
		WorkOrderID:    a.WorkOrderID,
		Rule:           src.Rule,
		Plugin:         src.Plugin,
		Kind:           string(a.Kind),
		Payload:        payload,
		CreatedAt:      d.o.Now().UTC(),
		Status:         status,
		TraceParent:    src.TraceParent,
	}, nil
}

// callPlugin calls a plugin within its timeout, in a "plugin call <name>"
// span (the plugin host passes its context on in the gRPC metadata). It
// returns the span's traceparent for the actions the call produced, so
// their sends continue the trace from it ("" when tracing is off).
func (d *Dispatcher) callPlugin(ctx context.Context, plugin, rule string, shadow bool, ev pluginapi.Event) ([]pluginapi.Action, string, error) {
	ctx, span := d.o.Tracer.Start(ctx, "plugin call "+plugin, trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(tracectx.Plugin.String(plugin), tracectx.Rule.String(rule))
		if shadow {
			span.SetAttributes(tracectx.Shadow.Bool(true))
		}
	}
	pctx, cancel := context.WithTimeout(ctx, d.o.PluginTimeout)
	acts, err := d.o.Plugins.HandleEvent(pctx, plugin, ev)
	cancel()
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return nil, "", err
	}
	if span.IsRecording() {
		span.SetAttributes(tracectx.ActionsCount.Int(len(acts)))
	}
	return acts, tracectx.Traceparent(ctx), nil
}

// completeEvent stores an outcome, retrying a failed write while the
// event's lease holds (leasekeep.Hold.RetryWrite), so the plugin's work is
// not thrown away and its lane does not stall for a lease; ctx ends when
// the lease can no longer be renewed, or at the drain deadline. A lost
// lease, an invalid outcome and a closed store are not retried.
func (d *Dispatcher) completeEvent(ctx context.Context, hold *leasekeep.Hold, id int64, out store.Outcome, log *slog.Logger) error {
	return hold.RetryWrite(ctx, func() error { return d.o.Store.CompleteEvent(ctx, id, d.o.Owner, out) }, store.WriteMayRecover,
		func(try int, wait time.Duration, err error) {
			log.Warn("store outcome failed; retrying while the lease holds", "try", try, "next", wait, "err", err)
		})
}

// duplicateNew reports why a NewWorkOrder event is a duplicate: the same
// work order already arrived (and was handled) under another MessageId, as
// happens when polling finds a work order whose webhook comes later. Events
// of one work order are handled one at a time, so this check cannot race.
func (d *Dispatcher) duplicateNew(ctx context.Context, ev *store.Event) (string, error) {
	evs, err := d.o.Store.EventsForWorkOrder(ctx, ev.Account, ev.WorkOrderID)
	if err != nil {
		return "", fmt.Errorf("read work order timeline: %w", err)
	}
	for _, o := range evs {
		if o.ID != ev.ID && o.Action == string(corrigo.ActionNewWorkOrder) && o.Status == store.EventDone {
			return fmt.Sprintf("work order already handled as event %d (MessageId %s, source %s)", o.ID, o.MessageID, o.Source), nil
		}
	}
	return "", nil
}

// backoff is the delay before attempt n+1: exponential from BackoffBase,
// capped at BackoffMax, drawn from [d/2, d) so retries of many events
// spread (the same rule as egress's for actions).
func (d *Dispatcher) backoff(attempts int) time.Duration {
	rp := d.retryPolicy()
	return backoff.Jittered(rp.BackoffBase, rp.BackoffMax, attempts, rand.Float64()) //nolint:gosec // G404: retry jitter, not a secret
}

// IdempotencyKey derives an action's key from what produced it: the event
// (account and MessageId), the rule and the action's index in the plugin's
// answer. Handling the same event again yields the same keys, so the store
// refuses the duplicates and CorrigoPro sees each action once.
func IdempotencyKey(account, messageID, rule string, index int) string {
	h := sha256.New()
	h.Write([]byte(account))
	h.Write([]byte{'|'})
	h.Write([]byte(messageID))
	h.Write([]byte{'|'})
	h.Write([]byte(rule))
	h.Write([]byte{'|'})
	h.Write([]byte(strconv.Itoa(index)))
	return hex.EncodeToString(h.Sum(nil))
}

// retryAfter is the wait a plugin asked for (pluginapi.Error.RetryAfter of
// a retryable error), capped by RetryAfterMax; 0 when there is none or the
// cap is negative.
func (d *Dispatcher) retryAfter(err error) time.Duration {
	var pe *pluginapi.Error
	limit := d.retryPolicy().RetryAfterMax
	if limit <= 0 || !errors.As(err, &pe) || !pe.Retryable || pe.RetryAfter <= 0 {
		return 0
	}
	return min(pe.RetryAfter, limit)
}
