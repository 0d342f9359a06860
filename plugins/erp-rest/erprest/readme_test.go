package erprest_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wogate/wogate/plugins/erp-rest/erprest"
	"github.com/wogate/wogate/plugins/erp-rest/fakeerp"
)

var update = flag.Bool("update", false, "rewrite the README's generated config table")

const readme = "../README.md"

// TestREADMEConfigTable fails when the README's config reference is not
// what the schema generates; -update rewrites it.
func TestREADMEConfigTable(t *testing.T) {
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- BEGIN CONFIG -->\n", "<!-- END CONFIG -->"
	i, j := bytes.Index(b, []byte(begin)), bytes.Index(b, []byte(end))
	if i < 0 || j < i {
		t.Fatalf("%s has no %q … %q section", readme, begin, end)
	}
	want := append(append(append([]byte{}, b[:i+len(begin)]...), erprest.Schema().Markdown()...), b[j:]...)
	if bytes.Equal(b, want) {
		return
	}
	if *update {
		if err := os.WriteFile(readme, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s: config table is stale; run go test ./plugins/erp-rest/erprest -run TestREADME -update", readme)
}

// TestREADMEExample runs the README's worked example against the fake ERP:
// the config must be valid, and the request and actions must be the ones
// the README shows.
func TestREADMEExample(t *testing.T) {
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- BEGIN EXAMPLE[^>]*-->\n```yaml\n(.*?)```\n<!-- END EXAMPLE -->").FindSubmatch(b)
	if m == nil {
		t.Fatal("no example block")
	}
	var doc struct {
		Plugins map[string]struct {
			Config map[string]any `yaml:"config"`
		} `yaml:"plugins"`
	}
	// The gateway resolves upper-case ${NAME} from the environment.
	src := strings.NewReplacer("${FIELDFLOW_SECRET}", "s3cret", "${FIELDFLOW_CALLBACK_SECRET}", secret).Replace(string(m[1]))
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	cfg := doc.Plugins["erp"].Config
	if cfg == nil {
		t.Fatal("example has no plugins.erp.config")
	}
	now := time.Date(2030, 4, 30, 9, 0, 0, 0, time.UTC)
	erp := fakeerp.New(fakeerp.Options{ScheduleAfter: 24 * time.Hour, RequireSite: true, Now: func() time.Time { return now },
		Auth: fakeerp.Auth{Type: "oauth2", ClientID: "wogate", ClientSecret: "s3cret", Scope: "jobs"}})
	defer erp.Close()
	cfg["base_url"] = erp.URL() + "/api/v1"
	cfg["token_url"] = erp.URL() + "/oauth/token"
	c := start(t, cfg)

	wo := workOrder(20001, "HRG20001")
	wo.AccompanyingMessage = "Leaking tap"
	wo.ServiceLocation.SpaceId = 4711
	acts := mustHandle(t, c, wo)
	if kinds(acts) != "accept,appointment" || acts[0].Comment != "FieldFlow job J-1001" ||
		!acts[1].Appointment.ScheduledStart.Equal(time.Date(2030, 5, 1, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("actions = %+v", acts)
	}
	// The README shows the request body.
	hm := regexp.MustCompile("(?s)```http\n(.*?)```").FindSubmatch(b)
	if hm == nil {
		t.Fatal("no http block")
	}
	head, shown, _ := strings.Cut(string(hm[1]), "\n\n")
	var want, got bytes.Buffer
	if err := json.Compact(&want, []byte(shown)); err != nil {
		t.Fatalf("README body: %v", err)
	}
	var create *fakeerp.Request
	for _, r := range erp.Requests() {
		if r.Method == "POST" && r.Path == "/api/v1/jobs" {
			create = &r
		}
	}
	if create == nil {
		t.Fatal("no create request")
	}
	if err := json.Compact(&got, create.Body); err != nil {
		t.Fatal(err)
	}
	if want.String() != got.String() {
		t.Errorf("README shows\n%s\nplugin sent\n%s", want.String(), got.String())
	}
	if !strings.Contains(head, "Idempotency-Key: "+create.Header.Get("Idempotency-Key")) {
		t.Errorf("README head %q, sent key %q", head, create.Header.Get("Idempotency-Key"))
	}
	if s := erp.Sites(); len(s) != 1 || s[0].ID != "S-101" || s[0].Ref != "4711" {
		t.Errorf("sites = %+v", s)
	}

	// The technician finishes: the done callback checks out and invoices.
	st, _, acts := inbound(t, c, callback(map[string]any{"job_id": "J-1001", "status": "done", "changed_at": "2030-05-01T11:00:00Z",
		"summary": "Replaced tap", "repair": map[string]any{"code": "PLB-01", "category": "Plumbing"},
		"invoice": map[string]any{"number": "INV-1", "tax": 10, "lines": []any{map[string]any{"kind": "Labor", "desc": "Labour", "qty": 1, "rate": 50}}}}, true))
	if st != 200 || kinds(acts) != "check_out,invoice_update,invoice_submit" || acts[1].Invoice.TotalAmount != 60 {
		t.Fatalf("done: %d %+v", st, acts)
	}
}
