package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// CompiledSchema is a JSON Schema ready to check files against.
type CompiledSchema struct {
	s *jsonschema.Schema
}

// CompileSchema compiles a schema document (Schema's output, or any JSON
// Schema read from a file).
func CompileSchema(doc map[string]any) (*CompiledSchema, error) {
	// Round-trip through JSON so the compiler sees json.Number and
	// []any, whatever Go types the document was built from.
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode schema: %w", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decode schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	const loc = "mem://wogate/schema.json"
	if err := c.AddResource(loc, v); err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	s, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("compile schema: %w", err)
	}
	return &CompiledSchema{s: s}, nil
}

var schemaPrinter = message.NewPrinter(language.English)

// CheckSchema checks a YAML file against the schema, the way an editor
// with yaml-language-server does, and returns one positioned entry per
// problem (sorted by position). It checks the file as written: no
// environment overrides, no defaults, references (${ENV}, file:) not
// resolved. A file the schema accepts may still fail `gateway validate`
// (rule expressions, plugin commands, cross-key checks); a YAML syntax
// error comes back as one entry.
func (cs *CompiledSchema) CheckSchema(file string, data []byte) []ErrorEntry {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return []ErrorEntry{syntaxErrorEntry(file, data, err)}
	}
	var v any
	if err := doc.Decode(&v); err != nil {
		return typeErrorEntries(file, &doc, err)
	}
	if v == nil {
		v = map[string]any{}
	}
	b, err := json.Marshal(jsonable(v))
	if err != nil {
		return []ErrorEntry{{File: file, Message: "cannot encode as JSON: " + err.Error()}}
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return []ErrorEntry{{File: file, Message: "cannot encode as JSON: " + err.Error()}}
	}
	err = cs.s.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []ErrorEntry{{File: file, Message: err.Error()}}
	}
	pos := indexPositions(data, &doc)
	var out []ErrorEntry
	seen := map[string]bool{}
	for _, leaf := range leaves(ve) {
		key := instanceKey(leaf.InstanceLocation)
		if ap, ok := leaf.ErrorKind.(*kind.AdditionalProperties); ok {
			for _, p := range ap.Properties {
				k := joinKey(key, p)
				out = append(out, entryFor(file, pos, nil, k, false, "unknown key (not in the schema)"))
			}
			continue
		}
		if pn, ok := leaf.ErrorKind.(*kind.PropertyNames); ok {
			// The validator reuses the backing array of a propertyNames
			// error's InstanceLocation for later errors, so the map's
			// path is taken from the schema location instead (named
			// maps sit at fixed paths: corrigo.accounts, plugins).
			k := joinKey(schemaKey(leaf.SchemaURL), pn.Property)
			out = append(out, entryFor(file, pos, nil, k, false,
				fmt.Sprintf("name %q must match %s (lower-case letters, digits, _ and -)", pn.Property, namePattern)))
			continue
		}
		msg := friendlyMessage(leaf.ErrorKind)
		if seen[key+"\x00"+msg] {
			continue
		}
		seen[key+"\x00"+msg] = true
		out = append(out, entryFor(file, pos, nil, key, true, msg))
	}
	sortEntries(out)
	return out
}

// leaves are the innermost errors: the ones that say what is wrong.
// anyOf alternatives are collapsed to the anyOf itself, whose message
// is clearer than each alternative's.
func leaves(e *jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(e.Causes) == 0 {
		return []*jsonschema.ValidationError{e}
	}
	switch e.ErrorKind.(type) {
	case *kind.AnyOf, *kind.PropertyNames:
		return []*jsonschema.ValidationError{e}
	}
	var out []*jsonschema.ValidationError
	for _, c := range e.Causes {
		out = append(out, leaves(c)...)
	}
	return out
}

// instanceKey turns a JSON pointer's tokens into a display key path
// ("rules[0].when").
func instanceKey(loc []string) string {
	var b strings.Builder
	for _, t := range loc {
		if _, err := strconv.Atoi(t); err == nil {
			b.WriteString("[" + t + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(t)
	}
	return b.String()
}

// jsonable converts what yaml.v3 decodes into what encoding/json can
// encode (map[any]any keys as strings).
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonable(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonable(e)
		}
		return x
	}
	return v
}

// friendlyMessage says what the loader would say where the schema's own
// words are obscure: durations are strings with a unit, or 0.
func friendlyMessage(k jsonschema.ErrorKind) string {
	switch x := k.(type) {
	case *kind.Pattern:
		if x.Want == durationPattern {
			return fmt.Sprintf("invalid duration %q (want e.g. 30s, 5m, 1h30m, 7d)", x.Got)
		}
		if x.Want == referencePattern {
			return fmt.Sprintf("%q is neither a value of the field's type nor a ${ENV} or file: reference", x.Got)
		}
	case *kind.Maximum:
		// Only durations have a maximum of 0 (the bare number 0).
		if x.Want.Sign() == 0 {
			return fmt.Sprintf("invalid duration %s: add a unit (e.g. %ss, %sm)", x.Got.RatString(), x.Got.RatString(), x.Got.RatString())
		}
	}
	return k.LocalizedString(schemaPrinter)
}

// schemaKey turns a schema location (".../schema.json#/properties/corrigo/
// properties/accounts/propertyNames") into the key path of the object it
// constrains ("corrigo.accounts").
func schemaKey(url string) string {
	_, frag, _ := strings.Cut(url, "#")
	parts := strings.Split(strings.Trim(frag, "/"), "/")
	var keys []string
	for i := 0; i+1 < len(parts); i++ {
		if parts[i] == "properties" {
			keys = append(keys, parts[i+1])
			i++
		}
	}
	return strings.Join(keys, ".")
}
