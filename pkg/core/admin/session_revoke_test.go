package admin_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/core/admin"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

// TestLogoutRevokesCopiesOfTheSession: a copy of the session cookie (a
// second browser, or a stolen one) stops working at logout, and stays
// revoked across a restart of the admin handler on the same store.
func TestLogoutRevokesCopiesOfTheSession(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t, e.srv.URL)
	b.login()
	u, _ := url.Parse(e.srv.URL)
	var cookie *http.Cookie
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "wogate_admin_session" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatal("no session cookie after login")
	}
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(u, []*http.Cookie{{Name: cookie.Name, Value: cookie.Value}})
	stolen := &browser{t: t, url: e.srv.URL, c: &http.Client{Jar: jar, CheckRedirect: b.c.CheckRedirect}}
	if code, _, _ := stolen.get("/ui/log"); code != http.StatusOK {
		t.Fatalf("copied cookie before logout: %d", code)
	}
	code, page, _ := b.get("/ui/log")
	if code != 200 {
		t.Fatal(code)
	}
	if code, _, _ := b.post("/ui/logout", url.Values{"csrf": {csrfOf(t, page)}}); code != http.StatusSeeOther {
		t.Fatalf("logout: %d", code)
	}
	if code, _, _ := stolen.get("/ui/log"); code != http.StatusSeeOther {
		t.Fatalf("copied cookie after logout: %d, want a redirect to the login form", code)
	}

	// A new handler on the same store (a restart) keeps the epoch.
	srv2 := httptest.NewServer(admin.New(e.st, e.rt, admin.Options{Token: testToken, Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv2.Close)
	u2, _ := url.Parse(srv2.URL)
	jar2, _ := cookiejar.New(nil)
	jar2.SetCookies(u2, []*http.Cookie{{Name: cookie.Name, Value: cookie.Value}})
	after := &browser{t: t, url: srv2.URL, c: &http.Client{Jar: jar2, CheckRedirect: b.c.CheckRedirect}}
	if code, _, _ := after.get("/ui/log"); code != http.StatusSeeOther {
		t.Fatalf("revoked cookie after a restart: %d", code)
	}
	// A fresh login works on the restarted handler.
	b2 := newBrowser(t, srv2.URL)
	b2.login()
	if code, _, _ := b2.get("/ui/log"); code != 200 {
		t.Fatalf("fresh login after restart: %d", code)
	}
	// POST /api/v1/sessions/revoke ends it too.
	if r := (&env{srv: srv2}).do(t, "POST", "/api/v1/sessions/revoke", testToken, ""); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if code, _, _ := b2.get("/ui/log"); code != http.StatusSeeOther {
		t.Fatalf("session after API revoke: %d", code)
	}
}

// TestWrongTokensThrottled: five wrong tokens are free, the sixth blocks
// the address, and while blocked even the right token gets 429 with
// Retry-After, so guessing stops; issue 11 measured 300 wrong logins in
// 6.5 s without any slowdown.
func TestWrongTokensThrottled(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "wogate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	srv := httptest.NewServer(admin.New(st, nil, admin.Options{Token: testToken, Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	e := &env{srv: srv}
	counts := map[int]int{}
	for range 300 {
		counts[e.do(t, "GET", "/api/v1/status", "guess-"+testToken, "").status]++
	}
	if counts[401] != 6 || counts[429] != 294 {
		t.Fatalf("answers to 300 wrong tokens: %v, want 6×401 then 429", counts)
	}
	r := e.do(t, "GET", "/api/v1/status", testToken, "")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), "too_many_failures") {
		t.Fatalf("right token while blocked: %d %v %s", r.status, r.header, r.body)
	}
	// The UI login form is throttled the same way (same address).
	b := newBrowser(t, srv.URL)
	if code, page, _ := b.post("/ui/login", url.Values{"token": {testToken}}); code != http.StatusTooManyRequests || !strings.Contains(page, "Too many wrong tokens") {
		t.Fatalf("UI login while blocked: %d", code)
	}
}
