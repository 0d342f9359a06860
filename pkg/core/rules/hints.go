package rules

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/expr-lang/expr/conf"

	"github.com/wogate/wogate/internal/typo"
)

// A misspelt field or name in a condition gets the same "did you mean"
// as a misspelt config key. expr's checker says which type lacks which
// field ("type corrigo.Sla has no field IsEmergncy") or which name is
// unknown, but not what exists; the candidates come from the types a
// condition can reach from vmEnv, by the name expr prints for them
// (reflect's Type.String), and from the environment's names and the
// functions (ours and expr's builtins).

var (
	noMember    = regexp.MustCompile(`^type (\S+) has no (field|method) (\S+)$`)
	unknownName = regexp.MustCompile(`^unknown name (\S+)$`)
)

// hintFor returns ` (did you mean "X"?)` for an expr compile message
// naming a missing field, method or name, or "" when it names none or
// nothing is close.
func hintFor(msg string) string {
	h := loadHints()
	if m := noMember.FindStringSubmatch(msg); m != nil {
		cands := h.fields[m[1]]
		if m[2] == "method" {
			cands = h.methods[m[1]]
		}
		return closest(m[3], cands)
	}
	if m := unknownName.FindStringSubmatch(msg); m != nil {
		return closest(m[1], h.names)
	}
	return ""
}

// closest allows at most two edits, as for config keys, and one for names
// under six characters: field and function names are short, and "abs" two
// edits from "yes" is noise, not a hint.
func closest(s string, candidates []string) string {
	if best := typo.Closest(s, candidates, min(3, 1+len(s)/3)); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

type hintTables struct {
	fields  map[string][]string // type name → its fields, promoted ones included
	methods map[string][]string // type name → its exported methods
	names   []string            // environment names, then functions
}

var (
	hintsOnce sync.Once
	hints     *hintTables
)

func loadHints() *hintTables {
	hintsOnce.Do(func() {
		h := &hintTables{fields: map[string][]string{}, methods: map[string][]string{}}
		env := reflect.TypeFor[vmEnv]()
		for _, f := range reflect.VisibleFields(env) {
			if name := f.Tag.Get("expr"); name != "" {
				h.names = append(h.names, name)
			}
		}
		c := conf.CreateNew()
		for _, o := range exprOptions() {
			o(c)
		}
		var fns []string
		for name := range c.Functions {
			fns = append(fns, name)
		}
		for name := range c.Builtins {
			if !c.Disabled[name] {
				fns = append(fns, name)
			}
		}
		sort.Strings(fns) // stable ties for typo.Closest
		h.names = append(h.names, fns...)
		h.walk(env, map[reflect.Type]bool{})
		hints = h
	})
	return hints
}

// walk records the fields and methods of t and of every type reachable
// through its fields.
func (h *hintTables) walk(t reflect.Type, seen map[reflect.Type]bool) {
	if seen[t] {
		return
	}
	seen[t] = true
	if t.Kind() == reflect.Pointer {
		h.addMethods(t.String(), t)
		h.walk(t.Elem(), seen)
		return
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		h.walk(t.Elem(), seen)
		return
	case reflect.Struct:
	default:
		return
	}
	name := t.String()
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() {
			continue
		}
		if !f.Anonymous {
			h.fields[name] = append(h.fields[name], f.Name)
		}
		h.walk(f.Type, seen)
	}
	// expr looks fields up on the pointed-to struct, but prints the
	// pointer type when the value is one.
	h.fields["*"+name] = h.fields[name]
	h.addMethods(name, t)
	h.addMethods("*"+name, reflect.PointerTo(t))
}

func (h *hintTables) addMethods(name string, t reflect.Type) {
	for i := range t.NumMethod() {
		if m := t.Method(i); m.IsExported() && !strings.HasPrefix(m.Name, "Marshal") && !strings.HasPrefix(m.Name, "Unmarshal") {
			h.methods[name] = append(h.methods[name], m.Name)
		}
	}
}
