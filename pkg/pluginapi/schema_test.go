package pluginapi

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

var testSchema = Schema{Fields: []Field{
	{Name: "url", Type: TypeString, Required: true, Description: "Base URL of the ERP.", Example: "https://erp.example.com/api"},
	{Name: "token", Type: TypeString, Secret: true, Description: "API token."},
	{Name: "mode", Type: TypeString, Default: "push", Enum: []string{"push", "pull"}, Description: "How jobs travel."},
	{Name: "retries", Type: TypeInt, Default: 3, Description: "Attempts per call."},
	{Name: "ratio", Type: TypeFloat, Default: 0.5, Description: "Share | with a pipe."},
	{Name: "verbose", Type: TypeBool, Default: false},
	{Name: "timeout", Type: TypeDuration, Default: 10 * time.Second, Description: "Per call."},
	{Name: "kinds", Type: TypeStringList, Enum: []string{"accept", "reject"}},
	{Name: "headers", Type: TypeStringMap},
	{Name: "extra", Type: TypeAny},
}}

func TestSchemaApply(t *testing.T) {
	tests := []struct {
		name string
		in   string // JSON
		want map[string]any
		errs []string // "key: substring"
	}{
		{
			name: "defaults",
			in:   `{"url": "https://x"}`,
			want: map[string]any{"url": "https://x", "mode": "push", "retries": int64(3), "ratio": 0.5, "verbose": false, "timeout": 10 * time.Second},
		},
		{
			name: "all set",
			in: `{"url": "u", "token": "t", "mode": "pull", "retries": 5, "ratio": 1, "verbose": true, "timeout": "1m30s",
			      "kinds": ["accept"], "headers": {"X-A": "1", "X-N": 2}, "extra": {"deep": [1, 2]}}`,
			want: map[string]any{"url": "u", "token": "t", "mode": "pull", "retries": int64(5), "ratio": 1.0, "verbose": true,
				"timeout": 90 * time.Second, "kinds": []string{"accept"}, "headers": map[string]string{"X-A": "1", "X-N": "2"},
				"extra": map[string]any{"deep": []any{1.0, 2.0}}},
		},
		{
			name: "strings from environment",
			in:   `{"url": "u", "retries": "7", "ratio": "0.25", "verbose": "true", "kinds": "accept, reject"}`,
			want: map[string]any{"url": "u", "mode": "push", "retries": int64(7), "ratio": 0.25, "verbose": true,
				"timeout": 10 * time.Second, "kinds": []string{"accept", "reject"}},
		},
		{
			name: "null is absent",
			in:   `{"url": "u", "mode": null}`,
			want: map[string]any{"url": "u", "mode": "push", "retries": int64(3), "ratio": 0.5, "verbose": false, "timeout": 10 * time.Second},
		},
		{name: "missing required", in: `{}`, errs: []string{"url: is required"}},
		{
			name: "wrong types",
			in: `{"url": 5, "mode": "sideways", "retries": 1.5, "ratio": "lots", "verbose": "maybe", "timeout": 30,
			      "kinds": ["accept", 3], "headers": {"a": [1]}, "urll": "x"}`,
			errs: []string{
				"headers: value of \"a\" must be a string", "kinds: item 1 must be a string", "mode: must be one of push, pull",
				"ratio: must be a number", "retries: whole number", "timeout: duration string", "url: must be a string, got a number",
				"urll: unknown key (did you mean \"url\"?)", "verbose: true or false",
			},
		},
		{name: "enum list", in: `{"url": "u", "kinds": ["accept", "bless"]}`, errs: []string{`kinds: items must be among accept, reject, got "bless"`}},
		{name: "zero duration number", in: `{"url": "u", "timeout": 0}`,
			want: map[string]any{"url": "u", "mode": "push", "retries": int64(3), "ratio": 0.5, "verbose": false, "timeout": time.Duration(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg map[string]any
			if err := json.Unmarshal([]byte(tt.in), &cfg); err != nil {
				t.Fatal(err)
			}
			got, errs := testSchema.Apply(cfg)
			if len(errs) != len(tt.errs) {
				t.Fatalf("errors = %v, want %v", errs, tt.errs)
			}
			for i, w := range tt.errs {
				key, sub, _ := strings.Cut(w, ": ")
				if errs[i].Key != key || !strings.Contains(errs[i].Message, sub) {
					t.Errorf("error %d = %q, want key %q containing %q", i, errs[i], key, sub)
				}
			}
			if len(tt.errs) == 0 && !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %#v\nwant %#v", got, tt.want)
			}
			if v := testSchema.Validate(cfg); len(v) != len(errs) {
				t.Fatalf("Validate and Apply disagree: %v vs %v", v, errs)
			}
		})
	}
}

func TestSchemaAllowUnknown(t *testing.T) {
	s := Schema{Fields: []Field{{Name: "a", Type: TypeInt}}, AllowUnknown: true}
	got, errs := s.Apply(map[string]any{"a": 1, "b": "kept"})
	if len(errs) != 0 || got["b"] != "kept" || got["a"] != int64(1) {
		t.Fatalf("got %v, %v", got, errs)
	}
}

func TestSchemaCheck(t *testing.T) {
	if err := testSchema.Check(); err != nil {
		t.Fatal(err)
	}
	bad := Schema{Fields: []Field{
		{Name: "", Type: TypeString},
		{Name: "a", Type: TypeString},
		{Name: "a", Type: TypeString},
		{Name: "b", Type: "decimal"},
		{Name: "c", Type: TypeInt, Enum: []string{"x"}},
		{Name: "d", Type: TypeDuration, Default: "soon"},
	}}
	err := bad.Check()
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{"field 0 has no name", `"a" is declared twice`, `"b" has unknown type "decimal"`, `"c": enum needs`, `"d": default`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v lacks %q", err, want)
		}
	}
}

func TestSchemaMarkdownGolden(t *testing.T) {
	got := testSchema.Markdown()
	path := filepath.Join("testdata", "schema.md")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if got != string(want) {
		t.Fatalf("Markdown() differs from %s (run with -update):\n%s", path, got)
	}
}

func TestSchemaWireRoundTrip(t *testing.T) {
	back := schemaFromPB(schemaToPB(testSchema))
	if len(back.Fields) != len(testSchema.Fields) {
		t.Fatalf("fields lost: %+v", back)
	}
	// Defaults come back as JSON values that Apply accepts as the same
	// typed values.
	a, errs := testSchema.Apply(map[string]any{"url": "u"})
	b, errs2 := back.Apply(map[string]any{"url": "u"})
	if len(errs)+len(errs2) != 0 || !reflect.DeepEqual(a, b) {
		t.Fatalf("applied defaults differ after the wire:\n%#v\n%#v", a, b)
	}
	if back.Markdown() != testSchema.Markdown() {
		t.Fatalf("markdown differs after the wire:\n%s", back.Markdown())
	}
}

// FuzzSchemaApply feeds arbitrary JSON configs (outside input: the gateway
// config file and environment) through validation.
func FuzzSchemaApply(f *testing.F) {
	f.Add([]byte(`{"url": "u", "retries": "7", "kinds": "accept, reject"}`))
	f.Add([]byte(`{"timeout": 1e300, "retries": -1e19, "headers": {"a": null}}`))
	f.Add([]byte(`{"kinds": [null], "ratio": true, "extra": [[[]]]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var cfg map[string]any
		if json.Unmarshal(data, &cfg) != nil {
			return
		}
		got, errs := testSchema.Apply(cfg)
		for _, e := range errs {
			if e.Message == "" {
				t.Fatalf("empty message for %q", e.Key)
			}
		}
		if len(errs) == 0 {
			// A clean result has the documented Go types.
			if _, ok := got["retries"].(int64); !ok {
				t.Fatalf("retries has type %T", got["retries"])
			}
			if _, ok := got["timeout"].(time.Duration); !ok {
				t.Fatalf("timeout has type %T", got["timeout"])
			}
		}
	})
}
