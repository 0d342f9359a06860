package ruletest

import (
	"encoding/json"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wogate/wogate/pkg/pluginapi"
)

// SchemaID is the $id of the rule test file schema
// (docs/ruletest.schema.json).
const SchemaID = "https://wogate.dev/schema/ruletest.schema.json"

// schemaDocs describe the keys of a test file (docs/integrators.md, "File
// format"), by path in the raw shapes below; the structure itself comes
// from those shapes, which are what the parser decodes.
var schemaDocs = map[string]string{
	"":                           "A wogate rule test file: a list of cases (gateway test).",
	"[]":                         "One test case: an event, mocked plugin answers and what must come out.",
	"[].name":                    "Required; unique in the file. --run matches it.",
	"[].description":             "Free text.",
	"[].skip":                    "A reason: the case is reported as SKIP and not run.",
	"[].event":                   "The notification under test: a fixture path relative to the test file, inline YAML with CorrigoPro's field names, JSON text, or {from: fixture, ...overrides}.",
	"[].workOrder":               "What CorrigoPro returns when the gateway fetches the work order (same forms as event). Without event, the case's event is a NewWorkOrder carrying it.",
	"[].workOrderStatus":         "The status CorrigoPro reports when actions are checked, overriding the work order's and the event's.",
	"[].customerSettings":        "The customer's completion settings (corrigo.CustomerSettings), checked for check_out and work_done_details (same forms as event).",
	"[].account":                 "The configured account the event arrives for; optional with one account.",
	"[].source":                  "What event.Source says. Default webhook.",
	"[].now":                     "The evaluation time (RFC 3339). Default: the event's ActionDate.",
	"[].plugins":                 "Mocked answers, by plugin name.",
	"[].plugins.*":               "What the plugin answers every call in the case.",
	"[].plugins.*.actions":       "The actions the plugin returns, in order: pluginapi.Action in YAML (kind and the fields it uses; names match case-insensitively).",
	"[].plugins.*.error":         "Make the plugin call fail with this message.",
	"[].plugins.*.retryable":     "The error is worth retrying (the event is retried); otherwise it is permanent (a dead letter).",
	"[].expect":                  "What must come out; only what is written is checked. At least one key.",
	"[].expect.rules":            "Exactly these rules match, in this order ([]: none).",
	"[].expect.notRules":         "None of these rules match.",
	"[].expect.stopped":          "A stop rule did (not) end the evaluation.",
	"[].expect.actions":          "Exactly these actions pass validation and the guard, in order; each entry checks only the fields it names (plugin, rule, shadow, and any action field).",
	"[].expect.refused":          "Exactly these actions are refused, in order.",
	"[].expect.refused[].kind":   "The refused action's kind.",
	"[].expect.refused[].reason": "A substring of the reason.",
	"[].expect.refused[].plugin": "The plugin that returned it.",
	"[].expect.refused[].rule":   "The rule whose plugin returned it.",
	"[].expect.noActions":        "Nothing is sent to CorrigoPro.",
	"[].expect.outcome":          "How the event ends.",
	"[].expect.error":            "The error that kept the event from being done contains this text.",
}

var schemaEnums = map[string][]string{
	"[].source":          {"webhook", "poll", "reconcile"},
	"[].expect.outcome":  outcomes,
	"[].workOrderStatus": {"New", "Accepted", "CheckedIn", "Paused", "CheckedOut", "NeedsCompletionDetails", "OnHold", "Verified", "Rejected", "Recalled"},
}

var nodeType = reflect.TypeOf(yaml.Node{})

// Schema returns the JSON Schema (draft 2020-12) of a rule test file,
// generated from the shapes the parser decodes (rawCase and the types it
// holds): their yaml keys, with descriptions and enums from this file.
func Schema() map[string]any {
	s := map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         SchemaID,
		"title":       "wogate rule test file",
		"description": schemaDocs[""],
		"type":        "array",
		"items":       rawSchema(reflect.TypeOf(rawCase{}), "[]"),
	}
	return s
}

// SchemaJSON is Schema as indented JSON with a final newline
// (docs/ruletest.schema.json).
func SchemaJSON() []byte {
	b, err := json.MarshalIndent(Schema(), "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

func rawSchema(t reflect.Type, path string) map[string]any {
	var s map[string]any
	switch {
	case t == nodeType:
		s = fixtureSchema(path)
	case t.Kind() == reflect.Struct:
		props := map[string]any{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			key := strings.Split(f.Tag.Get("yaml"), ",")[0]
			if key == "" || key == "-" {
				continue
			}
			props[key] = rawSchema(f.Type, path+"."+key)
		}
		s = map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if path == "[]" {
			s["required"] = []string{"name", "expect"}
		}
		if path == "[].expect" {
			s["minProperties"] = 1
		}
	case t.Kind() == reflect.Pointer:
		s = rawSchema(t.Elem(), path)
	case t.Kind() == reflect.Map:
		s = map[string]any{"type": "object", "additionalProperties": rawSchema(t.Elem(), path+".*")}
	case t.Kind() == reflect.Slice:
		s = map[string]any{"type": "array", "items": rawSchema(t.Elem(), path+"[]")}
	case t.Kind() == reflect.String:
		s = map[string]any{"type": "string"}
	case t.Kind() == reflect.Bool:
		s = map[string]any{"type": "boolean"}
	default:
		panic("ruletest schema: no JSON Schema for " + t.String() + " at " + path)
	}
	if d := schemaDocs[path]; d != "" {
		s["description"] = d
	}
	if e, ok := schemaEnums[path]; ok {
		s["enum"] = e
	}
	return s
}

// fixtureSchema is the schema of a free-form part: an action (an object
// with a kind), or a fixture (a path, JSON text, or an inline object).
func fixtureSchema(path string) map[string]any {
	if strings.HasSuffix(path, ".actions[]") {
		kinds := make([]string, len(pluginapi.AllKinds))
		for i, k := range pluginapi.AllKinds {
			kinds[i] = string(k)
		}
		s := map[string]any{"type": "object", "properties": map[string]any{"kind": map[string]any{"enum": kinds}}}
		if strings.Contains(path, ".plugins.") {
			s["required"] = []string{"kind"}
		} else {
			s["properties"].(map[string]any)["plugin"] = map[string]any{"type": "string"}
			s["properties"].(map[string]any)["rule"] = map[string]any{"type": "string"}
			s["properties"].(map[string]any)["shadow"] = map[string]any{"type": "boolean"}
		}
		return s
	}
	return map[string]any{"type": []any{"string", "object"}}
}
