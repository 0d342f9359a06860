package pluginapi

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wogate/wogate/pkg/pluginapi/internal/typo"
)

// FieldType is the type of a config value.
type FieldType string

// Config value types and the Go type each has after Schema.Apply.
const (
	TypeString     FieldType = "string"      // string
	TypeInt        FieldType = "int"         // int64
	TypeFloat      FieldType = "float"       // float64
	TypeBool       FieldType = "bool"        // bool
	TypeDuration   FieldType = "duration"    // time.Duration, written "30s", "1m30s"
	TypeStringList FieldType = "string_list" // []string; a string is split on commas
	TypeStringMap  FieldType = "string_map"  // map[string]string
	TypeAny        FieldType = "any"         // any JSON value, unchecked
)

var fieldTypes = []FieldType{TypeString, TypeInt, TypeFloat, TypeBool, TypeDuration, TypeStringList, TypeStringMap, TypeAny}

// Schema describes a plugin's configuration: the keys it accepts, their
// types, defaults and documentation. The SDK validates configs against it
// and the gateway renders it as a docs table (Markdown).
type Schema struct {
	Fields []Field
	// AllowUnknown accepts keys that are not in Fields. Off by default so
	// that a typo in the gateway config is an error, not a silent default.
	AllowUnknown bool
}

// Field is one config key.
type Field struct {
	Name string
	Type FieldType
	// Required keys must be present (a Default does not satisfy it).
	Required bool
	// Default is used when the key is absent. It is written in the field's
	// Go type (or anything Apply accepts for the type, such as "30s").
	Default     any
	Description string
	// Secret values are never shown in full by the gateway (logs, docs).
	Secret bool
	// Enum lists the allowed values of a string (or string list) field.
	Enum []string
	// Example is shown in docs.
	Example string
}

// Field returns the field named name.
func (s Schema) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Check reports mistakes in the schema itself: empty or duplicate names,
// unknown types, enums on non-string fields, defaults of the wrong type.
func (s Schema) Check() error {
	seen := map[string]bool{}
	var problems []string
	for i, f := range s.Fields {
		switch {
		case f.Name == "":
			problems = append(problems, fmt.Sprintf("field %d has no name", i))
			continue
		case seen[f.Name]:
			problems = append(problems, fmt.Sprintf("field %q is declared twice", f.Name))
		}
		seen[f.Name] = true
		if !slices.Contains(fieldTypes, f.Type) {
			problems = append(problems, fmt.Sprintf("field %q has unknown type %q", f.Name, f.Type))
			continue
		}
		if len(f.Enum) > 0 && f.Type != TypeString && f.Type != TypeStringList {
			problems = append(problems, fmt.Sprintf("field %q: enum needs a string or string_list type", f.Name))
		}
		if f.Default != nil {
			if _, err := coerce(f, f.Default); err != nil {
				problems = append(problems, fmt.Sprintf("field %q: default: %v", f.Name, err))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("config schema: %s", strings.Join(problems, "; "))
	}
	return nil
}

// Validate checks cfg against the schema: unknown keys, required keys,
// types and enums. Errors are sorted by key.
func (s Schema) Validate(cfg map[string]any) []ConfigError {
	_, errs := s.Apply(cfg)
	return errs
}

// Apply validates cfg and returns a copy with defaults filled in and every
// value converted to its field's Go type (see FieldType). Values arriving
// as strings (environment overrides) are parsed for int, float, bool and
// duration fields. The result is only complete when there are no errors.
func (s Schema) Apply(cfg map[string]any) (map[string]any, []ConfigError) {
	out := make(map[string]any, len(s.Fields))
	var errs []ConfigError
	for _, f := range s.Fields {
		v, present := cfg[f.Name]
		if present && v == nil {
			present = false // YAML "key:" with no value
		}
		if !present {
			switch {
			case f.Required:
				errs = append(errs, ConfigError{Key: f.Name, Message: "is required"})
			case f.Default != nil:
				if dv, err := coerce(f, f.Default); err == nil {
					out[f.Name] = dv
				}
			}
			continue
		}
		cv, err := coerce(f, v)
		if err != nil {
			errs = append(errs, ConfigError{Key: f.Name, Message: err.Error()})
			continue
		}
		out[f.Name] = cv
	}
	for k, v := range cfg {
		if _, ok := s.Field(k); ok {
			continue
		}
		if !s.AllowUnknown {
			errs = append(errs, ConfigError{Key: k, Message: "unknown key" + suggest(k, s.Fields)})
			continue
		}
		out[k] = v
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Key < errs[j].Key })
	return out, errs
}

// suggest names a declared key close to k (a likely typo).
func suggest(k string, fields []Field) string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
	}
	best := typo.Closest(k, names, 3)
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// coerce converts v to f's Go type or says why it cannot.
func coerce(f Field, v any) (any, error) {
	switch f.Type {
	case TypeString:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("must be a string, got %s", describe(v))
		}
		if len(f.Enum) > 0 && !slices.Contains(f.Enum, s) {
			return nil, fmt.Errorf("must be one of %s, got %q", strings.Join(f.Enum, ", "), s)
		}
		return s, nil
	case TypeInt:
		return toInt(v)
	case TypeFloat:
		return toFloat(v)
	case TypeBool:
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			if p, err := strconv.ParseBool(strings.TrimSpace(b)); err == nil {
				return p, nil
			}
		}
		return nil, fmt.Errorf("must be true or false, got %s", describe(v))
	case TypeDuration:
		switch d := v.(type) {
		case time.Duration:
			return d, nil
		case string:
			p, err := time.ParseDuration(strings.TrimSpace(d))
			if err != nil {
				return nil, fmt.Errorf("must be a duration such as \"30s\" or \"1m30s\", got %q", d)
			}
			return p, nil
		}
		if n, err := toFloat(v); err == nil && n == 0 {
			return time.Duration(0), nil
		}
		return nil, fmt.Errorf("must be a duration string such as \"30s\", got %s", describe(v))
	case TypeStringList:
		var list []string
		switch l := v.(type) {
		case []string:
			list = slices.Clone(l)
		case string:
			for _, part := range strings.Split(l, ",") {
				if p := strings.TrimSpace(part); p != "" {
					list = append(list, p)
				}
			}
		case []any:
			list = make([]string, 0, len(l))
			for i, e := range l {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("item %d must be a string, got %s", i, describe(e))
				}
				list = append(list, s)
			}
		default:
			return nil, fmt.Errorf("must be a list of strings, got %s", describe(v))
		}
		if len(f.Enum) > 0 {
			for _, s := range list {
				if !slices.Contains(f.Enum, s) {
					return nil, fmt.Errorf("items must be among %s, got %q", strings.Join(f.Enum, ", "), s)
				}
			}
		}
		return list, nil
	case TypeStringMap:
		switch m := v.(type) {
		case map[string]string:
			out := make(map[string]string, len(m))
			for k, e := range m {
				out[k] = e
			}
			return out, nil
		case map[string]any:
			out := make(map[string]string, len(m))
			for k, e := range m {
				switch s := e.(type) {
				case string:
					out[k] = s
				case bool, float64, float32, int, int64, int32, json.Number:
					out[k] = fmt.Sprint(s)
				default:
					return nil, fmt.Errorf("value of %q must be a string, got %s", k, describe(e))
				}
			}
			return out, nil
		}
		return nil, fmt.Errorf("must be a map of strings, got %s", describe(v))
	case TypeAny:
		return v, nil
	}
	return nil, fmt.Errorf("unknown field type %q", f.Type)
}

func toInt(v any) (int64, error) {
	switch n := v.(type) {
	case int:
		return int64(n), nil
	case int8:
		return int64(n), nil
	case int16:
		return int64(n), nil
	case int32:
		return int64(n), nil
	case int64:
		return n, nil
	case uint:
		if uint64(n) <= math.MaxInt64 {
			return int64(n), nil
		}
	case uint8:
		return int64(n), nil
	case uint16:
		return int64(n), nil
	case uint32:
		return int64(n), nil
	case uint64:
		if n <= math.MaxInt64 {
			return int64(n), nil
		}
	case float32:
		return toInt(float64(n))
	case float64:
		if n == math.Trunc(n) && n >= math.MinInt64 && n < math.MaxInt64 {
			return int64(n), nil
		}
		return 0, fmt.Errorf("must be a whole number, got %v", n)
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, nil
		}
	case string:
		if i, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64); err == nil {
			return i, nil
		}
		return 0, fmt.Errorf("must be a whole number, got %q", n)
	}
	return 0, fmt.Errorf("must be a whole number, got %s", describe(v))
}

func toFloat(v any) (float64, error) {
	switch n := v.(type) {
	case float64:
		return n, nil
	case float32:
		return float64(n), nil
	case json.Number:
		if f, err := n.Float64(); err == nil {
			return f, nil
		}
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(n), 64); err == nil {
			return f, nil
		}
		return 0, fmt.Errorf("must be a number, got %q", n)
	case bool, nil:
	default:
		if i, err := toInt(v); err == nil {
			return float64(i), nil
		}
	}
	return 0, fmt.Errorf("must be a number, got %s", describe(v))
}

// describe names v's kind for an error message without echoing secrets.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "nothing"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, float32, int, int64, int32, int16, int8, uint, uint64, uint32, uint16, uint8, json.Number:
		return "a number"
	case []any, []string:
		return "a list"
	case map[string]any, map[string]string:
		return "a map"
	}
	return fmt.Sprintf("a %T", v)
}

// Markdown renders the schema as a Markdown table for a plugin's README.
func (s Schema) Markdown() string {
	var b strings.Builder
	b.WriteString("| Key | Type | Required | Default | Description |\n")
	b.WriteString("|-----|------|----------|---------|-------------|\n")
	for _, f := range s.Fields {
		req := "no"
		if f.Required {
			req = "yes"
		}
		def := ""
		if f.Default != nil {
			def = "`" + formatDefault(f) + "`"
		}
		desc := f.Description
		if len(f.Enum) > 0 {
			quoted := make([]string, len(f.Enum))
			for i, e := range f.Enum {
				quoted[i] = "`" + e + "`"
			}
			desc += " One of: " + strings.Join(quoted, ", ") + "."
		}
		if f.Example != "" {
			desc += " Example: `" + f.Example + "`."
		}
		if f.Secret {
			desc += " Secret: never logged."
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", f.Name, f.Type, req, def, mdEscape(strings.TrimSpace(desc)))
	}
	if !s.AllowUnknown {
		b.WriteString("\nOther keys are rejected.\n")
	}
	return b.String()
}

func formatDefault(f Field) string {
	v, err := coerce(f, f.Default)
	if err != nil {
		return fmt.Sprint(f.Default)
	}
	switch d := v.(type) {
	case time.Duration:
		return d.String()
	case string:
		return strconv.Quote(d)
	case []string, map[string]string:
		b, _ := json.Marshal(d)
		return string(b)
	}
	return fmt.Sprint(v)
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// defaultJSON encodes a field's default for the wire (durations as
// strings, so they survive JSON).
func defaultJSON(f Field) []byte {
	if f.Default == nil {
		return nil
	}
	v, err := coerce(f, f.Default)
	if err != nil {
		v = f.Default
	}
	if d, ok := v.(time.Duration); ok {
		v = d.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
