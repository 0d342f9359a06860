package admin_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/core/admin"
	"github.com/wogate/wogate/pkg/core/admin/admintest"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

// TestCrossSiteAndHost: the admin listener without a token (the loopback
// default) refuses what a web page in the operator's browser can send —
// cross-site requests, non-JSON POSTs to the API — and requests for host
// names it does not own (DNS rebinding), while same-origin browser
// requests, curl and the UI's own forms go through.
func TestCrossSiteAndHost(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "wogate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if _, err := admintest.Seed(ctx, st); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(admin.New(st, admintest.NewRuntime(), admin.Options{Logger: slog.New(slog.DiscardHandler),
		AllowedHosts: []string{"wogate-admin.internal"},
		Metrics:      http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "wogate_up 1\n") })}))
	t.Cleanup(srv.Close)
	self := strings.TrimPrefix(srv.URL, "http://")
	_, port, _ := strings.Cut(self, ":")

	const bulk = "/api/v1/dead-letters/reprocess"
	cases := []struct {
		name     string
		method   string
		path     string
		host     string            // "" = the server's own address
		hdr      map[string]string // Content-Type "" means none
		body     string
		want     int
		wantCode string
	}{
		// Issue 11 finding 4, exactly: a simple cross-site POST.
		{name: "cross-site simple POST", method: "POST", path: bulk, hdr: map[string]string{"Origin": "http://evil.example", "Content-Type": ""}, body: `{"filter":{}}`, want: 403, wantCode: "cross_origin"},
		{name: "cross-site form content type", method: "POST", path: bulk, hdr: map[string]string{"Origin": "http://evil.example", "Content-Type": "text/plain"}, body: `{"filter":{}}`, want: 403, wantCode: "cross_origin"},
		{name: "Sec-Fetch-Site cross-site", method: "POST", path: bulk, hdr: map[string]string{"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}, body: `{"filter":{}}`, want: 403, wantCode: "cross_origin"},
		{name: "Sec-Fetch-Site same-site (another port)", method: "POST", path: bulk, hdr: map[string]string{"Sec-Fetch-Site": "same-site", "Content-Type": "application/json"}, body: `{"filter":{}}`, want: 403, wantCode: "cross_origin"},
		{name: "opaque origin", method: "POST", path: bulk, hdr: map[string]string{"Origin": "null", "Content-Type": "application/json"}, body: `{"filter":{}}`, want: 403, wantCode: "cross_origin"},
		{name: "origin on another port", method: "POST", path: bulk, hdr: map[string]string{"Origin": "http://127.0.0.1:1", "Content-Type": "application/json"}, body: `{"filter":{}}`, want: 403, wantCode: "cross_origin"},
		{name: "cross-site UI form", method: "POST", path: "/ui/dead-letters/reprocess", hdr: map[string]string{"Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"}, body: "refs=event:1", want: 403, wantCode: "cross_origin"},
		{name: "no content type", method: "POST", path: bulk, hdr: map[string]string{"Content-Type": ""}, body: `{"filter":{}}`, want: 415, wantCode: "unsupported_media_type"},
		{name: "text/plain", method: "POST", path: bulk, hdr: map[string]string{"Content-Type": "text/plain"}, body: `{"filter":{}}`, want: 415, wantCode: "unsupported_media_type"},
		{name: "form-encoded", method: "POST", path: bulk, hdr: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: `{"filter":{}}`, want: 415, wantCode: "unsupported_media_type"},
		{name: "json lookalike", method: "POST", path: bulk, hdr: map[string]string{"Content-Type": "application/jsonx"}, body: `{"filter":{}}`, want: 415, wantCode: "unsupported_media_type"},
		{name: "empty-body POST without content type", method: "POST", path: "/api/v1/plugins/x/restart", hdr: map[string]string{"Content-Type": ""}, want: 415, wantCode: "unsupported_media_type"},
		{name: "curl with JSON", method: "POST", path: bulk, hdr: map[string]string{"Content-Type": "application/json"}, body: `{"filter":{}}`, want: 200},
		{name: "JSON with charset", method: "POST", path: bulk, hdr: map[string]string{"Content-Type": "application/json; charset=utf-8"}, body: `{"filter":{}}`, want: 200},
		{name: "same-origin browser fetch", method: "POST", path: bulk, hdr: map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://" + self, "Content-Type": "application/json"}, body: `{"filter":{}}`, want: 200},
		{name: "same origin, no Sec-Fetch-Site", method: "POST", path: bulk, hdr: map[string]string{"Origin": "http://" + self, "Content-Type": "application/json"}, body: `{"filter":{}}`, want: 200},
		{name: "cross-site GET is only a read", method: "GET", path: "/api/v1/status", hdr: map[string]string{"Sec-Fetch-Site": "cross-site"}, want: 200},

		// DNS rebinding: the page's origin is evil.example, now resolving to 127.0.0.1.
		{name: "rebinding read", method: "GET", path: "/api/v1/dead-letters", host: "evil.example:" + port, want: 421, wantCode: "wrong_host"},
		{name: "rebinding write, same-origin to the browser", method: "POST", path: bulk, host: "evil.example:" + port, hdr: map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}, body: `{"filter":{}}`, want: 421, wantCode: "wrong_host"},
		{name: "rebinding UI", method: "GET", path: "/ui/", host: "evil.example", want: 421, wantCode: "wrong_host"},
		{name: "a suffix of an allowed name", method: "GET", path: "/api/v1/status", host: "evil-localhost", want: 421, wantCode: "wrong_host"},
		{name: "allowed name as a subdomain", method: "GET", path: "/api/v1/status", host: "localhost.evil.example", want: 421, wantCode: "wrong_host"},
		{name: "localhost", method: "GET", path: "/api/v1/status", host: "localhost:" + port, want: 200},
		{name: "LOCALHOST with a trailing dot", method: "GET", path: "/api/v1/status", host: "LOCALHOST.:" + port, want: 200},
		{name: "::1", method: "GET", path: "/api/v1/status", host: "[::1]:" + port, want: 200},
		{name: "configured name", method: "GET", path: "/api/v1/status", host: "wogate-admin.internal", want: 200},
		{name: "health under any host", method: "GET", path: "/healthz", host: "10.1.2.3:8081", want: 200},
		{name: "metrics under any host", method: "GET", path: "/metrics", host: "10.1.2.3:8081", want: 200},
		{name: "POST to health under another host", method: "POST", path: "/healthz", host: "evil.example", want: 421},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var rd io.Reader
			if tc.body != "" {
				rd = strings.NewReader(tc.body)
			}
			req, err := http.NewRequestWithContext(t.Context(), tc.method, srv.URL+tc.path, rd)
			if err != nil {
				t.Fatal(err)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			for k, v := range tc.hdr {
				if v == "" {
					req.Header.Del(k)
					continue
				}
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			_ = res.Body.Close()
			if res.StatusCode != tc.want {
				t.Fatalf("%d %s, want %d", res.StatusCode, b, tc.want)
			}
			if tc.wantCode != "" {
				if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") || !strings.Contains(string(b), `"code": "`+tc.wantCode+`"`) {
					t.Fatalf("answer %s %s, want a JSON error with code %s", res.Header.Get("Content-Type"), b, tc.wantCode)
				}
			}
		})
	}
}

// The admin /readyz lists what Options.Problems reports; the public one
// (pkg/core/gateway) does not.
func TestReadyzProblems(t *testing.T) {
	problems := []string{"store: the last write failed (2026-12-07T12:00:00Z): disk is full", "plugin erp: restarting"}
	h := admin.New(nil, nil, admin.Options{Logger: slog.New(slog.DiscardHandler), Problems: func(context.Context) []string { return problems }})
	rec := httptest.NewRecorder()
	req := httptest.NewRequestWithContext(t.Context(), "GET", "/readyz", nil)
	h.ServeHTTP(rec, req)
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "disk is full") || !strings.Contains(rec.Body.String(), "plugin erp: restarting") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	problems = nil
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("no problems: %d %s", rec.Code, rec.Body)
	}
}
