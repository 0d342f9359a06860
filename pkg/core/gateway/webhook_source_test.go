package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// TestWebhookSourceAllowlist: with webhook.allowed_sources a request from
// elsewhere is refused (403) before its token is looked at, and
// X-Forwarded-For counts only when the connection is from trusted_proxies
// and only for the part those proxies appended.
func TestWebhookSourceAllowlist(t *testing.T) {
	cases := []struct {
		name    string
		proxies string // trusted_proxies YAML, "" none
		xff     []string
		want    int
	}{
		{name: "proxy trusted, client allowed", proxies: "[127.0.0.0/8]", xff: []string{"198.51.100.9"}, want: 200},
		{name: "proxy trusted, client with a port", proxies: "[127.0.0.0/8]", xff: []string{"198.51.100.9:3000"}, want: 200},
		{name: "proxy trusted, spoofed entry left of the real client", proxies: "[127.0.0.0/8]", xff: []string{"198.51.100.9, 203.0.113.1"}, want: 403},
		{name: "proxy trusted, no header: the proxy is the client", proxies: "[127.0.0.0/8]", want: 403},
		{name: "proxy trusted, garbage header", proxies: "[127.0.0.0/8]", xff: []string{"not-an-ip"}, want: 403},
		{name: "no trusted proxies: header ignored", xff: []string{"198.51.100.9"}, want: 403},
		{name: "no trusted proxies, no header", want: 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := worldOpts{webhookYAML: ", allowed_sources: [198.51.100.0/24, 2001:db8::/32]"}
			if tc.proxies != "" {
				o.extraYAML = "trusted_proxies: " + tc.proxies + "\n"
			}
			w := newWorld(t, o)
			w.sb.SetWebhookURL("") // the test delivers by hand
			wo, err := w.sb.CreateWorkOrder(sandbox.WorkOrderSpec{})
			if err != nil {
				t.Fatal(err)
			}
			ns := w.sb.Notifications(sandbox.NotificationFilter{WorkOrderId: wo.WorkOrderId})
			tok, err := w.sb.WebhookToken()
			if err != nil || len(ns) != 1 {
				t.Fatalf("notifications %d, token %v", len(ns), err)
			}
			req, _ := http.NewRequestWithContext(t.Context(), "POST", "http://"+w.addr+"/webhooks/corrigo/main", bytes.NewReader(ns[0].Body))
			req.Header.Set("Authorization", "Bearer "+tok)
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("%d %s, want %d", resp.StatusCode, b, tc.want)
			}
			if tc.want == 403 {
				var ans map[string]string
				if err := json.Unmarshal(b, &ans); err != nil || ans["error"] == "" {
					t.Fatalf("403 body is not a JSON error: %s", b)
				}
				if n := w.g.Stats().Webhooks["source_not_allowed"]; n != 1 {
					t.Errorf("source_not_allowed counted %d times, want 1", n)
				}
			}
		})
	}
}
