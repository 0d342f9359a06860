package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/wogate/wogate/internal/testplugin"
)

// buildERPRest compiles plugins/erp-rest into the test's temp dir.
func buildERPRest(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "erp-rest")
	out, err := exec.CommandContext(t.Context(), filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "github.com/wogate/wogate/plugins/erp-rest").CombinedOutput() //nolint:staticcheck // SA1019: the toolchain that runs the test builds the binaries
	if err != nil {
		t.Fatalf("build erp-rest: %v\n%s", err, out)
	}
	return bin
}

// TestValidateRealPlugins has real plugin processes check their config
// sections: a good config passes, a bad value and a bad erp-rest template
// are reported at their keys with line numbers, a missing binary and a
// program that is not a plugin are named.
func TestValidateRealPlugins(t *testing.T) {
	accept := testplugin.Build(t, "accept")
	notPlugin := testplugin.Build(t, "notaplugin")
	erp := buildERPRest(t)

	good := writeConfig(t, `corrigo: { accounts: { main: { sandbox: true } } }
plugins:
  ok:
    command: `+accept+`
    config: { fail_rate: 0.5 }
  erp:
    command: `+erp+`
    config:
      base_url: http://127.0.0.1:9/api
      create_path: /jobs
      create_body: { title: "${wo.WorkOrderNumber}" }
      create_id_path: id
rules:
  - { name: all, when: "true", plugin: ok }
  - { name: erp, when: "true", plugin: erp }
`)
	if code, out, _ := runValidateTest(t, "--config", good); code != 0 || !strings.Contains(out, "ok (version") {
		t.Fatalf("good config: exit %d:\n%s", code, out)
	}

	bad := writeConfig(t, `corrigo: { accounts: { main: { sandbox: true } } }
plugins:
  ok:
    command: `+accept+`
    config: { fail_rate: 2 }
  erp:
    command: `+erp+`
    config:
      base_url: http://127.0.0.1:9/api
      create_path: /jobs
      create_body: { title: "${wo.WorkOrderNumber" }
      create_id_path: id
  gone:
    command: ./no-such-plugin-binary
  garbage:
    command: `+notPlugin+`
rules:
  - { name: all, when: "true", plugin: ok }
  - { name: erp, when: "true", plugin: erp }
  - { name: gone, when: "true", plugin: gone }
  - { name: garbage, when: "true", plugin: garbage }
`)
	code, out, _ := runValidateTest(t, "--config", bad)
	if code != 1 {
		t.Fatalf("bad config: exit %d:\n%s", code, out)
	}
	for _, want := range []string{
		bad + ":5:",
		"error: plugins.ok.config.fail_rate: must be between 0 and 1",
		"error: plugins.erp.config.create_body: title: unterminated ${",
		"error: plugins.gone.command: plugin \"gone\": cannot run command \"" + filepath.Join(filepath.Dir(bad), "no-such-plugin-binary") + "\"",
		"(a relative command is relative to the config file's directory)",
		"error: plugins.garbage.command: plugin \"garbage\": " + notPlugin + " is not a wogate plugin",
		"invalid: 4 errors",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if !strings.Contains(out, bad+":11:") {
		t.Errorf("erp template error not positioned at line 11:\n%s", out)
	}
	if code, out, _ := runValidateTest(t, "--config", bad, "--skip-plugins"); code != 0 {
		t.Errorf("--skip-plugins: exit %d:\n%s", code, out)
	}
}
