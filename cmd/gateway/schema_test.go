package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func runSchemaTest(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := schemaMain(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestSchemaPrints: `gateway schema` prints the committed schema.
func TestSchemaPrints(t *testing.T) {
	code, out, errs := runSchemaTest(t)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	want, err := os.ReadFile("../../docs/config.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Fatal("gateway schema differs from docs/config.schema.json (go test ./pkg/core/config -run TestSchema -update-schema)")
	}
}

func TestSchemaCheck(t *testing.T) {
	good := "../../examples/config.yaml"
	bad := writeConfig(t, "corrigo:\n  accounts:\n    main: { sandbox: true, polling: { intervall: 1m } }\nlog: { level: loud }\n")
	for _, c := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"--check", good}, 0, []string{good + ": conforms to the schema"}},
		{[]string{"--check", good, bad}, 1, []string{
			good + ": conforms",
			bad + ":3:39: corrigo.accounts.main.polling.intervall: unknown key (not in the schema)",
			bad + ":4:15: log.level: value must be one of 'debug', 'info', 'warn', 'error'",
		}},
		{[]string{"--check"}, 2, nil},
		{[]string{good}, 2, nil},
		{[]string{"--check", "/nonexistent.yaml"}, 1, nil},
	} {
		code, out, errs := runSchemaTest(t, c.args...)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", c.args, code, c.code, out, errs)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", c.args, w, out)
			}
		}
	}
}

// TestSchemaWithPlugins starts a real erp-rest plugin to describe its
// config: its schema lands under plugins.erp.config, and a file with an
// unknown erp-rest key fails the check there.
func TestSchemaWithPlugins(t *testing.T) {
	erp := buildERPRest(t)
	cfg := writeConfig(t, `corrigo: { accounts: { main: { sandbox: true } } }
plugins:
  erp:
    command: `+erp+`
    config:
      base_url: http://127.0.0.1:9/api
      create_path: /jobs
      create_body: { title: "${wo.WorkOrderNumber}" }
      create_id_path: id
rules:
  - { name: erp, when: "true", plugin: erp }
`)
	code, out, errs := runSchemaTest(t, "--config", cfg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var s map[string]any
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	props, _ := s["properties"].(map[string]any)["plugins"].(map[string]any)["properties"].(map[string]any)
	conf, _ := props["erp"].(map[string]any)["properties"].(map[string]any)["config"].(map[string]any)
	fields, _ := conf["properties"].(map[string]any)
	if _, ok := fields["base_url"]; !ok || conf["additionalProperties"] != false {
		t.Fatalf("plugins.erp.config schema: %v", conf)
	}
	if code, out, _ := runSchemaTest(t, "--config", cfg, "--check", cfg); code != 0 {
		t.Fatalf("own config: exit %d\n%s", code, out)
	}
	bad := writeConfig(t, `corrigo: { accounts: { main: { sandbox: true } } }
plugins:
  erp:
    command: `+erp+`
    config:
      base_urll: http://127.0.0.1:9/api
`)
	code, out, _ = runSchemaTest(t, "--config", cfg, "--check", bad)
	if code != 1 || !strings.Contains(out, bad+":6:7: plugins.erp.config.base_urll: unknown key") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}
