package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Effective returns the configuration as the gateway runs it, as a file
// would say it: every key by its config name (koanf tags), defaults
// filled in, environment overrides and ${ENV}/file: references applied,
// relative paths made absolute, durations written 5m, secrets REDACTED
// (see Redacted). Empty optional values are left out. `gateway config`
// prints it; the output conforms to the config schema.
func (c Config) Effective() map[string]any {
	m, _ := effectiveValue(reflect.ValueOf(c.Redacted())).(map[string]any)
	return m
}

func effectiveValue(v reflect.Value) any {
	switch {
	case !v.IsValid():
		return nil
	case v.Type() == secretType:
		return Secret(v.String()).shown()
	case v.Type() == timeDurT:
		d := time.Duration(v.Int())
		if d == 0 {
			return 0
		}
		return shortDuration(d)
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return effectiveValue(v.Elem())
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			key := strings.Split(f.Tag.Get("koanf"), ",")[0]
			if !f.IsExported() || key == "" || key == "-" {
				continue
			}
			_, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			fv := v.Field(i)
			if strings.Contains(opts, "omitempty") && fv.IsZero() {
				continue
			}
			if x := effectiveValue(fv); x != nil {
				out[key] = x
			}
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		out := make(map[string]any, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			out[fmt.Sprint(iter.Key().Interface())] = effectiveValue(iter.Value())
		}
		return out
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = effectiveValue(v.Index(i))
		}
		return out
	}
	return v.Interface()
}
