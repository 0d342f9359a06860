package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"reflect"
	"strings"
	"time"
)

// Redacted returns a copy of the configuration with every secret replaced
// by "REDACTED": typed secrets (client secrets, tokens, certificates, the
// store DSN) and plugin config values that came from ${ENV}/file:
// references, are named like secrets, or were marked with
// MarkPluginSecret. The copy is safe to log, print or show in the admin UI.
func (c Config) Redacted() Config {
	out := c
	out.Store.DSN = redactSecret(c.Store.DSN)
	out.Admin.Token = redactSecret(c.Admin.Token)
	out.Sandbox.ClientSecret = redactSecret(c.Sandbox.ClientSecret)
	if c.Tracing.Headers != nil {
		out.Tracing.Headers = make(map[string]Secret, len(c.Tracing.Headers))
		for k, v := range c.Tracing.Headers {
			out.Tracing.Headers[k] = redactSecret(v)
		}
	}
	if c.Corrigo.Accounts != nil {
		out.Corrigo.Accounts = make(map[string]Account, len(c.Corrigo.Accounts))
		for name, a := range c.Corrigo.Accounts {
			a.ClientSecret = redactSecret(a.ClientSecret)
			a.Webhook.Certificate = redactSecret(a.Webhook.Certificate)
			a.Webhook.Hashes = append([]string(nil), a.Webhook.Hashes...)
			a.Webhook.SignedBytes = append([]string(nil), a.Webhook.SignedBytes...)
			out.Corrigo.Accounts[name] = a
		}
	}
	if c.Plugins != nil {
		out.Plugins = make(map[string]Plugin, len(c.Plugins))
		for name, p := range c.Plugins {
			out.Plugins[name] = p.Redacted()
		}
	}
	out.Rules = append([]Rule(nil), c.Rules...)
	out.Warnings = append([]ErrorEntry(nil), c.Warnings...)
	return out
}

// Redacted returns a copy of the plugin with secret config values masked.
func (p Plugin) Redacted() Plugin {
	out := p
	out.Args = append([]string(nil), p.Args...)
	out.Config = redactMap(p.Config, "", p.secretKeys)
	out.secretKeys = maps.Clone(p.secretKeys)
	return out
}

func redactSecret(s Secret) Secret {
	if s == "" {
		return ""
	}
	return redacted
}

func redactMap(m map[string]any, prefix string, secret map[string]bool) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		path := joinKey(prefix, k)
		out[k] = redactAny(v, path, secret)
	}
	return out
}

func redactAny(v any, path string, secret map[string]bool) any {
	if secret[normKey(path)] {
		return redacted
	}
	switch t := v.(type) {
	case map[string]any:
		return redactMap(t, path, secret)
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = redactAny(x, fmt.Sprintf("%s[%d]", path, i), secret)
		}
		return out
	}
	return v
}

// plainConfig and plainPlugin drop the printing methods, so the methods
// below can print a redacted copy without recursing into themselves.
type (
	plainConfig Config
	plainPlugin Plugin
)

// Format prints the redacted configuration, whatever the verb: a %v in a
// log line must not leak a secret.
func (c Config) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), c.printable())
}

// printable is the redacted copy without the internal indexes (whose
// pointers would make the output differ from run to run).
func (c Config) printable() plainConfig {
	r := c.Redacted()
	r.pos, r.envKeys = nil, nil
	return plainConfig(r)
}

// String implements fmt.Stringer with the redacted configuration.
func (c Config) String() string { return fmt.Sprintf("%+v", c.printable()) }

// MarshalJSON encodes the redacted configuration, durations as strings
// ("1m30s") the way they are written in the file.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(jsonValue(reflect.ValueOf(c.Redacted())))
}

// LogValue implements slog.LogValuer with the redacted configuration.
func (c Config) LogValue() slog.Value { return slog.AnyValue(jsonValue(reflect.ValueOf(c.Redacted()))) }

// Format prints the plugin with secret config values masked.
func (p Plugin) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), plainPlugin(p.Redacted()))
}

// String implements fmt.Stringer with secret config values masked.
func (p Plugin) String() string { return fmt.Sprintf("%+v", plainPlugin(p.Redacted())) }

// MarshalJSON encodes the plugin with secret config values masked.
func (p Plugin) MarshalJSON() ([]byte, error) {
	return json.Marshal(jsonValue(reflect.ValueOf(p.Redacted())))
}

// LogValue implements slog.LogValuer with secret config values masked.
func (p Plugin) LogValue() slog.Value { return slog.AnyValue(jsonValue(reflect.ValueOf(p.Redacted()))) }

// computeVersion hashes the redacted configuration. Secret values are left
// out on purpose: the version is printed and recorded everywhere, and a
// hash over a low-entropy secret would let it be guessed offline. A
// rotated secret therefore keeps the version; decisions do not depend on
// secrets.
func (c Config) computeVersion() string {
	v := c.Redacted()
	v.Version, v.Path, v.Warnings = "", "", nil
	// Paths count as written, not as resolved: where the file lives is
	// not part of the configuration.
	v.DataDir = relativeTo(c.Dir, v.DataDir)
	for name, p := range v.Plugins {
		p.Command = relativeTo(c.Dir, p.Command)
		v.Plugins[name] = p
	}
	b, err := json.Marshal(jsonValue(reflect.ValueOf(v)))
	if err != nil {
		return "unknown"
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// relativeTo undoes resolvePath for paths inside dir.
func relativeTo(dir, p string) string {
	if dir == "" || !filepath.IsAbs(p) {
		return p
	}
	if r, err := filepath.Rel(dir, p); err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return r
	}
	return p
}

// Entry returns an error entry for key (a display path such as
// "plugins.erp.config.base_url" or "rules[2].when") positioned where the
// key is written in the file, or naming the environment variable that set
// it. Code that validates parts of the config after loading (plugin
// configs, rules) uses it so its errors look like the loader's.
func (c *Config) Entry(key, message string) ErrorEntry {
	return entryFor(c.Path, c.pos, c.envKeys, key, true, message)
}

// Position returns the 1-based line and column of key in the file, or of
// its nearest parent when key itself is not written there; 0, 0 when
// unknown.
func (c *Config) Position(key string) (line, column int) {
	return c.pos.lookup(key, true)
}

// RuleKey is the display path of rule i's field ("rules[3].when").
func RuleKey(i int, field string) string {
	return fmt.Sprintf("rules[%d].%s", i, strings.TrimPrefix(field, "."))
}

var (
	secretType = reflect.TypeOf(Secret(""))
	timeDurT   = reflect.TypeOf(time.Duration(0))
)

// jsonValue turns a config value into plain JSON-able data following the
// json tags, with durations as strings and secrets masked. It walks the
// value itself so it does not recurse into the MarshalJSON methods above.
func jsonValue(v reflect.Value) any {
	switch {
	case !v.IsValid():
		return nil
	case v.Type() == secretType:
		return Secret(v.String()).shown()
	case v.Type() == timeDurT:
		return time.Duration(v.Int()).String()
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return jsonValue(v.Elem())
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fv := v.Field(i)
			if strings.Contains(opts, "omitempty") && fv.IsZero() {
				continue
			}
			out[name] = jsonValue(fv)
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		out := make(map[string]any, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			out[fmt.Sprint(iter.Key().Interface())] = jsonValue(iter.Value())
		}
		return out
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = jsonValue(v.Index(i))
		}
		return out
	}
	return v.Interface()
}
