package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/core/ruletest"
)

func runTestCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := testMain(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestTestExamples runs `gateway test --strict` on the shipped examples: the
// default test directory, every case passing, every rule covered.
func TestTestExamples(t *testing.T) {
	code, out, errOut := runTestCmd(t, "--config", "../../examples/config.yaml", "--strict")
	if code != 0 {
		t.Fatalf("exit %d:\n%s%s", code, out, errOut)
	}
	last := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:])
	if !strings.HasPrefix(last, "ok    ../../examples/config.yaml: ") || !strings.Contains(last, "rules matched by some case: 2 of 2") {
		t.Errorf("summary line %q", last)
	}
	if strings.Contains(out, "FAIL") {
		t.Errorf("a case failed:\n%s", out)
	}
}

func TestTestFailing(t *testing.T) {
	code, out, _ := runTestCmd(t, "--config", "../../pkg/core/ruletest/testdata/config.yaml",
		"--tests", "../../pkg/core/ruletest/testdata/failing.yaml")
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		"PASS  passes, so the report shows a PASS line too\n",
		"FAIL  wrong rules, stop and notRules  (../../pkg/core/ruletest/testdata/failing.yaml:10)\n",
		"        ../../pkg/core/ruletest/testdata/failing.yaml:14: rules\n            want: [everything-to-csv]\n            got:  [emergencies-to-erp]\n",
		"FAIL  ../../pkg/core/ruletest/testdata/config.yaml: 1 passed, 8 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestTestJSONAndRun(t *testing.T) {
	code, out, _ := runTestCmd(t, "--config", "../../pkg/core/ruletest/testdata/config.yaml", "--format", "json",
		"--run", "^a shadow", "../../pkg/core/ruletest/testdata/passing.yaml")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	var rep ruletest.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if rep.Passed != 2 || len(rep.Results) != 2 || !rep.Filtered || rep.Results[0].Got == nil || !rep.Results[0].Got.Actions[0].Shadow {
		t.Errorf("report %+v", rep)
	}
}

func TestTestStrictCoverage(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "one.yaml")
	body := "- name: routine\n  account: main\n  workOrder: " + filepath.Join(mustAbs(t, "../../examples/fixtures/workorders"), "routine.json") +
		"\n  expect: {rules: [everything-to-csv]}\n"
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config", "../../pkg/core/ruletest/testdata/config.yaml", "--tests", f}
	if code, out, _ := runTestCmd(t, args...); code != 0 || !strings.Contains(out, `warning: rule "audit-messages" is not matched by any case`) {
		t.Errorf("without --strict: exit %d:\n%s", code, out)
	}
	if code, out, _ := runTestCmd(t, append(args, "--strict")...); code != 1 || !strings.Contains(out, "FAIL  ") {
		t.Errorf("with --strict: exit %d:\n%s", code, out)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestTestUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--config", "x.yaml", "--format", "xml"},
		{"--config", "x.yaml", "--run", "("},
		{"--nope"},
	} {
		if code, _, _ := runTestCmd(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, out, _ := runTestCmd(t, "-h"); code != 0 || !strings.Contains(out, "usage: gateway test --config FILE") {
		t.Errorf("-h: exit %d, want 0 and the usage on stdout:\n%s", code, out)
	}
	if code, _, errOut := runTestCmd(t); code != 2 || !strings.Contains(errOut, "no configuration: pass --config FILE") {
		t.Errorf("no args: exit %d, want 2 and what is missing:\n%s", code, errOut)
	}
	code, out, _ := runTestCmd(t, "--config", "does-not-exist.yaml")
	if code != 1 || !strings.Contains(out, "does-not-exist.yaml: cannot read config") {
		t.Errorf("missing config: exit %d:\n%s", code, out)
	}
}
