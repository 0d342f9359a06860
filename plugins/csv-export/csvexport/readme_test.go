package csvexport

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const (
	readmeBegin = "<!-- config:begin -->\n"
	readmeEnd   = "<!-- config:end -->"
)

// TestREADMEConfigTable fails when the README's config table is not what
// the schema generates; -update rewrites it.
func TestREADMEConfigTable(t *testing.T) {
	path := filepath.Join("..", "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, readmeBegin)
	j := strings.Index(doc, readmeEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no %q … %q section", path, strings.TrimSpace(readmeBegin), readmeEnd)
	}
	want := Schema().Markdown()
	got := doc[i+len(readmeBegin) : j]
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(doc[:i+len(readmeBegin)]+want+doc[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("README config table is stale; run go test ./plugins/csv-export/csvexport -run TestREADME -update\n--- README\n%s\n--- schema\n%s", got, want)
}

func TestSchemaIsWellFormed(t *testing.T) {
	if err := Schema().Check(); err != nil {
		t.Fatal(err)
	}
}

// TestREADMEExamples checks that the README's YAML examples are valid
// configs and its inbox CSV example has no bad rows.
func TestREADMEExamples(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := func(lang string) []string {
		var out []string
		parts := strings.Split(string(b), "```"+lang+"\n")
		for _, p := range parts[1:] {
			out = append(out, p[:strings.Index(p, "```")])
		}
		return out
	}
	configs := 0
	for _, y := range blocks("yaml") {
		var doc map[string]any
		if err := yaml.Unmarshal([]byte(y), &doc); err != nil {
			t.Fatalf("README yaml does not parse: %v\n%s", err, y)
		}
		cfg, _ := doc["config"].(map[string]any)
		if ps, ok := doc["plugins"].(map[string]any); ok {
			cfg = ps["csv"].(map[string]any)["config"].(map[string]any)
		}
		if cfg == nil {
			continue
		}
		configs++
		applied, errs := Schema().Apply(jsonish(cfg))
		if len(errs) == 0 {
			errs = New().ValidateConfig(context.Background(), applied)
		}
		if len(errs) > 0 {
			t.Errorf("README config example is invalid: %v\n%s", errs, y)
		}
	}
	if configs != 2 {
		t.Errorf("found %d config examples, want 2", configs)
	}
	csvs := blocks("csv")
	if len(csvs) != 1 {
		t.Fatalf("found %d csv examples", len(csvs))
	}
	res := parseInbox([]byte(csvs[0]), time.UTC, time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC))
	if res.FileErr != nil || len(res.Rejected) > 0 || len(res.Actions) != 6 {
		t.Fatalf("README inbox example: %v %+v, %d actions", res.FileErr, res.Rejected, len(res.Actions))
	}
}

// jsonish converts YAML-decoded values to what the gateway sends a plugin
// (JSON types).
func jsonish(v map[string]any) map[string]any {
	b, _ := json.Marshal(v)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}
