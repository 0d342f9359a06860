package config

import (
	"fmt"
	"sort"
	"strings"
)

// ErrorEntry is one problem found in a configuration: where it is (file,
// line, column, key path) and what is wrong. Line and Column are 1-based;
// zero means the position is unknown (a value that came from the
// environment, or a key that is missing altogether). Env names the
// environment variable a value came from, when it did.
type ErrorEntry struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Key     string `json:"key,omitempty"`
	Env     string `json:"env,omitempty"`
	Message string `json:"message"`
}

// String formats the entry the way compilers do, so editors and CI logs
// can jump to it: "examples/config.yaml:12:5: rules[0].when: message".
func (e ErrorEntry) String() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		if e.Env != "" {
			fmt.Fprintf(&b, " (from %s)", e.Env)
		}
		b.WriteString(": ")
	} else if e.Env != "" {
		fmt.Fprintf(&b, "%s: ", e.Env)
	}
	b.WriteString(e.Message)
	return b.String()
}

// Error is every problem found while loading or validating a configuration.
// Loading does not stop at the first problem: a user fixing a config wants
// the whole list in one run.
type Error struct {
	Entries []ErrorEntry
	// Rules are the rules that decoded despite the errors, positioned, so
	// a linter can report rule errors in the same run.
	Rules []Rule
}

// Error lists the entries, one per line, in file order.
func (e *Error) Error() string {
	lines := make([]string, len(e.Entries))
	for i, en := range e.Entries {
		lines[i] = en.String()
	}
	return strings.Join(lines, "\n")
}

// SortEntries orders entries by file, line and column (see sortEntries).
func SortEntries(es []ErrorEntry) { sortEntries(es) }

// sortEntries orders entries by file, line and column; entries without a
// position (missing keys, environment values) keep their relative order
// and go after the positioned ones of the same file.
func sortEntries(es []ErrorEntry) {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i], es[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if (a.Line == 0) != (b.Line == 0) {
			return a.Line != 0
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
}
