package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/core/admin"
	"github.com/wogate/wogate/pkg/core/config"
)

// TestOpenAPICoversPublicRoutes: every route of the public listener is in
// the OpenAPI document (an account's webhook path under its default
// template), and every documented public operation answers on a running
// gateway with a status the document lists.
func TestOpenAPICoversPublicRoutes(t *testing.T) {
	w := newWorld(t, worldOpts{})
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(admin.OpenAPIJSON(), &doc); err != nil {
		t.Fatal(err)
	}
	docPath := func(route string) string {
		_, p, ok := strings.Cut(route, " ")
		if !ok {
			p = route
		}
		switch {
		case strings.HasPrefix(p, config.DefaultWebhookPathPrefix):
			return config.DefaultWebhookPathPrefix + "{account}"
		case strings.HasSuffix(p, "/inbound/"):
			return p + "{path}"
		}
		return p
	}
	routes := w.g.PublicRoutes()
	if len(routes) < 5 {
		t.Fatalf("public routes: %v", routes)
	}
	for _, r := range routes {
		if _, ok := doc.Paths[docPath(r)]; !ok {
			t.Errorf("public route %q (%s) is not in the OpenAPI document", r, docPath(r))
		}
	}
	listed := func(path, method string, status int) bool {
		var op struct {
			Responses map[string]json.RawMessage `json:"responses"`
		}
		if err := json.Unmarshal(doc.Paths[path][method], &op); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		_, ok := op.Responses[strconv.Itoa(status)]
		_, def := op.Responses["default"]
		return ok || def && status < 400
	}
	for _, c := range []struct {
		method, docPath, path string
		body                  string
	}{
		{"get", "/healthz", "/healthz", ""},
		{"get", "/readyz", "/readyz", ""},
		{"post", "/webhooks/corrigo/{account}", "/webhooks/corrigo/main", `{"Header":{}}`}, // no token: 401
		{"get", "/webhooks/corrigo/{account}", "/webhooks/corrigo/main", ""},               // 405
		{"post", "/plugins/{name}/inbound", "/plugins/nope/inbound", "{}"},                 // 404
		{"post", "/plugins/{name}/inbound/{path}", "/plugins/accept/inbound/jobs/7", "{}"}, // no inbound credential configured: 404
	} {
		req, err := http.NewRequestWithContext(t.Context(), strings.ToUpper(c.method), "http://"+w.addr+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		m := c.method
		if _, ok := doc.Paths[c.docPath][m]; !ok {
			m = "post" // 405 for a method the path is not documented for
			if res.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d, want 405", c.method, c.path, res.StatusCode)
			}
		}
		if !listed(c.docPath, m, res.StatusCode) {
			t.Errorf("%s %s answered %d, which the document does not list: %s", c.method, c.path, res.StatusCode, b)
		}
		// The gateway's 404 is JSON; the mux's would be text/plain.
		if res.StatusCode == http.StatusNotFound && !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: a mux 404, not the gateway's: %s", c.method, c.path, b)
		}
	}
}
