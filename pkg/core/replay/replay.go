// Package replay runs stored events through a configuration's rules again,
// in shadow, and reports what would differ from what was done: which rules
// match, whether the event ends done or as a dead letter, and which actions
// it produces (`gateway replay`).
//
// An event goes through the dispatcher's own code (dispatch.Dispatcher.
// Decide: the duplicate-NewWorkOrder check, rule evaluation with the
// gateway's evaluator, plugin calls, action validation, shadow marking,
// idempotency keys), with only the outside world replaced:
//
//   - the store is read, never written (open it read-only);
//   - the time rules see is when the event was handled;
//   - a work order a rule reads is rebuilt from what is stored of it, not
//     fetched: its NewWorkOrder details, moved on by the notifications
//     stored up to the event and the actions sent before the event was
//     handled (as gateway test moves work orders on);
//   - plugins, by default, answer what they answered when the event was
//     handled (the event's recorded outbox actions of that rule), so a
//     changed rule shows which actions would appear or disappear; with
//     live plugins (Options.Plugins) they are asked again.
//
// Nothing is sent to CorrigoPro and nothing is stored.
package replay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wogate/wogate/pkg/core/assemble"
	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/decide"
	"github.com/wogate/wogate/pkg/core/dispatch"
	pluginmgr "github.com/wogate/wogate/pkg/core/plugins"
	"github.com/wogate/wogate/pkg/core/ruletest"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// Source is the part of store.Store replay reads.
type Source interface {
	ListEvents(ctx context.Context, f store.EventFilter) ([]store.Event, error)
	CountEvents(ctx context.Context, f store.EventFilter) (int64, error)
	EventsForWorkOrder(ctx context.Context, account string, workOrderID int64) ([]store.Event, error)
	ActionsForWorkOrder(ctx context.Context, account string, workOrderID int64) ([]store.OutboxAction, error)
	// KVGet serves live plugins' key-value reads (their writes stay in
	// memory for the run).
	KVGet(ctx context.Context, plugin, key string) ([]byte, bool, error)
}

// Options say what Run replays.
type Options struct {
	// Config is the configuration whose rules the events go through.
	Config *config.Config
	// ConfigFile names it in the report.
	ConfigFile string
	// Source is the store, opened read-only.
	Source Source
	// Filter selects the events; its Limit is the most events replayed in
	// all (0: every match). AfterID is honoured.
	Filter store.EventFilter
	// WithPlugins starts the configured plugins and asks them again (their
	// actions are compared, never sent; their key-value writes are kept in
	// memory for the run, their work order reads answered with the rebuilt
	// work order). Without it plugins answer what they answered when the
	// event was handled.
	WithPlugins bool
	// Progress is told how many events are done of how many, after each.
	Progress func(done, total int64)
	// PageSize is how many events are read per query; default 500.
	PageSize int
	Logger   *slog.Logger
}

// Report is the result of a run.
type Report struct {
	Config        string `json:"config"`
	ConfigVersion string `json:"config_version"`
	WithPlugins   bool   `json:"with_plugins"`
	// Replayed counts the events run again: Unchanged + Changed + Errors.
	Replayed  int `json:"replayed"`
	Unchanged int `json:"unchanged"`
	Changed   int `json:"changed"`
	// Errors are events that could not be replayed (e.g. a rule reads the
	// work order and no NewWorkOrder event of it is stored any more).
	Errors int `json:"errors"`
	// Skipped are events not replayed: still pending, or inbound events
	// (no rules apply to those).
	Skipped int `json:"skipped"`
	// RecordedVersions counts the replayed events by the config version
	// their decision was recorded under.
	RecordedVersions map[string]int `json:"recorded_versions"`
	// Events are the changed events and the errors, in order.
	Events []Event `json:"events"`
}

// OK reports whether nothing differs and nothing failed.
func (r *Report) OK() bool { return r.Changed == 0 && r.Errors == 0 }

// Event is one replayed event that differs or could not be replayed.
type Event struct {
	ID          int64     `json:"id"`
	Account     string    `json:"account"`
	WorkOrderID int64     `json:"work_order_id"`
	Action      string    `json:"action"`
	MessageID   string    `json:"message_id"`
	Source      string    `json:"source"`
	ReceivedAt  time.Time `json:"received_at"`
	// Changes name what differs: "outcome", "rules", "stopped",
	// "skipped" (the duplicate-NewWorkOrder check), "actions".
	Changes  []string `json:"changes,omitempty"`
	Recorded Side     `json:"recorded"`
	Replayed *Side    `json:"replayed,omitempty"`
	// Error is why the event could not be replayed.
	Error string `json:"error,omitempty"`
	// Notes explain the replay (a plugin that was not asked).
	Notes []string `json:"notes,omitempty"`
	// ActionDiff pairs the actions: removed (recorded only), added
	// (replayed only), changed (same kind, rule, plugin and work order,
	// other fields).
	ActionDiff []ActionChange `json:"action_diff,omitempty"`
}

// Side is what was recorded for an event, or what replaying it decides.
type Side struct {
	ConfigVersion string `json:"config_version"`
	// Status is done, dead, parked or ignored (recorded), or done, dead,
	// parked or retry (replayed).
	Status  string   `json:"status"`
	Error   string   `json:"error,omitempty"`
	Rules   []string `json:"rules"`
	Stopped bool     `json:"stopped,omitempty"`
	// Skipped is why dispatch skipped the event (a duplicate NewWorkOrder).
	Skipped string   `json:"skipped,omitempty"`
	Actions []Action `json:"actions"`
}

// Action is one outbox action, recorded or that replaying would create.
type Action struct {
	Rule        string          `json:"rule"`
	Plugin      string          `json:"plugin"`
	Kind        string          `json:"kind"`
	WorkOrderID int64           `json:"work_order_id"`
	Shadow      bool            `json:"shadow,omitempty"`
	Payload     json.RawMessage `json:"payload"`
	// Status is the recorded action's status (sent, refused, pending...);
	// empty for replayed ones.
	Status string `json:"status,omitempty"`
}

// ActionChange is one difference between the recorded and the replayed
// actions.
type ActionChange struct {
	Change   string  `json:"change"` // removed, added, changed
	Recorded *Action `json:"recorded,omitempty"`
	Replayed *Action `json:"replayed,omitempty"`
	// Fields are the payload fields that differ, "field: old → new".
	Fields []string `json:"fields,omitempty"`
}

// Run replays the events opts selects. The error is for what stops the
// whole run (the configuration's rules do not compile, the store fails);
// a single event that cannot be replayed is counted in Report.Errors.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Config == nil || o.Source == nil {
		return nil, errors.New("replay: needs a configuration and a store")
	}
	if o.PageSize <= 0 {
		o.PageSize = 500
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r := &replayer{src: o.Source}
	eval, err := decide.NewEvaluator(o.Config, func(ev *store.Event) time.Time { return handledAt(ev) })
	if err != nil {
		return nil, err
	}
	var plugins dispatch.Plugins = recordedPlugins{r}
	classify := r.recordedVerdict
	if o.WithPlugins {
		m := pluginmgr.NewManager(assemble.NewHost(o.Config, assemble.HostOptions{Reader: r, Settings: r, KV: &overlayKV{src: o.Source}}), log.With("component", "plugins"))
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = m.Close(cctx)
		}()
		if err := m.Start(ctx, assemble.PluginSpecs(o.Config)); err != nil {
			return nil, fmt.Errorf("start plugins: %w", err)
		}
		plugins, classify = m, decide.ClassifyPluginError
	}
	r.disp, err = dispatch.New(dispatch.Options{
		Store: history{r}, Evaluator: eval, Plugins: plugins, WorkOrders: r,
		Classify: classify, Logger: log, Replay: true,
		Now: func() time.Time { return handledAt(r.cur) },
	})
	if err != nil {
		return nil, err
	}
	rep := &Report{Config: o.ConfigFile, ConfigVersion: o.Config.Version, WithPlugins: o.WithPlugins,
		RecordedVersions: map[string]int{}, Events: []Event{}}

	count := o.Filter
	count.AfterID, count.Limit = 0, 0
	total, err := o.Source.CountEvents(ctx, count)
	if err != nil {
		return nil, fmt.Errorf("replay: count events: %w", err)
	}
	if o.Filter.Limit > 0 && total > int64(o.Filter.Limit) {
		total = int64(o.Filter.Limit)
	}
	f := o.Filter
	var done int64
	for {
		remaining := int64(o.PageSize)
		if o.Filter.Limit > 0 {
			remaining = min(remaining, int64(o.Filter.Limit)-done)
		}
		if remaining <= 0 {
			break
		}
		f.Limit = int(remaining)
		evs, err := o.Source.ListEvents(ctx, f)
		if err != nil {
			return rep, fmt.Errorf("replay: list events: %w", err)
		}
		r.actions = map[woKey][]store.OutboxAction{}
		for i := range evs {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			ev := &evs[i]
			res, replayed := r.one(ctx, ev)
			switch {
			case !replayed:
				rep.Skipped++
			case res.Error != "":
				rep.Replayed++
				rep.Errors++
				rep.RecordedVersions[ev.ConfigVersion]++
				rep.Events = append(rep.Events, *res)
			case len(res.Changes) > 0:
				rep.Replayed++
				rep.Changed++
				rep.RecordedVersions[ev.ConfigVersion]++
				rep.Events = append(rep.Events, *res)
			default:
				rep.Replayed++
				rep.Unchanged++
				rep.RecordedVersions[ev.ConfigVersion]++
			}
			done++
			if o.Progress != nil {
				o.Progress(done, max(total, done))
			}
		}
		if len(evs) < f.Limit {
			break
		}
		f.AfterID = evs[len(evs)-1].ID
	}
	return rep, nil
}

// handledAt is when the event was handled: the time its rules saw.
func handledAt(ev *store.Event) time.Time {
	if ev == nil {
		return time.Now()
	}
	if !ev.HandledAt.IsZero() {
		return ev.HandledAt
	}
	return ev.ReceivedAt
}

type woKey struct {
	account string
	id      int64
}

// replayer holds the event being replayed; dispatch calls back into it
// (history, work orders, recorded plugin answers) while deciding it.
type replayer struct {
	src  Source
	disp *dispatch.Dispatcher

	// The event being replayed and what was recorded for it. Events are
	// replayed one at a time; mu guards against plugin callbacks.
	mu       sync.Mutex
	cur      *store.Event
	rec      store.Decision
	curActs  []store.OutboxAction
	notes    []string
	rebuildE error // a work order could not be rebuilt

	actions map[woKey][]store.OutboxAction // per page
}

// one replays ev; false when it is not replayed (pending, inbound).
func (r *replayer) one(ctx context.Context, ev *store.Event) (*Event, bool) {
	if ev.Status == store.EventPending || ev.Source == store.SourceInbound {
		return nil, false
	}
	res := &Event{ID: ev.ID, Account: ev.Account, WorkOrderID: ev.WorkOrderID, Action: ev.Action,
		MessageID: ev.MessageID, Source: string(ev.Source), ReceivedAt: ev.ReceivedAt}
	acts, err := r.eventActions(ctx, ev)
	if err != nil {
		res.Error = err.Error()
		return res, true
	}
	rec, err := store.DecodeDecision(ev.Decision)
	if err != nil {
		res.Error = fmt.Sprintf("recorded decision does not decode: %v", err)
		return res, true
	}
	res.Recorded = recordedSide(ev, rec, acts)

	r.mu.Lock()
	r.cur, r.rec, r.curActs, r.notes, r.rebuildE = ev, rec, acts, nil, nil
	r.mu.Unlock()
	out, verdict, err := r.disp.Decide(ctx, ev)
	r.mu.Lock()
	res.Notes = r.notes
	rebuildErr := r.rebuildE
	r.cur = nil
	r.mu.Unlock()
	if rebuildErr != nil {
		res.Error = rebuildErr.Error()
		return res, true
	}
	if err != nil && ctx.Err() != nil {
		res.Error = err.Error()
		return res, true
	}
	side := replayedSide(out, verdict, err)
	res.Replayed = &side
	res.Changes, res.ActionDiff = compare(res.Recorded, side)
	return res, true
}

// eventActions are the outbox actions recorded for ev, in creation order.
func (r *replayer) eventActions(ctx context.Context, ev *store.Event) ([]store.OutboxAction, error) {
	k := woKey{ev.Account, ev.WorkOrderID}
	all, ok := r.actions[k]
	if !ok {
		var err error
		if all, err = r.src.ActionsForWorkOrder(ctx, ev.Account, ev.WorkOrderID); err != nil {
			return nil, fmt.Errorf("read recorded actions: %w", err)
		}
		r.actions[k] = all
	}
	var out []store.OutboxAction
	for _, a := range all {
		if a.EventID == ev.ID {
			out = append(out, a)
		}
	}
	return out, nil
}

func recordedSide(ev *store.Event, rec store.Decision, acts []store.OutboxAction) Side {
	s := Side{ConfigVersion: ev.ConfigVersion, Status: string(ev.Status), Error: ev.LastError,
		Rules: []string{}, Stopped: rec.Stopped, Skipped: rec.Skipped, Actions: []Action{}}
	if ev.Status == store.EventDone {
		s.Error = ""
	}
	for _, rr := range rec.Rules {
		s.Rules = append(s.Rules, rr.Rule)
	}
	for _, a := range acts {
		s.Actions = append(s.Actions, Action{Rule: a.Rule, Plugin: a.Plugin, Kind: a.Kind, WorkOrderID: a.WorkOrderID,
			Shadow: a.Status == store.ActionShadow, Payload: canonical(a.Payload), Status: string(a.Status)})
	}
	return s
}

func replayedSide(out store.Outcome, verdict dispatch.Verdict, err error) Side {
	rec, _ := store.DecodeDecision(out.Decision) // absent when the rules failed
	s := Side{ConfigVersion: out.ConfigVersion, Status: string(store.EventDone), Rules: []string{},
		Stopped: rec.Stopped, Skipped: rec.Skipped, Actions: []Action{}}
	if err != nil {
		s.Error = err.Error()
		switch verdict {
		case dispatch.Park:
			s.Status = string(store.EventParked)
		case dispatch.Dead:
			s.Status = string(store.EventDead)
		default:
			s.Status = "retry"
		}
	}
	for _, rr := range rec.Rules {
		s.Rules = append(s.Rules, rr.Rule)
	}
	if err == nil {
		for _, a := range out.Actions {
			s.Actions = append(s.Actions, Action{Rule: a.Rule, Plugin: a.Plugin, Kind: a.Kind, WorkOrderID: a.WorkOrderID,
				Shadow: a.Status == store.ActionShadow, Payload: canonical(a.Payload)})
		}
	}
	return s
}

// outcomeClass groups statuses that mean the same for a comparison: an
// event either ended done or became a dead letter (dead, parked, ignored
// later by an operator, or failing again now).
func outcomeClass(status string) string {
	if status == string(store.EventDone) {
		return "done"
	}
	return "dead letter"
}

// compare lists what differs between the recorded and the replayed side.
func compare(rec, now Side) ([]string, []ActionChange) {
	var changes []string
	if outcomeClass(rec.Status) != outcomeClass(now.Status) {
		changes = append(changes, "outcome")
	}
	if !slices.Equal(rec.Rules, now.Rules) {
		changes = append(changes, "rules")
	}
	if rec.Stopped != now.Stopped {
		changes = append(changes, "stopped")
	}
	if (rec.Skipped == "") != (now.Skipped == "") {
		changes = append(changes, "skipped")
	}
	diff := diffActions(rec.Actions, now.Actions)
	if len(diff) > 0 {
		changes = append(changes, "actions")
	}
	return changes, diff
}

// identity is what pairs a recorded action with a replayed one.
func (a Action) identity() string {
	return fmt.Sprintf("%s\x00%s\x00%s\x00%d\x00%t", a.Kind, a.Rule, a.Plugin, a.WorkOrderID, a.Shadow)
}

// diffActions pairs actions by identity, in order: unpaired recorded ones
// are removed, unpaired replayed ones added, pairs whose payloads differ
// changed.
func diffActions(rec, now []Action) []ActionChange {
	var out []ActionChange
	used := make([]bool, len(now))
	for i := range rec {
		j := -1
		for k := range now {
			if !used[k] && now[k].identity() == rec[i].identity() {
				j = k
				break
			}
		}
		if j < 0 {
			out = append(out, ActionChange{Change: "removed", Recorded: &rec[i]})
			continue
		}
		used[j] = true
		if fields := payloadDiff(rec[i].Payload, now[j].Payload); len(fields) > 0 {
			out = append(out, ActionChange{Change: "changed", Recorded: &rec[i], Replayed: &now[j], Fields: fields})
		}
	}
	for k := range now {
		if !used[k] {
			out = append(out, ActionChange{Change: "added", Replayed: &now[k]})
		}
	}
	return out
}

// payloadDiff lists the top-level payload fields that differ.
func payloadDiff(a, b json.RawMessage) []string {
	if string(a) == string(b) {
		return nil
	}
	var ma, mb map[string]json.RawMessage
	if json.Unmarshal(a, &ma) != nil || json.Unmarshal(b, &mb) != nil {
		return []string{fmt.Sprintf("payload: %s → %s", a, b)}
	}
	keys := make([]string, 0, len(ma)+len(mb))
	for k := range ma {
		keys = append(keys, k)
	}
	for k := range mb {
		if _, ok := ma[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []string
	for _, k := range keys {
		va, vb := string(ma[k]), string(mb[k])
		if va == vb {
			continue
		}
		if va == "" {
			va = "(absent)"
		}
		if vb == "" {
			vb = "(absent)"
		}
		out = append(out, fmt.Sprintf("%s: %s → %s", k, va, vb))
	}
	return out
}

// canonical re-encodes an action payload as pluginapi.Action, so stored
// and new payloads compare field by field whatever their spacing.
func canonical(p json.RawMessage) json.RawMessage {
	var a pluginapi.Action
	if json.Unmarshal(p, &a) != nil {
		return p
	}
	b, err := json.Marshal(a)
	if err != nil {
		return p
	}
	return b
}

func (r *replayer) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := fmt.Sprintf(format, args...)
	if !slices.Contains(r.notes, n) {
		r.notes = append(r.notes, n)
	}
}

// history is the store as dispatch saw it when the event was handled: the
// duplicate-NewWorkOrder check sees only the events handled before it.
type history struct{ r *replayer }

func (h history) EventsForWorkOrder(ctx context.Context, account string, id int64) ([]store.Event, error) {
	evs, err := h.r.src.EventsForWorkOrder(ctx, account, id)
	if err != nil {
		return nil, err
	}
	h.r.mu.Lock()
	cur := h.r.cur
	h.r.mu.Unlock()
	out := evs[:0]
	for _, e := range evs {
		if cur == nil || e.ID == cur.ID || (!e.HandledAt.IsZero() && e.HandledAt.Before(cur.HandledAt)) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (history) ClaimEvents(context.Context, string, time.Duration, int) ([]store.Event, error) {
	return nil, store.ErrReadOnly
}
func (history) CompleteEvent(context.Context, int64, string, store.Outcome) error {
	return store.ErrReadOnly
}
func (history) RetryEvent(context.Context, int64, string, time.Time, string) error {
	return store.ErrReadOnly
}

func (history) DeferEvent(context.Context, int64, string, time.Time, string, int) error {
	return store.ErrReadOnly
}

// GetWorkOrder rebuilds a work order from its stored events (dispatch's
// WorkOrders, and plugins' host GetWorkOrder with live plugins): the
// latest NewWorkOrder details stored up to the event being replayed, moved
// on by the notifications after it (ruletest.AdvanceWorkOrder).
func (r *replayer) GetWorkOrder(ctx context.Context, account string, id int64) (*corrigo.WorkOrder, error) {
	r.mu.Lock()
	cur := r.cur
	r.mu.Unlock()
	wo, err := r.rebuild(ctx, cur, account, id)
	if err != nil && cur != nil && account == cur.Account && id == cur.WorkOrderID {
		r.mu.Lock()
		r.rebuildE = err
		r.mu.Unlock()
	}
	return wo, err
}

// CustomerSettings is the plugin host's customer settings: not stored, so
// not available in a replay.
func (r *replayer) CustomerSettings(ctx context.Context, account string, customerID int) (*corrigo.CustomerSettings, error) {
	return nil, fmt.Errorf("customer settings are not stored; gateway replay cannot give them")
}

func (r *replayer) rebuild(ctx context.Context, cur *store.Event, account string, id int64) (*corrigo.WorkOrder, error) {
	evs, err := r.src.EventsForWorkOrder(ctx, account, id)
	if err != nil {
		return nil, fmt.Errorf("rebuild work order %d: %w", id, err)
	}
	acts, err := r.src.ActionsForWorkOrder(ctx, account, id)
	if err != nil {
		return nil, fmt.Errorf("rebuild work order %d: %w", id, err)
	}
	// What CorrigoPro's copy went through before the event was handled:
	// the notifications stored up to it and the actions sent before it was
	// handled, in time order.
	type step struct {
		at time.Time
		n  *corrigo.Notification
		a  *pluginapi.Action
	}
	var steps []step
	for i := range evs {
		e := &evs[i]
		if e.Source == store.SourceInbound || (cur != nil && e.ID != cur.ID && e.ReceivedAt.After(cur.ReceivedAt)) {
			continue
		}
		if n, err := corrigo.DecodeNotification(e.Body); err == nil {
			steps = append(steps, step{at: e.ReceivedAt, n: n})
		}
	}
	for i := range acts {
		a := &acts[i]
		if a.Status != store.ActionSent || (cur != nil && !a.SentAt.Before(handledAt(cur))) {
			continue
		}
		var pa pluginapi.Action
		if json.Unmarshal(a.Payload, &pa) == nil {
			steps = append(steps, step{at: a.SentAt, a: &pa})
		}
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].at.Before(steps[j].at) })
	var wo *corrigo.WorkOrder
	for _, st := range steps {
		if st.a != nil {
			ruletest.ApplySent(wo, *st.a) // no-op before the work order is known
			continue
		}
		if p, ok := st.n.Payload.(corrigo.NewWorkOrderPayload); ok && p.Details.WorkOrderId != 0 {
			d := p.Details
			wo = &d
			if wo.Status == "" {
				wo.Status = corrigo.StatusNew
			}
			continue
		}
		if wo != nil {
			wo = ruletest.AdvanceWorkOrder(wo, st.n)
		}
	}
	if wo == nil {
		return nil, fmt.Errorf("a rule reads work order %d, which replay rebuilds from its stored NewWorkOrder event, and none is stored (pruned by retention, or the work order arrived before the gateway ran)", id)
	}
	return wo, nil
}

// recordedPlugins answers for each plugin what it answered when the event
// was handled: the event's recorded actions of that rule and plugin, or
// the recorded plugin error of a dead letter.
type recordedPlugins struct{ r *replayer }

func (p recordedPlugins) HandleEvent(ctx context.Context, plugin string, ev pluginapi.Event) ([]pluginapi.Action, error) {
	r := p.r
	r.mu.Lock()
	cur, rec, acts := r.cur, r.rec, r.curActs
	r.mu.Unlock()
	if cur == nil {
		return nil, errors.New("replay: no event is being replayed")
	}
	asked := false
	for _, rr := range rec.Rules {
		if rr.Rule == ev.Rule && rr.Plugin == plugin {
			asked = true
		}
	}
	if !asked {
		r.note("rule %q matches now but did not when the event was handled (or named another plugin): plugin %q was not asked then, so its actions are unknown; replay with --with-plugins to ask it", ev.Rule, plugin)
		return nil, nil
	}
	prefix := fmt.Sprintf("rule %q: plugin %q: ", ev.Rule, plugin)
	if cur.Status != store.EventDone {
		if i := strings.Index(cur.LastError, prefix); i >= 0 {
			return nil, &recordedError{msg: cur.LastError[i+len(prefix):]}
		}
	}
	var out []pluginapi.Action
	for _, a := range acts {
		if a.Rule != ev.Rule || a.Plugin != plugin {
			continue
		}
		var pa pluginapi.Action
		if err := json.Unmarshal(a.Payload, &pa); err != nil {
			return nil, fmt.Errorf("recorded action %d does not decode: %w", a.ID, err)
		}
		out = append(out, pa)
	}
	return out, nil
}

// recordedError is a plugin error as it was recorded.
type recordedError struct{ msg string }

func (e *recordedError) Error() string { return e.msg }

// recordedVerdict classifies a recorded plugin error as it was: the event
// became what it became (parked or dead).
func (r *replayer) recordedVerdict(err error) dispatch.Verdict {
	r.mu.Lock()
	cur := r.cur
	r.mu.Unlock()
	if cur != nil && cur.Status == store.EventParked {
		return dispatch.Park
	}
	return dispatch.Dead
}

// overlayKV is the plugins' key-value store during a replay: reads see the
// stored values and what the run wrote; writes stay in memory.
type overlayKV struct {
	src Source
	mu  sync.Mutex
	mem map[[2]string]*[]byte // nil value: deleted
}

func (k *overlayKV) KVGet(ctx context.Context, plugin, key string) ([]byte, bool, error) {
	k.mu.Lock()
	v, ok := k.mem[[2]string{plugin, key}]
	k.mu.Unlock()
	if ok {
		if v == nil {
			return nil, false, nil
		}
		return slices.Clone(*v), true, nil
	}
	return k.src.KVGet(ctx, plugin, key)
}

func (k *overlayKV) KVPut(ctx context.Context, plugin, key string, value []byte) error {
	k.set(plugin, key, new(slices.Clone(value)))
	return nil
}

func (k *overlayKV) KVDelete(ctx context.Context, plugin, key string) error {
	k.set(plugin, key, nil)
	return nil
}

func (k *overlayKV) set(plugin, key string, v *[]byte) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.mem == nil {
		k.mem = map[[2]string]*[]byte{}
	}
	k.mem[[2]string{plugin, key}] = v
}
