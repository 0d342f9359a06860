package erprest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// jsonPath is a parsed dotted path into a JSON document, such as "id",
// "data.job.id", "data.0.id" or "items[0].ref". ERPs wrap their answers in
// envelopes of every shape; a path is how the config says where the
// interesting value sits. The empty path is the document itself.
type jsonPath []string

// headerMark starts a path that names a response header instead of a
// place in the body ("header:Location").
const headerMark = "\x00header"

// parseJSONPath parses a path; "[n]" is accepted as another way to write
// ".n". "header:Name" reads the response header Name instead (for ERPs that
// answer 201 with a Location header and no body); a URL's last path
// segment is taken as the id.
func parseJSONPath(s string) (jsonPath, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if name, ok := strings.CutPrefix(s, "header:"); ok {
		name = strings.TrimSpace(name)
		if !validHeaderName(name) {
			return nil, fmt.Errorf("%q is not a valid header name", name)
		}
		return jsonPath{headerMark, name}, nil
	}
	s = strings.ReplaceAll(strings.ReplaceAll(s, "[", "."), "]", "")
	s = strings.TrimPrefix(s, "$.")
	parts := strings.Split(s, ".")
	for i, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("path %q has an empty part at position %d", s, i+1)
		}
	}
	return jsonPath(parts), nil
}

func (p jsonPath) String() string {
	if p.isHeader() {
		return "header:" + p[1]
	}
	return strings.Join(p, ".")
}

func (p jsonPath) isHeader() bool { return len(p) == 2 && p[0] == headerMark }

// lookup walks v (as decoded by decodeJSON) along the path. Numeric parts
// index arrays; on an object they are ordinary keys.
func (p jsonPath) lookup(v any) (any, bool) {
	for _, part := range p {
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[part]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// decodeJSON decodes a document keeping numbers as json.Number, so a
// numeric job id of any size comes back exactly as the ERP wrote it.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("unexpected data after the JSON value")
	}
	return v, nil
}

// scalarString renders a JSON scalar found at a path as an id or a reason:
// strings as they are, numbers as written, booleans as true/false. Objects,
// arrays and null are not ids.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, x != ""
	case json.Number:
		return x.String(), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// maxJobIDLen bounds a job id, from the ERP's answers and from callbacks
// alike.
const maxJobIDLen = 200

// idFrom reads a job id from an answer: from a header for "header:" paths,
// else from the body. The id is trimmed and must be at most maxJobIDLen
// bytes, as ParseCallback wants it: an id recorded that a callback cannot
// name (" J-2 ", blank, 1 MB, invalid UTF-8) would leave every callback for the job
// unmatched.
func idFrom(resp *response, path jsonPath) (string, error) {
	id, err := rawIDFrom(resp, path)
	if err != nil {
		return "", err
	}
	id = strings.TrimSpace(id)
	switch {
	case id == "":
		return "", fmt.Errorf("the id at %q is blank", path.String())
	case len(id) > maxJobIDLen:
		return "", fmt.Errorf("the id at %q is longer than %d bytes", path.String(), maxJobIDLen)
	case !utf8.ValidString(id) || strings.ContainsFunc(id, unicode.IsControl):
		// A callback (JSON) cannot name it, and the plugin's key-value
		// keys are UTF-8 text.
		return "", fmt.Errorf("the id at %q is not printable UTF-8 text: %q", path.String(), truncate(id, 40))
	}
	return id, nil
}

func rawIDFrom(resp *response, path jsonPath) (string, error) {
	if !path.isHeader() {
		return extractString(resp.Body, path)
	}
	v := strings.TrimSpace(resp.Header.Get(path[1]))
	if v == "" {
		return "", fmt.Errorf("answer has no %s header", path[1])
	}
	if u, err := url.Parse(v); err == nil && strings.Contains(v, "/") {
		segs := strings.Split(strings.TrimRight(u.Path, "/"), "/")
		if last, err := url.PathUnescape(segs[len(segs)-1]); err == nil && last != "" {
			return last, nil
		}
		return "", fmt.Errorf("%s header %q has no id", path[1], v)
	}
	return v, nil
}

// extractString decodes body and returns the scalar at path.
func extractString(body []byte, path jsonPath) (string, error) {
	doc, err := decodeJSON(body)
	if err != nil {
		return "", fmt.Errorf("response is not JSON: %w", err)
	}
	v, ok := path.lookup(doc)
	if !ok {
		return "", fmt.Errorf("response has no value at %q", path.String())
	}
	s, ok := scalarString(v)
	if !ok {
		return "", fmt.Errorf("value at %q is not a string or number", path.String())
	}
	return s, nil
}
