package config

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// SchemaID is the $id of the config schema; docs/config.schema.json is
// the committed copy (a test keeps it equal to Schema's output).
const SchemaID = "https://wogate.dev/schema/config.schema.json"

// The JSON Schema of the config file is generated, not written: the
// properties are Config's koanf fields (reflection), the descriptions are
// their doc comments (fieldDocs, generated from config.go by
// TestSchemaDocs), the defaults are what applyDefaults fills in, and the
// enums are the lists validate checks against. What remains declared here
// is what the loader checks in code rather than in a list: required keys
// and patterns.

// schemaEnums are the closed value sets, by schema path ("*" stands for
// a map key, "[]" for a list item).
var schemaEnums = map[string][]string{
	"store.driver":                               validDrivers,
	"store.sqlite.quick_check":                   validQuickChecks,
	"log.level":                                  validLogLevels,
	"log.format":                                 validLogFormats,
	"tracing.exporter":                           validExporters,
	"corrigo.accounts.*.webhook.hashes.[]":       validHashes,
	"corrigo.accounts.*.webhook.signed_bytes.[]": validSignedBytes,
}

// schemaRanges are the numeric bounds validate checks, [min, max] (nil
// max: unbounded).
var schemaRanges = map[string][2]any{
	"tracing.sample_ratio":                            {0, 1},
	"delivery.max_attempts":                           {1, nil},
	"delivery.breaker.consecutive_failures":           {1, nil},
	"delivery.breaker.half_open_requests":             {1, nil},
	"corrigo.accounts.*.breaker.consecutive_failures": {1, nil},
	"corrigo.accounts.*.breaker.half_open_requests":   {1, nil},
	"plugins.*.concurrency":                           {1, nil},
	"plugins.*.supervisor.max_crashes":                {1, nil},
	"store.group_commit.max_batch":                    {1, nil},
	"corrigo.accounts.*.rate_limit.per_second":        {0, nil},
	"corrigo.accounts.*.rate_limit.burst":             {0, nil},
}

// schemaRequired are the keys validate insists on, by object path.
var schemaRequired = map[string][]string{
	"":          {"corrigo"},
	"corrigo":   {"accounts"},
	"plugins.*": {"command"},
	"rules.[]":  {"name", "when"},
}

// schemaNamed are the maps whose keys are names (accounts, plugins) and
// must match namePattern.
var schemaNamed = map[string]bool{"corrigo.accounts": true, "plugins": true}

// durationPattern is what parseDuration accepts: Go durations plus a d
// (24h) unit; 0 alone is allowed too.
const durationPattern = `^\s*(0|[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h|d))+)\s*$`

// regionPattern matches a region name in any case.
func regionPattern() string {
	alts := make([]string, len(corrigo.Regions))
	for i, r := range corrigo.Regions {
		var b strings.Builder
		for _, c := range string(r) {
			b.WriteString("[" + strings.ToLower(string(c)) + strings.ToUpper(string(c)) + "]")
		}
		alts[i] = b.String()
	}
	return `^\s*(` + strings.Join(alts, "|") + `)\s*$`
}

func regionNames() []string {
	out := make([]string, len(corrigo.Regions))
	for i, r := range corrigo.Regions {
		out[i] = string(r)
	}
	return out
}

// Schema returns the JSON Schema (draft 2020-12) of a config file. plugins
// maps a plugin name to the schema it describes (pluginapi.Schema, from
// Describe); each becomes the schema of plugins.<name>.config. nil gives
// the schema without plugin sections, where any plugin config is an
// object.
func Schema(plugins map[string]pluginapi.Schema) map[string]any {
	defaults := schemaDefaults()
	s := typeSchema(reflect.TypeOf(Config{}), "", defaults)
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = SchemaID
	s["title"] = "wogate gateway configuration"
	if len(plugins) > 0 {
		names := make([]string, 0, len(plugins))
		for n := range plugins {
			names = append(names, n)
		}
		sort.Strings(names)
		ps := s["properties"].(map[string]any)["plugins"].(map[string]any)
		generic := ps["additionalProperties"].(map[string]any)
		props := map[string]any{}
		for _, n := range names {
			one := cloneSchema(generic)
			one["properties"].(map[string]any)["config"] = PluginConfigSchema(plugins[n])
			props[n] = one
		}
		ps["properties"] = props
	}
	return s
}

// SchemaJSON is Schema as indented JSON with a final newline, the form
// `gateway schema` prints and docs/config.schema.json holds.
func SchemaJSON(plugins map[string]pluginapi.Schema) []byte {
	b, err := json.MarshalIndent(Schema(plugins), "", "  ")
	if err != nil {
		panic(err) // only maps, slices and scalars: cannot fail
	}
	return append(b, '\n')
}

// schemaDefaults runs the loader's applyDefaults on an empty file with one
// account and one plugin ("*"), so the schema's defaults are the loader's.
func schemaDefaults() map[string]any {
	raw := map[string]any{
		"corrigo": map[string]any{"accounts": map[string]any{"*": map[string]any{}}},
		"plugins": map[string]any{"*": map[string]any{}},
	}
	applyDefaults(raw)
	out := map[string]any{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			p := joinKey(prefix, k)
			if sm, ok := v.(map[string]any); ok {
				walk(p, sm)
				continue
			}
			out[p] = v
		}
	}
	walk("", raw)
	// The webhook path's default names the account: describe it instead.
	delete(out, "corrigo.accounts.*.webhook.path")
	return out
}

var (
	regionType  = reflect.TypeOf(corrigo.Region(""))
	anyMapType  = reflect.TypeOf(map[string]any{})
	stringSlice = reflect.TypeOf([]string{})
)

// typeSchema is the schema of a value of type t found at path.
func typeSchema(t reflect.Type, path string, defaults map[string]any) map[string]any {
	switch {
	case t == durationType:
		// A string in duration syntax, or the number 0 (pattern applies
		// to strings, the bounds to numbers).
		return map[string]any{"type": []any{"string", "integer"}, "pattern": durationPattern, "minimum": 0, "maximum": 0}
	case t == secretType:
		return map[string]any{"type": "string"}
	case t == regionType:
		// ParseRegion ignores case and surrounding blanks; JSON Schema
		// patterns are ECMA-262, which has no (?i).
		return map[string]any{"type": "string", "pattern": regionPattern(), "examples": regionNames()}
	case t == anyMapType:
		return map[string]any{"type": "object"}
	}
	switch t.Kind() {
	case reflect.Struct:
		props := map[string]any{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			key := strings.Split(f.Tag.Get("koanf"), ",")[0]
			if !f.IsExported() || key == "" || key == "-" {
				continue
			}
			p := joinKey(path, key)
			fs := typeSchema(f.Type, p, defaults)
			if d := fieldDocs[t.Name()+"."+f.Name]; d != "" {
				fs["description"] = d
			}
			if f.Type == secretType {
				fs["description"] = strings.TrimSpace(fmt.Sprint(fs["description"], " Secret: write ${ENV_NAME} or file:/path rather than the value itself."))
				fs["writeOnly"] = true
			}
			if def, ok := defaults[p]; ok {
				fs["default"] = schemaValue(def)
			}
			if e, ok := schemaEnums[p]; ok {
				fs["enum"] = e
			}
			if r, ok := schemaRanges[p]; ok {
				fs["minimum"] = r[0]
				if r[1] != nil {
					fs["maximum"] = r[1]
				}
			}
			props[key] = fs
		}
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if d := fieldDocs[t.Name()]; d != "" {
			s["description"] = d
		}
		if req := schemaRequired[path]; len(req) > 0 {
			s["required"] = req
		}
		return s
	case reflect.Map:
		s := map[string]any{"type": "object", "additionalProperties": typeSchema(t.Elem(), joinKey(path, "*"), defaults)}
		if schemaNamed[path] {
			s["propertyNames"] = map[string]any{"pattern": namePattern.String()}
		}
		if path == "corrigo.accounts" {
			s["minProperties"] = 1
		}
		return s
	case reflect.Slice:
		item := typeSchema(t.Elem(), joinKey(path, "[]"), defaults)
		if e, ok := schemaEnums[joinKey(path, "[]")]; ok {
			item["enum"] = e
		}
		return map[string]any{"type": "array", "items": item}
	case reflect.String:
		// The loader turns a YAML number or boolean into the text it
		// was written as (client_id: 12345, when: true), so they are
		// accepted where text is.
		if _, closed := schemaEnums[path]; closed {
			return map[string]any{"type": "string"}
		}
		return map[string]any{"type": []any{"string", "number", "boolean"}}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	}
	panic("config schema: no JSON Schema for Go type " + t.String() + " at " + path)
}

// schemaValue writes a default the way a user writes it in the file.
func schemaValue(v any) any {
	switch x := v.(type) {
	case time.Duration:
		if x == 0 {
			return 0
		}
		return shortDuration(x)
	case Secret:
		return string(x)
	}
	return v
}

// shortDuration formats d without zero units: 1m, 15m, 720h, 2ms.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func cloneSchema(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// PluginConfigSchema turns a plugin's own schema (pluginapi.Schema) into
// the JSON Schema of its plugins.<name>.config section. Values may also
// be ${ENV} or file: references, which are strings before they are
// resolved, so a non-string field accepts a reference too.
func PluginConfigSchema(ps pluginapi.Schema) map[string]any {
	props := map[string]any{}
	var req []string
	for _, f := range ps.Fields {
		var fs map[string]any
		switch f.Type {
		case pluginapi.TypeString:
			fs = map[string]any{"type": "string"}
		case pluginapi.TypeInt:
			fs = withReference(map[string]any{"type": "integer"})
		case pluginapi.TypeFloat:
			fs = withReference(map[string]any{"type": "number"})
		case pluginapi.TypeBool:
			fs = withReference(map[string]any{"type": "boolean"})
		case pluginapi.TypeDuration:
			fs = map[string]any{"type": "string", "pattern": durationPattern}
		case pluginapi.TypeStringList:
			// A string is split on commas.
			fs = map[string]any{"anyOf": []any{
				map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
				map[string]any{"type": "string"},
			}}
		case pluginapi.TypeStringMap:
			fs = map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}}
		default:
			fs = map[string]any{}
		}
		if len(f.Enum) > 0 {
			if f.Type == pluginapi.TypeStringList {
				fs = map[string]any{"type": "array", "items": map[string]any{"enum": f.Enum}}
			} else {
				fs["enum"] = f.Enum
			}
		}
		if f.Description != "" {
			fs["description"] = f.Description
		}
		if f.Default != nil {
			fs["default"] = pluginDefault(f.Default)
		}
		if f.Example != "" {
			fs["examples"] = []any{f.Example}
		}
		if f.Secret {
			fs["writeOnly"] = true
		}
		if f.Required {
			req = append(req, f.Name)
		}
		props[f.Name] = fs
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": ps.AllowUnknown}
	if len(req) > 0 {
		s["required"] = req
	}
	return s
}

// referencePattern matches a value the loader resolves: ${ENV} or file:.
const referencePattern = `^(\$\{[A-Za-z_][A-Za-z0-9_]*\}|file:.+)$`

// withReference lets a typed field hold a reference instead: the type
// widens to string, and the pattern (which applies to strings only) keeps
// strings to references.
func withReference(s map[string]any) map[string]any {
	s["type"] = []any{s["type"], "string"}
	s["pattern"] = referencePattern
	return s
}

func pluginDefault(v any) any {
	switch x := v.(type) {
	case time.Duration:
		return shortDuration(x)
	case int:
		return x
	case int64:
		return x
	case []string, map[string]string, string, bool, float64:
		return x
	}
	// Anything else: as JSON sees it, or its text.
	if b, err := json.Marshal(v); err == nil {
		var out any
		if json.Unmarshal(b, &out) == nil {
			return out
		}
	}
	return strconv.Quote(fmt.Sprint(v))
}
