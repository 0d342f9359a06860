package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/core/config"
)

// TestConfigEffective: defaults filled, an environment override applied,
// secrets (typed, and resolved from a file) REDACTED, and the output is
// itself a config the schema accepts.
func TestConfigEffective(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret.txt")
	if err := os.WriteFile(secret, []byte("s3cr3t-value-long-enough\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte(`corrigo:
  accounts:
    main: { sandbox: true }
plugins:
  erp:
    command: /bin/true
    config: { api_key: "file:`+secret+`", base_url: http://erp.local }
rules:
  - { name: all, when: "true", plugin: erp }
admin: { token: "file:`+secret+`" }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WOGATE_LOG__LEVEL", "debug")
	var out, errb bytes.Buffer
	if code := configMain(context.Background(), []string{"--config", cfg}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	got := out.String()
	for _, w := range []string{
		"level: debug",     // the environment
		"max_attempts: 10", // a default
		"backoff_max: 5m",  // durations as written
		"path: /webhooks/corrigo/main",
		"token: REDACTED",
		"api_key: REDACTED",
		"base_url: http://erp.local",
		"data_dir: " + filepath.Join(dir, "data"), // absolute
	} {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, "s3cr3t") {
		t.Fatalf("a secret leaked:\n%s", got)
	}
	cs, err := config.CompileSchema(config.Schema(nil))
	if err != nil {
		t.Fatal(err)
	}
	if es := cs.CheckSchema("effective.yaml", out.Bytes()); len(es) > 0 {
		t.Errorf("the effective config does not conform to the schema: %v\n%s", es, got)
	}
	out.Reset()
	if code := configMain(context.Background(), []string{"--config", cfg, "--format", "json"}, &out, &errb); code != 0 || !strings.Contains(out.String(), `"level": "debug"`) {
		t.Errorf("json: exit %d:\n%s", code, out.String())
	}
	if code := configMain(context.Background(), []string{"--config", filepath.Join(dir, "nope.yaml")}, &out, &errb); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
	if code := configMain(context.Background(), []string{}, &out, &errb); code != 2 {
		t.Errorf("no --config: exit %d", code)
	}
}
