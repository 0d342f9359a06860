package ruletest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wogate/wogate/internal/typo"
	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	"go.yaml.in/yaml/v3"
)

// MaxFileSize bounds a test file and each fixture it reads.
const MaxFileSize = 8 << 20

// Suite is one parsed test file.
type Suite struct {
	// Path is the file as named on the command line (or discovered).
	Path  string
	Cases []*Case
}

// Case is one test case, with its fixtures loaded.
type Case struct {
	Name        string
	Description string
	// Skip, when set, is why the case is not run.
	Skip string
	// File and Line locate the case (its "- name:" item) in its test file.
	File string
	Line int

	// Account is the configured account the event arrives for; "" until
	// Bind fills in the only account of a single-account configuration.
	Account string
	// Source is how the event reached the gateway: webhook (default),
	// poll or reconcile.
	Source string
	// Now is the evaluation time; zero means the event's ActionDate (the
	// moment CorrigoPro sent it), or the wall clock when it has none.
	Now time.Time

	// Event is the notification under test; Body its JSON as the
	// gateway would have stored it.
	Event *corrigo.Notification
	Body  []byte
	// EventFrom says where the event came from, for messages: a fixture
	// path, "inline event" or "work order fixture".
	EventFrom string

	// WorkOrder is what CorrigoPro returns when the gateway fetches the
	// work order (for rules that read it, and for the action guard). Nil:
	// the case gives none (a NewWorkOrder event's details are used where
	// the gateway would use them).
	WorkOrder *corrigo.WorkOrder
	// WorkOrderStatus, when set, is the status CorrigoPro reports for the
	// work order when actions are checked, overriding what the work order
	// and the event say.
	WorkOrderStatus corrigo.Status
	// CustomerSettings are the customer's completion settings the guard
	// checks check-outs against; nil means CorrigoPro has none.
	CustomerSettings *corrigo.CustomerSettings

	// Mocks are the plugins' answers, by plugin name.
	Mocks map[string]Mock
	// MockLines locate each mock, by plugin name.
	MockLines map[string]int

	Expect Expect
}

// Mock is what a plugin answers to every event the case sends it.
type Mock struct {
	Actions []pluginapi.Action
	// Error, when set, makes the plugin call fail with this message.
	Error string
	// Retryable marks Error as worth retrying (pluginapi.RetryLater);
	// otherwise it is permanent (pluginapi.Permanent).
	Retryable bool
}

// Expect is what a case checks. Nil and zero fields are not checked.
type Expect struct {
	// Rules are the names of the matching rules, in evaluation order.
	Rules []string
	// NotRules must not match.
	NotRules []string
	// Stopped: whether a stop rule ended the evaluation.
	Stopped *bool
	// Actions are the actions that pass validation and the guard (sent,
	// or recorded for shadow rules and accounts), in order; each checks
	// only the fields it names.
	Actions []ExpectedAction
	// Refused are the actions refused (invalid, or by the guard), in order.
	Refused []ExpectedRefusal
	// NoActions: nothing goes to CorrigoPro.
	NoActions bool
	// Outcome of the event: done, retry, dead or park.
	Outcome string
	// Error is a substring of the error that kept the event from being
	// done (a plugin error, a condition failing at run time).
	Error string
	// Lines locate each expectation key ("rules", "actions", ...).
	Lines map[string]int
	// Line locates the expect: key itself.
	Line int
}

// ExpectedAction is one expected action: who produced it and a subset of
// its fields.
type ExpectedAction struct {
	Plugin string
	Rule   string
	Shadow *bool
	// Fields maps pluginapi.Action field names (as JSON spells them,
	// e.g. "Kind", "Comment", "RepairInfo") to expected values, normalized
	// through JSON.
	Fields map[string]any
	Line   int
}

// ExpectedRefusal is one expected refused action.
type ExpectedRefusal struct {
	Kind   string
	Reason string // substring of the reason
	Plugin string
	Rule   string
	Line   int
}

// Outcomes of an event.
const (
	OutcomeDone  = "done"
	OutcomeRetry = "retry"
	OutcomeDead  = "dead"
	OutcomePark  = "park"
)

var outcomes = []string{OutcomeDone, OutcomeRetry, OutcomeDead, OutcomePark}

// The YAML shapes. Free-form parts stay yaml.Nodes and are converted with
// their positions at hand.
type rawCase struct {
	Name             string             `yaml:"name"`
	Description      string             `yaml:"description"`
	Skip             string             `yaml:"skip"`
	Event            yaml.Node          `yaml:"event"`
	WorkOrder        yaml.Node          `yaml:"workOrder"`
	WorkOrderStatus  string             `yaml:"workOrderStatus"`
	CustomerSettings yaml.Node          `yaml:"customerSettings"`
	Account          string             `yaml:"account"`
	Source           string             `yaml:"source"`
	Now              string             `yaml:"now"`
	Plugins          map[string]rawMock `yaml:"plugins"`
	Expect           rawExpect          `yaml:"expect"`
}

type rawMock struct {
	Actions   []yaml.Node `yaml:"actions"`
	Error     string      `yaml:"error"`
	Retryable bool        `yaml:"retryable"`
}

type rawExpect struct {
	Rules     []string     `yaml:"rules"`
	NotRules  []string     `yaml:"notRules"`
	Stopped   *bool        `yaml:"stopped"`
	Actions   []yaml.Node  `yaml:"actions"`
	Refused   []rawRefusal `yaml:"refused"`
	NoActions bool         `yaml:"noActions"`
	Outcome   string       `yaml:"outcome"`
	Error     string       `yaml:"error"`
}

type rawRefusal struct {
	Kind   string `yaml:"kind"`
	Reason string `yaml:"reason"`
	Plugin string `yaml:"plugin"`
	Rule   string `yaml:"rule"`
}

// ParseFile reads and parses a test file. See Parse.
func ParseFile(path string) (*Suite, []config.ErrorEntry) {
	data, err := readLimited(path)
	if err != nil {
		return nil, []config.ErrorEntry{{File: path, Message: err.Error()}}
	}
	return Parse(path, data)
}

// Parse parses a test file's contents. Decoding is strict: an unknown key,
// a value of the wrong type, a missing fixture or a fixture that does not
// decode is an entry naming file:line:column. Every problem is reported,
// not only the first. Fixture paths are relative to path's directory.
// Checks that need the configuration (rule, plugin and account names) are
// Bind's.
func Parse(path string, data []byte) (*Suite, []config.ErrorEntry) {
	p := &parser{file: path, dir: filepath.Dir(path)}
	s := p.parse(data)
	if len(p.errs) > 0 {
		config.SortEntries(p.errs)
		return nil, p.errs
	}
	return s, nil
}

type parser struct {
	file string
	dir  string
	errs []config.ErrorEntry
}

func (p *parser) errorf(line, col int, key, format string, args ...any) {
	p.errs = append(p.errs, config.ErrorEntry{File: p.file, Line: line, Column: col, Key: key, Message: fmt.Sprintf(format, args...)})
}

func (p *parser) nodeErrorf(n *yaml.Node, key, format string, args ...any) {
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	p.errorf(line, col, key, format, args...)
}

func (p *parser) parse(data []byte) *Suite {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errorf(0, 0, "", "the file has no test cases (want a list of cases)")
			return nil
		}
		p.yamlError(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(extra.Line, extra.Column, "", "more than one YAML document; a test file is one list of cases")
		return nil
	}
	// Decoding the whole document once applies yaml.v3's guards against
	// aliases that contain themselves or expand without bound, before
	// this file's own walks follow aliases.
	var probe any
	if err := doc.Decode(&probe); err != nil {
		p.yamlError(err)
		return nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	root = resolveAlias(root)
	if root.Kind != yaml.SequenceNode {
		p.nodeErrorf(root, "", "a test file is a list of cases (- name: ...), not a %s", kindName(root))
		return nil
	}
	if len(root.Content) == 0 {
		p.errorf(root.Line, root.Column, "", "the file has no test cases")
		return nil
	}
	s := &Suite{Path: p.file}
	seen := map[string]int{}
	for i, item := range root.Content {
		key := fmt.Sprintf("[%d]", i)
		item = resolveAlias(item)
		if item.Kind != yaml.MappingNode {
			p.nodeErrorf(item, key, "a case is a mapping (name:, event:, expect: ...), not a %s", kindName(item))
			continue
		}
		before := len(p.errs)
		p.checkKeys(item, reflect.TypeFor[rawCase](), key)
		if len(p.errs) > before {
			continue
		}
		var rc rawCase
		if err := item.Decode(&rc); err != nil {
			p.yamlError(err)
			continue
		}
		c := p.buildCase(key, item, &rc)
		if c == nil {
			continue
		}
		if prev, dup := seen[c.Name]; dup {
			p.errorf(c.Line, 0, fmt.Sprintf("case %q: name", c.Name), "duplicate case name %q (first at line %d)", c.Name, prev)
			continue
		}
		seen[c.Name] = c.Line
		s.Cases = append(s.Cases, c)
	}
	return s
}

// yamlLine matches the position yaml.v3 puts in its messages.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlError turns a yaml.v3 error (syntax or type) into positioned entries.
func (p *parser) yamlError(err error) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, m := range msgs {
		if sm := yamlLine.FindStringSubmatch(strings.TrimSpace(m)); sm != nil {
			line, _ := strconv.Atoi(sm[1])
			p.errorf(line, 0, "", "%s", sm[2])
			continue
		}
		p.errorf(0, 0, "", "%s", strings.TrimPrefix(m, "yaml: "))
	}
}

func (p *parser) buildCase(key string, item *yaml.Node, rc *rawCase) *Case {
	lines := keyLines(item)
	c := &Case{
		Name: strings.TrimSpace(rc.Name), Description: rc.Description, Skip: rc.Skip,
		File: p.file, Line: item.Line,
		Account: rc.Account, Source: rc.Source, MockLines: map[string]int{},
	}
	ok := true
	prefix := key + "."
	fail := func(k string, format string, args ...any) {
		line := lines[k]
		if line == 0 {
			line = item.Line
		}
		p.errorf(line, 0, prefix+k, format, args...)
		ok = false
	}
	if c.Name == "" {
		fail("name", "a case needs a name")
	} else {
		prefix = fmt.Sprintf("case %q: ", c.Name)
	}
	switch c.Source {
	case "":
		c.Source = "webhook"
	case "webhook", "poll", "reconcile":
	default:
		fail("source", "unknown source %q (want webhook, poll or reconcile)", c.Source)
	}
	if rc.Now != "" {
		t, err := time.Parse(time.RFC3339Nano, rc.Now)
		if err != nil {
			fail("now", "not an RFC 3339 time (e.g. 2024-03-04T15:00:00Z): %q", rc.Now)
		}
		c.Now = t
	}
	if rc.WorkOrderStatus != "" {
		st := corrigo.Status(rc.WorkOrderStatus)
		if !slices.Contains(corrigo.AllStatuses, st) {
			fail("workOrderStatus", "unknown status %q%s (known: %s)", rc.WorkOrderStatus,
				didYouMean(rc.WorkOrderStatus, statusNames()), strings.Join(statusNames(), ", "))
		}
		c.WorkOrderStatus = st
	}

	// The work order, then the event (which may be made from it).
	if rc.WorkOrder.Kind != 0 {
		raw, where, err := p.document(&rc.WorkOrder)
		if err != nil {
			fail("workOrder", "%v", err)
		} else if wo, err := decodeWorkOrder(raw); err != nil {
			fail("workOrder", "%s: %v", where, err)
		} else {
			c.WorkOrder = wo
		}
	}
	if rc.CustomerSettings.Kind != 0 {
		raw, where, err := p.document(&rc.CustomerSettings)
		if err != nil {
			fail("customerSettings", "%v", err)
		} else {
			var cs corrigo.CustomerSettings
			if err := strictJSON(raw, &cs); err != nil {
				fail("customerSettings", "%s: not customer settings: %v", where, err)
			} else {
				c.CustomerSettings = &cs
			}
		}
	}
	switch {
	case rc.Event.Kind != 0:
		raw, where, err := p.document(&rc.Event)
		if err != nil {
			fail("event", "%v", err)
			break
		}
		n, err := corrigo.DecodeNotification(raw)
		if err != nil {
			fail("event", "%s: not a CorrigoPro notification: %v", where, err)
			break
		}
		c.Event, c.Body, c.EventFrom = n, n.Raw, where
		if c.WorkOrder != nil && c.WorkOrder.WorkOrderId != n.Header.WorkOrderId {
			fail("workOrder", "the work order is %d but the event is for work order %d", c.WorkOrder.WorkOrderId, n.Header.WorkOrderId)
		}
	case c.WorkOrder != nil:
		n, err := newWorkOrderEvent(c.WorkOrder, c.Now, p.file+"\x00"+c.Name)
		if err != nil {
			fail("workOrder", "%v", err)
			break
		}
		c.Event, c.Body, c.EventFrom = n, n.Raw, "work order fixture (as a NewWorkOrder event)"
	case rc.WorkOrder.Kind == 0:
		fail("event", "a case needs an event: (a notification fixture or inline notification) or a workOrder: (sent as a NewWorkOrder event)")
	}

	// Mocks.
	if len(rc.Plugins) > 0 {
		c.Mocks = map[string]Mock{}
		pluginsNode := valueOf(item, "plugins")
		for name, rm := range rc.Plugins {
			mnode := valueOf(pluginsNode, name)
			if mnode != nil {
				c.MockLines[name] = mnode.Line
			}
			m := Mock{Error: rm.Error, Retryable: rm.Retryable}
			if rm.Retryable && rm.Error == "" {
				p.nodeErrorf(mnode, prefix+"plugins."+name+".retryable", "retryable needs an error to apply to")
				ok = false
			}
			for i := range rm.Actions {
				an := &rm.Actions[i]
				a, err := p.mockAction(an)
				if err != nil {
					p.nodeErrorf(an, fmt.Sprintf("%splugins.%s.actions[%d]", prefix, name, i), "%v", err)
					ok = false
					continue
				}
				m.Actions = append(m.Actions, a)
			}
			if rm.Error != "" && len(rm.Actions) > 0 {
				p.nodeErrorf(mnode, prefix+"plugins."+name, "a mock answers either actions or an error, not both")
				ok = false
			}
			c.Mocks[name] = m
		}
	}

	// Expectations.
	enode := valueOf(item, "expect")
	if enode == nil || len(keyLines(enode)) == 0 {
		fail("expect", "a case needs expect: with at least one expectation (rules, notRules, stopped, actions, refused, noActions, outcome, error); without one it cannot fail")
	} else if !p.buildExpect(prefix+"expect", enode, &rc.Expect, &c.Expect) {
		ok = false
	}
	if !ok {
		return nil
	}
	return c
}

func (p *parser) buildExpect(key string, n *yaml.Node, re *rawExpect, e *Expect) bool {
	ok := true
	e.Lines = keyLines(n)
	e.Line = n.Line
	e.Rules, e.NotRules, e.Stopped, e.NoActions, e.Error = re.Rules, re.NotRules, re.Stopped, re.NoActions, re.Error
	if _, has := e.Lines["rules"]; has && e.Rules == nil {
		e.Rules = []string{} // "rules: []": nothing matches
	}
	if re.Outcome != "" {
		if !slices.Contains(outcomes, re.Outcome) {
			p.errorf(e.Lines["outcome"], 0, key+".outcome", "unknown outcome %q (want %s)", re.Outcome, strings.Join(outcomes, ", "))
			ok = false
		}
		e.Outcome = re.Outcome
	}

	if _, has := e.Lines["actions"]; has {
		e.Actions = []ExpectedAction{}
	}
	for i := range re.Actions {
		an := &re.Actions[i]
		ea, err := p.expectedAction(an)
		if err != nil {
			p.nodeErrorf(an, fmt.Sprintf("%s.actions[%d]", key, i), "%v", err)
			ok = false
			continue
		}
		e.Actions = append(e.Actions, ea)
	}
	if e.NoActions {
		for _, a := range e.Actions {
			if a.Shadow == nil || !*a.Shadow {
				p.errorf(e.Lines["noActions"], 0, key+".noActions", "noActions: true contradicts the actions listed (only shadow: true actions can go with it)")
				ok = false
				break
			}
		}
	}
	if _, has := e.Lines["refused"]; has {
		e.Refused = []ExpectedRefusal{}
	}
	refNode := valueOf(n, "refused")
	for i, rr := range re.Refused {
		line := 0
		if refNode != nil && i < len(refNode.Content) {
			line = refNode.Content[i].Line
		}
		if rr.Kind == "" && rr.Reason == "" && rr.Plugin == "" && rr.Rule == "" {
			p.errorf(line, 0, fmt.Sprintf("%s.refused[%d]", key, i), "an expected refusal needs kind, reason, plugin or rule")
			ok = false
			continue
		}
		if rr.Kind != "" && !knownKind(rr.Kind) {
			p.errorf(line, 0, fmt.Sprintf("%s.refused[%d].kind", key, i), "unknown action kind %q%s", rr.Kind, didYouMean(rr.Kind, kindNames()))
			ok = false
		}
		e.Refused = append(e.Refused, ExpectedRefusal{Kind: rr.Kind, Reason: rr.Reason, Plugin: rr.Plugin, Rule: rr.Rule, Line: line})
	}
	for _, r := range e.NotRules {
		if slices.Contains(e.Rules, r) {
			p.errorf(e.Lines["notRules"], 0, key+".notRules", "rule %q is expected both to match and not to", r)
			ok = false
		}
	}
	return ok
}

// actionFields are pluginapi.Action's JSON field names, by lower case.
var actionFields = func() map[string]string {
	m := map[string]string{}
	t := reflect.TypeFor[pluginapi.Action]()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.IsExported() {
			m[strings.ToLower(f.Name)] = f.Name
		}
	}
	return m
}()

func (p *parser) expectedAction(n *yaml.Node) (ExpectedAction, error) {
	ea := ExpectedAction{Line: n.Line, Fields: map[string]any{}}
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		return ea, fmt.Errorf("an expected action is a mapping (plugin:, kind:, fields...), not a %s", kindName(n))
	}
	var m map[string]any
	if err := n.Decode(&m); err != nil {
		return ea, err
	}
	for k, v := range m {
		switch k {
		case "plugin", "rule":
			s, isStr := v.(string)
			if !isStr {
				return ea, fmt.Errorf("%s: want a string", k)
			}
			if k == "plugin" {
				ea.Plugin = s
			} else {
				ea.Rule = s
			}
			continue
		case "shadow":
			b, isBool := v.(bool)
			if !isBool {
				return ea, fmt.Errorf("shadow: want true or false")
			}
			ea.Shadow = &b
			continue
		}
		name, known := actionFields[strings.ToLower(k)]
		if !known {
			return ea, fmt.Errorf("unknown action field %q%s (action fields: %s; plus plugin, rule, shadow)", k, didYouMean(k, actionFieldNames()), strings.Join(actionFieldNames(), ", "))
		}
		nv, err := normalize(v)
		if err != nil {
			return ea, fmt.Errorf("%s: %w", k, err)
		}
		if name == "Kind" {
			s, _ := nv.(string)
			if !knownKind(s) {
				return ea, fmt.Errorf("unknown action kind %q%s", s, didYouMean(s, kindNames()))
			}
		}
		ea.Fields[name] = nv
	}
	return ea, nil
}

func (p *parser) mockAction(n *yaml.Node) (pluginapi.Action, error) {
	var a pluginapi.Action
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		return a, fmt.Errorf("a mocked action is a mapping (kind:, comment: ...), not a %s", kindName(n))
	}
	raw, err := nodeJSON(n)
	if err != nil {
		return a, err
	}
	if err := strictJSON(raw, &a); err != nil {
		return a, fmt.Errorf("not a plugin action: %w", err)
	}
	return a, nil
}

// document returns the JSON a fixture node stands for: a path to a JSON
// file (relative to the test file), JSON text, or inline YAML. where names
// the source for messages.
func (p *parser) document(n *yaml.Node) (raw []byte, where string, err error) {
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.ScalarNode:
		s := strings.TrimSpace(n.Value)
		if strings.HasPrefix(s, "{") {
			return []byte(s), "inline JSON", nil
		}
		if s == "" {
			return nil, "", errors.New("empty fixture path")
		}
		path := s
		if !filepath.IsAbs(path) {
			path = filepath.Join(p.dir, path)
		}
		b, err := readLimited(path)
		if err != nil {
			return nil, "", fmt.Errorf("fixture %w", err)
		}
		return b, path, nil
	case yaml.MappingNode:
		from := valueOf(n, "from")
		if from == nil {
			b, err := nodeJSON(n)
			if err != nil {
				return nil, "", err
			}
			return b, "inline fixture", nil
		}
		// from: a fixture, with the other keys merged over it.
		if from.Kind != yaml.ScalarNode || strings.HasPrefix(strings.TrimSpace(from.Value), "{") {
			return nil, "", errors.New("from: wants a fixture path")
		}
		base, where, err := p.document(from)
		if err != nil {
			return nil, "", err
		}
		var bm map[string]any
		if err := json.Unmarshal(base, &bm); err != nil {
			return nil, "", fmt.Errorf("%s: not a JSON object: %w", where, err)
		}
		var over map[string]any
		if err := n.Decode(&over); err != nil {
			return nil, "", err
		}
		delete(over, "from")
		ov, err := jsonable(over)
		if err != nil {
			return nil, "", err
		}
		b, err := json.Marshal(merge(bm, ov.(map[string]any)))
		if err != nil {
			return nil, "", err
		}
		return b, where + " (with overrides)", nil
	}
	return nil, "", fmt.Errorf("want a fixture path, JSON text or a mapping, not a %s", kindName(n))
}

// merge deep-merges over into base: mappings merge key by key, anything
// else (lists included) replaces. Keys match case-insensitively, as
// CorrigoPro's JSON is decoded.
func merge(base, over map[string]any) map[string]any {
	for k, v := range over {
		bk := k
		for existing := range base {
			if strings.EqualFold(existing, k) {
				bk = existing
				break
			}
		}
		bm, ok1 := base[bk].(map[string]any)
		om, ok2 := v.(map[string]any)
		if ok1 && ok2 {
			base[bk] = merge(bm, om)
			continue
		}
		base[bk] = v
	}
	return base
}

// decodeWorkOrder reads a work order: the model itself (GET api/workOrder)
// or a NewWorkOrder notification, whose Details are taken.
func decodeWorkOrder(raw []byte) (*corrigo.WorkOrder, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if d, ok := probe["Details"]; ok {
		if _, hdr := probe["Header"]; hdr {
			raw = d
		}
	}
	var wo corrigo.WorkOrder
	if err := strictJSON(raw, &wo); err != nil {
		return nil, fmt.Errorf("not a work order: %w", err)
	}
	if wo.WorkOrderId == 0 {
		return nil, errors.New("the work order has no WorkOrderId")
	}
	return &wo, nil
}

// newWorkOrderEvent wraps a work order in the NewWorkOrder notification
// CorrigoPro would send for it. ActionDate is now, else the work order's
// Created time; the MessageId is derived from seed, so it is stable.
func newWorkOrderEvent(wo *corrigo.WorkOrder, now time.Time, seed string) (*corrigo.Notification, error) {
	sum := sha256.Sum256([]byte(seed))
	h := hex.EncodeToString(sum[:16])
	hdr := corrigo.Header{
		WorkOrderId: wo.WorkOrderId,
		BranchId:    wo.BranchId,
		Action:      corrigo.ActionNewWorkOrder,
		ApiVersion:  "1.0",
		MessageId:   h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32],
	}
	switch {
	case !now.IsZero():
		hdr.ActionDate = corrigo.Time{Time: now}
	case !wo.Created.IsZero():
		hdr.ActionDate = wo.Created
	}
	body, err := json.Marshal(struct {
		Details corrigo.WorkOrder
		Header  corrigo.Header
	}{*wo, hdr})
	if err != nil {
		return nil, fmt.Errorf("encode NewWorkOrder event: %w", err)
	}
	n, err := corrigo.DecodeNotification(body)
	if err != nil {
		return nil, fmt.Errorf("the work order does not make a NewWorkOrder event: %w", err)
	}
	return n, nil
}

// strictJSON decodes raw into v, refusing unknown fields (a typo in a
// fixture must not pass silently) and trailing data.
func strictJSON(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

// nodeJSON converts a YAML node to JSON.
func nodeJSON(n *yaml.Node) ([]byte, error) {
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	v, err := jsonable(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// jsonable makes a decoded YAML value encodable as JSON: mapping keys must
// be strings, timestamps become RFC 3339 text.
func jsonable(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			j, err := jsonable(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			x[k] = j
		}
		return x, nil
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("mapping key %v is not a string", k)
			}
			j, err := jsonable(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", ks, err)
			}
			out[ks] = j
		}
		return out, nil
	case []any:
		for i, e := range x {
			j, err := jsonable(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			x[i] = j
		}
		return x, nil
	case time.Time:
		return x.Format(time.RFC3339Nano), nil
	}
	return v, nil
}

// normalize passes a value through JSON so that it compares with the JSON
// form of an action (numbers become float64, and so on).
func normalize(v any) (any, error) {
	v, err := jsonable(v)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkKeys reports every mapping key of n that type t (a struct with yaml
// tags, or slices and maps of them) does not know, with its position.
func (p *parser) checkKeys(n *yaml.Node, t reflect.Type, where string) {
	n = resolveAlias(n)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[yaml.Node]() {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return // the decoder reports the type error
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := range t.NumField() {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if tag == "" || tag == "-" {
				continue
			}
			fields[tag] = f.Type
			names = append(names, tag)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" {
				p.checkKeys(v, t, where)
				continue
			}
			ft, ok := fields[k.Value]
			if !ok {
				p.errorf(k.Line, k.Column, joinKey(where, k.Value), "unknown key %q%s (known here: %s)", k.Value, didYouMean(k.Value, names), strings.Join(names, ", "))
				continue
			}
			p.checkKeys(v, ft, joinKey(where, k.Value))
		}
	case reflect.Slice:
		if n.Kind == yaml.SequenceNode {
			for i, e := range n.Content {
				p.checkKeys(e, t.Elem(), fmt.Sprintf("%s[%d]", where, i))
			}
		}
	case reflect.Map:
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				p.checkKeys(n.Content[i+1], t.Elem(), joinKey(where, n.Content[i].Value))
			}
		}
	}
}

func joinKey(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// keyLines maps each key of a mapping node to its line.
func keyLines(n *yaml.Node) map[string]int {
	n = resolveAlias(n)
	out := map[string]int{}
	if n == nil || n.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "<<" {
			for k, l := range keyLines(n.Content[i+1]) {
				if _, ok := out[k]; !ok {
					out[k] = l
				}
			}
			continue
		}
		out[n.Content[i].Value] = n.Content[i].Line
	}
	return out
}

// valueOf returns the value node of key in a mapping node, or nil.
func valueOf(n *yaml.Node, key string) *yaml.Node {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return resolveAlias(n.Content[i+1])
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "<<" {
			if v := valueOf(n.Content[i+1], key); v != nil {
				return v
			}
		}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	case yaml.ScalarNode:
		return "scalar"
	case yaml.AliasNode:
		return "alias"
	}
	return "document"
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // G304: a fixture file the rule test names
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: %w", path, pe.Err)
		}
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch {
	case st.IsDir():
		return nil, fmt.Errorf("%s: is a directory", path)
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, MaxFileSize)
	}
	return b, nil
}

func knownKind(k string) bool {
	return slices.Contains(pluginapi.AllKinds, pluginapi.ActionKind(k))
}

func kindNames() []string {
	out := make([]string, len(pluginapi.AllKinds))
	for i, k := range pluginapi.AllKinds {
		out[i] = string(k)
	}
	return out
}

func statusNames() []string {
	out := make([]string, len(corrigo.AllStatuses))
	for i, s := range corrigo.AllStatuses {
		out[i] = string(s)
	}
	return out
}

func actionFieldNames() []string {
	out := make([]string, 0, len(actionFields))
	for _, n := range actionFields {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// didYouMean returns ` (did you mean "X"?)` for the closest candidate
// within a small edit distance, compared case-insensitively.
func didYouMean(s string, candidates []string) string {
	limit := 4
	if len(s) < 4 {
		limit = 3 // two edits even for short names: "epr" is "erp"
	}
	best := typo.Closest(s, candidates, limit)
	if best == "" || best == s {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}
