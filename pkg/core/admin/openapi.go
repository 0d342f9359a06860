package admin

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed openapi.yaml
var openAPISource []byte

// openAPITypes are the Go types whose JSON the API answers with; each
// becomes components.schemas.<TypeName>, generated from its fields and
// json tags (omitempty and omitzero fields are optional, the rest
// required).
var openAPITypes = []any{
	Status{}, BacklogView{}, RuleInfo{}, PluginInfo{}, BreakerInfo{}, ReloadInfo{}, WebhookSignatureInfo{},
	LogPage{}, WorkOrderPage{}, Timeline{}, DeadLetterView{}, DeadLetterDetail{}, BulkResult{}, apiError{},
}

var (
	openAPIOnce sync.Once
	openAPIDoc  []byte
)

// OpenAPIJSON is the OpenAPI 3.1 document of the admin API and the public
// listener's endpoints, as served at /api/v1/openapi.json and committed as
// docs/openapi.json.
func OpenAPIJSON() []byte {
	openAPIOnce.Do(func() {
		doc, err := buildOpenAPI()
		if err != nil {
			panic("admin: openapi.yaml: " + err.Error()) // embedded; a test builds it
		}
		b, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			panic(err)
		}
		openAPIDoc = append(b, '\n')
	})
	return openAPIDoc
}

func buildOpenAPI() (map[string]any, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(openAPISource, &doc); err != nil {
		return nil, err
	}
	comps, _ := doc["components"].(map[string]any)
	schemas, _ := comps["schemas"].(map[string]any)
	if schemas == nil {
		return nil, fmt.Errorf("no components.schemas")
	}
	g := &schemaGen{out: schemas}
	for _, v := range openAPITypes {
		g.ref(reflect.TypeOf(v))
	}
	// Operations cannot be $refs in OpenAPI: inline the shared inbound
	// operation, then drop it.
	shared, _ := comps["x-inbound"].(map[string]any)
	delete(comps, "x-inbound")
	paths, _ := doc["paths"].(map[string]any)
	for _, pi := range paths {
		item, _ := pi.(map[string]any)
		for m, op := range item {
			if o, ok := op.(map[string]any); ok && o["$ref"] == "#/components/x-inbound" {
				item[m] = shared
			}
		}
	}
	return doc, nil
}

// schemaGen writes JSON Schemas of Go types into components.schemas.
type schemaGen struct {
	out map[string]any
}

var (
	timeType    = reflect.TypeOf(time.Time{})
	rawJSONType = reflect.TypeOf(json.RawMessage{})
)

// ref returns a $ref to the named struct t, generating its schema once.
func (g *schemaGen) ref(t reflect.Type) map[string]any {
	name := t.Name()
	if _, done := g.out[name]; !done {
		g.out[name] = map[string]any{} // placeholder: recursion stops here
		g.out[name] = g.object(t)
	}
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var req []string
	g.fields(t, props, &req)
	s := map[string]any{"type": "object", "properties": props}
	if len(req) > 0 {
		s["required"] = req
	}
	return s
}

// fields adds t's JSON fields, flattening embedded structs as
// encoding/json does.
func (g *schemaGen) fields(t reflect.Type, props map[string]any, req *[]string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			g.fields(f.Type, props, req)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		optional := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		s := g.schema(f.Type)
		if f.Type.Kind() == reflect.Pointer && !optional {
			s = map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
		}
		props[name] = s
		if !optional {
			*req = append(*req, name)
		}
	}
}

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case rawJSONType:
		return map[string]any{} // any JSON value
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schema(t.Elem())
	case reflect.Struct:
		return g.ref(t)
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Interface:
		return map[string]any{}
	}
	panic("openapi: no schema for " + t.String())
}

func (h *Handler) apiOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(OpenAPIJSON())
}
