package erprest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/wogate/wogate/plugins/internal/textfmt"
)

// Templates are how the config maps CorrigoPro data into an ERP's JSON
// without code. A template is a JSON (or YAML) value whose strings may hold
// ${expression} parts, written in expr-lang (https://expr-lang.org):
//
//	{"title": "${wo.WorkOrderNumber}: ${wo.AccompanyingMessage}",
//	 "priority": "${wo.Sla?.IsEmergency ? 1 : 3}",
//	 "due": "${wo.Sla?.DueDate}"}
//
// A string that is exactly one ${...} keeps the expression's type (number,
// bool, object, null); a string mixing text and expressions is text. $${
// writes a literal "${". Expressions are compiled and type-checked against
// the environment when the plugin is configured, so a typo fails
// `gateway validate`, not the first work order. The result is encoded with
// encoding/json, so quoting and escaping are always right — which a
// text/template producing JSON cannot promise.

// maxNodes bounds the size of one expression.
const maxNodes = 2000

// pathRE matches a plain field path such as wo.ServiceLocation.SpaceId.
var pathRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// exprSource rewrites a plain field path with optional chaining, so that a
// missing part (no SLA, no address) gives null instead of an error;
// anything else is an expression as written.
func exprSource(src string) string {
	s := strings.TrimSpace(src)
	if pathRE.MatchString(s) {
		return strings.ReplaceAll(s, ".", "?.")
	}
	return s
}

// compileExpr compiles one expression against env's type.
func compileExpr(src string, env any) (*vm.Program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("empty expression")
	}
	// Compile as written first so that errors quote what the user wrote,
	// then the nil-safe rewrite of a plain path.
	prog, err := expr.Compile(strings.TrimSpace(src), expr.Env(env), expr.MaxNodes(maxNodes))
	if err != nil {
		return nil, err
	}
	if safe := exprSource(src); safe != strings.TrimSpace(src) {
		return expr.Compile(safe, expr.Env(env), expr.MaxNodes(maxNodes))
	}
	return prog, nil
}

// segment is a piece of a template string: literal text or an expression.
type segment struct {
	lit  string
	src  string
	prog *vm.Program
	// query is true for an expression after a '?' in a URL template: its
	// value is query-escaped rather than path-escaped.
	query bool
}

// splitTemplate cuts s into literal text and ${...} expressions. Braces and
// quoted strings inside an expression are skipped over, so ${ {"a": 1}.a }
// and ${ x ?? "}" } work.
func splitTemplate(s string) ([]segment, error) {
	var out []segment
	var lit strings.Builder
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "$${") {
			lit.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			lit.WriteByte(s[i])
			i++
			continue
		}
		end, err := exprEnd(s, i+2)
		if err != nil {
			return nil, err
		}
		if lit.Len() > 0 {
			out = append(out, segment{lit: lit.String()})
			lit.Reset()
		}
		src := s[i+2 : end]
		if strings.TrimSpace(src) == "" {
			return nil, fmt.Errorf("empty ${} at offset %d", i)
		}
		out = append(out, segment{src: src})
		i = end + 1
	}
	if lit.Len() > 0 || len(out) == 0 {
		out = append(out, segment{lit: lit.String()})
	}
	return out, nil
}

// exprEnd returns the index of the '}' closing an expression that starts
// at start.
func exprEnd(s string, start int) (int, error) {
	depth := 1
	for j := start; j < len(s); j++ {
		switch c := s[j]; c {
		case '"', '\'', '`':
			k := j + 1
			for ; k < len(s); k++ {
				if s[k] == '\\' && c != '`' {
					k++
					continue
				}
				if s[k] == c {
					break
				}
			}
			if k >= len(s) {
				return 0, fmt.Errorf("unterminated string in ${ at offset %d", start-2)
			}
			j = k
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return j, nil
			}
		}
	}
	return 0, fmt.Errorf("unterminated ${ at offset %d", start-2)
}

// strTemplate is a compiled template string.
type strTemplate struct {
	raw  string
	segs []segment
	url  bool
}

// compileString compiles a template string. url templates escape each
// expression's value for its place in a URL.
func compileString(s string, env any, urlMode bool) (*strTemplate, error) {
	segs, err := splitTemplate(s)
	if err != nil {
		return nil, err
	}
	inQuery := false
	for i := range segs {
		if segs[i].src == "" {
			if strings.Contains(segs[i].lit, "?") {
				inQuery = true
			}
			continue
		}
		prog, err := compileExpr(segs[i].src, env)
		if err != nil {
			return nil, fmt.Errorf("${%s}: %w", strings.TrimSpace(segs[i].src), err)
		}
		segs[i].prog = prog
		segs[i].query = inQuery
	}
	return &strTemplate{raw: s, segs: segs, url: urlMode}, nil
}

// single reports whether the template is exactly one expression.
func (t *strTemplate) single() bool { return len(t.segs) == 1 && t.segs[0].prog != nil }

// render evaluates the template as text.
func (t *strTemplate) render(env any) (string, error) {
	if t == nil {
		return "", nil
	}
	var b strings.Builder
	for _, sg := range t.segs {
		if sg.prog == nil {
			b.WriteString(sg.lit)
			continue
		}
		v, err := expr.Run(sg.prog, env)
		if err != nil {
			return "", fmt.Errorf("${%s}: %w", strings.TrimSpace(sg.src), err)
		}
		s := textfmt.Value(v)
		if t.url {
			if sg.query {
				s = url.QueryEscape(s)
			} else {
				s = url.PathEscape(s)
			}
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// value evaluates the template keeping the type of a lone expression.
func (t *strTemplate) value(env any) (any, error) {
	if t.single() {
		v, err := expr.Run(t.segs[0].prog, env)
		if err != nil {
			return nil, fmt.Errorf("${%s}: %w", strings.TrimSpace(t.segs[0].src), err)
		}
		return v, nil
	}
	return t.render(env)
}

// bodyTemplate is a compiled JSON template: objects, arrays, literals and
// template strings.
type bodyTemplate struct {
	obj  map[string]*bodyTemplate
	keys []string
	arr  []*bodyTemplate
	str  *strTemplate
	lit  any // number, bool or nil
	kind byte
}

const (
	bodyLit byte = iota
	bodyObj
	bodyArr
	bodyStr
)

// compileBody compiles a template given as decoded YAML/JSON, or as a
// string holding a JSON document. Errors name the key path inside the
// template (for example "customer.name").
func compileBody(v any, env any) (*bodyTemplate, error) {
	if s, ok := v.(string); ok {
		trimmed := strings.TrimSpace(s)
		if strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[") {
			var doc any
			if err := json.Unmarshal([]byte(trimmed), &doc); err != nil {
				return nil, fmt.Errorf("not valid JSON: %w", err)
			}
			v = doc
		}
	}
	return compileNode(v, env, "")
}

func compileNode(v any, env any, at string) (*bodyTemplate, error) {
	where := func(err error) error {
		if at == "" {
			return err
		}
		return fmt.Errorf("%s: %w", at, err)
	}
	switch x := v.(type) {
	case map[string]any:
		n := &bodyTemplate{kind: bodyObj, obj: make(map[string]*bodyTemplate, len(x))}
		for k, e := range x {
			c, err := compileNode(e, env, join(at, k))
			if err != nil {
				return nil, err
			}
			n.obj[k] = c
			n.keys = append(n.keys, k)
		}
		slices.Sort(n.keys)
		return n, nil
	case map[any]any: // yaml.v2-style maps
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = e
		}
		return compileNode(m, env, at)
	case []any:
		n := &bodyTemplate{kind: bodyArr}
		for i, e := range x {
			c, err := compileNode(e, env, join(at, strconv.Itoa(i)))
			if err != nil {
				return nil, err
			}
			n.arr = append(n.arr, c)
		}
		return n, nil
	case string:
		t, err := compileString(x, env, false)
		if err != nil {
			return nil, where(err)
		}
		return &bodyTemplate{kind: bodyStr, str: t}, nil
	case nil, bool, float64, float32, int, int64, int32, json.Number, uint64:
		return &bodyTemplate{kind: bodyLit, lit: x}, nil
	}
	return nil, where(fmt.Errorf("unsupported value of type %T", v))
}

func join(at, k string) string {
	if at == "" {
		return k
	}
	return at + "." + k
}

// eval builds the JSON value for env.
func (n *bodyTemplate) eval(env any) (any, error) {
	return n.evalAt(env, "")
}

func (n *bodyTemplate) evalAt(env any, at string) (any, error) {
	switch n.kind {
	case bodyObj:
		out := make(map[string]any, len(n.obj))
		for _, k := range n.keys {
			v, err := n.obj[k].evalAt(env, join(at, k))
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case bodyArr:
		out := make([]any, len(n.arr))
		for i, c := range n.arr {
			v, err := c.evalAt(env, join(at, strconv.Itoa(i)))
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case bodyStr:
		v, err := n.str.value(env)
		if err != nil {
			if at == "" {
				return nil, err
			}
			return nil, fmt.Errorf("%s: %w", at, err)
		}
		return jsonSafe(v), nil
	}
	return n.lit, nil
}

// jsonSafe replaces values encoding/json cannot write (NaN, ±Inf) with
// null, so one odd number does not fail the whole request.
func jsonSafe(v any) any {
	if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
		return nil
	}
	return v
}
