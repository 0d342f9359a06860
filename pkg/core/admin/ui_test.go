package admin_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/core/admin"
	"github.com/wogate/wogate/pkg/core/store"
)

// browser is a cookie-keeping client that does not follow redirects, so
// tests see each answer.
type browser struct {
	t   *testing.T
	c   *http.Client
	url string
}

func newBrowser(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, url: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (b *browser) get(path string) (int, string, http.Header) {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), http.MethodGet, b.url+path, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body), res.Header
}

func (b *browser) post(path string, form url.Values, hdr ...string) (int, string, http.Header) {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(b.t.Context(), "POST", b.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body), res.Header
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in page:\n%s", page)
	}
	return m[1]
}

func (b *browser) login() {
	b.t.Helper()
	code, _, h := b.post("/ui/login", url.Values{"token": {testToken}, "next": {"/ui/dead-letters"}})
	if code != http.StatusSeeOther || h.Get("Location") != "/ui/dead-letters" {
		b.t.Fatalf("login: %d %v", code, h)
	}
}

func TestUILogin(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t, e.srv.URL)
	// Not logged in: sent to the login form, with the page to come back to.
	code, _, h := b.get("/ui/dead-letters?kind=event")
	if code != http.StatusSeeOther || h.Get("Location") != "/ui/login?next="+url.QueryEscape("/ui/dead-letters?kind=event") {
		t.Fatalf("redirect: %d %v", code, h.Get("Location"))
	}
	code, page, h := b.get("/ui/login")
	if code != 200 || !strings.Contains(page, `name="token"`) || !strings.Contains(h.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("login form: %d %v\n%s", code, h, page)
	}
	// Wrong token.
	code, page, _ = b.post("/ui/login", url.Values{"token": {"guess"}})
	if code != http.StatusUnauthorized || !strings.Contains(page, "Wrong token") {
		t.Fatalf("wrong token: %d", code)
	}
	// An outside redirect target is replaced.
	code, _, h = b.post("/ui/login", url.Values{"token": {testToken}, "next": {"//evil.example/ui/"}})
	if code != http.StatusSeeOther || h.Get("Location") != "/ui/" {
		t.Fatalf("next: %d %s", code, h.Get("Location"))
	}
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == "wogate_admin_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		t.Fatalf("session cookie %+v", cookie)
	}
	// Logged in now.
	code, page, _ = b.get("/ui/dead-letters")
	if code != 200 || !strings.Contains(page, "Log out") {
		t.Fatalf("after login: %d", code)
	}
	// A forged cookie is not a session.
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(e.srv.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: "wogate_admin_session", Value: "99999999999.AAAA.forged"}})
	forged := &browser{t: t, url: e.srv.URL, c: &http.Client{Jar: jar, CheckRedirect: b.c.CheckRedirect}}
	if code, _, _ := forged.get("/ui/log"); code != http.StatusSeeOther {
		t.Fatalf("forged cookie: %d", code)
	}
	// Log out.
	code, _, _ = b.post("/ui/logout", url.Values{"csrf": {csrfOf(t, page)}})
	if code != http.StatusSeeOther {
		t.Fatalf("logout: %d", code)
	}
	if code, _, _ := b.get("/ui/log"); code != http.StatusSeeOther {
		t.Fatalf("after logout: %d", code)
	}
}

func TestUIBearerAccess(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequestWithContext(t.Context(), "GET", e.srv.URL+"/ui/rules", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "erp-new") {
		t.Fatalf("bearer UI: %d", res.StatusCode)
	}
	// A bearer POST needs no CSRF token: browsers never attach the header.
	req, _ = http.NewRequestWithContext(t.Context(), "POST", e.srv.URL+"/ui/dead-letters/act", strings.NewReader(url.Values{"row": {fmt.Sprintf("ignore:event:%d", e.seed.DeadEvent)}}.Encode()))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err = (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("bearer POST: %d", res.StatusCode)
	}
	req, _ = http.NewRequestWithContext(t.Context(), "GET", e.srv.URL+"/ui/rules", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	res, _ = http.DefaultClient.Do(req)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong bearer: %d", res.StatusCode)
	}
}

func TestUIPages(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t, e.srv.URL)
	b.login()
	tests := []struct {
		path   string
		status int
		want   []string
		notIn  []string
	}{
		{"/ui/", 302, nil, nil},
		{"/ui/log", 200, []string{"8 entries", "Contoso Retail", "/ui/work-orders?account=acme&amp;id=1001", "invalid webhook token: expired"}, nil},
		{"/ui/log", 200, []string{`class="sev-warn out-rejected has-dl"`, `class="badge out-rejected"`, `class="sev-error out-failed has-dl"`,
			`href="/ui/dead-letters?account=acme&amp;work_order=1001"`, `<th class="num">Status</th>`, `<span class="http-status s4xx">400</span>`}, nil},
		{"/ui/plugins", 200, []string{"2 plugin(s)", "1 not running", "pl-quarantined", "exit status 2", "1.2.0", ">4242<",
			`action="/ui/plugins/mailer/restart"`, "erp-new", "erp-all", "(12 hits)", "notify", `<th class="num">Restarts</th>`}, []string{`action="/ui/plugins/erp/restart"`}},
		{"/ui/log?severity=error", 200, []string{"1 entries", "service unavailable"}, []string{"Contoso Retail"}},
		{"/ui/log?account=acme&direction=inbound&work_order=&since=", 200, []string{"4 entries"}, nil},
		{"/ui/log?limit=3", 200, []string{"3 entries", `id="older"`}, nil},
		{"/ui/log?severity=fatal", 400, []string{"severity: must be info, warn or error"}, nil},
		{"/ui/dead-letters", 200, []string{"4 dead letter(s)", "unknown site 77", "Reprocess selected", fmt.Sprintf(`value="reprocess:event:%d"`, e.seed.DeadEvent)}, nil},
		{"/ui/dead-letters?kind=action&status=refused", 200, []string{"1 dead letter(s)", "completion notes"}, nil},
		{"/ui/dead-letters?status=bogus", 400, []string{"status: must be"}, nil},
		{"/ui/dead-letters?acount=x", 400, []string{"acount: unknown parameter"}, nil},
		{fmt.Sprintf("/ui/dead-letters/event/%d", e.seed.DeadEvent), 200, []string{"unknown site 77", "CheckedIn", "Reprocess", "running config", "cfg-2"}, nil},
		{fmt.Sprintf("/ui/dead-letters/action/%d", e.seed.DeadAction), 200, []string{"Payload", "k-1001-1", "The action is sent again as stored"}, nil},
		{fmt.Sprintf("/ui/dead-letters/action/%d", e.seed.SentAction), 200, []string{"sent"}, []string{`id="reprocess-one"`}},
		{"/ui/dead-letters/event/999999", 404, []string{"not found"}, nil},
		{"/ui/dead-letters/thing/1", 400, []string{"kind must be event or action"}, nil},
		{"/ui/work-orders", 200, []string{"Show timeline", "6 work order(s)", "WO-1001", "Contoso Retail", "Accepted", "corrigo: 400 validation: note text too long", `class="sev-error has-dl"`}, []string{`id="timeline"`}},
		{"/ui/work-orders?problems=true", 200, []string{"4 work order(s)", "Fabrikam Foods", "Northwind"}, []string{"WO-1004", "WO-1005"}},
		{"/ui/work-orders?account=globex", 200, []string{"1 work order(s)", "Northwind"}, []string{"Contoso"}},
		{"/ui/work-orders?status=Accepted", 200, []string{"2 work order(s)", "WO-1001", "WO-1003"}, []string{"WO-1002"}},
		{"/ui/work-orders?q=fabrikam", 200, []string{"2 work order(s)", "WO-1002", "WO-1003"}, []string{"WO-1001"}},
		{"/ui/work-orders?limit=2", 200, []string{"2 work order(s)", `id="older"`}, nil},
		{"/ui/work-orders?problems=maybe", 400, []string{"problems: must be true or false"}, nil},
		{"/ui/work-orders?id=1001", 200, []string{`id="timeline"`, "rule erp-new → plugin erp: 2 action(s)", "note created by rule erp-new", "1 event(s), 2 action(s) in acme"}, nil},
		{"/ui/work-orders?id=1001&account=acme", 200, []string{"NewWorkOrder received via webhook"}, nil},
		{"/ui/work-orders?id=abc", 400, []string{"id: must be a positive integer"}, nil},
		{"/ui/work-orders?id=5&account=nope", 400, []string{"unknown account"}, nil},
		{"/ui/rules", 200, []string{"erp-new", "event.action == &#34;NewWorkOrder&#34;", ">12<", "shadow"}, nil},
		{"/ui/health", 200, []string{"quarantined", "exit status 2", "globex", "open", "reachable", "4 unresolved"}, nil},
		{"/ui/nowhere", 404, []string{"No such page"}, nil},
		{"/ui/static/style.css", 200, []string{"--accent"}, nil},
		{"/ui/static/app.js", 200, []string{"select-all"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			code, page, _ := b.get(tc.path)
			if code != tc.status {
				t.Fatalf("status %d, want %d\n%s", code, tc.status, page)
			}
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tc.notIn {
				if strings.Contains(page, w) {
					t.Errorf("page has %q", w)
				}
			}
		})
	}
}

// The page escapes what came from outside (a log entry's error text).
func TestUIEscapes(t *testing.T) {
	e := newEnv(t)
	err := e.st.AppendLog(t.Context(), store.LogEntry{Account: "acme", Direction: "inbound", Severity: "error",
		Error: `<script>alert(1)</script>`, URL: `/x"><img src=x>`})
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e.srv.URL)
	b.login()
	// The log writer may batch; AppendLog returned, so the row is there.
	_, page, _ := b.get("/ui/log?severity=error")
	if strings.Contains(page, "<script>alert") || strings.Contains(page, `<img src=x>`) || !strings.Contains(page, "&lt;script&gt;") {
		t.Fatalf("not escaped:\n%s", page)
	}
}

func TestUIActions(t *testing.T) {
	e := newEnv(t)
	b := newBrowser(t, e.srv.URL)
	b.login()
	_, page, _ := b.get("/ui/dead-letters")
	csrf := csrfOf(t, page)
	ctx := t.Context()

	t.Run("no CSRF token", func(t *testing.T) {
		code, page, _ := b.post("/ui/dead-letters/act", url.Values{"row": {fmt.Sprintf("reprocess:event:%d", e.seed.DeadEvent)}})
		if code != http.StatusForbidden || !strings.Contains(page, "CSRF") {
			t.Fatalf("%d", code)
		}
	})
	t.Run("cross-origin", func(t *testing.T) {
		code, _, _ := b.post("/ui/dead-letters/act", url.Values{"csrf": {csrf}, "row": {fmt.Sprintf("reprocess:event:%d", e.seed.DeadEvent)}},
			"Origin", "https://evil.example")
		if code != http.StatusForbidden {
			t.Fatalf("%d", code)
		}
	})
	if ev, _ := e.st.GetEvent(ctx, e.seed.DeadEvent); ev.Status != store.EventDead {
		t.Fatalf("refused requests changed the event: %s", ev.Status)
	}
	t.Run("one row", func(t *testing.T) {
		code, _, h := b.post("/ui/dead-letters/act", url.Values{"csrf": {csrf}, "f_account": {"acme"},
			"row": {fmt.Sprintf("reprocess:event:%d", e.seed.DeadEvent)}}, "Origin", e.srv.URL)
		if code != http.StatusSeeOther || h.Get("Location") != "/ui/dead-letters?account=acme&done=reprocess&failed=0&ok=1" {
			t.Fatalf("%d %s", code, h.Get("Location"))
		}
		_, page, _ := b.get(h.Get("Location"))
		if !strings.Contains(page, "Requeued 1 dead letter(s).") || strings.Contains(page, fmt.Sprintf(`value="event:%d"`, e.seed.DeadEvent)) {
			t.Fatalf("list after reprocess:\n%s", page)
		}
		if ev, _ := e.st.GetEvent(ctx, e.seed.DeadEvent); ev.Status != store.EventPending {
			t.Fatalf("status %s", ev.Status)
		}
	})
	t.Run("selected", func(t *testing.T) {
		code, _, h := b.post("/ui/dead-letters/act", url.Values{"csrf": {csrf}, "op": {"ignore"},
			"ref": {fmt.Sprintf("event:%d", e.seed.ParkedEvent), fmt.Sprintf("event:%d", e.seed.DoneEvent)}})
		if code != http.StatusSeeOther || !strings.Contains(h.Get("Location"), "ok=1") || !strings.Contains(h.Get("Location"), "failed=1") {
			t.Fatalf("%d %s", code, h.Get("Location"))
		}
		_, page, _ := b.get(h.Get("Location"))
		if !strings.Contains(page, "Ignored 1 dead letter(s). 1 could not be changed") {
			t.Fatalf("flash missing")
		}
	})
	t.Run("nothing selected", func(t *testing.T) {
		code, page, _ := b.post("/ui/dead-letters/act", url.Values{"csrf": {csrf}, "op": {"ignore"}})
		if code != 400 || !strings.Contains(page, "select at least one") {
			t.Fatalf("%d", code)
		}
	})
	t.Run("bad op", func(t *testing.T) {
		code, _, _ := b.post("/ui/dead-letters/act", url.Values{"csrf": {csrf}, "op": {"delete"}, "ref": {"event:1"}})
		if code != 400 {
			t.Fatalf("%d", code)
		}
	})
	t.Run("all matching", func(t *testing.T) {
		code, _, h := b.post("/ui/dead-letters/act", url.Values{"csrf": {csrf}, "op": {"ignore-all"}, "f_account": {"globex"}})
		if code != http.StatusSeeOther || !strings.Contains(h.Get("Location"), "ok=1") {
			t.Fatalf("%d %s", code, h.Get("Location"))
		}
		if ev, _ := e.st.GetEvent(ctx, e.seed.GlobexDeadEvent); ev.Status != store.EventIgnored {
			t.Fatalf("status %s", ev.Status)
		}
	})
	t.Run("detail page conflict", func(t *testing.T) {
		code, page, _ := b.post("/ui/dead-letters/act", url.Values{"csrf": {csrf}, "from": {"detail"}, "row": {fmt.Sprintf("reprocess:event:%d", e.seed.DoneEvent)}})
		if code != http.StatusConflict || !strings.Contains(page, "wrong state") {
			t.Fatalf("%d", code)
		}
	})
}

// Without a token the UI needs no login but still protects its forms.
func TestUIOpen(t *testing.T) {
	e := newEnv(t, func(o *admin.Options) { o.Token = "" })
	b := newBrowser(t, e.srv.URL)
	code, page, _ := b.get("/ui/dead-letters")
	if code != 200 || strings.Contains(page, "Log out") {
		t.Fatalf("open UI: %d", code)
	}
	if code, _, _ := b.post("/ui/dead-letters/act", url.Values{"row": {fmt.Sprintf("ignore:event:%d", e.seed.DeadEvent)}}); code != http.StatusForbidden {
		t.Fatalf("POST without CSRF: %d", code)
	}
	code, _, _ = b.post("/ui/dead-letters/act", url.Values{"csrf": {csrfOf(t, page)}, "row": {fmt.Sprintf("ignore:event:%d", e.seed.DeadEvent)}})
	if code != http.StatusSeeOther {
		t.Fatalf("POST with CSRF: %d", code)
	}
	if code, _, h := b.get("/ui/login"); code != http.StatusFound || h.Get("Location") != "/ui/" {
		t.Fatalf("login page when open: %d", code)
	}
}
