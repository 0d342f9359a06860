package pluginapi

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A config as a plugin receives it: Schema.Apply's Go types at the top,
// JSON's (float64, []any, map[string]any) inside an "any" field.
func TestConfigTypedAccess(t *testing.T) {
	schema := Schema{Fields: []Field{
		{Name: "base_url", Type: TypeString, Required: true},
		{Name: "retries", Type: TypeInt, Default: 3},
		{Name: "ratio", Type: TypeFloat, Default: 0.5},
		{Name: "verbose", Type: TypeBool},
		{Name: "timeout", Type: TypeDuration, Default: "30s"},
		{Name: "tags", Type: TypeStringList},
		{Name: "headers", Type: TypeStringMap},
		{Name: "auth", Type: TypeAny},
		{Name: "targets", Type: TypeAny},
	}}
	var raw map[string]any
	if err := json.Unmarshal([]byte(`{
		"base_url": "https://erp.example", "verbose": "true", "tags": "a, b",
		"headers": {"X-Env": "prod", "X-Shard": 7},
		"auth": {"type": "basic", "user": "u", "pool": {"size": 4, "idle": "90s"}},
		"targets": [{"name": "one", "weight": 2}, {"name": "two", "weight": 1.5}, "three"]
	}`), &raw); err != nil {
		t.Fatal(err)
	}
	cfg, errs := schema.Apply(raw)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c := ParseConfig(cfg)
	if got := c.String("base_url"); got != "https://erp.example" {
		t.Errorf("base_url %q", got)
	}
	if got := c.Int("retries"); got != 3 {
		t.Errorf("retries %d", got)
	}
	if got := c.Float("ratio"); got != 0.5 {
		t.Errorf("ratio %v", got)
	}
	if !c.Bool("verbose") {
		t.Error("verbose false")
	}
	if got := c.Duration("timeout"); got != 30*time.Second {
		t.Errorf("timeout %v", got)
	}
	if got := c.StringList("tags"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("tags %q", got)
	}
	if got := c.StringMap("headers"); !reflect.DeepEqual(got, map[string]string{"X-Env": "prod", "X-Shard": "7"}) {
		t.Errorf("headers %q", got)
	}
	auth := c.Object("auth")
	if auth.String("type") != "basic" || auth.Path() != "auth" {
		t.Errorf("auth %v", auth.Map())
	}
	pool := auth.Object("pool")
	if pool.Int("size") != 4 || pool.Duration("idle") != 90*time.Second {
		t.Errorf("pool %v", pool.Map())
	}
	if c.Contains("missing") || c.String("missing") != "" || c.Object("missing").Contains("x") || c.ObjectList("missing") != nil {
		t.Error("an absent key is not zero")
	}
	targets := c.ObjectList("targets")
	if len(targets) != 2 || targets[0].String("name") != "one" || targets[0].Int("weight") != 2 {
		t.Fatalf("targets %v", targets)
	}
	// Problems name the key path; reading on collects them all.
	_ = targets[1].Int("weight") // 1.5 is no integer
	_ = pool.Bool("size")        // a number
	pool.Fail("size", "must be at most %d", 2)
	_ = c.Int("base_url") // a string
	want := []ConfigError{
		{Key: "targets[2]", Message: "must be an object, got a string"},
		{Key: "targets[1].weight", Message: "must be a whole number, got 1.5"},
		{Key: "auth.pool.size", Message: "must be true or false, got a number"},
		{Key: "auth.pool.size", Message: "must be at most 2"},
		{Key: "base_url", Message: `must be a whole number, got "https://erp.example"`},
	}
	got := c.Errors()
	if len(got) != len(want) {
		t.Fatalf("errors %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("error %d: %v, want %v", i, got[i], want[i])
		}
	}
	var ces ConfigErrors
	if err := c.Err(); !errors.As(err, &ces) || len(ces) != len(want) || !strings.Contains(err.Error(), "targets[1].weight: ") {
		t.Errorf("Err %v", err)
	}
}

func TestConfigWrongShapes(t *testing.T) {
	c := ParseConfig(map[string]any{"o": "x", "l": map[string]any{}, "n": int64(1) << 40})
	_ = c.Object("o")
	_ = c.ObjectList("l")
	if c.Int("n") != 1<<40 { // int is 64 bits on every platform the gateway supports
		t.Error("int64 lost")
	}
	got := c.Errors()
	if len(got) != 2 || got[0].Error() != "o: must be an object, got a string" || got[1].Error() != "l: must be a list of objects, got a map" {
		t.Fatalf("errors %v", got)
	}
	if ParseConfig(nil).Err() != nil || ParseConfig(nil).String("x") != "" {
		t.Fatal("nil config")
	}
}

// FuzzConfig reads every key of an arbitrary JSON config with every
// getter, nested objects and lists included: no panic, and every problem
// names a key path that starts with a key of the config.
func FuzzConfig(f *testing.F) {
	f.Add([]byte(`{"a": "x", "n": 3, "d": "30s", "l": ["p", "q"], "m": {"k": 1}, "o": [{"u": 5}, "s"]}`))
	f.Add([]byte(`{"n": 1e300, "b": "maybe", "d": 12, "l": [1], "m": [], "o": {"x": {"y": null}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m map[string]any
		if json.Unmarshal(data, &m) != nil {
			return
		}
		var walk func(c *Config, depth int)
		walk = func(c *Config, depth int) {
			for _, k := range c.Keys() {
				_, _, _, _ = c.String(k), c.Int(k), c.Float(k), c.Bool(k)
				_, _, _ = c.Duration(k), c.StringList(k), c.StringMap(k)
				if depth < 4 {
					walk(c.Object(k), depth+1)
					for _, item := range c.ObjectList(k) {
						walk(item, depth+1)
					}
				}
			}
		}
		c := ParseConfig(m)
		walk(c, 0)
		for _, e := range c.Errors() {
			head := e.Key
			if i := strings.IndexAny(head, ".["); i >= 0 {
				head = head[:i]
			}
			if head == `""` {
				head = "" // KeyPath's spelling of the empty key
			}
			if _, ok := m[head]; !ok && !strings.Contains(e.Key, ".") {
				t.Fatalf("problem %v names no key of the config", e)
			}
		}
	})
}
