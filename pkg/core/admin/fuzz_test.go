package admin

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

// FuzzQueries sends arbitrary query strings and bulk bodies to the API
// over a real (empty) SQLite store: every answer is 200 or a JSON 4xx
// naming a field, never a 5xx or a panic.
func FuzzQueries(f *testing.F) {
	for _, s := range []string{"", "kind=event", "status=refused&kind=event", "since=24h", "since=2026-01-02", "limit=0",
		"work_order=-1", "before_id=9", "until=2026-01-02T15:04", "acount=x", "kind=a&kind=b", "since=%00", "limit=99999999999999999999"} {
		f.Add(s, `{"refs":["event:1"]}`)
	}
	f.Add("severity=warn", `{"filter":{"kind":"action","status":"refused"}}`)
	f.Add("", `{"refs":["event:-1", "action:x"]}`)
	f.Add("", `{"filter":{"since":"-3h"}}`)
	f.Add("", `[]`)
	f.Add("problems=true&status=New&q=%25", `{}`)
	f.Add("before_id=1&limit=500&since=1h", `{}`)
	st, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "wogate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	h := New(st, nil, Options{Logger: slog.New(slog.DiscardHandler)})
	f.Fuzz(func(t *testing.T, query, body string) {
		for _, target := range []string{"/api/v1/dead-letters?", "/api/v1/log?", "/api/v1/work-orders/1/timeline?", "/api/v1/work-orders?",
			"/ui/log?", "/ui/dead-letters?", "/ui/work-orders?"} {
			req := httptest.NewRequestWithContext(t.Context(), "GET", "/", nil)
			req.URL = &url.URL{Path: strings.SplitN(target, "?", 2)[0], RawQuery: query}
			req.Host = "127.0.0.1:8081"
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			checkAnswer(t, target+query, w)
		}
		for _, op := range []string{"reprocess", "ignore"} {
			req := httptest.NewRequestWithContext(t.Context(), "POST", "/api/v1/dead-letters/"+op, strings.NewReader(body))
			req.Host = "localhost:8081"
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			checkAnswer(t, op+" "+body, w)
		}
	})
}

func checkAnswer(t *testing.T, what string, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("%s: status %d: %s", what, w.Code, w.Body)
	}
	if w.Code >= 400 && strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
		var e apiError
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Fatalf("%s: error body %s", what, w.Body)
		}
		if w.Code == http.StatusBadRequest && e.Error.Field == "" {
			t.Fatalf("%s: 400 without a field: %s", what, w.Body)
		}
	}
}

// FuzzSession feeds arbitrary cookie values to the session check: nothing
// but a value the handler signed is accepted, and nothing panics.
func FuzzSession(f *testing.F) {
	h := New(nil, nil, Options{Token: "t0ken", Logger: slog.New(slog.DiscardHandler)})
	good := h.newSession()
	f.Add(good)
	f.Add(good + "x")
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add("")
	f.Add("9999999999.AAAA.")
	other := New(nil, nil, Options{Token: "other", Logger: slog.New(slog.DiscardHandler)})
	f.Fuzz(func(t *testing.T, v string) {
		// The key derives from the token, so a value signed in another
		// fuzz worker (the seeds) is valid here too; any accepted value
		// must be refused under another token's key.
		if h.validSession(v) {
			if other.validSession(v) {
				t.Fatalf("a session is valid under two keys: %q", v)
			}
			if _, err := strconv.ParseInt(strings.SplitN(v, ".", 2)[0], 10, 64); err != nil {
				t.Fatalf("accepted a session without an expiry: %q", v)
			}
		}
	})
}

// An expired session is refused.
func TestSessionExpiry(t *testing.T) {
	now := time.Now()
	h := New(nil, nil, Options{Token: "t", Now: func() time.Time { return now }, SessionTTL: time.Minute})
	v := h.newSession()
	if !h.validSession(v) {
		t.Fatal("fresh session refused")
	}
	now = now.Add(2 * time.Minute)
	if h.validSession(v) {
		t.Fatal("expired session accepted")
	}
}

// FuzzGuard sends arbitrary Host, Origin, Sec-Fetch-Site and Content-Type
// values (outside input: any web page or client picks them) to a
// state-changing API route and a UI page: nothing panics or answers 5xx,
// and a request that changed state carried an allowed host, a JSON
// content type and nothing that says cross-site.
func FuzzGuard(f *testing.F) {
	f.Add("POST", "127.0.0.1:8081", "", "", "application/json")
	f.Add("POST", "127.0.0.1:8081", "http://evil.example", "", "")
	f.Add("POST", "evil.example", "", "same-origin", "application/json")
	f.Add("POST", "[::1]:8081", "http://[::1]:8081", "same-origin", "application/json; charset=utf-8")
	f.Add("GET", "LOCALHOST.", "null", "cross-site", "text/plain")
	f.Add("POST", "localhost:8081", "http://localhost:8081", "none", "application/json;;")
	f.Add("POST", "[::1", "%zz", "\x00", "application/json; x=\"")
	st, err := sqlite.Open(context.Background(), filepath.Join(f.TempDir(), "wogate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	h := New(st, nil, Options{Logger: slog.New(slog.DiscardHandler), AllowedHosts: []string{"admin.internal"}})
	f.Fuzz(func(t *testing.T, method, host, origin, site, ctype string) {
		if method != "GET" && method != "POST" {
			method = "POST"
		}
		for _, path := range []string{"/api/v1/dead-letters/ignore", "/ui/"} {
			req := httptest.NewRequestWithContext(t.Context(), method, path, strings.NewReader(`{"refs":["event:1"]}`))
			req.Host = host
			for k, v := range map[string]string{"Origin": origin, "Sec-Fetch-Site": site, "Content-Type": ctype} {
				if v != "" {
					req.Header.Set(k, v)
				}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code >= 500 {
				t.Fatalf("%s %s host %q: %d %s", method, path, host, w.Code, w.Body)
			}
			if w.Code == http.StatusMisdirectedRequest || w.Code == http.StatusForbidden || w.Code == http.StatusUnsupportedMediaType {
				checkAnswer(t, path, w)
			}
			if method == "POST" && path != "/ui/" && w.Code != http.StatusMisdirectedRequest && w.Code != http.StatusForbidden && w.Code != http.StatusUnsupportedMediaType {
				// The request reached the route.
				if !h.g.hosts[normHost(host)] {
					t.Fatalf("host %q reached the route", host)
				}
				if !isJSON(ctype) {
					t.Fatalf("content type %q reached the route", ctype)
				}
				if site != "" && site != "same-origin" && site != "none" {
					t.Fatalf("Sec-Fetch-Site %q reached the route", site)
				}
				if site == "" && origin != "" {
					u, err := url.Parse(origin)
					if err != nil || u.Host != host {
						t.Fatalf("origin %q reached the route for host %q", origin, host)
					}
				}
			}
		}
	})
}
