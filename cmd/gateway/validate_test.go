package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/core/config"
)

func runValidateTest(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := validateMain(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestValidateExample(t *testing.T) {
	code, out, _ := runValidateTest(t, "--config", "../../examples/config.yaml", "--skip-plugins")
	if code != 0 || !strings.Contains(out, "../../examples/config.yaml: ok (version ") || !strings.Contains(out, "1 account, 2 plugins, 2 rules, 0 warnings") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestValidateErrors(t *testing.T) {
	p := writeConfig(t, `corrigo:
  accounts:
    main: { sandbox: true, polling: { interval: 1x } }
plugins:
  csv: { command: ./bin/csv-export }
rules:
  - name: typo
    when: workOrder.Sla.IsEmergncy
    plugin: csv
  - name: unknown-plugin
    when: "true"
    plugin: erp
`)
	code, out, _ := runValidateTest(t, "--config", p, "--skip-plugins")
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out)
	}
	for _, want := range []string{
		p + `:3:49: error: corrigo.accounts.main.polling.interval: invalid duration "1x"`,
		p + `:8:25: error: rules[0].when: rule "typo": type corrigo.Sla has no field IsEmergncy`,
		" | ..............^",
		p + `:12:13: error: rules[1].plugin: unknown plugin "erp"`,
		p + ": invalid: 3 errors, 0 warnings",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	// Errors come in file order: the rule error (line 8) before line 12.
	if strings.Index(out, ":8:25:") > strings.Index(out, ":12:13:") {
		t.Errorf("errors not sorted by position:\n%s", out)
	}
}

func TestValidateJSON(t *testing.T) {
	p := writeConfig(t, "corrigo: { accounts: { main: { sandbox: true } } }\nlisten: nowhere\n")
	code, out, _ := runValidateTest(t, "--config", p, "--format", "json")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	var rep validateReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if rep.Valid || len(rep.Errors) != 1 || rep.Errors[0].Line != 2 || rep.Errors[0].Key != "listen" || rep.Errors[0].File != p {
		t.Errorf("report: %+v", rep)
	}
	code, out, _ = runValidateTest(t, "--config", "../../examples/config.yaml", "--format", "json", "--skip-plugins")
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !rep.Valid || rep.Rules != 2 || rep.Version == "" || rep.Errors == nil {
		t.Errorf("exit %d report %+v err %v", code, rep, err)
	}
}

func TestValidateWarningsAndStrict(t *testing.T) {
	p := writeConfig(t, `corrigo: { accounts: { main: { sandbox: true } } }
plugins: { p: { command: ./p } }
rules:
  - { name: all, when: "true", plugin: p, stop: true }
  - { name: never, when: 'event.Action == "Accepted"', plugin: p }
`)
	code, out, _ := runValidateTest(t, "--config", p, "--skip-plugins")
	if code != 0 || !strings.Contains(out, p+`:5:27: warning: rules[1].when: rule "never": can never match: the earlier rule "all" (line 4) matches every event and stops`) {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	code, out, _ = runValidateTest(t, "--config", p, "--strict", "--skip-plugins")
	if code != 1 || !strings.Contains(out, "invalid with --strict: 1 warning") {
		t.Fatalf("strict: exit %d:\n%s", code, out)
	}
}

func TestValidateUsage(t *testing.T) {
	if code, _, errs := runValidateTest(t); code != 2 || !strings.Contains(errs, "gateway validate: no configuration: pass --config FILE") || !strings.Contains(errs, "gateway help validate") {
		t.Errorf("no args: exit %d %s", code, errs)
	}
	if code, _, _ := runValidateTest(t, "--config", "x.yaml", "--format", "xml"); code != 2 {
		t.Errorf("bad format: exit %d", code)
	}
	if code, out, _ := runValidateTest(t, "--config", "does-not-exist.yaml"); code != 1 || !strings.Contains(out, "does-not-exist.yaml: error: cannot read config") {
		t.Errorf("missing file: exit %d %s", code, out)
	}
}

func TestValidatePluginsHook(t *testing.T) {
	old := validatePlugins
	t.Cleanup(func() { validatePlugins = old })
	called := 0
	validatePlugins = func(ctx context.Context, cfg *config.Config) []config.ErrorEntry {
		called++
		return []config.ErrorEntry{cfg.Entry("plugins.csv.config.dir", "directory is not writable")}
	}
	code, out, _ := runValidateTest(t, "--config", "../../examples/config.yaml")
	if code != 1 || called != 1 || !regexp.MustCompile(`\.\./\.\./examples/config\.yaml:\d+:\d+: error: plugins\.csv\.config\.dir: directory is not writable`).MatchString(out) {
		t.Errorf("exit %d called %d:\n%s", code, called, out)
	}
	code, _, _ = runValidateTest(t, "--config", "../../examples/config.yaml", "--skip-plugins")
	if code != 0 || called != 1 {
		t.Errorf("--skip-plugins: exit %d, hook called %d times", code, called)
	}
}

// TestValidateTestdata runs the command over the config package's good and
// bad files: exit 0 for every good one, 1 with positioned errors for every
// bad one.
func TestValidateTestdata(t *testing.T) {
	t.Setenv("TEST_CLIENT_ID", "id")
	t.Setenv("TEST_CLIENT_SECRET", "secret")
	good, _ := filepath.Glob("../../pkg/core/config/testdata/*.good.yaml")
	bad, _ := filepath.Glob("../../pkg/core/config/testdata/*.bad.yaml")
	if len(good) == 0 || len(bad) == 0 {
		t.Fatal("no testdata")
	}
	for _, f := range good {
		if code, out, _ := runValidateTest(t, "--config", f, "--skip-plugins"); code != 0 {
			t.Errorf("%s: exit %d\n%s", f, code, out)
		}
	}
	for _, f := range bad {
		code, out, _ := runValidateTest(t, "--config", f, "--skip-plugins")
		if code != 1 || !strings.Contains(out, f+":") || !strings.Contains(out, ": error: ") {
			t.Errorf("%s: exit %d\n%s", f, code, out)
		}
	}
}
