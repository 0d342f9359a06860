package config

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// positions maps key paths to where they are written in the file. koanf's
// YAML parser drops positions, so the file is parsed a second time into a
// yaml.Node tree; this index is what lets every error name a line.
type positions struct {
	src   []byte
	nodes map[string]nodePos // by normalized key (see normKey)
}

// nodePos is a key and its value node.
type nodePos struct {
	key, val *yaml.Node
}

// maxIndexedNodes bounds the index for hostile files; keys beyond it fall
// back to their nearest indexed parent.
const maxIndexedNodes = 200000

func indexPositions(src []byte, doc *yaml.Node) *positions {
	p := &positions{src: src, nodes: map[string]nodePos{}}
	if doc == nil {
		return p
	}
	root := doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return p
		}
		root = root.Content[0]
	}
	p.nodes[""] = nodePos{key: root, val: root}
	p.walk("", root)
	return p
}

func (p *positions) walk(prefix string, n *yaml.Node) {
	if len(p.nodes) > maxIndexedNodes {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.Value == "<<" {
				// Complex keys cannot be addressed; merge keys are
				// expanded by the decoder and positioned at their parent.
				continue
			}
			path := joinKey(prefix, k.Value)
			p.nodes[normKey(path)] = nodePos{key: k, val: v}
			p.walk(path, v)
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			path := prefix + "[" + strconv.Itoa(i) + "]"
			p.nodes[normKey(path)] = nodePos{key: v, val: v}
			p.walk(path, v)
		}
	}
	// Aliases are not followed: their target is indexed where it is
	// defined, and following them would let a small file expand into a
	// huge index.
}

// lookup finds the position for key: the value's position when value is
// true (a bad value), the key's otherwise (an unknown key). A key that is
// not in the file (a missing value) falls back to its nearest parent.
func (p *positions) lookup(key string, value bool) (line, col int) {
	if p == nil {
		return 0, 0
	}
	k := normKey(key)
	exact := true
	for {
		if np, ok := p.nodes[k]; ok {
			n := np.key
			if value && exact {
				n = np.val
			}
			return n.Line, n.Column
		}
		if k == "" {
			return 0, 0
		}
		exact = false
		if i := strings.LastIndexByte(k, '.'); i >= 0 {
			k = k[:i]
		} else {
			k = ""
		}
	}
}

// localTag returns the tag written on the value at key when it is a local
// one (!name, not a standard !!type), or "".
func (p *positions) localTag(key string) string {
	if p == nil {
		return ""
	}
	np, ok := p.nodes[normKey(key)]
	if !ok || !strings.HasPrefix(np.val.Tag, "!") || strings.HasPrefix(np.val.Tag, "!!") {
		return ""
	}
	return np.val.Tag
}

// exprStart returns where the text of the scalar at key begins: after the
// opening quote of a quoted scalar, or on the first content line of a block
// scalar (| or >). ok is false when the key is not in the file.
func (p *positions) exprStart(key string) (line, col int, block, ok bool) {
	if p == nil {
		return 0, 0, false, false
	}
	np, found := p.nodes[normKey(key)]
	if !found || np.val.Kind != yaml.ScalarNode {
		return 0, 0, false, false
	}
	v := np.val
	switch {
	case v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
		return v.Line, v.Column + 1, false, true
	case v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		// The content starts on the next non-blank line, at its
		// indentation.
		lines := strings.Split(string(p.src), "\n")
		for l := v.Line; l < len(lines); l++ { // lines[l] is file line l+1
			text := lines[l]
			trimmed := strings.TrimLeft(text, " ")
			if strings.TrimSpace(trimmed) == "" {
				continue
			}
			return l + 1, len(text) - len(trimmed) + 1, true, true
		}
		return v.Line, v.Column, true, true
	default:
		return v.Line, v.Column, false, true
	}
}

// joinKey appends a mapping key to a display path.
func joinKey(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// normKey turns a display path ("rules[0].when", "corrigo.accounts[main]")
// into the index form, where every segment is separated by a dot
// ("rules.0.when"), so paths from the YAML walk, from mapstructure errors
// and from validation all meet.
func normKey(k string) string {
	if !strings.ContainsAny(k, "[]") {
		return k
	}
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		switch c := k[i]; c {
		case '[':
			if b.Len() > 0 {
				b.WriteByte('.')
			}
		case ']':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// displayKey turns a mapstructure field name ("corrigo.accounts[main].x",
// "rules[0].when") into the form users see: map keys joined with dots,
// list indexes in brackets.
func displayKey(name string) string {
	if !strings.Contains(name, "[") {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if name[i] != '[' {
			b.WriteByte(name[i])
			continue
		}
		end := strings.IndexByte(name[i:], ']')
		if end < 0 {
			b.WriteString(name[i:])
			break
		}
		seg := name[i+1 : i+end]
		if _, err := strconv.Atoi(seg); err == nil {
			b.WriteString("[" + seg + "]")
		} else {
			b.WriteString("." + seg)
		}
		i += end
	}
	return b.String()
}
