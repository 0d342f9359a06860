package admin_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wogate/wogate/pkg/core/admin"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

// TestWebhookSignaturesInStatus: /api/v1/status reports which
// hash/signed-bytes combination verified each account's webhook tokens,
// in the shape the OpenAPI document gives Status.
func TestWebhookSignaturesInStatus(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "wogate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	sigs := []admin.WebhookSignatureInfo{
		{Account: "acme", Configured: []string{"SHA-256/decoded", "SHA-1/decoded"}, Combination: "SHA-1/decoded", Key: 1,
			Verified: 7, FirstVerified: at, LastVerified: at.Add(time.Hour), Changes: 1, Previous: "SHA-256/decoded"},
		{Account: "globex", Configured: []string{"SHA-256/decoded"}, Key: -1},
	}
	rt := &admin.Live{Signatures: func() []admin.WebhookSignatureInfo { return sigs }}
	srv := httptest.NewServer(admin.New(st, rt, admin.Options{Token: testToken, Logger: slog.New(slog.DiscardHandler)}))
	defer srv.Close()
	e := &env{srv: srv}
	r := e.do(t, "GET", "/api/v1/status", testToken, "")
	got, _ := r.json(t)["webhook_signatures"].([]any)
	if r.status != 200 || len(got) != 2 {
		t.Fatalf("status: %d %s", r.status, r.body)
	}
	first := got[0].(map[string]any)
	if first["combination"] != "SHA-1/decoded" || first["key"] != 1.0 || first["verified"] != 7.0 || first["previous"] != "SHA-256/decoded" {
		t.Errorf("acme: %v", first)
	}
	if second := got[1].(map[string]any); second["key"] != -1.0 || second["combination"] != nil {
		t.Errorf("globex (nothing verified yet): %v", second)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	raw, _ := jsonschema.UnmarshalJSON(bytes.NewReader(admin.OpenAPIJSON()))
	if err := c.AddResource("mem://openapi.json", raw); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("mem://openapi.json#/components/schemas/Status")
	if err != nil {
		t.Fatal(err)
	}
	inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(r.body))
	if err := sch.Validate(inst); err != nil {
		t.Errorf("status does not match the document: %v", err)
	}
	r = e.do(t, "GET", "/ui/health", testToken, "")
	if body := string(r.body); r.status != 200 || !strings.Contains(body, `id="signatures-table"`) ||
		!strings.Contains(body, "SHA-1/decoded") || !strings.Contains(body, "none yet") || !strings.Contains(body, "(was SHA-256/decoded)") {
		t.Fatalf("health page: %d\n%s", r.status, body)
	}
	// A runtime that reports no signatures shows none.
	if r := newEnv(t).do(t, "GET", "/api/v1/status", testToken, ""); strings.Contains(string(r.body), "webhook_signatures") {
		t.Errorf("status without a signature reporter: %s", r.body)
	}
}
