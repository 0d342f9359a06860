package ruletest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/corrigo"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

const (
	examplesConfig = "../../../examples/config.yaml"
	examplesDir    = "../../../examples"
	testConfig     = "testdata/config.yaml"
)

// TestExamples runs the shipped suite for examples/config.yaml, as
// `gateway test --strict` would: every case passes and every rule is
// matched by some case. When a rule is added to examples/config.yaml, add
// cases for it to examples/tests/config_test.yaml.
func TestExamples(t *testing.T) {
	rep := RunAll(context.Background(), Options{Config: examplesConfig})
	var out bytes.Buffer
	_ = rep.WriteText(&out, false, true)
	if !rep.OK(true) {
		t.Fatalf("gateway test --strict on examples/ fails:\n%s", out.String())
	}
	if rep.Passed < 30 {
		t.Errorf("only %d cases passed; the examples suite has more:\n%s", rep.Passed, out.String())
	}
	if rep.Skipped > 0 {
		t.Errorf("%d example cases are skipped", rep.Skipped)
	}
}

// TestExampleFixtures checks that examples/fixtures has a notification for
// every webhook action, that each decodes into the action its name says,
// and that the examples suite sends every one of them through the rules.
func TestExampleFixtures(t *testing.T) {
	dir := filepath.Join(examplesDir, "fixtures", "notifications")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no notification fixtures in %s: %v", dir, err)
	}
	suite, errs := ParseFile(filepath.Join(examplesDir, "tests", "config_test.yaml"))
	if len(errs) > 0 {
		t.Fatalf("examples suite does not parse: %v", errs)
	}
	tested := map[string]bool{}
	for _, c := range suite.Cases {
		tested[filepath.Base(c.EventFrom)] = true
	}
	have := map[corrigo.Action]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n, err := corrigo.DecodeNotification(raw)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		base := filepath.Base(f)
		if want, _, _ := strings.Cut(base, "."); string(n.Header.Action) != want {
			t.Errorf("%s: Header.Action is %q; the file name says %q", f, n.Header.Action, want)
		}
		have[n.Header.Action] = true
		if !tested[base] && n.Header.Action != corrigo.ActionNewWorkOrder {
			t.Errorf("%s: no case in examples/tests/config_test.yaml sends it", f)
		}
	}
	for _, a := range corrigo.KnownActions {
		if !have[a] {
			t.Errorf("examples/fixtures/notifications has no fixture for %s", a)
		}
	}
	for _, name := range []string{"emergency", "pmrm", "prebilled", "routine"} {
		raw, err := os.ReadFile(filepath.Join(examplesDir, "fixtures", "workorders", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeWorkOrder(raw); err != nil {
			t.Errorf("work order fixture %s: %v", name, err)
		}
	}
}

func TestPassingSuite(t *testing.T) {
	rep := RunAll(context.Background(), Options{Config: testConfig, Tests: []string{"testdata/passing.yaml"}})
	var out bytes.Buffer
	_ = rep.WriteText(&out, true, true)
	if !rep.OK(true) || rep.Skipped != 1 || rep.Passed < 15 {
		t.Fatalf("passed %d, failed %d, skipped %d:\n%s", rep.Passed, rep.Failed, rep.Skipped, out.String())
	}
}

// TestFailingGolden keeps the output for a file of failing cases, one per
// kind of difference, in testdata/failing.golden.
func TestFailingGolden(t *testing.T) {
	rep := RunAll(context.Background(), Options{Config: testConfig, Tests: []string{"testdata/failing.yaml"}})
	if len(rep.Errors) > 0 {
		t.Fatalf("errors: %v", rep.Errors)
	}
	if rep.Passed != 1 || rep.Failed != len(rep.Results)-1 {
		t.Errorf("passed %d, failed %d of %d; want exactly one pass", rep.Passed, rep.Failed, len(rep.Results))
	}
	for _, r := range rep.Results[1:] {
		if r.Status != StatusFail {
			t.Errorf("case %q: status %s, want fail", r.Name, r.Status)
		}
	}
	var out bytes.Buffer
	if err := rep.WriteText(&out, false, false); err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/failing.golden", out.Bytes())

	// The JSON form carries the same failures.
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("json output does not decode: %v", err)
	}
	if back.Failed != rep.Failed || len(back.Results) != len(rep.Results) || len(back.Results[1].Failures) == 0 {
		t.Errorf("json report differs: %+v", back)
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update if intended):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestRunFilter(t *testing.T) {
	rep := RunAll(context.Background(), Options{Config: testConfig, Tests: []string{"testdata/passing.yaml"},
		Run: regexp.MustCompile(`shadow`)})
	if !rep.OK(true) || rep.Passed != 2 || !rep.Filtered || rep.Uncovered != nil {
		t.Errorf("passed %d filtered %v uncovered %v; want the 2 shadow cases and no coverage", rep.Passed, rep.Filtered, rep.Uncovered)
	}
}

// parseErrCase is a test file that must not load, and substrings its
// errors must contain (with their file:line).
type parseErrCase struct {
	name string
	yaml string
	want []string
}

const fx = "../../../../examples/fixtures/"

func TestParseErrors(t *testing.T) {
	tests := []parseErrCase{
		{"empty file", "", []string{"testdata/t.yaml: the file has no test cases"}},
		{"empty list", "[]", []string{"testdata/t.yaml:1:1: the file has no test cases"}},
		{"mapping at the top", "name: x\n", []string{"testdata/t.yaml:1:1: a test file is a list of cases"}},
		{"two documents", "- name: a\n---\n- name: b\n", []string{"more than one YAML document"}},
		{"syntax error", "- name: [a\n", []string{"testdata/t.yaml:"}},
		{"case not a mapping", "- just a string\n", []string{"testdata/t.yaml:1:3: [0]: a case is a mapping"}},
		{"unknown key with suggestion", "- name: a\n  evnet: x.json\n  expect: {rules: []}\n",
			[]string{`testdata/t.yaml:2:3: [0].evnet: unknown key "evnet" (did you mean "event"?)`}},
		{"unknown expect key", "- name: a\n  workOrder: " + fx + "workorders/routine.json\n  expect:\n    rule: [x]\n",
			[]string{`testdata/t.yaml:4:5: [0].expect.rule: unknown key "rule" (did you mean "rules"?)`}},
		{"unknown mock key", "- name: a\n  workOrder: " + fx + "workorders/routine.json\n  plugins:\n    erp: {action: []}\n  expect: {rules: []}\n",
			[]string{`testdata/t.yaml:4:11: [0].plugins.erp.action: unknown key "action" (did you mean "actions"?)`}},
		{"wrong type", "- name: a\n  workOrder: " + fx + "workorders/routine.json\n  expect: {stopped: maybe}\n",
			[]string{"testdata/t.yaml:3: cannot unmarshal !!str `maybe` into bool"}},
		{"no name", "- workOrder: " + fx + "workorders/routine.json\n  expect: {rules: []}\n",
			[]string{"testdata/t.yaml:1: [0].name: a case needs a name"}},
		{"duplicate names", "- name: a\n  workOrder: " + fx + "workorders/routine.json\n  expect: {rules: []}\n- name: a\n  workOrder: " + fx + "workorders/routine.json\n  expect: {rules: []}\n",
			[]string{`testdata/t.yaml:4: case "a": name: duplicate case name "a" (first at line 1)`}},
		{"no event", "- name: a\n  expect: {rules: []}\n", []string{`testdata/t.yaml:1: case "a": event: a case needs an event`}},
		{"no expectation", "- name: a\n  workOrder: " + fx + "workorders/routine.json\n",
			[]string{`testdata/t.yaml:1: case "a": expect: a case needs expect:`}},
		{"empty expectation", "- name: a\n  workOrder: " + fx + "workorders/routine.json\n  expect: {}\n",
			[]string{`case "a": expect: a case needs expect:`}},
		{"missing fixture", "- name: a\n  event: nowhere.json\n  expect: {rules: []}\n",
			[]string{`testdata/t.yaml:2: case "a": event: fixture testdata/nowhere.json: no such file or directory`}},
		{"fixture is not a notification", "- name: a\n  event: " + fx + "workorders/routine.json\n  expect: {rules: []}\n",
			[]string{`not a CorrigoPro notification: notification has no Header`}},
		{"typo in a work order", "- name: a\n  workOrder: {WorkOrderId: 1, IsPrebiled: true}\n  expect: {rules: []}\n",
			[]string{`testdata/t.yaml:2: case "a": workOrder: inline fixture: not a work order: json: unknown field "IsPrebiled"`}},
		{"work order without id", "- name: a\n  workOrder: {Status: New}\n  expect: {rules: []}\n",
			[]string{"the work order has no WorkOrderId"}},
		{"work order of another event", "- name: a\n  event: " + fx + "notifications/Paused.json\n  workOrder: {WorkOrderId: 7}\n  expect: {rules: []}\n",
			[]string{"the work order is 7 but the event is for work order 42"}},
		{"bad from", "- name: a\n  workOrder: {from: {a: 1}}\n  expect: {rules: []}\n", []string{"from: wants a fixture path"}},
		{"unknown status", "- name: a\n  workOrder: " + fx + "workorders/routine.json\n  workOrderStatus: Acepted\n  expect: {rules: []}\n",
			[]string{`testdata/t.yaml:3: case "a": workOrderStatus: unknown status "Acepted" (did you mean "Accepted"?)`}},
		{"bad now", "- name: a\n  workOrder: " + fx + "workorders/routine.json\n  now: tomorrow\n  expect: {rules: []}\n",
			[]string{"not an RFC 3339 time"}},
		{"bad source", "- name: a\n  workOrder: " + fx + "workorders/routine.json\n  source: inbound\n  expect: {rules: []}\n",
			[]string{`unknown source "inbound"`}},
		{"bad outcome", "- name: a\n  workOrder: " + fx + "workorders/routine.json\n  expect: {outcome: failed}\n",
			[]string{`testdata/t.yaml:3: case "a": expect.outcome: unknown outcome "failed"`}},
		{"unknown expected kind", "- name: a\n  workOrder: " + fx + "workorders/routine.json\n  expect:\n    actions: [{kind: acept}]\n",
			[]string{`testdata/t.yaml:4:15: case "a": expect.actions[0]: unknown action kind "acept" (did you mean "accept"?)`}},
		{"unknown expected field", "- name: a\n  workOrder: " + fx + "workorders/routine.json\n  expect:\n    actions: [{kind: accept, coment: x}]\n",
			[]string{`unknown action field "coment" (did you mean "Comment"?)`}},
		{"unknown refused kind", "- name: a\n  workOrder: " + fx + "workorders/routine.json\n  expect:\n    refused: [{kind: chek_in}]\n",
			[]string{`expect.refused[0].kind: unknown action kind "chek_in" (did you mean "check_in"?)`}},
		{"empty refusal", "- name: a\n  workOrder: " + fx + "workorders/routine.json\n  expect:\n    refused: [{}]\n",
			[]string{"an expected refusal needs kind, reason, plugin or rule"}},
		{"mock field typo", "- name: a\n  workOrder: " + fx + "workorders/routine.json\n  plugins:\n    erp: {actions: [{kind: note, txt: hi}]}\n  expect: {rules: []}\n",
			[]string{`testdata/t.yaml:4:21: case "a": plugins.erp.actions[0]: not a plugin action: json: unknown field "txt"`}},
		{"mock with error and actions", "- name: a\n  workOrder: " + fx + "workorders/routine.json\n  plugins:\n    erp: {error: x, actions: [{kind: note}]}\n  expect: {rules: []}\n",
			[]string{"a mock answers either actions or an error, not both"}},
		{"retryable without error", "- name: a\n  workOrder: " + fx + "workorders/routine.json\n  plugins:\n    erp: {retryable: true}\n  expect: {rules: []}\n",
			[]string{"retryable needs an error to apply to"}},
		{"noActions with actions", "- name: a\n  workOrder: " + fx + "workorders/routine.json\n  expect: {noActions: true, actions: [{kind: note}]}\n",
			[]string{"noActions: true contradicts the actions listed"}},
		{"rule both ways", "- name: a\n  workOrder: " + fx + "workorders/routine.json\n  expect: {rules: [x], notRules: [x]}\n",
			[]string{`rule "x" is expected both to match and not to`}},
		{"every problem at once", "- name: a\n  evnt: x\n- name: b\n  workOrder: " + fx + "workorders/routine.json\n  expect: {outcome: nope}\n",
			[]string{`unknown key "evnt"`, `unknown outcome "nope"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, errs := Parse("testdata/t.yaml", []byte(tc.yaml))
			if len(errs) == 0 {
				t.Fatalf("parsed without error: %+v", s)
			}
			all := joinEntries(errs)
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("errors\n%s\ndo not contain\n%s", all, w)
				}
			}
		})
	}
}

func joinEntries(es []config.ErrorEntry) string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.String()
	}
	return strings.Join(lines, "\n")
}

func loadRunner(t *testing.T) *Runner {
	t.Helper()
	cfg, err := config.Load(testConfig)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestBindErrors(t *testing.T) {
	r := loadRunner(t)
	wo := "  workOrder: " + fx + "workorders/routine.json\n"
	tests := []parseErrCase{
		{"two accounts, none named", "- name: a\n" + wo + "  expect: {rules: []}\n",
			[]string{`testdata/t.yaml:1: case "a": account: the configuration has 2 accounts (main, trial): say which one`}},
		{"unknown account", "- name: a\n  account: mian\n" + wo + "  expect: {rules: []}\n",
			[]string{`unknown account "mian" (did you mean "main"?)`}},
		{"unknown rule", "- name: a\n  account: main\n" + wo + "  expect:\n    notRules: [everything-to-cvs]\n",
			[]string{`testdata/t.yaml:5: case "a": expect.notRules: no rule is named "everything-to-cvs" (did you mean "everything-to-csv"?)`}},
		{"unknown plugin mock", "- name: a\n  account: main\n" + wo + "  plugins:\n    epr: {}\n  expect: {rules: []}\n",
			[]string{`testdata/t.yaml:5: case "a": plugins.epr: unknown plugin "epr" (did you mean "erp"?)`}},
		{"unknown plugin and rule in actions", "- name: a\n  account: main\n" + wo + "  expect:\n    actions: [{plugin: cvs, rule: nope}]\n    refused: [{plugin: cvs, rule: nope}]\n",
			[]string{`expect.actions[0].plugin: unknown plugin "cvs"`, `expect.actions[0].rule: no rule is named "nope"`,
				`expect.refused[0].plugin: unknown plugin "cvs"`, `expect.refused[0].rule: no rule is named "nope"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, errs := Parse("testdata/t.yaml", []byte(tc.yaml))
			if len(errs) > 0 {
				t.Fatalf("parse: %s", joinEntries(errs))
			}
			errs = r.Bind(s)
			all := joinEntries(errs)
			if len(errs) == 0 {
				t.Fatal("bound without error")
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("errors\n%s\ndo not contain\n%s", all, w)
				}
			}
		})
	}
}

// TestRunOutcomes checks what the runner reports, field by field, for
// events whose handling the gateway's code decides.
func TestRunOutcomes(t *testing.T) {
	r := loadRunner(t)
	run := func(t *testing.T, y string) (Result, *Case) {
		t.Helper()
		s, errs := Parse("testdata/t.yaml", []byte(y))
		if len(errs) == 0 {
			errs = r.Bind(s)
		}
		if len(errs) > 0 {
			t.Fatalf("%s", joinEntries(errs))
		}
		return r.Run(context.Background(), s.Cases[0]), s.Cases[0]
	}
	t.Run("work order event", func(t *testing.T) {
		res, c := run(t, "- name: a\n  account: main\n  workOrder: "+fx+"workorders/emergency.json\n  now: 2024-03-04T15:00:00Z\n  expect: {stopped: true}\n")
		if res.Status != StatusPass {
			t.Fatalf("%+v", res)
		}
		h := c.Event.Header
		if h.Action != corrigo.ActionNewWorkOrder || h.WorkOrderId != 42 || h.BranchId != 492042 || h.MessageId == "" ||
			!h.ActionDate.Equal(c.Now) {
			t.Errorf("made-up header %+v", h)
		}
		if !slices.Equal(res.Got.Rules, []string{"emergencies-to-erp"}) || res.Got.Outcome != OutcomeDone {
			t.Errorf("got %+v", res.Got)
		}
	})
	t.Run("permanent plugin error drops earlier actions", func(t *testing.T) {
		res, _ := run(t, "- name: a\n  account: main\n  event: "+fx+"notifications/CheckedIn.json\n  workOrder: "+fx+"workorders/routine.json\n"+
			"  plugins:\n    erp: {actions: [{kind: pause}]}\n    csv: {error: disk full}\n  expect: {outcome: dead}\n")
		if res.Status != StatusPass || len(res.Got.Actions) != 0 || !strings.Contains(res.Got.Error, `plugin "csv": disk full`) {
			t.Errorf("%+v / %+v", res, res.Got)
		}
	})
	t.Run("refusal stages", func(t *testing.T) {
		res, _ := run(t, "- name: a\n  account: main\n  workOrder: "+fx+"workorders/emergency.json\n"+
			"  plugins:\n    erp: {actions: [{kind: quote}, {kind: bogus}, {kind: reject}, {kind: appointment}]}\n  expect: {noActions: true}\n")
		var stages, kinds []string
		for _, rf := range res.Got.Refused {
			stages = append(stages, rf.Stage)
			kinds = append(kinds, rf.Kind)
		}
		if res.Status != StatusPass || !slices.Equal(kinds, []string{"quote", "bogus", "reject", "appointment"}) ||
			!slices.Equal(stages, []string{"validate", "validate", "validate", "validate"}) {
			t.Errorf("%+v", res.Got.Refused)
		}
	})
	t.Run("a case does not change its fixtures", func(t *testing.T) {
		res, c := run(t, "- name: a\n  account: main\n  workOrder: "+fx+"workorders/emergency.json\n"+
			"  plugins:\n    erp: {actions: [{kind: accept}, {kind: quote, amount: 5}]}\n  expect: {refused: []}\n")
		if res.Status != StatusPass {
			t.Fatalf("%+v", res)
		}
		if c.WorkOrder.Status != corrigo.StatusNew || c.WorkOrder.Nte.Quote != nil {
			t.Errorf("fixture changed: %+v", c.WorkOrder)
		}
		// Run again: same answer.
		if again := r.Run(context.Background(), c); again.Status != StatusPass || len(again.Got.Actions) != 2 {
			t.Errorf("second run: %+v", again)
		}
	})
}

func TestSubset(t *testing.T) {
	tests := []struct {
		want, got any
		diffs     int
	}{
		{"a", "a", 0},
		{"a", "b", 1},
		{"", nil, 0},
		{0.0, nil, 0},
		{false, nil, 0},
		{true, nil, 1},
		{nil, nil, 0},
		{1.0, 1.0, 0},
		{"2024-03-05T13:00:00Z", "2024-03-05T13:00:00.0000000Z", 0},
		{"2024-03-05T13:00:00Z", "2024-03-05T14:00:00+01:00", 0},
		{"2024-03-05T13:00:00Z", "2024-03-05T13:00:01Z", 1},
		{map[string]any{"codeId": 1.0}, map[string]any{"CodeId": 1.0, "Code": "X"}, 0},
		{map[string]any{"codeId": 2.0}, map[string]any{"CodeId": 1.0}, 1},
		{map[string]any{"a": 1.0}, "x", 1},
		{map[string]any{"a": ""}, nil, 0},
		{[]any{1.0, 2.0}, []any{1.0, 2.0}, 0},
		{[]any{1.0}, []any{1.0, 2.0}, 1},
		{[]any{}, nil, 0},
		{[]any{1.0}, "x", 1},
		{[]any{map[string]any{"id": 1.0}}, []any{map[string]any{"Id": 1.0, "Value": "v"}}, 0},
	}
	for i, tc := range tests {
		var d []diff
		subset(tc.want, tc.got, "f", &d)
		if len(d) != tc.diffs {
			t.Errorf("%d: subset(%v, %v) = %v, want %d diffs", i, tc.want, tc.got, d, tc.diffs)
		}
	}
}

func TestDiscover(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	if _, err := Discover(cfg, nil); err == nil || !strings.Contains(err.Error(), "tests does not exist") {
		t.Errorf("missing tests dir: %v", err)
	}
	tdir := filepath.Join(dir, "tests")
	if err := os.Mkdir(tdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Discover(cfg, nil); err == nil || !strings.Contains(err.Error(), "has no *.yaml files") {
		t.Errorf("empty tests dir: %v", err)
	}
	for _, n := range []string{"b.yaml", "a.yml", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(tdir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Discover(cfg, nil)
	if err != nil || !slices.Equal(got, []string{filepath.Join(tdir, "a.yml"), filepath.Join(tdir, "b.yaml")}) {
		t.Errorf("default discovery: %v, %v", got, err)
	}
	one := filepath.Join(tdir, "notes.txt")
	got, err = Discover(cfg, []string{one, tdir})
	if err != nil || len(got) != 3 || got[0] != one {
		t.Errorf("explicit: %v, %v", got, err)
	}
	if _, err := Discover(cfg, []string{filepath.Join(dir, "nope.yaml")}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestRunAllLoadErrors(t *testing.T) {
	rep := RunAll(context.Background(), Options{Config: "testdata/nope.yaml"})
	if rep.OK(false) || len(rep.Errors) == 0 || !strings.Contains(rep.Errors[0].String(), "cannot read config") {
		t.Errorf("missing config: %+v", rep.Errors)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("- name: a\n  expect: {rules: [nope]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep = RunAll(context.Background(), Options{Config: testConfig, Tests: []string{bad, "testdata/passing.yaml"}})
	var out bytes.Buffer
	_ = rep.WriteText(&out, false, false)
	if rep.OK(false) || len(rep.Results) != 0 || !strings.Contains(out.String(), "no case was run") ||
		!strings.Contains(out.String(), bad+":1: case \"a\": event: a case needs an event") {
		t.Errorf("a bad test file must stop the run:\n%s", out.String())
	}
}

// FuzzParse: no test file, however broken, panics the parser; whatever
// parses also binds and runs without panicking.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/passing.yaml", "testdata/failing.yaml", "../../../examples/tests/config_test.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("- name: a\n  event: {Header: {WorkOrderId: 1, Action: X, MessageId: m}}\n  expect: {rules: []}\n"))
	f.Add([]byte("- &a {name: x}\n- *a\n- <<: *a\n"))
	cfg, err := config.Load(testConfig)
	if err != nil {
		f.Fatal(err)
	}
	r, err := NewRunner(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, errs := Parse("testdata/fuzz.yaml", data)
		if len(errs) > 0 {
			for _, e := range errs {
				if e.File != "testdata/fuzz.yaml" || e.Message == "" {
					t.Fatalf("bad entry %+v", e)
				}
			}
			return
		}
		if len(r.Bind(s)) > 0 {
			return
		}
		for _, c := range s.Cases {
			res := r.Run(context.Background(), c)
			if res.Status == "" {
				t.Fatalf("no status for %q", c.Name)
			}
		}
	})
}
