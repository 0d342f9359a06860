package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wogate/wogate/pkg/core/admin"
	"github.com/wogate/wogate/pkg/core/plugins"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

// fakePlugins stands in for *plugins.Manager: "q" is quarantined and
// restarts, "broken" is quarantined and fails to start, "ok" runs.
type fakePlugins struct {
	mu       sync.Mutex
	state    map[string]plugins.State
	restarts []string
}

func (f *fakePlugins) Health() map[string]plugins.PluginHealth {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]plugins.PluginHealth{}
	for n, s := range f.state {
		out[n] = plugins.PluginHealth{Name: n, State: s}
	}
	return out
}

func (f *fakePlugins) Restart(_ context.Context, name string) (plugins.PluginHealth, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restarts = append(f.restarts, name)
	s, ok := f.state[name]
	switch {
	case !ok:
		return plugins.PluginHealth{}, fmt.Errorf("plugin %q: %w", name, plugins.ErrUnknownPlugin)
	case s != plugins.StateQuarantined:
		return plugins.PluginHealth{Name: name, State: s}, fmt.Errorf("plugin %q: %w", name, plugins.ErrNotQuarantined)
	case name == "broken":
		return plugins.PluginHealth{Name: name, State: s, LastError: "restart failed"},
			fmt.Errorf("plugin %q: %w: ./bin/x has sha256 00…", name, plugins.ErrChecksumMismatch)
	}
	f.state[name] = plugins.StateRunning
	return plugins.PluginHealth{Name: name, State: plugins.StateRunning, PID: 4242, Restarts: 3}, nil
}

func TestRestartPlugin(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "wogate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	fp := &fakePlugins{state: map[string]plugins.State{
		"q": plugins.StateQuarantined, "broken": plugins.StateQuarantined, "ok": plugins.StateRunning}}
	rt := &admin.Live{PluginHealth: func() admin.PluginHealther { return fp }}
	srv := httptest.NewServer(admin.New(st, rt, admin.Options{Token: testToken, Logger: slog.New(slog.DiscardHandler)}))
	defer srv.Close()
	e := &env{srv: srv}

	if r := e.do(t, "POST", "/api/v1/plugins/q/restart", "", ""); r.status != 401 {
		t.Errorf("without the token: %d", r.status)
	}
	if r := e.do(t, "GET", "/api/v1/plugins/q/restart", testToken, ""); r.status != 405 || r.header.Get("Allow") != "POST" {
		t.Errorf("GET: %d, Allow %q", r.status, r.header.Get("Allow"))
	}
	if len(fp.restarts) != 0 {
		t.Fatalf("restarted without a POST with the token: %v", fp.restarts)
	}
	r := e.do(t, "POST", "/api/v1/plugins/q/restart", testToken, "")
	if r.status != 200 {
		t.Fatalf("restart: %d %s", r.status, r.body)
	}
	var ok struct{ Plugin admin.PluginInfo }
	if err := json.Unmarshal(r.body, &ok); err != nil || ok.Plugin.Name != "q" || ok.Plugin.State != "running" || ok.Plugin.PID != 4242 {
		t.Fatalf("restart answer: %s (%v)", r.body, err)
	}
	// The plugins list shows it running now.
	if r := e.do(t, "GET", "/api/v1/plugins", testToken, ""); !strings.Contains(string(r.body), `"name": "q",
      "state": "running"`) {
		t.Errorf("plugins after restart: %s", r.body)
	}
	for _, tc := range []struct {
		name, code string
		status     int
	}{
		{"q", "not_quarantined", 409}, // running now
		{"ok", "not_quarantined", 409},
		{"nope", "not_found", 404},
		{"broken", "restart_failed", 502},
	} {
		r := e.do(t, "POST", "/api/v1/plugins/"+tc.name+"/restart", testToken, "")
		if r.status != tc.status || r.json(t)["error"].(map[string]any)["code"] != tc.code {
			t.Errorf("restart %s: %d %s, want %d %s", tc.name, r.status, r.body, tc.status, tc.code)
		}
	}

	// A runtime that cannot restart plugins says so.
	e2 := newEnv(t)
	if r := e2.do(t, "POST", "/api/v1/plugins/mailer/restart", testToken, ""); r.status != 501 {
		t.Errorf("runtime without restarts: %d %s", r.status, r.body)
	}
	if _, err := (&admin.Live{}).RestartPlugin(ctx, "x"); !errors.Is(err, admin.ErrRestartUnsupported) {
		t.Errorf("Live without plugins: %v", err)
	}
}

// The health page offers Restart on quarantined plugins only; the form
// goes through the session and CSRF checks and back to the health page.
func TestUIRestartPlugin(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "wogate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	fp := &fakePlugins{state: map[string]plugins.State{
		"q": plugins.StateQuarantined, "broken": plugins.StateQuarantined, "ok": plugins.StateRunning}}
	rt := &admin.Live{PluginHealth: func() admin.PluginHealther { return fp }}
	srv := httptest.NewServer(admin.New(st, rt, admin.Options{Token: testToken, Logger: slog.New(slog.DiscardHandler)}))
	defer srv.Close()
	b := newBrowser(t, srv.URL)
	b.login()
	code, page, _ := b.get("/ui/health")
	if code != 200 {
		t.Fatalf("health: %d", code)
	}
	for name, want := range map[string]bool{"q": true, "broken": true, "ok": false} {
		if got := strings.Contains(page, `action="/ui/plugins/`+name+`/restart"`); got != want {
			t.Errorf("Restart button for %s: %v, want %v", name, got, want)
		}
	}
	csrf := csrfOf(t, page)
	if code, _, _ := b.post("/ui/plugins/q/restart", url.Values{}); code != 403 {
		t.Errorf("without CSRF token: %d", code)
	}
	if len(fp.restarts) != 0 {
		t.Fatalf("restarted without a valid form: %v", fp.restarts)
	}
	code, _, h := b.post("/ui/plugins/q/restart", url.Values{"csrf": {csrf}})
	if code != 303 || h.Get("Location") != "/ui/health?restarted=q" {
		t.Fatalf("restart: %d %v", code, h)
	}
	if _, page, _ := b.get("/ui/health"); strings.Contains(page, `action="/ui/plugins/q/restart"`) {
		t.Error("the restarted plugin still offers Restart")
	}
	// From the plugins page, back to the plugins page, which says so.
	fp.state["q"] = plugins.StateQuarantined
	if code, page, _ := b.get("/ui/plugins"); code != 200 || !strings.Contains(page, `action="/ui/plugins/q/restart"`) ||
		!strings.Contains(page, `name="back" value="plugins"`) {
		t.Fatalf("plugins page: %d %s", code, page)
	}
	code, _, h = b.post("/ui/plugins/q/restart", url.Values{"csrf": {csrf}, "back": {"plugins"}})
	if code != 303 || h.Get("Location") != "/ui/plugins?restarted=q" {
		t.Fatalf("restart from the plugins page: %d %v", code, h)
	}
	if _, page, _ := b.get("/ui/plugins?restarted=q"); !strings.Contains(page, "Plugin q restarted.") {
		t.Errorf("plugins page after restart lacks the notice")
	}
	code, page, _ = b.post("/ui/plugins/broken/restart", url.Values{"csrf": {csrf}})
	if code != 502 || !strings.Contains(page, "Restart of plugin broken failed") {
		t.Errorf("failed restart: %d %s", code, page)
	}
}
