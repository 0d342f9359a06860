package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/v2"
	"github.com/wogate/wogate/internal/typo"
	"go.yaml.in/yaml/v3"
)

// Options change where Load and Parse read the environment from. The zero
// value uses the process environment.
type Options struct {
	// Environ lists "NAME=value" pairs for WOGATE_ overrides; nil means
	// os.Environ.
	Environ func() []string
	// LookupEnv resolves ${NAME} references; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// EnvPrefix is the prefix of override variables; "" means WOGATE_.
	EnvPrefix string
	// ReadFile reads file: references (absolute paths); nil reads the
	// file system, at most 1 MiB.
	ReadFile func(path string) ([]byte, error)
}

// Load reads the configuration file at path, applies WOGATE_ environment
// overrides, resolves ${ENV} and file: references, fills in defaults and
// validates the result. Any problem is returned as an *Error listing every
// problem found, each with file, line, column and key.
func Load(path string) (*Config, error) { return LoadWith(path, Options{}) }

// LoadWith is Load with explicit options (tests, tools).
func LoadWith(path string, opts Options) (*Config, error) {
	data, err := os.ReadFile(path) // #nosec G304 -- the config file the operator named
	if err != nil {
		return nil, &Error{Entries: []ErrorEntry{{File: path, Message: "cannot read config: " + unwrapPathError(err)}}}
	}
	return Parse(path, data, opts)
}

// unwrapPathError drops the path from an *fs.PathError: the entry already
// names the file.
func unwrapPathError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// koanfDelim separates key segments inside koanf. A control character, so
// that map keys containing dots (plugin config keys) are kept whole.
const koanfDelim = "\x1f"

// loader carries the state of one Parse call.
type loader struct {
	file    string
	dir     string
	opts    Options
	pos     *positions
	envKeys map[string]string // normalized key -> variable name
	secrets map[string]bool   // normalized keys resolved from references
	// refValues are the resolved values of those keys, scrubbed from
	// error messages: a reference may hold a secret even where the key
	// is not a secret field.
	refValues map[string]string
	errs      []ErrorEntry
	warns     []ErrorEntry
	errKeys   map[string]bool // normalized keys that already have an error
	// rawAccounts and rawPlugins are the names written in the file and
	// environment, whether or not their sections decoded: references to a
	// plugin whose section has a type error are not "unknown".
	rawAccounts, rawPlugins map[string]bool
	// breakerSet holds, per account, the breaker keys written in the file
	// or environment; the others inherit delivery.breaker (finish).
	breakerSet map[string]map[string]bool
}

// Parse loads a configuration from data; name is the file name used in
// errors and the base for relative file: references.
func Parse(name string, data []byte, opts Options) (cfg *Config, err error) {
	l := &loader{
		file:    name,
		dir:     filepath.Dir(name),
		opts:    opts,
		envKeys: map[string]string{},
		secrets: map[string]bool{},
		errKeys: map[string]bool{},

		refValues: map[string]string{},
	}
	if l.opts.Environ == nil {
		l.opts.Environ = os.Environ
	}
	if l.opts.LookupEnv == nil {
		l.opts.LookupEnv = os.LookupEnv
	}
	if l.opts.ReadFile == nil {
		l.opts.ReadFile = readSmallFile
	}
	if l.opts.EnvPrefix == "" {
		l.opts.EnvPrefix = DefaultEnvPrefix
	}
	defer func() {
		// A parser bug must not take the gateway down with a stack
		// trace instead of a message about the file.
		if r := recover(); r != nil {
			cfg = nil
			err = &Error{Entries: []ErrorEntry{{File: name, Message: fmt.Sprintf("internal error while loading: %v", r)}}}
		}
	}()
	return l.parse(data)
}

func (l *loader) parse(data []byte) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		l.errs = append(l.errs, syntaxErrorEntry(l.file, data, err)) // yamlpos.go
		return nil, l.fail()
	}
	if n := expandedSize(&doc, map[*yaml.Node]int{}, 0); n > maxValues {
		l.errs = append(l.errs, ErrorEntry{File: l.file, Message: fmt.Sprintf("the configuration expands to more than %d values (aliases?)", maxValues)})
		return nil, l.fail()
	}
	l.pos = indexPositions(data, &doc)

	fileMap := map[string]any{}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		root := doc.Content[0]
		if root.Kind != yaml.MappingNode && (root.Kind != yaml.ScalarNode || root.Tag != "!!null") {
			l.errs = append(l.errs, ErrorEntry{File: l.file, Line: root.Line, Column: root.Column, Message: "the top level must be a mapping of keys (listen:, corrigo:, ...)"})
			return nil, l.fail()
		}
		var v any
		if err := doc.Decode(&v); err != nil {
			l.errs = append(l.errs, typeErrorEntries(l.file, &doc, err)...)
			return nil, l.fail()
		}
		if m, ok := plainValue(v).(map[string]any); ok {
			fileMap = m
		}
	}

	k := koanf.NewWithConf(koanf.Conf{Delim: koanfDelim})
	if err := k.Load(mapProvider(fileMap), nil); err != nil {
		return nil, fmt.Errorf("config: load %s: %w", l.file, err)
	}
	envProv := env.Provider(koanfDelim, env.Opt{
		Prefix:        l.opts.EnvPrefix,
		TransformFunc: l.envKey,
		EnvironFunc:   l.opts.Environ,
	})
	if err := k.Load(envProv, nil); err != nil {
		return nil, fmt.Errorf("config: load environment: %w", err)
	}
	raw := k.Raw()
	if len(raw) == 0 && len(fileMap) > 0 {
		// koanf's deep copy gives up silently on types it cannot copy;
		// fall back to the map we built (plain types only).
		raw = fileMap
	}

	l.resolveSecrets(raw)
	l.breakerSet = explicitBreakerKeys(raw)
	applyDefaults(raw)
	l.rawAccounts, l.rawPlugins = map[string]bool{}, map[string]bool{}
	if c, ok := raw["corrigo"].(map[string]any); ok {
		if accs, ok := c["accounts"].(map[string]any); ok {
			for name := range accs {
				l.rawAccounts[name] = true
			}
		}
	}
	if ps, ok := raw["plugins"].(map[string]any); ok {
		for name := range ps {
			l.rawPlugins[name] = true
		}
	}

	cfg := &Config{Path: l.file, pos: l.pos, envKeys: l.envKeys}
	l.decode(raw, cfg)
	l.finish(cfg)
	l.validate(cfg)
	if len(l.errs) > 0 {
		err := l.fail()
		err.Rules = cfg.Rules
		return nil, err
	}
	sortEntries(l.warns)
	cfg.Warnings = l.warns
	cfg.Version = cfg.computeVersion()
	return cfg, nil
}

func (l *loader) fail() *Error {
	sortEntries(l.errs)
	return &Error{Entries: l.errs}
}

// maxValues bounds the decoded size of a configuration. Real files have a
// few hundred values; YAML aliases can make a small file expand to
// millions, which would stall the loader.
const maxValues = 100000

// expandedSize counts the values n decodes to, aliases expanded, without
// expanding them (memoized per node, so the count is linear in the file).
func expandedSize(n *yaml.Node, memo map[*yaml.Node]int, depth int) int {
	if n == nil {
		return 0
	}
	if v, ok := memo[n]; ok {
		return v
	}
	if depth > 1000 {
		return maxValues + 1
	}
	memo[n] = maxValues + 1 // a cycle counts as too large
	total := 1
	if n.Kind == yaml.AliasNode {
		total += expandedSize(n.Alias, memo, depth+1)
	}
	for _, c := range n.Content {
		total += expandedSize(c, memo, depth+1)
		if total > maxValues {
			break
		}
	}
	memo[n] = total
	return total
}

// plainValue converts what yaml.v3 decodes into the plain types the rest of
// the loader (and koanf's deep copy) handle: string-keyed maps, []any,
// strings, numbers, bools and nil.
func plainValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = plainValue(x)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[fmt.Sprint(k)] = plainValue(x)
		}
		return m
	case []any:
		for i, x := range t {
			t[i] = plainValue(x)
		}
		return t
	case time.Time:
		return t.Format(time.RFC3339Nano)
	case []byte:
		return string(t)
	case nil, string, bool, int, int64, uint64, float64:
		return t
	default:
		return fmt.Sprint(t)
	}
}

// mapProvider hands an already parsed map to koanf.
type mapProvider map[string]any

func (m mapProvider) ReadBytes() ([]byte, error) { return nil, errors.New("not supported") }
func (m mapProvider) Read() (map[string]any, error) {
	return map[string]any(m), nil
}

// topLevelKeys are the keys Config accepts at the top level; environment
// variables naming anything else are not configuration (WOGATE_TEST_*,
// variables of other tools) and are ignored.
var topLevelKeys = fieldTags(reflect.TypeOf(Config{}))

// envKey maps WOGATE_CORRIGO__ACCOUNTS__MAIN__CLIENT_ID to the koanf key
// corrigo<US>accounts<US>main<US>client_id.
func (l *loader) envKey(name, value string) (string, any) {
	rest := strings.TrimPrefix(name, l.opts.EnvPrefix)
	parts := strings.Split(strings.ToLower(rest), DefaultEnvNestingSeparator)
	if !topLevelKeys[parts[0]] {
		return "", nil
	}
	for _, p := range parts {
		if p == "" {
			l.errs = append(l.errs, ErrorEntry{File: l.file, Env: name, Message: "malformed override: empty key segment (use __ between keys)"})
			return "", nil
		}
	}
	display := strings.Join(parts, ".")
	if parts[0] == "rules" {
		l.errs = append(l.errs, ErrorEntry{File: l.file, Key: display, Env: name, Message: "rules cannot be overridden from the environment; edit the file"})
		return "", nil
	}
	l.envKeys[normKey(display)] = name
	return strings.Join(parts, koanfDelim), value
}

// entry builds an error entry for key, positioned at its value (value
// true) or at the key itself, or naming the environment variable that set
// it.
func (l *loader) entry(key string, value bool, msg string) ErrorEntry {
	return entryFor(l.file, l.pos, l.envKeys, key, value, msg)
}

func entryFor(file string, pos *positions, envKeys map[string]string, key string, value bool, msg string) ErrorEntry {
	e := ErrorEntry{File: file, Key: key, Message: msg}
	if name, ok := envKeys[normKey(key)]; ok {
		e.Env = name
		return e
	}
	e.Line, e.Column = pos.lookup(key, value)
	return e
}

// errorf records an error for key, at most one per key (a bad value
// should not also be reported as "must be positive").
func (l *loader) errorf(key string, value bool, format string, args ...any) {
	nk := normKey(key)
	if l.errKeys[nk] {
		return
	}
	l.errKeys[nk] = true
	msg := fmt.Sprintf(format, args...)
	if v := l.refValues[nk]; v != "" {
		msg = strings.ReplaceAll(msg, v, "<value from reference>")
	}
	l.errs = append(l.errs, l.entry(key, value, msg))
}

func (l *loader) warnf(key string, format string, args ...any) {
	l.warns = append(l.warns, l.entry(key, false, fmt.Sprintf(format, args...)))
}

// ---- secrets ----

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// maxSecretFile bounds a file: reference; certificates and secrets are
// small, and /dev/zero must not hang the loader.
const maxSecretFile = 1 << 20

// resolveSecrets replaces ${ENV} and file: references in every string
// value except under rules (rule conditions are code, not values).
func (l *loader) resolveSecrets(raw map[string]any) {
	for k, v := range raw {
		if k == "rules" {
			continue
		}
		raw[k] = l.resolveValue(k, v)
	}
}

func (l *loader) resolveValue(path string, v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = l.resolveValue(joinKey(path, k), x)
		}
		return t
	case []any:
		for i, x := range t {
			t[i] = l.resolveValue(path+"["+strconv.Itoa(i)+"]", x)
		}
		return t
	case string:
		out, isRef, err := l.resolveString(t, inPluginConfig(path))
		if err != nil {
			l.errorf(path, true, "%v", err)
			return ""
		}
		if isRef {
			l.secrets[normKey(path)] = true
			l.refValues[normKey(path)] = out
		}
		return out
	default:
		return v
	}
}

// resolveString resolves one value. "file:PATH" reads the file (relative
// to the config file's directory; ${ENV} may be used inside PATH; trailing
// newlines are dropped). Anywhere else, ${NAME} is replaced by the
// variable, ${NAME:-default} falls back to default when NAME is unset, and
// $${ is a literal ${.
//
// Inside a plugin's config section (lenient), only upper-case references
// (${ERP_TOKEN}) are environment references; any other ${...} is left for
// the plugin, whose templates use the same syntax (${wo.WorkOrderNumber}).
func (l *loader) resolveString(s string, lenient bool) (string, bool, error) {
	if rest, ok := strings.CutPrefix(s, "file:"); ok {
		p, _, err := l.expandEnv(rest, false)
		if err != nil {
			return "", true, err
		}
		if p == "" {
			return "", true, errors.New("file: reference has no path")
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(l.dir, p)
		}
		b, err := l.opts.ReadFile(p)
		if err != nil {
			return "", true, fmt.Errorf("cannot read secret file %s: %s", p, unwrapPathError(err))
		}
		return strings.TrimRight(string(b), "\r\n"), true, nil
	}
	return l.expandEnv(s, lenient)
}

// upperEnvName is what a plugin-config reference must look like to be
// resolved from the environment.
var upperEnvName = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

// inPluginConfig reports whether a display path is inside
// plugins.<name>.config.
func inPluginConfig(path string) bool {
	parts := strings.SplitN(path, ".", 4)
	return len(parts) >= 3 && parts[0] == "plugins" && (parts[2] == "config" || strings.HasPrefix(parts[2], "config["))
}

func readSmallFile(p string) ([]byte, error) {
	f, err := os.Open(p) // #nosec G304 -- the operator's config names the file
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, errors.New("is a directory")
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("larger than %d bytes", maxSecretFile)
	}
	return b, nil
}

func (l *loader) expandEnv(s string, lenient bool) (string, bool, error) {
	if !strings.Contains(s, "${") {
		return s, false, nil
	}
	var b strings.Builder
	ref := false
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), ref, nil
		}
		if i > 0 && s[i-1] == '$' { // $${ is a literal ${
			b.WriteString(s[:i-1])
			b.WriteString("${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			if lenient {
				b.WriteString(s[i:])
				return b.String(), ref, nil
			}
			return "", ref, fmt.Errorf("unterminated ${ reference")
		}
		inner := s[i+2 : i+end]
		name, def, hasDef := strings.Cut(inner, ":-")
		if lenient && !upperEnvName.MatchString(name) {
			b.WriteString(s[i : i+end+1])
			s = s[i+end+1:]
			continue
		}
		if !envName.MatchString(name) {
			return "", ref, fmt.Errorf("invalid reference ${%s}: want ${NAME} or ${NAME:-default}", inner)
		}
		ref = true
		val, ok := l.opts.LookupEnv(name)
		switch {
		case ok:
			b.WriteString(val)
		case hasDef:
			b.WriteString(def)
		default:
			return "", ref, fmt.Errorf("environment variable %s is not set", name)
		}
		s = s[i+end+1:]
	}
}

// ---- defaults ----

// applyDefaults fills in every absent key with its default, in the raw
// map, so that the typed decode and the validation see explicit values and
// an explicit zero can be told from an absent key. The defaults are
// DefaultConfig's, and DefaultAccount's and DefaultPlugin's for each
// account and plugin named.
func applyDefaults(raw map[string]any) {
	fillDefaults(raw, reflect.ValueOf(DefaultConfig))
	if c := sub(raw, "corrigo"); c != nil {
		if accs := sub(c, "accounts"); accs != nil {
			for name := range accs {
				if a := sub(accs, name); a != nil {
					fillDefaults(a, reflect.ValueOf(DefaultAccount))
					if w := sub(a, "webhook"); w != nil {
						set(w, "path", DefaultWebhookPathPrefix+name)
					}
				}
			}
		}
	}
	if ps := sub(raw, "plugins"); ps != nil {
		for name := range ps {
			if p := sub(ps, name); p != nil {
				fillDefaults(p, reflect.ValueOf(DefaultPlugin))
			}
		}
	}
}

// fillDefaults sets, in m, each key of the struct def whose value is not
// zero (or is tagged default:"zero") and that m does not have, as the
// plain value a file would give (string, int, float64, bool,
// time.Duration). A struct field is a section: created in m only when it
// holds a default. Maps (accounts, plugins) and lists have no defaults of
// their own.
func fillDefaults(m map[string]any, def reflect.Value) {
	t := def.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key := strings.Split(f.Tag.Get("koanf"), ",")[0]
		if !f.IsExported() || key == "" || key == "-" {
			continue
		}
		v := def.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != durationType {
			if !hasDefault(v) {
				continue
			}
			if s := sub(m, key); s != nil {
				fillDefaults(s, v)
			}
			continue
		}
		if v.IsZero() && f.Tag.Get("default") != "zero" {
			continue
		}
		switch {
		case f.Type == durationType:
			set(m, key, time.Duration(v.Int()))
		case v.Kind() == reflect.String:
			set(m, key, v.String())
		case v.Kind() == reflect.Bool:
			set(m, key, v.Bool())
		case v.CanInt():
			set(m, key, int(v.Int()))
		case v.CanFloat():
			set(m, key, v.Float())
		default:
			panic("config: no default of type " + f.Type.String() + " for " + key)
		}
	}
}

// hasDefault reports whether fillDefaults would set anything from the
// struct v.
func hasDefault(v reflect.Value) bool {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() || f.Tag.Get("koanf") == "" || f.Tag.Get("koanf") == "-" {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type != durationType {
			if hasDefault(v.Field(i)) {
				return true
			}
			continue
		}
		if f.Type.Kind() == reflect.Map || f.Type.Kind() == reflect.Slice {
			continue
		}
		if !v.Field(i).IsZero() || f.Tag.Get("default") == "zero" {
			return true
		}
	}
	return false
}

// explicitBreakerKeys returns, per account, the keys of its breaker
// section that are set before defaults apply.
func explicitBreakerKeys(raw map[string]any) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	c, _ := raw["corrigo"].(map[string]any)
	accs, _ := c["accounts"].(map[string]any)
	for name, a := range accs {
		am, _ := a.(map[string]any)
		b, _ := am["breaker"].(map[string]any)
		for k := range b {
			if out[name] == nil {
				out[name] = map[string]bool{}
			}
			out[name][k] = true
		}
	}
	return out
}

// set puts v at m[k] unless the key is present.
func set(m map[string]any, k string, v any) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

// sub returns the map at m[k], creating it when absent or null; nil when
// the key holds something else (the decode reports the wrong type).
func sub(m map[string]any, k string) map[string]any {
	switch v := m[k].(type) {
	case map[string]any:
		return v
	case nil:
		n := map[string]any{}
		m[k] = n
		return n
	default:
		return nil
	}
}

// ---- decoding ----

var durationType = reflect.TypeOf(time.Duration(0))

// decode decodes raw into cfg strictly and turns every mapstructure error
// into a positioned entry.
func (l *loader) decode(raw map[string]any, cfg *Config) {
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		TagName:     "koanf",
		ErrorUnused: true,
		MatchName:   func(a, b string) bool { return a == b },
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			durationHook,
			mapstructure.TextUnmarshallerHookFunc(),
			scalarHook,
		),
		Result: cfg,
	})
	if err != nil {
		l.errs = append(l.errs, ErrorEntry{File: l.file, Message: "internal error: " + err.Error()})
		return
	}
	if err := dec.Decode(raw); err != nil {
		l.decodeErrors(err)
	}
}

var rootTypeName = reflect.TypeOf(Config{}).String()

func (l *loader) decodeErrors(err error) {
	switch e := err.(type) { //nolint:errorlint // walks the error tree itself, one level per call
	case *mapstructure.DecodeError:
		inner := e.Unwrap()
		var nested *mapstructure.DecodeError
		if errors.As(inner, &nested) {
			l.decodeErrors(inner)
			return
		}
		name := displayKey(e.Name())
		if name == rootTypeName {
			name = ""
		}
		msg := inner.Error()
		if keys, ok := strings.CutPrefix(msg, "has invalid keys: "); ok {
			for _, k := range strings.Split(keys, ", ") {
				m := fmt.Sprintf("unknown key %q", k)
				if s := suggest(name, k); s != "" {
					m += fmt.Sprintf(" (did you mean %q?)", s)
				}
				l.errorf(joinKey(name, k), false, "%s", m)
			}
			return
		}
		l.errorf(name, true, "%s", friendlyDecodeError(inner))
	case interface{ Unwrap() []error }:
		for _, x := range e.Unwrap() {
			l.decodeErrors(x)
		}
	default:
		if u := errors.Unwrap(err); u != nil {
			l.decodeErrors(u)
			return
		}
		l.errs = append(l.errs, ErrorEntry{File: l.file, Message: err.Error()})
	}
}

func friendlyDecodeError(err error) string {
	var ute *mapstructure.UnconvertibleTypeError
	if errors.As(err, &ute) {
		return fmt.Sprintf("wrong type: want %s, got %s", article(typeName(ute.Expected.Type())), article(valueKind(ute.Value)))
	}
	var pe *mapstructure.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("invalid %s value", typeName(pe.Expected.Type()))
	}
	msg := err.Error()
	// mapstructure's own wording for containers.
	want := ""
	switch {
	case strings.Contains(msg, "expected a map or struct"):
		want = "a mapping"
	case strings.Contains(msg, "must be an array or slice"):
		want = "a list"
	default:
		return msg
	}
	if m := gotKind.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("wrong type: want %s, got %s", want, kindWord(m[1]))
	}
	return "wrong type: want " + want
}

var gotKind = regexp.MustCompile(`got "?(\w+)"?$`)

// kindWord names a reflect.Kind the way YAML users think of it.
func kindWord(k string) string {
	switch {
	case k == "map" || k == "struct":
		return "a mapping"
	case k == "slice" || k == "array":
		return "a list"
	case k == "string":
		return "a string"
	case k == "bool":
		return "a boolean"
	case strings.HasPrefix(k, "int") || strings.HasPrefix(k, "uint"):
		return "an integer"
	case strings.HasPrefix(k, "float"):
		return "a number"
	}
	return k
}

// article prefixes a or an.
func article(w string) string {
	if w != "" && strings.ContainsRune("aeiou", rune(w[0])) {
		return "an " + w
	}
	return "a " + w
}

func typeName(t reflect.Type) string {
	if t == durationType {
		return "duration (e.g. 30s, 5m, 1h)"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "list"
	case reflect.Map, reflect.Struct:
		return "mapping"
	}
	return t.String()
}

// valueKind describes a decoded YAML value without printing it (it may be
// a secret).
func valueKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case int, int64, uint64:
		return "integer"
	case float64:
		return "number"
	case []any:
		return "list"
	case map[string]any:
		return "mapping"
	}
	return fmt.Sprintf("%T", v)
}

// durationHook decodes "90s", "1h30m", "2d" and 0 into time.Duration. A
// bare number other than 0 is refused: "10" could mean seconds or
// nanoseconds.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != durationType {
		return data, nil
	}
	switch v := data.(type) {
	case string:
		return parseDuration(v)
	case time.Duration:
		return v, nil
	case int, int64, uint64, float64:
		if reflect.ValueOf(v).IsZero() {
			return time.Duration(0), nil
		}
		return nil, fmt.Errorf("invalid duration %v: add a unit (e.g. %vs, %vm)", v, v, v)
	}
	return data, nil
}

var daysRe = regexp.MustCompile(`(\d+)d`)

// parseDuration is time.ParseDuration plus a "d" (24h) unit, because
// retention periods are naturally written in days.
func parseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	conv := daysRe.ReplaceAllStringFunc(in, func(m string) string {
		n, err := strconv.Atoi(strings.TrimSuffix(m, "d"))
		if err != nil || n > 100000 {
			return m
		}
		return strconv.Itoa(n*24) + "h"
	})
	d, err := time.ParseDuration(conv)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want e.g. 30s, 5m, 1h30m, 7d)", s)
	}
	return d, nil
}

// scalarHook converts between scalars where YAML and environment values
// are naturally written either way: "8" for 8 (environment values are
// always strings), 12345 for a client id string. Anything else is left to
// mapstructure, which refuses it with a type error.
func scalarHook(from, to reflect.Type, data any) (any, error) {
	switch to.Kind() {
	case reflect.String:
		switch v := data.(type) {
		case int, int64, uint64, bool:
			return fmt.Sprint(v), nil
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64), nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		switch v := data.(type) {
		case string:
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("invalid integer %q", v)
			}
			return n, nil
		case float64:
			if v != float64(int64(v)) {
				return nil, fmt.Errorf("invalid integer %v", v)
			}
			return int64(v), nil
		}
	case reflect.Float32, reflect.Float64:
		if v, ok := data.(string); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return nil, fmt.Errorf("invalid number %q", v)
			}
			return f, nil
		}
	case reflect.Bool:
		if v, ok := data.(string); ok {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return nil, fmt.Errorf("invalid boolean %q (want true or false)", v)
			}
			return b, nil
		}
	}
	return data, nil
}

// fieldTags returns the koanf keys a struct type accepts.
func fieldTags(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("koanf"), ",")[0]
		if tag != "" && tag != "-" {
			out[tag] = true
		}
	}
	return out
}

// typeAt walks Config's type along a display key path.
func typeAt(key string) reflect.Type {
	t := reflect.TypeOf(Config{})
	if key == "" {
		return t
	}
	for _, seg := range strings.Split(normKey(key), ".") {
		switch t.Kind() {
		case reflect.Struct:
			found := false
			for i := 0; i < t.NumField(); i++ {
				if strings.Split(t.Field(i).Tag.Get("koanf"), ",")[0] == seg {
					t = t.Field(i).Type
					found = true
					break
				}
			}
			if !found {
				return nil
			}
		case reflect.Map, reflect.Slice:
			t = t.Elem()
		default:
			return nil
		}
	}
	return t
}

// suggest proposes the valid key closest to an unknown one.
func suggest(parent, unknown string) string {
	t := typeAt(parent)
	if t == nil || t.Kind() != reflect.Struct {
		return ""
	}
	keys := make([]string, 0)
	for k := range fieldTags(t) {
		keys = append(keys, k)
	}
	sort.Strings(keys) // ties go to the first key, the same on every run
	return typo.Closest(unknown, keys, 3)
}
