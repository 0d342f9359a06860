package config

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Where a YAML syntax error is.
//
// yaml.v3 names only a line in its syntax errors, and often the wrong one:
// for a parser error it prints the 0-based line of the *context* (where
// the enclosing mapping or list began), not of the token that broke it, so
// a mis-indented line 68 under "rules:" on line 65 comes out as "line 65".
// The problem's own position is kept inside the parser and not exported.
//
// So the position is recovered by parsing prefixes of the file: the error
// appears, with the same message, once the prefix reaches the offending
// text. The first line whose inclusion produces it is the line to fix, and
// within that line the first character whose inclusion produces it is the
// column. Parser errors are decided on the offending token itself (the
// scanner looks ahead only within a line), so cutting the file there
// reproduces them; an unclosed flow collection or quote reproduces already
// at its opening, which is the place to look for the missing bracket or
// quote. Both searches are binary, so a file of n lines costs about
// log2(n) + log2(line length) extra parses, and only when the file is
// already broken.

// yamlMsg splits a yaml.v3 error message into the line it names (0 if
// none) and the message proper.
var yamlMsg = regexp.MustCompile(`^yaml: (?:line (\d+): )?`)

func splitYAMLError(msg string) (line int, text string) {
	m := yamlMsg.FindStringSubmatch(msg)
	if m == nil {
		return 0, msg
	}
	if m[1] != "" {
		line, _ = strconv.Atoi(m[1])
	}
	return line, msg[len(m[0]):]
}

// syntaxErrorEntry turns the error yaml.v3 gave for data into an entry
// with the line and column of the offending text.
func syntaxErrorEntry(file string, data []byte, err error) ErrorEntry {
	reported, msg := splitYAMLError(err.Error())
	e := ErrorEntry{File: file, Line: reported, Message: "invalid YAML: " + msg}
	if line, col, ok := locateSyntaxError(data, msg, reported); ok {
		e.Line, e.Column = line, col
		e.Message += syntaxHint(msg, col == firstColumn(data, line))
	}
	return e
}

// firstColumn is the column of the first non-blank character of line.
func firstColumn(data []byte, line int) int {
	lines := strings.SplitN(string(data), "\n", line+1)
	if line < 1 || line > len(lines) {
		return 0
	}
	text := lines[line-1]
	return utf8.RuneCountInString(text) - utf8.RuneCountInString(strings.TrimLeft(text, " \t")) + 1
}

// syntaxHint adds what usually causes a syntax error in a config file,
// at the position locateSyntaxError found; atStart says that position is
// the first character of its line.
func syntaxHint(msg string, atStart bool) string {
	switch msg {
	case "did not find expected key", "did not find expected '-' indicator", "did not find expected node content":
		if atStart {
			return " (check this line's indentation: keys of one mapping, and items of one list, must start in the same column)"
		}
		return " (text after a quoted value, ] or }: quote the whole value, e.g. 'a \"b\" c')"
	case "mapping values are not allowed in this context":
		return " (a line indented deeper than the key above it continues that key's value: check its indentation, or quote a value that contains \": \")"
	case "did not find expected ',' or '}'":
		return " (is the { opened on this line closed?)"
	case "did not find expected ',' or ']'":
		return " (is the [ opened on this line closed?)"
	case "found unexpected end of stream":
		return " (is the quote opened here closed?)"
	}
	return ""
}

// locateSyntaxError finds where msg first appears in data (see above).
// reported is the line yaml.v3 named: the problem is never before it (a
// context starts before the problem, and the 0-based line is one less than
// the 1-based one), which keeps an earlier unrelated construct from
// matching.
func locateSyntaxError(data []byte, msg string, reported int) (line, col int, ok bool) {
	src := string(data)
	// starts[i] is the byte offset of line i+1.
	starts := []int{0}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			starts = append(starts, i+1)
		}
	}
	fails := func(prefix string) bool {
		var n yaml.Node
		err := yaml.Unmarshal([]byte(prefix), &n)
		if err == nil {
			return false
		}
		_, m := splitYAMLError(err.Error())
		return m == msg
	}
	lineEnd := func(i int) int { // offset just past line i+1, newline included
		if i+1 < len(starts) {
			return starts[i+1]
		}
		return len(src)
	}
	// Smallest line index whose prefix (through that line) fails with
	// msg. The whole file does; lo is the last index known not to.
	lo, hi := max(reported-1, 0)-1, len(starts)-1
	if !fails(src) {
		return 0, 0, false
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if fails(src[:lineEnd(mid)]) {
			hi = mid
		} else {
			lo = mid
		}
	}
	li := hi
	// Within that line, the smallest number of runes whose inclusion
	// makes the error.
	text := src[starts[li]:lineEnd(li)]
	text = strings.TrimRight(text, "\r\n")
	offs := make([]int, 0, len(text)+1) // byte offset after each rune
	for i := range text {
		if i > 0 {
			offs = append(offs, i)
		}
	}
	offs = append(offs, len(text))
	before := src[:starts[li]]
	clo, chi := -1, len(offs)-1
	if len(text) == 0 || !fails(before+text) {
		// The line alone (without its newline) does not show the error:
		// it is at the line's end.
		return li + 1, utf8.RuneCountInString(text) + 1, true
	}
	for chi-clo > 1 {
		mid := clo + (chi-clo)/2
		if fails(before + text[:offs[mid]]) {
			chi = mid
		} else {
			clo = mid
		}
	}
	return li + 1, chi + 1, true
}

// typeErrorEntries turns the errors of decoding the parsed document (a
// duplicate mapping key is one) into entries. Their lines come from the
// nodes and are right; the column is that of the named key.
func typeErrorEntries(file string, doc *yaml.Node, err error) []ErrorEntry {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		reported, msg := splitYAMLError(err.Error())
		return []ErrorEntry{{File: file, Line: reported, Message: "invalid YAML: " + msg}}
	}
	out := make([]ErrorEntry, 0, len(te.Errors))
	for _, s := range te.Errors {
		e := ErrorEntry{File: file, Message: "invalid YAML: " + s}
		if m := typeErrLine.FindStringSubmatch(s); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Message = "invalid YAML: " + s[len(m[0]):]
			if k := dupKey.FindStringSubmatch(e.Message); k != nil {
				if key, uerr := strconv.Unquote(k[1]); uerr == nil {
					e.Column = keyColumn(doc, e.Line, key)
				}
			}
		}
		out = append(out, e)
	}
	return out
}

var (
	typeErrLine = regexp.MustCompile(`^line (\d+): `)
	dupKey      = regexp.MustCompile(`^invalid YAML: mapping key ("(?:[^"\\]|\\.)*") already defined`)
)

// keyColumn finds the column of the repeated mapping key named key on
// line: the second (or later) occurrence in one mapping, as yaml.v3
// reports it.
func keyColumn(n *yaml.Node, line int, key string) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.MappingNode {
		seen := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
				if seen && k.Line == line {
					return k.Column
				}
				seen = true
			}
		}
	}
	for _, c := range n.Content {
		if col := keyColumn(c, line, key); col != 0 {
			return col
		}
	}
	return 0
}
