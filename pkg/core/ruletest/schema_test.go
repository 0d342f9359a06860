package ruletest

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/core/config"
)

var updateSchema = flag.Bool("update-schema", false, "rewrite docs/ruletest.schema.json")

func TestSchemaGolden(t *testing.T) {
	path := filepath.Join("..", "..", "..", "docs", "ruletest.schema.json")
	if *updateSchema {
		if err := os.WriteFile(path, SchemaJSON(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, SchemaJSON()) {
		t.Fatal("docs/ruletest.schema.json is stale: go test ./pkg/core/ruletest -run TestSchemaGolden -update-schema")
	}
}

// TestSchemaFiles: the schema accepts the shipped test files and rejects
// what the parser rejects for shape (each of these Parse refuses too).
func TestSchemaFiles(t *testing.T) {
	cs, err := config.CompileSchema(Schema())
	if err != nil {
		t.Fatal(err)
	}
	files := []string{"testdata/passing.yaml", "testdata/failing.yaml", "../../../examples/tests/config_test.yaml"}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if es := cs.CheckSchema(f, data); len(es) > 0 {
			t.Errorf("%s: %v", f, es)
		}
	}
	for _, c := range []struct{ yaml, want string }{
		{"- name: a\n  evnet: x.json\n  expect: {noActions: true}\n", "[0].evnet: unknown key"},
		{"- description: no name\n  expect: {noActions: true}\n", "missing property 'name'"},
		{"- name: a\n  expect: {}\n", "[0].expect: minProperties"},
		{"- name: a\n  expect: {outcome: exploded}\n", "[0].expect.outcome: value must be one of"},
		{"- name: a\n  plugins: {erp: {actions: [{kind: teleport}]}}\n  expect: {noActions: true}\n", "[0].plugins.erp.actions[0].kind"},
		{"- name: a\n  source: carrier-pigeon\n  expect: {noActions: true}\n", "[0].source"},
		{"name: not a list\n", "want array"},
	} {
		es := cs.CheckSchema("t.yaml", []byte(c.yaml))
		if len(es) == 0 || !strings.Contains(fmt.Sprint(es), c.want) {
			t.Errorf("%q: %v, want %q", c.yaml, es, c.want)
		}
		if _, perrs := Parse("t.yaml", []byte(c.yaml)); len(perrs) == 0 {
			t.Errorf("%q: the schema rejects what the parser accepts", c.yaml)
		}
	}
}
