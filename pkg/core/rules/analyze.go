package rules

import (
	"fmt"
	"sort"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/wogate/wogate/internal/typo"
	"github.com/wogate/wogate/pkg/corrigo"
)

// pinSet is the set of actions a condition can only be true for; nil
// means "any action" (not pinned).
type pinSet map[string]bool

// pins returns the actions node can be true for, and whether node says
// nothing but that (exact: the condition is equivalent to "the action is
// one of these"). Only the top-level && / || structure is inspected, so
// closures, ternaries and let-bindings (which could rebind `event`) are
// never looked into: what is not recognised is simply not pinned.
func pins(node ast.Node) (set pinSet, exact bool) {
	switch n := node.(type) {
	case *ast.BinaryNode:
		switch n.Operator {
		case "&&", "and":
			l, le := pins(n.Left)
			r, re := pins(n.Right)
			switch {
			case l != nil && r != nil:
				out := pinSet{}
				for a := range l {
					if r[a] {
						out[a] = true
					}
				}
				return out, le && re
			case l != nil:
				return l, false
			case r != nil:
				return r, false
			}
			return nil, false
		case "||", "or":
			l, le := pins(n.Left)
			r, re := pins(n.Right)
			if l == nil || r == nil {
				return nil, false
			}
			out := pinSet{}
			for a := range l {
				out[a] = true
			}
			for a := range r {
				out[a] = true
			}
			return out, le && re
		case "==":
			if isEventAction(n.Left) {
				if s, ok := n.Right.(*ast.StringNode); ok {
					return pinSet{s.Value: true}, true
				}
			}
			if isEventAction(n.Right) {
				if s, ok := n.Left.(*ast.StringNode); ok {
					return pinSet{s.Value: true}, true
				}
			}
		case "in":
			if !isEventAction(n.Left) {
				return nil, false
			}
			arr, ok := n.Right.(*ast.ArrayNode)
			if !ok {
				return nil, false
			}
			out := pinSet{}
			for _, x := range arr.Nodes {
				s, ok := x.(*ast.StringNode)
				if !ok {
					return nil, false
				}
				out[s.Value] = true
			}
			return out, true
		}
	}
	return nil, false
}

// isEventAction recognises event.Action, event["Action"] and event?.Action.
func isEventAction(n ast.Node) bool {
	if c, ok := n.(*ast.ChainNode); ok {
		n = c.Node
	}
	m, ok := n.(*ast.MemberNode)
	if !ok {
		return false
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || id.Value != "event" {
		return false
	}
	p, ok := m.Property.(*ast.StringNode)
	return ok && p.Value == "Action"
}

// workOrderNames are the identifiers whose value depends on the work order.
var workOrderNames = map[string]bool{"workOrder": true, "hasWorkOrder": true, "customer": true}

// inspector walks a parsed condition: it notes whether the work order is
// used and checks literal arguments of helpers at compile time, so a typo
// in a regular expression, business-hours spec, time zone or status name
// fails validation instead of every evaluation.
type inspector struct {
	usesWorkOrder bool
	errs          []*file.Error
}

func (v *inspector) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if workOrderNames[n.Value] {
			v.usesWorkOrder = true
		}
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok {
			return
		}
		lit := func(i int) (*ast.StringNode, bool) {
			if i >= len(n.Arguments) {
				return nil, false
			}
			s, ok := n.Arguments[i].(*ast.StringNode)
			return s, ok
		}
		switch id.Value {
		case "match":
			if s, ok := lit(1); ok {
				if _, err := compileRegex(s.Value); err != nil {
					v.fail(s, err.Error())
				}
			}
		case "inBusinessHours":
			if s, ok := lit(1); ok {
				if _, err := parseBusinessHours(s.Value); err != nil {
					v.fail(s, err.Error())
				}
			}
			if s, ok := lit(2); ok {
				if _, err := zoneFor(s.Value); err != nil {
					v.fail(s, err.Error())
				}
			}
		case "isStatus":
			for i := 1; i < len(n.Arguments); i++ {
				if s, ok := lit(i); ok && !isKnownStatus(s.Value) {
					v.fail(s, fmt.Sprintf("unknown status %q%s (known: %s)", s.Value, didYouMean(s.Value, statusNames()), strings.Join(statusNames(), ", ")))
				}
			}
		}
	}
}

func (v *inspector) fail(n ast.Node, msg string) {
	v.errs = append(v.errs, &file.Error{Location: n.Location(), Message: msg})
}

func statusNames() []string {
	out := make([]string, len(corrigo.AllStatuses))
	for i, s := range corrigo.AllStatuses {
		out[i] = string(s)
	}
	return out
}

func actionNames() []string {
	out := make([]string, len(corrigo.KnownActions))
	for i, a := range corrigo.KnownActions {
		out[i] = string(a)
	}
	return out
}

func isKnownAction(a string) bool {
	for _, k := range corrigo.KnownActions {
		if string(k) == a {
			return true
		}
	}
	return false
}

// didYouMean returns ` (did you mean "X"?)` for the closest candidate
// within a small edit distance, compared case-insensitively.
func didYouMean(s string, candidates []string) string {
	best := typo.Closest(s, candidates, 4)
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func sortedPins(p pinSet) []string {
	out := make([]string, 0, len(p))
	for a := range p {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}
