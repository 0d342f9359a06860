package csvexport

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wogate/wogate/pkg/corrigo"
)

// Placeholders a file name pattern may use.
var placeholders = []string{"date", "month", "year", "customer", "customer_id", "account", "branch"}

// namePattern is a parsed file name pattern such as
// "{customer}/workorders-{date}.csv".
type namePattern struct {
	raw string
}

// parsePattern checks a pattern: known placeholders only, a relative
// path that stays inside dir, and a file name (not a directory).
func parsePattern(p string) (namePattern, error) {
	if strings.TrimSpace(p) == "" {
		return namePattern{}, fmt.Errorf("is empty")
	}
	rest := p
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			if strings.IndexByte(rest, '}') >= 0 {
				return namePattern{}, fmt.Errorf("has a '}' without '{'")
			}
			break
		}
		if j := strings.IndexByte(rest[:i], '}'); j >= 0 {
			return namePattern{}, fmt.Errorf("has a '}' without '{'")
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return namePattern{}, fmt.Errorf("has an unclosed '{'")
		}
		name := rest[i+1 : i+j]
		known := false
		for _, k := range placeholders {
			if k == name {
				known = true
			}
		}
		if !known {
			return namePattern{}, fmt.Errorf("unknown placeholder {%s} (known: {%s})", name, strings.Join(placeholders, "}, {"))
		}
		rest = rest[i+j+1:]
	}
	if filepath.IsAbs(p) || strings.HasPrefix(p, "/") || strings.HasPrefix(p, `\`) {
		return namePattern{}, fmt.Errorf("must be relative to dir")
	}
	for _, part := range strings.Split(filepath.ToSlash(p), "/") {
		if part == ".." || part == "." || part == "" {
			return namePattern{}, fmt.Errorf("must not contain empty, '.' or '..' path elements")
		}
	}
	if strings.HasSuffix(p, "/") {
		return namePattern{}, fmt.Errorf("must name a file, not a directory")
	}
	return namePattern{raw: p}, nil
}

// nameInput is what a file name is built from.
type nameInput struct {
	Date      time.Time // event date, already in the configured zone
	WorkOrder *corrigo.WorkOrder
	Account   string
	Branch    int64
}

// render builds the relative file name. Values are sanitized so that a
// customer called "A/B: C" cannot escape dir or make an invalid name.
func (p namePattern) render(in nameInput) string {
	var b strings.Builder
	rest := p.raw
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			b.WriteString(rest)
			break
		}
		b.WriteString(rest[:i])
		j := strings.IndexByte(rest[i:], '}')
		b.WriteString(p.value(rest[i+1:i+j], in))
		rest = rest[i+j+1:]
	}
	return filepath.FromSlash(b.String())
}

func (p namePattern) value(name string, in nameInput) string {
	switch name {
	case "date":
		return in.Date.Format("2006-01-02")
	case "month":
		return in.Date.Format("2006-01")
	case "year":
		return in.Date.Format("2006")
	case "customer":
		if in.WorkOrder != nil && in.WorkOrder.Customer != nil {
			if s := sanitize(in.WorkOrder.Customer.Name); s != "" {
				return s
			}
			if in.WorkOrder.Customer.ID != 0 {
				return "customer-" + strconv.Itoa(in.WorkOrder.Customer.ID)
			}
		}
		return "unknown-customer"
	case "customer_id":
		if in.WorkOrder != nil && in.WorkOrder.Customer != nil && in.WorkOrder.Customer.ID != 0 {
			return strconv.Itoa(in.WorkOrder.Customer.ID)
		}
		return "unknown-customer"
	case "account":
		if s := sanitize(in.Account); s != "" {
			return s
		}
		return "unknown-account"
	case "branch":
		return strconv.FormatInt(in.Branch, 10)
	}
	return ""
}

// sanitize keeps letters, digits, '-', '_' and '.', turns runs of anything
// else into one '_', collapses runs of dots (no ".."), trims dots and
// underscores at the ends (no hidden files), returns "" when no letter or
// digit is left, and caps the length.
func sanitize(s string) string {
	var b strings.Builder
	under := false
	for _, r := range s {
		ok := r == '-' || r == '_' || r == '.' ||
			(r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r)))
		if ok {
			b.WriteRune(r)
			under = false
			continue
		}
		if !under {
			b.WriteByte('_')
			under = true
		}
	}
	out := b.String()
	for strings.Contains(out, "..") {
		out = strings.ReplaceAll(out, "..", ".")
	}
	out = strings.Trim(out, "._")
	if strings.IndexFunc(out, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) < 0 {
		return ""
	}
	if len(out) > 80 {
		out = out[:80]
		for !utf8.ValidString(out) {
			out = out[:len(out)-1]
		}
	}
	return out
}

// partName is the name of rotation part n of file rel: part 1 is rel
// itself, later parts insert ".n" before the extension
// (workorders-2024-05-01.2.csv).
func partName(rel string, n int) string {
	if n <= 1 {
		return rel
	}
	ext := filepath.Ext(rel)
	return strings.TrimSuffix(rel, ext) + "." + strconv.Itoa(n) + ext
}
