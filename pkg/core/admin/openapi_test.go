package admin_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wogate/wogate/pkg/core/admin"
)

var updateOpenAPI = flag.Bool("update-openapi", false, "rewrite docs/openapi.json")

func openAPIDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(admin.OpenAPIJSON(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestOpenAPIGolden keeps docs/openapi.json equal to the served document.
func TestOpenAPIGolden(t *testing.T) {
	path := filepath.Join("..", "..", "..", "docs", "openapi.json")
	got := admin.OpenAPIJSON()
	if *updateOpenAPI {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("docs/openapi.json is stale: go test ./pkg/core/admin -run TestOpenAPIGolden -update-openapi")
	}
}

// TestOpenAPIRefsResolve: every $ref points at something in the document.
func TestOpenAPIRefsResolve(t *testing.T) {
	doc := openAPIDoc(t)
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch x := v.(type) {
		case map[string]any:
			if r, ok := x["$ref"].(string); ok {
				if _, err := pointer(doc, strings.TrimPrefix(r, "#")); err != nil {
					t.Errorf("%s: $ref %s: %v", at, r, err)
				}
			}
			for k, e := range x {
				walk(e, at+"/"+k)
			}
		case []any:
			for i, e := range x {
				walk(e, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(doc, "")
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi %v", doc["openapi"])
	}
}

func pointer(doc any, p string) (any, error) {
	cur := doc
	for _, tok := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%q is not an object", tok)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("no %q", tok)
		}
	}
	return cur, nil
}

// TestOpenAPICoversRoutes: every route the admin handler registers
// (but the HTML UI and the catch-alls) is in the document with its
// method, and every admin path in the document is a registered route.
func TestOpenAPICoversRoutes(t *testing.T) {
	h := admin.New(nil, nil, admin.Options{Metrics: nopHandler{}})
	paths := openAPIDoc(t)["paths"].(map[string]any)
	registered := map[string]bool{}
	for _, r := range h.Routes() {
		method, path, ok := strings.Cut(r, " ")
		if !ok || strings.HasPrefix(path, "/ui") || path == "/{$}" {
			continue // the HTML UI, the catch-alls, the redirect to it
		}
		registered[strings.ToLower(method)+" "+path] = true
		item, ok := paths[path].(map[string]any)
		if !ok {
			t.Errorf("route %s is not in the OpenAPI document", r)
			continue
		}
		if _, ok := item[strings.ToLower(method)]; !ok {
			t.Errorf("route %s: the document has %s but not %s", r, path, method)
		}
	}
	if len(registered) < 15 {
		t.Fatalf("only %d routes registered: %v", len(registered), h.Routes())
	}
	for path, it := range paths {
		if public(it) {
			continue // the public listener: checked in pkg/core/gateway
		}
		for m := range it.(map[string]any) {
			if isMethod(m) && !registered[m+" "+path] {
				t.Errorf("the document has %s %s, which the admin handler does not serve", m, path)
			}
		}
	}
}

type nopHandler struct{}

func (nopHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {}

func isMethod(m string) bool {
	switch m {
	case "get", "post", "put", "patch", "delete", "head", "options":
		return true
	}
	return false
}

// public reports whether a path item is served only by the public
// listener (its servers are all on :8080).
func public(it any) bool {
	ss, _ := it.(map[string]any)["servers"].([]any)
	if len(ss) == 0 {
		return false
	}
	for _, s := range ss {
		if !strings.Contains(s.(map[string]any)["url"].(string), ":8080") {
			return false
		}
	}
	return true
}

// TestOpenAPIAnswers calls every documented admin operation on a seeded
// admin handler, and some of their errors: each answers with a status the
// document lists for it, and its body validates against that status's
// schema.
func TestOpenAPIAnswers(t *testing.T) {
	e := newEnv(t, func(o *admin.Options) {})
	doc := openAPIDoc(t)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	raw, _ := jsonschema.UnmarshalJSON(bytes.NewReader(admin.OpenAPIJSON()))
	if err := c.AddResource("mem://openapi.json", raw); err != nil {
		t.Fatal(err)
	}
	paths := doc["paths"].(map[string]any)
	called := map[string]bool{}
	check := func(method, path, concrete, body string, token string) {
		t.Helper()
		item := paths[path].(map[string]any)
		op, ok := item[strings.ToLower(method)].(map[string]any)
		if !ok {
			t.Errorf("%s %s is not documented", method, path)
			return
		}
		called[strings.ToLower(method)+" "+path] = true
		r := e.do(t, method, concrete, token, body)
		responses := op["responses"].(map[string]any)
		code := strconv.Itoa(r.status)
		resp, ok := responses[code]
		if !ok {
			t.Errorf("%s %s answered %d, which the document does not list (%v): %s", method, concrete, r.status, keys(responses), r.body)
			return
		}
		rm := resp.(map[string]any)
		loc := "/paths/" + esc(path) + "/" + strings.ToLower(method) + "/responses/" + code
		if ref, ok := rm["$ref"].(string); ok {
			loc = strings.TrimPrefix(ref, "#")
			v, _ := pointer(doc, loc)
			rm, _ = v.(map[string]any)
		}
		content, _ := rm["content"].(map[string]any)
		js, ok := content["application/json"].(map[string]any)
		if !ok {
			return // not JSON (metrics)
		}
		sch, err := c.Compile("mem://openapi.json#" + loc + "/content/application~1json/schema")
		if err != nil {
			t.Fatalf("%s %s: compile the schema of %d: %v (%v)", method, path, r.status, err, js)
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.body))
		if err != nil {
			t.Errorf("%s %s: %d body is not JSON: %s", method, concrete, r.status, r.body)
			return
		}
		if err := sch.Validate(inst); err != nil {
			t.Errorf("%s %s: the %d answer does not match the document: %v\n%s", method, concrete, r.status, err, r.body)
		}
	}
	s := e.seed
	tok := testToken
	check("GET", "/healthz", "/healthz", "", "")
	check("GET", "/readyz", "/readyz", "", "") // 503: the mailer plugin is quarantined
	check("GET", "/metrics", "/metrics", "", "")
	check("GET", "/api/v1/openapi.json", "/api/v1/openapi.json", "", tok)
	check("GET", "/api/v1/status", "/api/v1/status", "", tok)
	check("GET", "/api/v1/status", "/api/v1/status", "", "") // 401
	check("GET", "/api/v1/backlog", "/api/v1/backlog", "", tok)
	check("GET", "/api/v1/rules", "/api/v1/rules", "", tok)
	check("GET", "/api/v1/plugins", "/api/v1/plugins", "", tok)
	check("POST", "/api/v1/plugins/{name}/restart", "/api/v1/plugins/mailer/restart", "", tok) // 501: the fixed runtime cannot
	check("GET", "/api/v1/breakers", "/api/v1/breakers", "", tok)
	check("POST", "/api/v1/sessions/revoke", "/api/v1/sessions/revoke", "{}", tok)
	check("GET", "/api/v1/log", "/api/v1/log", "", tok)
	check("GET", "/api/v1/log", "/api/v1/log?limit=2", "", tok)
	check("GET", "/api/v1/log", "/api/v1/log?severity=loud", "", tok)
	check("GET", "/api/v1/work-orders", "/api/v1/work-orders", "", tok)
	check("GET", "/api/v1/work-orders", "/api/v1/work-orders?problems=true&limit=2", "", tok)
	check("GET", "/api/v1/work-orders", "/api/v1/work-orders?limit=9999", "", tok)
	check("GET", "/api/v1/work-orders/{id}/timeline", "/api/v1/work-orders/1001/timeline", "", tok)
	check("GET", "/api/v1/work-orders/{id}/timeline", "/api/v1/work-orders/1003/timeline?account=acme", "", tok)
	check("GET", "/api/v1/work-orders/{id}/timeline", "/api/v1/work-orders/x/timeline", "", tok)
	check("GET", "/api/v1/dead-letters", "/api/v1/dead-letters", "", tok)
	check("GET", "/api/v1/dead-letters", "/api/v1/dead-letters?kind=action&status=refused", "", tok)
	check("GET", "/api/v1/dead-letters", "/api/v1/dead-letters?kind=thing", "", tok)
	check("GET", "/api/v1/dead-letters/{kind}/{id}", fmt.Sprintf("/api/v1/dead-letters/event/%d", s.DeadEvent), "", tok)
	check("GET", "/api/v1/dead-letters/{kind}/{id}", fmt.Sprintf("/api/v1/dead-letters/action/%d", s.DeadAction), "", tok)
	check("GET", "/api/v1/dead-letters/{kind}/{id}", fmt.Sprintf("/api/v1/dead-letters/event/%d", s.DoneEvent), "", tok)
	check("GET", "/api/v1/dead-letters/{kind}/{id}", "/api/v1/dead-letters/event/999999", "", tok)
	check("POST", "/api/v1/dead-letters/{kind}/{id}/reprocess", fmt.Sprintf("/api/v1/dead-letters/event/%d/reprocess", s.DeadEvent), "", tok)
	check("POST", "/api/v1/dead-letters/{kind}/{id}/reprocess", fmt.Sprintf("/api/v1/dead-letters/event/%d/reprocess", s.DoneEvent), "", tok) // 409
	check("POST", "/api/v1/dead-letters/{kind}/{id}/ignore", fmt.Sprintf("/api/v1/dead-letters/event/%d/ignore", s.ParkedEvent), "", tok)
	check("POST", "/api/v1/dead-letters/{kind}/{id}/ignore", "/api/v1/dead-letters/action/999999/ignore", "", tok) // 404
	check("POST", "/api/v1/dead-letters/reprocess", "/api/v1/dead-letters/reprocess", fmt.Sprintf(`{"refs":["action:%d","event:999999"]}`, s.DeadAction), tok)
	check("POST", "/api/v1/dead-letters/reprocess", "/api/v1/dead-letters/reprocess", `{"refs":[]}`, tok)
	check("POST", "/api/v1/dead-letters/ignore", "/api/v1/dead-letters/ignore", `{"filter":{"account":"globex"}}`, tok)
	check("POST", "/api/v1/dead-letters/ignore", "/api/v1/dead-letters/ignore", `{"nope":1}`, tok)

	// Every documented admin operation was called.
	for path, it := range paths {
		if public(it) {
			continue
		}
		for m := range it.(map[string]any) {
			if isMethod(m) && !called[m+" "+path] {
				t.Errorf("%s %s is documented but not called here", m, path)
			}
		}
	}
}

func esc(p string) string { return strings.ReplaceAll(strings.ReplaceAll(p, "~", "~0"), "/", "~1") }

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
