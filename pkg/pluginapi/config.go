package pluginapi

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Config gives typed access to a plugin's validated configuration, the map
// Configure and ValidateConfig receive, so a plugin reads its keys instead
// of asserting types on a map[string]any:
//
//	c := pluginapi.ParseConfig(cfg)
//	base := c.String("base_url")
//	timeout := c.Duration("timeout")
//	for _, t := range c.ObjectList("targets") {
//		name, url := t.String("name"), t.String("url")
//		...
//	}
//	if err := c.Err(); err != nil {
//		return pluginapi.Permanent(err) // "invalid config: targets[1].url: must be a string, got a number"
//	}
//
// A getter returns its key's value in the Go type it names, converting
// what Schema.Apply and JSON leave there (a whole float64 for Int, "30s"
// for Duration, a list of strings for StringList). A key that is absent
// (or null) reads as the zero value without a problem: the SDK has filled
// in defaults and checked required keys before the plugin sees the config,
// so an absent key is an optional one left unset; Contains tells. A value
// of the wrong type reads as the zero value and records a ConfigError
// naming the key's path (for nested objects "outer.inner", for list items
// "list[2].key"); Err and Errors report them, with those Fail adds.
//
// The Configs that Object and ObjectList return share their root's
// problems. A Config is not safe for concurrent use; read it in Configure
// and keep the results.
type Config struct {
	path string
	m    map[string]any
	errs *[]ConfigError
}

// ParseConfig wraps cfg (nil reads as empty).
func ParseConfig(cfg map[string]any) *Config {
	return &Config{m: cfg, errs: new([]ConfigError)}
}

// Map returns the underlying map.
func (c *Config) Map() map[string]any { return c.m }

// Path is the key path of this object ("" for the top level).
func (c *Config) Path() string { return c.path }

// Contains reports whether key is set (present and not null).
func (c *Config) Contains(key string) bool {
	v, ok := c.m[key]
	return ok && v != nil
}

// Keys returns the keys set in this object, in no particular order.
func (c *Config) Keys() []string {
	out := make([]string, 0, len(c.m))
	for k, v := range c.m {
		if v != nil {
			out = append(out, k)
		}
	}
	return out
}

// Any returns key's raw value and whether it is set.
func (c *Config) Any(key string) (any, bool) {
	v, ok := c.m[key]
	return v, ok && v != nil
}

// KeyPath is the path naming key of this object in problems. An empty
// key is written `""`, so it stays visible in the path (and an object
// under it is not taken for the top level).
func (c *Config) KeyPath(key string) string {
	if key == "" {
		key = `""`
	}
	if c.path == "" {
		return key
	}
	return c.path + "." + key
}

// Fail records a problem with key (its path is prefixed), for checks
// beyond types: "must be positive", "is required when auth is basic".
func (c *Config) Fail(key, format string, a ...any) {
	*c.errs = append(*c.errs, ConfigError{Key: c.KeyPath(key), Message: fmt.Sprintf(format, a...)})
}

// Errors returns the problems recorded so far, in the order they were.
func (c *Config) Errors() []ConfigError {
	if len(*c.errs) == 0 {
		return nil
	}
	return append([]ConfigError(nil), *c.errs...)
}

// Err returns the problems recorded so far as ConfigErrors, or nil.
func (c *Config) Err() error {
	if es := c.Errors(); es != nil {
		return ConfigErrors(es)
	}
	return nil
}

// get converts key's value with coerce for type t; absent → zero, false.
func (c *Config) get(key string, t FieldType) (any, bool) {
	v, ok := c.Any(key)
	if !ok {
		return nil, false
	}
	cv, err := coerce(Field{Name: key, Type: t}, v)
	if err != nil {
		c.Fail(key, "%v", err)
		return nil, false
	}
	return cv, true
}

// String returns key's string value.
func (c *Config) String(key string) string {
	v, _ := c.get(key, TypeString)
	s, _ := v.(string)
	return s
}

// Int returns key's integer value (an int64 or a whole number; a number
// out of int's range is a problem).
func (c *Config) Int(key string) int {
	n := c.Int64(key)
	if n > math.MaxInt || n < math.MinInt {
		c.Fail(key, "%d is out of range", n)
		return 0
	}
	return int(n)
}

// Int64 returns key's integer value.
func (c *Config) Int64(key string) int64 {
	v, _ := c.get(key, TypeInt)
	n, _ := v.(int64)
	return n
}

// Float returns key's number value.
func (c *Config) Float(key string) float64 {
	v, _ := c.get(key, TypeFloat)
	f, _ := v.(float64)
	return f
}

// Bool returns key's boolean value ("true"/"false" strings count).
func (c *Config) Bool(key string) bool {
	v, _ := c.get(key, TypeBool)
	b, _ := v.(bool)
	return b
}

// Duration returns key's duration (a time.Duration, or a string such as
// "30s" or "1m30s").
func (c *Config) Duration(key string) time.Duration {
	v, _ := c.get(key, TypeDuration)
	d, _ := v.(time.Duration)
	return d
}

// StringList returns key's list of strings (a string is split on commas).
func (c *Config) StringList(key string) []string {
	v, _ := c.get(key, TypeStringList)
	l, _ := v.([]string)
	return l
}

// StringMap returns key's map of strings (numbers and booleans are
// formatted).
func (c *Config) StringMap(key string) map[string]string {
	v, _ := c.get(key, TypeStringMap)
	m, _ := v.(map[string]string)
	return m
}

// Object returns key's nested object, whose problems name "key.inner".
// An absent key reads as an empty object.
func (c *Config) Object(key string) *Config {
	sub := &Config{path: c.KeyPath(key), errs: c.errs}
	v, ok := c.Any(key)
	if !ok {
		return sub
	}
	switch m := v.(type) {
	case map[string]any:
		sub.m = m
	case map[string]string:
		sub.m = make(map[string]any, len(m))
		for k, e := range m {
			sub.m[k] = e
		}
	default:
		c.Fail(key, "must be an object, got %s", describe(v))
	}
	return sub
}

// ObjectList returns key's list of objects; the problems of item i name
// "key[i].inner". An item that is not an object is a problem (and left
// out).
func (c *Config) ObjectList(key string) []*Config {
	v, ok := c.Any(key)
	if !ok {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		if ms, isMaps := v.([]map[string]any); isMaps {
			list = make([]any, len(ms))
			for i, m := range ms {
				list[i] = m
			}
		} else {
			c.Fail(key, "must be a list of objects, got %s", describe(v))
			return nil
		}
	}
	out := make([]*Config, 0, len(list))
	for i, item := range list {
		m, ok := item.(map[string]any)
		if !ok {
			c.Fail(key+"["+strconv.Itoa(i)+"]", "must be an object, got %s", describe(item))
			continue
		}
		out = append(out, &Config{path: c.KeyPath(key) + "[" + strconv.Itoa(i) + "]", m: m, errs: c.errs})
	}
	return out
}
