package ruletest

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
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/decide"
	"github.com/wogate/wogate/pkg/core/dispatch"
	"github.com/wogate/wogate/pkg/core/egress"
	"github.com/wogate/wogate/pkg/core/rules"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// Runner runs cases against one configuration.
type Runner struct {
	cfg *config.Config
	set *rules.Set
}

// NewRunner compiles cfg's rules. The error is a *config.Error when a rule
// does not compile.
func NewRunner(cfg *config.Config) (*Runner, error) {
	set, err := rules.CompileConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Runner{cfg: cfg, set: set}, nil
}

// Bind checks a suite against the configuration: every account, rule and
// plugin a case names must exist (a misspelt name in notRules would make a
// test that cannot fail), and a case without account gets the only
// configured one.
func (r *Runner) Bind(s *Suite) []config.ErrorEntry {
	var errs []config.ErrorEntry
	accounts := sortedKeys(r.cfg.Corrigo.Accounts)
	plugins := sortedKeys(r.cfg.Plugins)
	ruleNames := make([]string, len(r.cfg.Rules))
	known := map[string]bool{}
	for i, ru := range r.cfg.Rules {
		ruleNames[i] = ru.Name
		known[ru.Name] = true
	}
	for _, c := range s.Cases {
		add := func(line int, key, format string, args ...any) {
			if line == 0 {
				line = c.Line
			}
			errs = append(errs, config.ErrorEntry{File: c.File, Line: line, Key: caseKey(c, key), Message: fmt.Sprintf(format, args...)})
		}
		switch {
		case c.Account == "" && len(accounts) == 1:
			c.Account = accounts[0]
		case c.Account == "":
			add(c.Line, "account", "the configuration has %d accounts (%s): say which one the event arrives for", len(accounts), strings.Join(accounts, ", "))
		case !hasKey(r.cfg.Corrigo.Accounts, c.Account):
			add(c.Line, "account", "unknown account %q%s (configured: %s)", c.Account, didYouMean(c.Account, accounts), strings.Join(accounts, ", "))
		}
		for name := range c.Mocks {
			if _, ok := r.cfg.Plugins[name]; !ok {
				add(c.MockLines[name], "plugins."+name, "unknown plugin %q%s (configured: %s)", name, didYouMean(name, plugins), strings.Join(plugins, ", "))
			}
		}
		checkRules := func(key string, names []string) {
			for _, n := range names {
				if !known[n] {
					add(c.Expect.Lines[key], "expect."+key, "no rule is named %q%s (rules: %s)", n, didYouMean(n, ruleNames), strings.Join(ruleNames, ", "))
				}
			}
		}
		checkRules("rules", c.Expect.Rules)
		checkRules("notRules", c.Expect.NotRules)
		for i, ea := range c.Expect.Actions {
			if ea.Plugin != "" && !hasKey(r.cfg.Plugins, ea.Plugin) {
				add(ea.Line, fmt.Sprintf("expect.actions[%d].plugin", i), "unknown plugin %q%s", ea.Plugin, didYouMean(ea.Plugin, plugins))
			}
			if ea.Rule != "" && !known[ea.Rule] {
				add(ea.Line, fmt.Sprintf("expect.actions[%d].rule", i), "no rule is named %q%s", ea.Rule, didYouMean(ea.Rule, ruleNames))
			}
		}
		for i, er := range c.Expect.Refused {
			if er.Plugin != "" && !hasKey(r.cfg.Plugins, er.Plugin) {
				add(er.Line, fmt.Sprintf("expect.refused[%d].plugin", i), "unknown plugin %q%s", er.Plugin, didYouMean(er.Plugin, plugins))
			}
			if er.Rule != "" && !known[er.Rule] {
				add(er.Line, fmt.Sprintf("expect.refused[%d].rule", i), "no rule is named %q%s", er.Rule, didYouMean(er.Rule, ruleNames))
			}
		}
	}
	return errs
}

func caseKey(c *Case, key string) string {
	return fmt.Sprintf("case %q: %s", c.Name, key)
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Outcome is what happened to a case's event.
type Outcome struct {
	// Rules are the matching rules, in order.
	Rules []string `json:"rules"`
	// Stopped: a stop rule ended the evaluation.
	Stopped bool `json:"stopped"`
	// Outcome is done, retry, dead or park.
	Outcome string `json:"outcome"`
	// Error kept the event from being done.
	Error string `json:"error,omitempty"`
	// Actions passed validation and the guard: sent to CorrigoPro, or
	// recorded only when Shadow.
	Actions []Action `json:"actions"`
	// Refused actions, with the reason.
	Refused []Refusal `json:"refused"`
}

// Action is an action the plugins returned that would be sent (or, for
// shadow rules and accounts, recorded).
type Action struct {
	Rule   string           `json:"rule"`
	Plugin string           `json:"plugin"`
	Shadow bool             `json:"shadow,omitempty"`
	Action pluginapi.Action `json:"action"`
}

// Refusal is an action that would not be sent.
type Refusal struct {
	Rule   string `json:"rule"`
	Plugin string `json:"plugin"`
	Kind   string `json:"kind"`
	// Stage is "validate" (the dispatcher found the action incomplete)
	// or "guard" (CorrigoPro's status or completion rules forbid it).
	Stage  string `json:"stage"`
	Reason string `json:"reason"`
}

// Result is one case's result.
type Result struct {
	Name   string `json:"name"`
	File   string `json:"file"`
	Line   int    `json:"line"`
	Status string `json:"status"` // pass, fail, skip
	// Skip is why a skipped case was not run.
	Skip     string    `json:"skip,omitempty"`
	Failures []Failure `json:"failures,omitempty"`
	// Notes explain the run (plugins without a mock, defaults taken).
	Notes []string `json:"notes,omitempty"`
	Got   *Outcome `json:"got,omitempty"`
}

// Case statuses.
const (
	StatusPass = "pass"
	StatusFail = "fail"
	StatusSkip = "skip"
)

// Failure is one unmet expectation, or a reason the case could not run.
type Failure struct {
	// Line is the expectation's line in the test file.
	Line int `json:"line"`
	// Field is what differs: "rules", "actions[0].Comment", "setup", ...
	Field string `json:"field"`
	Want  string `json:"want,omitempty"`
	Got   string `json:"got,omitempty"`
	// Message explains a failure that is not a want/got pair.
	Message string `json:"message,omitempty"`
}

// errSetup is a case that cannot be run as written.
type errSetup struct{ msg string }

func (e *errSetup) Error() string { return e.msg }

func setupf(format string, args ...any) error { return &errSetup{fmt.Sprintf(format, args...)} }

// Run runs one case. A case that cannot run as written (a rule needs a work
// order the case does not give) fails with a "setup" failure.
func (r *Runner) Run(ctx context.Context, c *Case) Result {
	res := Result{Name: c.Name, File: c.File, Line: c.Line}
	if c.Skip != "" {
		res.Status, res.Skip = StatusSkip, c.Skip
		return res
	}
	got, notes, err := r.execute(ctx, c)
	res.Notes = notes
	if err != nil {
		// got, when set, is what was decided before the case got stuck
		// (the matching rules count for coverage).
		res.Status, res.Got = StatusFail, got
		res.Failures = []Failure{{Line: c.Line, Field: "setup", Message: err.Error()}}
		return res
	}
	res.Got = got
	res.Failures = compare(c, got)
	res.Status = StatusPass
	if len(res.Failures) > 0 {
		res.Status = StatusFail
	}
	return res
}

// execute is what the gateway would do with the case's event.
func (r *Runner) execute(ctx context.Context, c *Case) (*Outcome, []string, error) {
	var notes []string
	n := c.Event
	action := string(n.Header.Action)
	now := c.Now
	if now.IsZero() {
		now = n.Header.ActionDate.Time
		if now.IsZero() {
			now = time.Now()
			notes = append(notes, "the event has no ActionDate and the case no now:, so now is the wall clock")
		}
	}
	state := currentWorkOrder(c)

	// The decision is dispatch's own (dispatch.Decide, as gateway replay
	// runs it), over the gateway's evaluator, with the case's mocks as the
	// plugins and the case's work order as what CorrigoPro returns.
	evr := &recordingEvaluator{}
	eval, err := decide.ForSet(r.set, r.cfg, func(*store.Event) time.Time { return now })
	if err != nil {
		return nil, notes, err
	}
	evr.inner = eval
	mocks := &mockPlugins{c: c}
	disp, err := dispatch.New(dispatch.Options{
		Store: noHistory{}, Evaluator: evr, Plugins: mocks, WorkOrders: caseWorkOrders{c: c, state: state},
		Classify: decide.ClassifyPluginError, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { return now },
	})
	if err != nil {
		return nil, notes, err
	}
	ev := &store.Event{ID: 1, Account: c.Account, MessageID: n.Header.MessageId, WorkOrderID: n.Header.WorkOrderId,
		Action: action, ActionDate: n.Header.ActionDate.Time, ReceivedAt: now, Source: store.Source(c.Source), Body: c.Body}
	decided, verdict, err := disp.Decide(ctx, ev)
	notes = append(notes, mocks.notes...)
	dec := evr.dec
	out := &Outcome{Rules: []string{}, Actions: []Action{}, Refused: []Refusal{}, Outcome: OutcomeDone}
	for _, m := range dec.Matched {
		out.Rules = append(out.Rules, m.Rule)
	}
	out.Stopped = dec.Stopped
	if err != nil {
		var se *errSetup
		switch {
		case errors.As(err, &se):
			// A rule needs the work order the case does not give.
			return nil, notes, se
		case evr.err != nil && verdict != dispatch.Park:
			return nil, notes, err
		}
		// The dispatcher stores nothing for an event that failed: earlier
		// rules' actions are dropped with it, and the event is parked,
		// retried or dead as the rules' or the plugin's error says.
		out.Outcome, out.Error = outcomeOf(verdict), err.Error()
		return out, notes, nil
	}

	type pending struct {
		m rules.Match
		a pluginapi.Action
	}
	var queue []pending
	rec, err := store.DecodeDecision(decided.Decision)
	if err != nil {
		return nil, notes, fmt.Errorf("decision: %w", err)
	}
	for _, rr := range rec.Rules {
		for _, x := range rr.Refused {
			out.Refused = append(out.Refused, Refusal{Rule: rr.Rule, Plugin: rr.Plugin, Kind: x.Kind, Stage: "validate", Reason: x.Reason})
		}
	}
	for _, oa := range decided.Actions {
		var a pluginapi.Action
		if err := json.Unmarshal(oa.Payload, &a); err != nil {
			return nil, notes, fmt.Errorf("action payload: %w", err)
		}
		if oa.Status == store.ActionShadow {
			out.Actions = append(out.Actions, Action{Rule: oa.Rule, Plugin: oa.Plugin, Shadow: true, Action: a})
			continue
		}
		queue = append(queue, pending{rules.Match{Rule: oa.Rule, Plugin: oa.Plugin}, a})
	}

	// The guard, in the order egress sends: each sent action moves the
	// work order on, as CorrigoPro would.
	fetch := &fakeCorrigo{state: state, settings: c.CustomerSettings}
	guard := egress.NewGuard(fetch, egress.GuardOptions{
		Now:    func() time.Time { return now },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	settingsNoted := false
	for _, p := range queue {
		a := p.a
		if a.Kind != pluginapi.KindNote {
			if a.WorkOrderID != n.Header.WorkOrderId {
				return out, notes, setupf("rule %q: plugin %q returned %s for work order %d, but the case only describes work order %d", p.m.Rule, p.m.Plugin, a.Kind, a.WorkOrderID, n.Header.WorkOrderId)
			}
			if fetch.state == nil || fetch.state.Status == "" {
				return out, notes, setupf("rule %q: plugin %q returned %s; to check it the gateway asks CorrigoPro for work order %d's status, which the case does not give: add workOrder: or workOrderStatus:", p.m.Rule, p.m.Plugin, a.Kind, a.WorkOrderID)
			}
			if c.CustomerSettings != nil && !settingsNoted && (a.Kind == pluginapi.KindCheckOut || a.Kind == pluginapi.KindWorkDoneDetails) &&
				(fetch.state.Customer == nil || fetch.state.Customer.ID == 0) {
				notes = append(notes, "customerSettings are given but the work order names no Customer, so the guard does not check them")
				settingsNoted = true
			}
		}
		var reason string
		if fetch.state != nil {
			reason, err = guard.CheckWith(ctx, c.Account, a, cloneWorkOrder(fetch.state))
			if err != nil {
				return nil, notes, fmt.Errorf("action guard: %w", err)
			}
		}
		if reason != "" {
			out.Refused = append(out.Refused, Refusal{Rule: p.m.Rule, Plugin: p.m.Plugin, Kind: string(a.Kind), Stage: "guard", Reason: reason})
			continue
		}
		out.Actions = append(out.Actions, Action{Rule: p.m.Rule, Plugin: p.m.Plugin, Action: a})
		applySent(fetch.state, a)
	}
	return out, notes, nil
}

// outcomeOf names the verdict on an event that failed.
func outcomeOf(v dispatch.Verdict) string {
	switch v {
	case dispatch.Park:
		return OutcomePark
	case dispatch.Dead:
		return OutcomeDead
	}
	return OutcomeRetry
}

// recordingEvaluator keeps what the gateway's evaluator decided, also for
// an event whose rules failed (dispatch's outcome then has no decision):
// the rules that matched count for coverage.
type recordingEvaluator struct {
	inner dispatch.Evaluator
	dec   dispatch.Decision
	err   error
}

func (e *recordingEvaluator) Evaluate(ctx context.Context, in *dispatch.Input) (dispatch.Decision, error) {
	e.dec, e.err = e.inner.Evaluate(ctx, in)
	return e.dec, e.err
}

// mockPlugins answers plugin calls with the case's mocks.
type mockPlugins struct {
	c     *Case
	notes []string
}

func (p *mockPlugins) HandleEvent(ctx context.Context, plugin string, ev pluginapi.Event) ([]pluginapi.Action, error) {
	mock, ok := p.c.Mocks[plugin]
	if !ok {
		p.notes = append(p.notes, fmt.Sprintf("rule %q matched; plugin %q has no mock in this case, so it answered no actions", ev.Rule, plugin))
		return nil, nil
	}
	if mock.Error != "" {
		return nil, &pluginapi.Error{Message: mock.Error, Retryable: mock.Retryable}
	}
	return slices.Clone(mock.Actions), nil
}

// caseWorkOrders is CorrigoPro's answer when a rule needs the work order:
// the case's, moved on by the event; without one the case cannot run.
type caseWorkOrders struct {
	c     *Case
	state *corrigo.WorkOrder
}

func (w caseWorkOrders) GetWorkOrder(ctx context.Context, account string, id int64) (*corrigo.WorkOrder, error) {
	if w.c.WorkOrder == nil {
		return nil, setupf("a rule for %s events reads the work order, so the gateway would fetch work order %d from CorrigoPro; give the case a workOrder: (what that fetch returns)", w.c.Event.Header.Action, id)
	}
	return cloneWorkOrder(w.state), nil
}

// noHistory is the store a case's event is decided against: the event is
// the work order's first, so a NewWorkOrder is never a duplicate. Decide
// calls nothing else.
type noHistory struct{}

var errNotStored = errors.New("gateway test stores nothing")

func (noHistory) EventsForWorkOrder(context.Context, string, int64) ([]store.Event, error) {
	return nil, nil
}
func (noHistory) ClaimEvents(context.Context, string, time.Duration, int) ([]store.Event, error) {
	return nil, errNotStored
}
func (noHistory) CompleteEvent(context.Context, int64, string, store.Outcome) error {
	return errNotStored
}
func (noHistory) RetryEvent(context.Context, int64, string, time.Time, string) error {
	return errNotStored
}
func (noHistory) DeferEvent(context.Context, int64, string, time.Time, string, int) error {
	return errNotStored
}

// fakeCorrigo answers the guard's questions from the case.
type fakeCorrigo struct {
	state    *corrigo.WorkOrder
	settings *corrigo.CustomerSettings
}

func (f *fakeCorrigo) GetWorkOrder(ctx context.Context, account string, id int64) (*corrigo.WorkOrder, error) {
	if f.state == nil || f.state.WorkOrderId != id {
		return nil, &corrigo.APIError{StatusCode: 404, Message: fmt.Sprintf("the test case does not describe work order %d", id)}
	}
	return cloneWorkOrder(f.state), nil
}

func (f *fakeCorrigo) CustomerSettings(ctx context.Context, account string, customerID int) (*corrigo.CustomerSettings, error) {
	if f.settings == nil {
		return nil, nil
	}
	cs := *f.settings
	return &cs, nil
}

// currentWorkOrder is the work order as CorrigoPro would return it when the
// event is handled: the case's work order (or the NewWorkOrder details),
// moved on by what the event says happened (the status of a status change,
// a changed quote or appointment — what egress.Guard.ObserveNotification
// records), then the case's workOrderStatus. Nil when the case says nothing
// about the work order.
func currentWorkOrder(c *Case) *corrigo.WorkOrder {
	n := c.Event
	id := n.Header.WorkOrderId
	var wo *corrigo.WorkOrder
	if c.WorkOrder != nil {
		wo = cloneWorkOrder(c.WorkOrder)
	} else if p, ok := n.Payload.(corrigo.NewWorkOrderPayload); ok {
		d := p.Details
		wo = cloneWorkOrder(&d)
		if wo.WorkOrderId == 0 {
			wo.WorkOrderId = id
		}
		if wo.Status == "" {
			wo.Status = corrigo.StatusNew
		}
	}
	wo = AdvanceWorkOrder(wo, n)
	ensure := func() *corrigo.WorkOrder {
		if wo == nil {
			wo = &corrigo.WorkOrder{WorkOrderId: id}
		}
		return wo
	}
	if c.WorkOrderStatus != "" {
		ensure().Status = c.WorkOrderStatus
	}
	return wo
}

// AdvanceWorkOrder moves wo on by what notification n says happened, as
// CorrigoPro's copy has moved when the gateway fetches it for n: the status
// of a status change (Accepted, CheckedIn, Paused...; a work order is made
// when wo is nil), a changed quote or appointment. It changes and returns
// wo. gateway test and gateway replay rebuild work orders with it.
func AdvanceWorkOrder(wo *corrigo.WorkOrder, n *corrigo.Notification) *corrigo.WorkOrder {
	id := n.Header.WorkOrderId
	ensure := func() *corrigo.WorkOrder {
		if wo == nil {
			wo = &corrigo.WorkOrder{WorkOrderId: id}
		}
		return wo
	}
	or := func(s, def corrigo.Status) corrigo.Status {
		if s == "" {
			return def
		}
		return s
	}
	switch p := n.Payload.(type) {
	case corrigo.AcceptedPayload:
		ensure().Status = or(p.Status, corrigo.StatusAccepted)
	case corrigo.RejectedPayload:
		ensure().Status = or(p.Status, corrigo.StatusRejected)
	case corrigo.CheckedInPayload:
		ensure().Status = or(p.Status, corrigo.StatusCheckedIn)
	case corrigo.PausedPayload:
		ensure().Status = or(p.Status, corrigo.StatusPaused)
	case corrigo.NeedsCompletionDetailsPayload:
		ensure().Status = or(p.Status, corrigo.StatusNeedsCompletionDetails)
	case corrigo.PutOnHoldPayload:
		ensure().Status = or(p.Status, corrigo.StatusOnHold)
	case corrigo.ReopenedPayload:
		ensure().Status = or(p.Status, corrigo.StatusNew)
	case corrigo.RecalledPayload:
		ensure().Status = or(p.Status, corrigo.StatusRecalled)
	case corrigo.CheckedOutPayload:
		ensure().Status = corrigo.StatusCheckedOut
	case corrigo.QuoteChangedPayload:
		if wo != nil {
			q := p.Quote
			nte := corrigo.Nte{}
			if wo.Nte != nil {
				nte = *wo.Nte
			}
			nte.Quote = &q
			wo.Nte = &nte
		}
	case corrigo.AppointmentInfoChangedPayload:
		if wo != nil {
			a := p.Appointment
			wo.Schedule = &a
		}
	}
	return wo
}

// ApplySent moves the work order on after a sent action, as CorrigoPro
// does (and as egress's guard records after a send). gateway replay
// rebuilds work orders with it.
func ApplySent(wo *corrigo.WorkOrder, a pluginapi.Action) { applySent(wo, a) }

// applySent moves the work order on after a sent action, as CorrigoPro
// does (and as egress's guard records after a send).
func applySent(wo *corrigo.WorkOrder, a pluginapi.Action) {
	if wo == nil {
		return
	}
	switch a.Kind {
	case pluginapi.KindAccept:
		wo.Status = corrigo.StatusAccepted
	case pluginapi.KindReject:
		wo.Status = corrigo.StatusRejected
	case pluginapi.KindCheckIn:
		wo.Status = corrigo.StatusCheckedIn
	case pluginapi.KindPause:
		wo.Status = corrigo.StatusPaused
	case pluginapi.KindCheckOut, pluginapi.KindWorkDoneDetails:
		wo.Status = corrigo.StatusCheckedOut
	case pluginapi.KindQuote:
		amount := a.Amount
		if amount <= 0 {
			for _, li := range a.LineItems {
				if li.Amount != 0 {
					amount += li.Amount
				} else {
					amount += li.Quantity * li.Rate
				}
			}
		}
		nte := corrigo.Nte{}
		if wo.Nte != nil {
			nte = *wo.Nte
		}
		nte.Quote = &corrigo.Quote{Amount: amount, QuoteStatus: corrigo.QuoteSubmitted, Comment: a.Comment}
		wo.Nte = &nte
	case pluginapi.KindAppointment:
		if a.Appointment != nil {
			ap := *a.Appointment
			wo.Schedule = &ap
		}
	}
}

// cloneWorkOrder copies the parts of a work order the runner changes.
func cloneWorkOrder(wo *corrigo.WorkOrder) *corrigo.WorkOrder {
	if wo == nil {
		return nil
	}
	c := *wo
	if wo.Nte != nil {
		nte := *wo.Nte
		if nte.Quote != nil {
			q := *nte.Quote
			nte.Quote = &q
		}
		c.Nte = &nte
	}
	if wo.Schedule != nil {
		s := *wo.Schedule
		c.Schedule = &s
	}
	return &c
}
