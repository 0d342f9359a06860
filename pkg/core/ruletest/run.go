package ruletest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/egress"
	"github.com/wogate/wogate/pkg/core/rules"
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

	// The work order the rules see, chosen as the gateway's evaluator does:
	// a NewWorkOrder's details, else fetched only when a rule that may run
	// for this action reads it.
	var wo *corrigo.WorkOrder
	if p, ok := n.Payload.(corrigo.NewWorkOrderPayload); ok && p.Details.WorkOrderId != 0 {
		d := p.Details
		wo = &d
	}
	if wo == nil && r.set.NeedsWorkOrder(action) {
		if c.WorkOrder == nil {
			return nil, notes, setupf("a rule for %s events reads the work order, so the gateway would fetch work order %d from CorrigoPro; give the case a workOrder: (what that fetch returns)", action, n.Header.WorkOrderId)
		}
		wo = cloneWorkOrder(state)
	}
	env := rules.NewEnv(c.Account, c.Source, n, wo, now)
	dec, err := r.set.Evaluate(env)
	out := &Outcome{Rules: []string{}, Actions: []Action{}, Refused: []Refusal{}, Outcome: OutcomeDone}
	for _, m := range dec.Matched {
		out.Rules = append(out.Rules, m.Rule)
	}
	out.Stopped = dec.Stopped
	if err != nil {
		var ee *rules.EvalError
		if errors.As(err, &ee) {
			out.Outcome, out.Error = OutcomePark, "evaluate rules: "+err.Error()
			return out, notes, nil
		}
		return nil, notes, fmt.Errorf("evaluate rules: %w", err)
	}

	accountShadow := r.cfg.Corrigo.Accounts[c.Account].Shadow
	type pending struct {
		m rules.Match
		a pluginapi.Action
	}
	var queue []pending
	for _, m := range dec.Matched {
		if m.Plugin == "" {
			continue
		}
		mock, ok := c.Mocks[m.Plugin]
		if !ok {
			notes = append(notes, fmt.Sprintf("rule %q matched; plugin %q has no mock in this case, so it answered no actions", m.Rule, m.Plugin))
			continue
		}
		if mock.Error != "" {
			// The dispatcher stores nothing for an event whose plugin call
			// failed: earlier rules' actions are dropped with it, and the
			// event is retried or dead as the plugin's error says.
			perr := &pluginapi.Error{Message: mock.Error, Retryable: mock.Retryable}
			out.Outcome = OutcomeDead
			if perr.Retryable {
				out.Outcome = OutcomeRetry
			}
			out.Error = fmt.Sprintf("rule %q: plugin %q: %v", m.Rule, m.Plugin, perr)
			out.Actions, out.Refused = []Action{}, []Refusal{}
			return out, notes, nil
		}
		shadow := m.Shadow || accountShadow
		for _, a := range mock.Actions {
			if a.WorkOrderID == 0 {
				a.WorkOrderID = n.Header.WorkOrderId
			}
			if verr := a.Validate(); verr != nil {
				out.Refused = append(out.Refused, Refusal{Rule: m.Rule, Plugin: m.Plugin, Kind: string(a.Kind), Stage: "validate", Reason: verr.Error()})
				continue
			}
			if shadow {
				out.Actions = append(out.Actions, Action{Rule: m.Rule, Plugin: m.Plugin, Shadow: true, Action: a})
				continue
			}
			queue = append(queue, pending{m, a})
		}
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
