package ruletest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// compare checks got against the case's expectations and returns every
// difference.
func compare(c *Case, got *Outcome) []Failure {
	e := &c.Expect
	var fs []Failure
	line := func(k string) int {
		if l := e.Lines[k]; l > 0 {
			return l
		}
		return e.Line
	}
	add := func(f Failure) { fs = append(fs, f) }

	// Outcome. A case that names neither outcome nor error expects the
	// event to be done: a plugin error nobody expected is a failure.
	switch {
	case e.Outcome != "":
		if got.Outcome != e.Outcome {
			add(Failure{Line: line("outcome"), Field: "outcome", Want: e.Outcome, Got: outcomeText(got)})
		}
	case e.Error == "":
		if got.Outcome != OutcomeDone {
			add(Failure{Line: e.Line, Field: "outcome", Want: "done (expect names no outcome or error)", Got: outcomeText(got)})
		}
	}
	if e.Error != "" {
		switch {
		case got.Error == "":
			add(Failure{Line: line("error"), Field: "error", Want: "an error containing " + strconv.Quote(e.Error), Got: "no error (" + got.Outcome + ")"})
		case !strings.Contains(got.Error, e.Error):
			add(Failure{Line: line("error"), Field: "error", Want: "contains " + strconv.Quote(e.Error), Got: strconv.Quote(got.Error)})
		}
	}

	if e.Rules != nil && !slices.Equal(e.Rules, got.Rules) {
		add(Failure{Line: line("rules"), Field: "rules", Want: nameList(e.Rules), Got: nameList(got.Rules)})
	}
	for _, r := range e.NotRules {
		if slices.Contains(got.Rules, r) {
			add(Failure{Line: line("notRules"), Field: "notRules", Want: fmt.Sprintf("%q does not match", r), Got: fmt.Sprintf("%q matched (matched: %s)", r, nameList(got.Rules))})
		}
	}
	if e.Stopped != nil && *e.Stopped != got.Stopped {
		add(Failure{Line: line("stopped"), Field: "stopped", Want: strconv.FormatBool(*e.Stopped), Got: strconv.FormatBool(got.Stopped)})
	}
	if e.NoActions {
		var sent []string
		for _, a := range got.Actions {
			if !a.Shadow {
				sent = append(sent, actionText(a))
			}
		}
		if len(sent) > 0 {
			add(Failure{Line: line("noActions"), Field: "noActions", Want: "nothing sent to CorrigoPro", Got: strings.Join(sent, "\n")})
		}
	}
	if e.Actions != nil {
		fs = append(fs, compareActions(e.Actions, got.Actions, line("actions"))...)
	}
	if e.Refused != nil {
		fs = append(fs, compareRefused(e.Refused, got.Refused, line("refused"))...)
	}
	return fs
}

func outcomeText(o *Outcome) string {
	if o.Error != "" {
		return o.Outcome + ": " + o.Error
	}
	return o.Outcome
}

func nameList(ns []string) string {
	if len(ns) == 0 {
		return "[] (none)"
	}
	return "[" + strings.Join(ns, ", ") + "]"
}

func compareActions(want []ExpectedAction, got []Action, line int) []Failure {
	if len(want) != len(got) {
		ws := make([]string, len(want))
		for i, w := range want {
			ws[i] = expectedActionText(w)
		}
		gs := make([]string, len(got))
		for i, g := range got {
			gs[i] = actionText(g)
		}
		return []Failure{{Line: line, Field: "actions",
			Want: countText(len(want), "action") + listText(ws), Got: countText(len(got), "action") + listText(gs)}}
	}
	var fs []Failure
	for i, w := range want {
		g := got[i]
		wl := w.Line
		if wl == 0 {
			wl = line
		}
		field := fmt.Sprintf("actions[%d]", i)
		if w.Plugin != "" && w.Plugin != g.Plugin {
			fs = append(fs, Failure{Line: wl, Field: field + ".plugin", Want: w.Plugin, Got: g.Plugin})
		}
		if w.Rule != "" && w.Rule != g.Rule {
			fs = append(fs, Failure{Line: wl, Field: field + ".rule", Want: w.Rule, Got: g.Rule})
		}
		if w.Shadow != nil && *w.Shadow != g.Shadow {
			fs = append(fs, Failure{Line: wl, Field: field + ".shadow", Want: strconv.FormatBool(*w.Shadow), Got: strconv.FormatBool(g.Shadow)})
		}
		gm := actionMap(g)
		for _, k := range sortedFieldKeys(w.Fields) {
			var diffs []diff
			subset(w.Fields[k], gm[k], k, &diffs)
			for _, d := range diffs {
				fs = append(fs, Failure{Line: wl, Field: field + "." + d.path, Want: d.want, Got: d.got})
			}
		}
	}
	return fs
}

func compareRefused(want []ExpectedRefusal, got []Refusal, line int) []Failure {
	if len(want) != len(got) {
		ws := make([]string, len(want))
		for i, w := range want {
			ws[i] = expectedRefusalText(w)
		}
		gs := make([]string, len(got))
		for i, g := range got {
			gs[i] = refusalText(g)
		}
		return []Failure{{Line: line, Field: "refused",
			Want: countText(len(want), "refused action") + listText(ws), Got: countText(len(got), "refused action") + listText(gs)}}
	}
	var fs []Failure
	for i, w := range want {
		g := got[i]
		wl := w.Line
		if wl == 0 {
			wl = line
		}
		field := fmt.Sprintf("refused[%d]", i)
		if w.Kind != "" && w.Kind != g.Kind {
			fs = append(fs, Failure{Line: wl, Field: field + ".kind", Want: w.Kind, Got: g.Kind})
		}
		if w.Plugin != "" && w.Plugin != g.Plugin {
			fs = append(fs, Failure{Line: wl, Field: field + ".plugin", Want: w.Plugin, Got: g.Plugin})
		}
		if w.Rule != "" && w.Rule != g.Rule {
			fs = append(fs, Failure{Line: wl, Field: field + ".rule", Want: w.Rule, Got: g.Rule})
		}
		if w.Reason != "" && !strings.Contains(g.Reason, w.Reason) {
			fs = append(fs, Failure{Line: wl, Field: field + ".reason", Want: "contains " + strconv.Quote(w.Reason), Got: strconv.Quote(g.Reason)})
		}
	}
	return fs
}

func countText(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func listText(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return ":\n" + strings.Join(items, "\n")
}

// actionMap is the action's JSON form as a map, the form expected fields
// are compared with.
func actionMap(a Action) map[string]any {
	b, _ := json.Marshal(a.Action)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

func actionText(a Action) string {
	b, _ := json.Marshal(a.Action)
	s := fmt.Sprintf("%s %s (plugin %s, rule %s)", a.Action.Kind, b, a.Plugin, a.Rule)
	if a.Shadow {
		s += " [shadow]"
	}
	return s
}

func expectedActionText(w ExpectedAction) string {
	kind, _ := w.Fields["Kind"].(string)
	if kind == "" {
		kind = "any kind"
	}
	b, _ := json.Marshal(w.Fields)
	s := kind + " " + string(b)
	var who []string
	if w.Plugin != "" {
		who = append(who, "plugin "+w.Plugin)
	}
	if w.Rule != "" {
		who = append(who, "rule "+w.Rule)
	}
	if len(who) > 0 {
		s += " (" + strings.Join(who, ", ") + ")"
	}
	if w.Shadow != nil && *w.Shadow {
		s += " [shadow]"
	}
	return s
}

func refusalText(r Refusal) string {
	return fmt.Sprintf("%s (plugin %s, rule %s): %s: %s", r.Kind, r.Plugin, r.Rule, r.Stage, r.Reason)
}

func expectedRefusalText(w ExpectedRefusal) string {
	kind := w.Kind
	if kind == "" {
		kind = "any kind"
	}
	var who []string
	if w.Plugin != "" {
		who = append(who, "plugin "+w.Plugin)
	}
	if w.Rule != "" {
		who = append(who, "rule "+w.Rule)
	}
	s := kind
	if len(who) > 0 {
		s += " (" + strings.Join(who, ", ") + ")"
	}
	if w.Reason != "" {
		s += ": reason containing " + strconv.Quote(w.Reason)
	}
	return s
}

func sortedFieldKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// Kind first: it is what a reader looks for.
	sort.Slice(keys, func(i, j int) bool {
		if (keys[i] == "Kind") != (keys[j] == "Kind") {
			return keys[i] == "Kind"
		}
		return keys[i] < keys[j]
	})
	return keys
}

type diff struct{ path, want, got string }

// subset reports where got lacks what want says. Maps compare the keys want
// names (case-insensitively, as Go's JSON decoding matches fields); lists
// compare element by element and must have the same length; a field absent
// from got (omitted because empty) equals the zero value; two strings that
// both parse as times compare as instants.
func subset(want, got any, path string, out *[]diff) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok && got != nil {
			*out = append(*out, diff{path, jsonText(want), jsonText(got)})
			return
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			name, v := lookupFold(g, k)
			subset(w[k], v, path+"."+name, out)
		}
	case []any:
		g, _ := got.([]any)
		if got != nil && g == nil {
			*out = append(*out, diff{path, jsonText(want), jsonText(got)})
			return
		}
		if len(w) != len(g) {
			*out = append(*out, diff{path, jsonText(want), jsonText(got)})
			return
		}
		for i := range w {
			subset(w[i], g[i], fmt.Sprintf("%s[%d]", path, i), out)
		}
	default:
		if !scalarEqual(want, got) {
			*out = append(*out, diff{path, jsonText(want), jsonText(got)})
		}
	}
}

// lookupFold finds k in m case-insensitively and returns the key as m
// spells it (k when absent) and the value.
func lookupFold(m map[string]any, k string) (string, any) {
	if v, ok := m[k]; ok {
		return k, v
	}
	for mk, v := range m {
		if strings.EqualFold(mk, k) {
			return mk, v
		}
	}
	return k, nil
}

func scalarEqual(want, got any) bool {
	if got == nil {
		switch w := want.(type) {
		case nil:
			return true
		case string:
			return w == ""
		case float64:
			return w == 0
		case bool:
			return !w
		}
		return false
	}
	if want == got {
		return true
	}
	ws, ok1 := want.(string)
	gs, ok2 := got.(string)
	if ok1 && ok2 {
		wt, err1 := time.Parse(time.RFC3339Nano, ws)
		gt, err2 := time.Parse(time.RFC3339Nano, gs)
		return err1 == nil && err2 == nil && wt.Equal(gt)
	}
	return false
}

func jsonText(v any) string {
	if v == nil {
		return "(absent)"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
