package admin

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

// FuzzUIForm posts arbitrary form bodies to the UI's forms (log in, log
// out, dead letters act, plugin restart), with or without a session
// cookie, the form's CSRF token and a same-origin Origin, over a real
// SQLite store holding one dead letter. Nothing panics or answers 5xx
// (501: the restart is not supported here); the dead letter stays dead
// unless the post carried a valid session and its CSRF token; a login
// sets a session only for the right token; and every redirect stays on
// the admin UI (no open redirect through "next").
func FuzzUIForm(f *testing.F) {
	for _, s := range []struct {
		path, body            string
		session, csrf, origin bool
	}{
		{"/ui/login", "token=t0ken-0123456789abcdef&next=%2Fui%2Flog", false, false, true},
		{"/ui/login", "token=wrong&next=%2F%2Fevil.example", false, false, true},
		{"/ui/login", "token=t0ken-0123456789abcdef&next=%2F%5Cevil.example", false, false, true},
		{"/ui/login", "token=t0ken-0123456789abcdef&next=/ui/%0d%0aSet-Cookie:x", false, false, false},
		{"/ui/login", "%zz", false, false, true},
		{"/ui/dead-letters/act", "row=reprocess:event:1", true, true, true},
		{"/ui/dead-letters/act", "row=reprocess:event:1", true, false, true},
		{"/ui/dead-letters/act", "op=ignore&ref=event:1&ref=action:9", false, true, true},
		{"/ui/dead-letters/act", "op=reprocess-all&f_kind=event&f_since=-1h", true, true, true},
		{"/ui/dead-letters/act", "op=ignore-all&f_limit=99999999999999999999", true, true, true},
		{"/ui/dead-letters/act", "row=teleport:event:1&from=detail", true, true, true},
		{"/ui/dead-letters/act", "op=ignore&ref=event:1&from=detail", true, true, false},
		{"/ui/logout", "", true, true, true},
		{"/ui/plugins/erp/restart", "back=plugins", true, true, true},
	} {
		f.Add(s.path, s.body, s.session, s.csrf, s.origin)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "wogate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	const token = "t0ken-0123456789abcdef"
	h := New(st, nil, Options{Token: token, Logger: slog.New(slog.DiscardHandler)})
	// kill makes event 1 (re)dead.
	kill := func(t testing.TB) int64 {
		t.Helper()
		e := &store.Event{Account: "acme", MessageID: "m-1", WorkOrderID: 5, Action: "NewWorkOrder", ActionDate: time.Now(), Source: "webhook", Body: []byte(`{}`)}
		if _, err := st.InsertEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
		evs, err := st.EventsForWorkOrder(ctx, "acme", 5)
		if err != nil || len(evs) == 0 {
			t.Fatalf("events: %v", err)
		}
		ev := evs[0]
		if ev.Status == store.EventDead {
			return ev.ID
		}
		if ev.Status != store.EventPending {
			// Ignored or handled by an earlier input: back to pending.
			if err := st.RequeueEvent(ctx, ev.ID); err != nil {
				t.Fatal(err)
			}
		}
		claimed, err := st.ClaimEvents(ctx, "fuzz", time.Minute, 10)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim: %d %v", len(claimed), err)
		}
		if err := st.CompleteEvent(ctx, claimed[0].ID, "fuzz", store.Outcome{Status: store.EventDead, LastError: "boom"}); err != nil {
			t.Fatal(err)
		}
		return claimed[0].ID
	}
	id := kill(f)
	f.Fuzz(func(t *testing.T, path, body string, withSession, withCSRF, withOrigin bool) {
		switch path {
		case "/ui/login", "/ui/logout", "/ui/dead-letters/act", "/ui/plugins/erp/restart":
		default:
			path = "/ui/dead-letters/act"
		}
		kill(t)
		session := h.newSession()
		if withCSRF {
			body += "&csrf=" + h.csrfFor(session)
		}
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, path, strings.NewReader(body))
		req.Host = "127.0.0.1:8081"
		req.RemoteAddr = "127.0.0.1:5000"
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if withOrigin {
			req.Header.Set("Origin", "http://127.0.0.1:8081")
		} else {
			req.Header.Set("Origin", "http://evil.example")
		}
		if withSession {
			req.AddCookie(&http.Cookie{Name: sessionCookie, Value: session})
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 && w.Code != http.StatusNotImplemented {
			t.Fatalf("%s %q: %d %s", path, body, w.Code, w.Body)
		}
		if loc := w.Header().Get("Location"); loc != "" {
			if !strings.HasPrefix(loc, "/ui/") || strings.HasPrefix(loc, "//") || strings.ContainsAny(loc, "\\\r\n") {
				t.Fatalf("%s %q redirects to %q", path, body, loc)
			}
			p, _, _ := strings.Cut(loc, "?")
			for _, seg := range strings.Split(strings.ToLower(p), "/") {
				if s := strings.ReplaceAll(seg, "%2e", "."); s == "." || s == ".." {
					t.Fatalf("%s %q redirects to %q, a dot segment (off the UI in a browser)", path, body, loc)
				}
			}
		}
		for _, c := range w.Result().Cookies() {
			if c.Name == sessionCookie && c.Value != "" && c.MaxAge >= 0 && path == "/ui/login" && !strings.Contains(body, "token="+token) {
				t.Fatalf("login %q set a session", body)
			}
		}
		if withSession && withCSRF && withOrigin {
			return
		}
		ev, err := st.GetEvent(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Status != store.EventDead {
			t.Fatalf("%s %q (session %v, csrf %v, same origin %v): the dead letter is now %s", path, body, withSession, withCSRF, withOrigin, ev.Status)
		}
	})
}
