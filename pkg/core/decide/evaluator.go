// Package decide is what the running gateway, gateway replay and gateway
// test share to decide an event as the gateway does: the rules evaluator
// dispatch calls (dispatch.Evaluator over a compiled rules.Set) and the
// verdict on a failed plugin call (dispatch.Options.Classify). With both
// in one place, the three callers run one decision loop, dispatch's, and
// a rule test cannot pass on a path production does not take.
//
// decide never calls a plugin, reads the store or talks to CorrigoPro:
// the callers give dispatch those.
package decide

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/dispatch"
	"github.com/wogate/wogate/pkg/core/rules"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
)

// Evaluator adapts the compiled rule set to dispatch.Evaluator: it builds
// the rules' environment from the event, fetches the work order only when
// a rule that may run for the event's action reads it, and applies the
// account's shadow mode.
type Evaluator struct {
	set    *rules.Set
	shadow map[string]bool // accounts in shadow mode
	// now is the time rules see for an event; nil: the wall clock.
	now func(*store.Event) time.Time
}

// NewEvaluator compiles cfg's rules into the dispatcher's Evaluator, as
// the gateway runs them. now, when not nil, is the time the rules see for
// an event (gateway replay: when the event was handled); nil means the
// wall clock, as at run time.
func NewEvaluator(cfg *config.Config, now func(*store.Event) time.Time) (*Evaluator, error) {
	set, err := rules.CompileConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("compile rules: %w", err)
	}
	return ForSet(set, cfg, now)
}

// ForSet is NewEvaluator for rules compiled from cfg already.
func ForSet(set *rules.Set, cfg *config.Config, now func(*store.Event) time.Time) (*Evaluator, error) {
	e := &Evaluator{set: set, shadow: map[string]bool{}, now: now}
	for name, a := range cfg.Corrigo.Accounts {
		e.shadow[name] = a.Shadow
	}
	for _, r := range cfg.Rules {
		if r.Plugin != "" {
			if _, ok := cfg.Plugins[r.Plugin]; !ok {
				return nil, fmt.Errorf("rule %q: plugin %q is not configured", r.Name, r.Plugin)
			}
		}
	}
	return e, nil
}

// Evaluate implements dispatch.Evaluator.
func (e *Evaluator) Evaluate(ctx context.Context, in *dispatch.Input) (dispatch.Decision, error) {
	ev := in.Event
	wo := in.Known()
	if wo == nil && e.set.NeedsWorkOrder(ev.Action) {
		var err error
		if wo, err = in.WorkOrder(); err != nil {
			return dispatch.Decision{ConfigVersion: e.set.Version()}, err
		}
	}
	now := timeZero
	if e.now != nil {
		now = e.now(ev)
	}
	d, err := e.set.Evaluate(rules.NewEnv(ev.Account, string(ev.Source), in.Notification, wo, now))
	out := dispatch.Decision{Stopped: d.Stopped, ConfigVersion: d.ConfigVersion}
	// With an error, Matched are the rules that matched before it: dispatch
	// ignores them, gateway test reports them.
	for _, m := range d.Matched {
		out.Matched = append(out.Matched, dispatch.Match{
			Rule: m.Rule, Plugin: m.Plugin, Index: m.Index, Shadow: m.Shadow || e.shadow[ev.Account],
		})
	}
	if err != nil {
		var ee *rules.EvalError
		if errors.As(err, &ee) {
			return out, dispatch.NeedsPerson(err)
		}
		return out, err
	}
	return out, nil
}

// Rules is how many rules the evaluator runs.
func (e *Evaluator) Rules() int { return e.set.Len() }

// timeZero lets rules.Evaluate use the current time.
var timeZero = corrigo.Time{}.Time
