// Package rules compiles the `when` conditions of the configured rules and
// decides, for each event, which rules match.
//
// Conditions are expr-lang expressions compiled once, type-checked against
// Env and required to be bool. Evaluation runs the rules in order; an
// event can match several rules, and a matching rule with stop ends the
// evaluation. Rules whose condition pins the action (event.Action ==
// "NewWorkOrder" as a top-level conjunct, or event.Action in [...]) are
// indexed, so an event only pays for the rules that can match its action:
// a thousand rules spread over the actions cost about what the handful for
// one action cost.
package rules

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"github.com/wogate/wogate/pkg/core/config"
)

// Limits for user-written conditions: the AST size at compile time and the
// memory one evaluation may allocate (expr's budget units).
const (
	MaxNodes     = 10000
	MemoryBudget = 1_000_000
	// MaxConditionLength bounds a condition's source text.
	MaxConditionLength = 64 << 10
)

// Set is a compiled rule list. It is safe for concurrent use; build a new
// Set to change rules (reload swaps whole sets).
type Set struct {
	rules    []compiled
	byAction map[string][]int // rule indexes to evaluate for an action, in order
	unpinned []int            // for actions no rule pins
	all      []int            // every rule, for unindexed evaluation (tests)
	// needsWO tells, per action (and for unpinned), whether a candidate
	// rule reads the work order.
	needsWO         map[string]bool
	needsWOUnpinned bool
	warnings        []config.ErrorEntry
	version         string
	pool            sync.Pool
}

type compiled struct {
	rule  config.Rule
	index int
	prog  *vm.Program
	// residual is the condition without its action pins, run when the
	// action index chose the rule (the pins are then known to hold);
	// nil with residualTrue when nothing but pins is left.
	residual     *vm.Program
	residualTrue bool
	pinned       pinSet // nil: not pinned
	exact        bool   // the condition is exactly its pin
	constTrue    bool
	constFalse   bool
	needsWO      bool
}

// Decision is what the rules decided for one event. It is recorded with the
// event (JSON) so an operator can see why a plugin was or was not called.
type Decision struct {
	// Matched lists the matching rules in evaluation order.
	Matched []Match `json:"matched"`
	// Stopped is true when a matching rule with stop ended evaluation.
	Stopped bool `json:"stopped,omitempty"`
	// Evaluated counts the conditions evaluated (after indexing).
	Evaluated int `json:"evaluated"`
	// ConfigVersion is the configuration the rules came from (set by
	// CompileConfig).
	ConfigVersion string `json:"config_version,omitempty"`
}

// Match is one matching rule.
type Match struct {
	Rule string `json:"rule"`
	// Plugin receives the event; empty for a stop rule without a plugin
	// (the event is dropped from later rules and sent nowhere).
	Plugin string `json:"plugin,omitempty"`
	// Index is the rule's position in the configuration.
	Index int `json:"index"`
	// Shadow: record what the plugin returns, send nothing.
	Shadow bool `json:"shadow,omitempty"`
	// FetchWorkOrder: give the plugin the full work order.
	FetchWorkOrder bool `json:"fetch_work_order,omitempty"`
}

// EvalError is a condition that failed at run time (for example indexing
// past the end of a list). The event cannot be decided: the dispatcher
// should park it for an operator rather than guess.
type EvalError struct {
	Rule  string
	Index int
	Err   error
}

func (e *EvalError) Error() string { return fmt.Sprintf("rule %q: %v", e.Rule, e.Err) }
func (e *EvalError) Unwrap() error { return e.Err }

// Compile compiles every rule's condition. The error, an *config.Error,
// lists every bad rule with its name, file:line:column and expr's caret
// snippet.
func Compile(rs []config.Rule) (*Set, error) {
	s, _, errs := build(rs)
	if len(errs) > 0 {
		return nil, &config.Error{Entries: errs}
	}
	return s, nil
}

// CompileConfig compiles cfg's rules and records cfg.Version in every
// Decision.
func CompileConfig(cfg *config.Config) (*Set, error) {
	s, err := Compile(cfg.Rules)
	if err != nil {
		return nil, err
	}
	s.version = cfg.Version
	return s, nil
}

// Lint compiles rs and returns both the warnings (rules that can never
// match, rules shadowed by an earlier stop rule, pins to unknown actions)
// and the errors, for `gateway validate`.
func Lint(rs []config.Rule) (warnings, errs []config.ErrorEntry) {
	_, warnings, errs = build(rs)
	return warnings, errs
}

// Warnings returns what Lint would warn about for this set.
func (s *Set) Warnings() []config.ErrorEntry { return s.warnings }

// Len is the number of rules.
func (s *Set) Len() int { return len(s.rules) }

// Version is the configuration version decisions are recorded under.
func (s *Set) Version() string { return s.version }

// NeedsWorkOrder reports whether any rule that may be evaluated for action
// reads the work order (workOrder, hasWorkOrder or customer) or has
// fetch_work_order set. The dispatcher fetches the work order before
// evaluating only then: rules that never look at it cost no API call.
func (s *Set) NeedsWorkOrder(action string) bool {
	if v, ok := s.needsWO[action]; ok {
		return v
	}
	return s.needsWOUnpinned
}

func exprOptions() []expr.Option {
	opts := []expr.Option{
		expr.Env(vmEnv{}),
		expr.AsBool(),
		expr.MaxNodes(MaxNodes),
	}
	return append(opts, functions()...)
}

func build(rs []config.Rule) (*Set, []config.ErrorEntry, []config.ErrorEntry) {
	s := &Set{byAction: map[string][]int{}, needsWO: map[string]bool{}}
	var errs []config.ErrorEntry
	opts := exprOptions()
	for i, r := range rs {
		c, err := compileOne(i, r, opts)
		if err != nil {
			errs = append(errs, err...)
			continue
		}
		s.rules = append(s.rules, c)
	}
	if len(errs) > 0 {
		return nil, nil, errs
	}
	s.index()
	s.warnings = s.lint()
	s.pool.New = func() any { return &evalState{vm: vm.VM{MemoryBudget: MemoryBudget}} }
	return s, s.warnings, nil
}

func compileOne(i int, r config.Rule, opts []expr.Option) (c compiled, errs []config.ErrorEntry) {
	key := config.RuleKey(i, "when")
	name := r.Name
	if name == "" {
		name = fmt.Sprintf("#%d", i)
	}
	defer func() {
		// expr must not take the gateway down on a pathological
		// condition; report it as a compile error.
		if p := recover(); p != nil {
			errs = []config.ErrorEntry{ruleEntry(r, key, fmt.Sprintf("rule %q: internal compiler error: %v", name, p))}
		}
	}()
	if strings.TrimSpace(r.When) == "" {
		return c, []config.ErrorEntry{ruleEntry(r, key, fmt.Sprintf("rule %q: empty condition", name))}
	}
	if len(r.When) > MaxConditionLength {
		return c, []config.ErrorEntry{ruleEntry(r, key, fmt.Sprintf("rule %q: condition longer than %d bytes", name, MaxConditionLength))}
	}
	prog, err := expr.Compile(r.When, opts...)
	if err != nil {
		return c, []config.ErrorEntry{exprEntry(r, key, name, err)}
	}
	tree, err := parser.Parse(r.When)
	if err != nil { // compiled, so this cannot fail; be safe anyway
		return c, []config.ErrorEntry{exprEntry(r, key, name, err)}
	}
	insp := &inspector{}
	ast.Walk(&tree.Node, insp)
	if len(insp.errs) > 0 {
		for _, fe := range insp.errs {
			errs = append(errs, exprEntry(r, key, name, fe.Bind(file.NewSource(r.When))))
		}
		return c, errs
	}
	c = compiled{rule: r, index: i, prog: prog, needsWO: insp.usesWorkOrder || r.FetchWorkOrder}
	c.pinned, c.exact = pins(tree.Node)
	if b, ok := prog.Node().(*ast.BoolNode); ok {
		c.constTrue, c.constFalse = b.Value, !b.Value
	}
	if c.pinned != nil && len(c.pinned) == 0 {
		c.constFalse = true
	}
	if c.pinned != nil && !c.constFalse {
		c.residual, c.residualTrue = residualProgram(tree.Node, opts)
		if c.residual == nil && !c.residualTrue {
			c.residual = c.prog
		}
	}
	return c, nil
}

// residualProgram compiles node without its exact action pins (top-level
// && conjuncts that only test event.Action). It returns (nil, true) when
// only pins were left, and (nil, false) when the residual cannot be
// compiled, in which case the full program is used.
func residualProgram(node ast.Node, opts []expr.Option) (*vm.Program, bool) {
	rest := stripPins(node)
	if rest == nil {
		return nil, true
	}
	if rest == node {
		return nil, false
	}
	prog, err := expr.Compile(rest.String(), opts...)
	if err != nil {
		return nil, false
	}
	return prog, false
}

// stripPins removes exact pin conjuncts from a top-level && chain; nil
// means nothing is left.
func stripPins(n ast.Node) ast.Node {
	if set, exact := pins(n); set != nil && exact {
		return nil
	}
	b, ok := n.(*ast.BinaryNode)
	if !ok || (b.Operator != "&&" && b.Operator != "and") {
		return n
	}
	l, r := stripPins(b.Left), stripPins(b.Right)
	switch {
	case l == nil:
		return r
	case r == nil:
		return l
	case l == b.Left && r == b.Right:
		return n
	}
	return &ast.BinaryNode{Operator: "&&", Left: l, Right: r}
}

// ruleEntry positions an entry at the start of the rule's condition.
func ruleEntry(r config.Rule, key, msg string) config.ErrorEntry {
	return config.ErrorEntry{File: r.File, Line: r.Line, Column: r.Column, Key: key, Message: msg}
}

// exprEntry maps expr's line:column (relative to the condition) into the
// file and keeps expr's caret snippet.
func exprEntry(r config.Rule, key, name string, err error) config.ErrorEntry {
	e := ruleEntry(r, key, fmt.Sprintf("rule %q: %v", name, err))
	var fe *file.Error
	if !errors.As(err, &fe) || fe.Snippet == "" {
		return e
	}
	e.Message = fmt.Sprintf("rule %q: %s%s%s", name, fe.Message, hintFor(fe.Message), fe.Snippet) // hints.go
	if r.Line == 0 {
		return e
	}
	if fe.Line <= 1 {
		e.Column = r.Column + fe.Column
	} else {
		e.Line = r.Line + fe.Line - 1
		e.Column = 1 + fe.Column
		if r.Block {
			e.Column = r.Column + fe.Column
		}
	}
	return e
}

// index builds the action index: for each pinned action, the unpinned
// rules and the rules pinned to it, in configuration order. Rules that can
// never match are left out.
func (s *Set) index() {
	actions := map[string]bool{}
	for _, c := range s.rules {
		for a := range c.pinned {
			actions[a] = true
		}
	}
	for i, c := range s.rules {
		s.all = append(s.all, i)
		if c.constFalse {
			continue
		}
		if c.pinned == nil {
			s.unpinned = append(s.unpinned, i)
			if c.needsWO {
				s.needsWOUnpinned = true
			}
			for a := range actions {
				s.byAction[a] = append(s.byAction[a], i)
			}
			continue
		}
		for a := range c.pinned {
			s.byAction[a] = append(s.byAction[a], i)
		}
	}
	// byAction lists were appended in rule order, so they are sorted.
	for a, list := range s.byAction {
		need := false
		for _, i := range list {
			need = need || s.rules[i].needsWO
		}
		s.needsWO[a] = need
	}
}

// lint finds rules that can never match.
func (s *Set) lint() []config.ErrorEntry {
	var out []config.ErrorEntry
	warn := func(c compiled, msg string) {
		out = append(out, ruleEntry(c.rule, config.RuleKey(c.index, "when"), fmt.Sprintf("rule %q: %s", c.rule.Name, msg)))
	}
	// stoppers are earlier stop rules that match every event of their
	// pinned actions (or of every action).
	type stopper struct {
		c   compiled
		all bool
		on  pinSet
	}
	var stoppers []stopper
	for _, c := range s.rules {
		for _, a := range sortedPins(c.pinned) {
			if !isKnownAction(a) {
				warn(c, fmt.Sprintf("pinned to unknown action %q%s; it matches only if CorrigoPro sends that action", a, didYouMean(a, actionNames())))
			}
		}
		switch {
		case c.constFalse:
			warn(c, "can never match: its condition is always false")
			continue
		}
		for _, st := range stoppers {
			if st.all || (c.pinned != nil && subset(c.pinned, st.on)) {
				what := "every event"
				if !st.all {
					what = "every " + strings.Join(sortedPins(st.on), "/") + " event"
				}
				where := ""
				if st.c.rule.Line > 0 {
					where = fmt.Sprintf(" (line %d)", st.c.rule.Line)
				}
				warn(c, fmt.Sprintf("can never match: the earlier rule %q%s matches %s and stops", st.c.rule.Name, where, what))
				break
			}
		}
		if c.rule.Stop {
			switch {
			case c.constTrue:
				stoppers = append(stoppers, stopper{c: c, all: true})
			case c.pinned != nil && c.exact:
				stoppers = append(stoppers, stopper{c: c, on: c.pinned})
			}
		}
	}
	return out
}

func subset(a, b pinSet) bool {
	for x := range a {
		if !b[x] {
			return false
		}
	}
	return true
}

// evalState is one goroutine's VM and scratch environment.
type evalState struct {
	vm vm.VM
	st state
}

// Evaluate decides which rules match env. env is not modified. An error is
// an *EvalError naming the rule whose condition failed at run time.
func (s *Set) Evaluate(env *Env) (Decision, error) {
	return s.evaluate(env, true)
}

func (s *Set) evaluate(env *Env, indexed bool) (d Decision, err error) {
	d.ConfigVersion = s.version
	d.Matched = []Match{} // recorded as [] rather than null
	if env == nil {
		env = &Env{}
	}
	list := s.all
	if indexed {
		list = s.unpinned
		if l, ok := s.byAction[env.Event.Action]; ok {
			list = l
		}
	}
	es := s.pool.Get().(*evalState)
	defer func() {
		es.st.release()
		s.pool.Put(es)
	}()
	e := es.st.prepare(env)
	for _, i := range list {
		c := &s.rules[i]
		if !indexed && c.constFalse {
			continue
		}
		d.Evaluated++
		prog, ok := c.prog, c.constTrue
		if indexed && c.pinned != nil {
			prog, ok = c.residual, c.residualTrue
		}
		if !ok {
			out, err := es.vm.Run(prog, e)
			if err != nil {
				return d, &EvalError{Rule: c.rule.Name, Index: c.index, Err: err}
			}
			ok, _ = out.(bool)
		}
		if !ok {
			continue
		}
		d.Matched = append(d.Matched, Match{
			Rule:           c.rule.Name,
			Plugin:         c.rule.Plugin,
			Index:          c.index,
			Shadow:         c.rule.Shadow,
			FetchWorkOrder: c.rule.FetchWorkOrder,
		})
		if c.rule.Stop {
			d.Stopped = true
			break
		}
	}
	return d, nil
}
