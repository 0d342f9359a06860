package admin_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/admin"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

// TestLastReloadShown: the status endpoint and the health page report the
// last config reload, its error and the version still running.
func TestLastReloadShown(t *testing.T) {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "wogate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	at := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	info := admin.ReloadInfo{Attempts: 2, LastAttempt: at.Add(time.Minute), LastError: `compile rules: rule "x": <bad> & wrong`,
		LastSuccess: at, LastVersion: "abc123"}
	rt := &admin.Live{Reload: func() admin.ReloadInfo { return info }}
	srv := httptest.NewServer(admin.New(st, rt, admin.Options{Token: testToken, Logger: slog.New(slog.DiscardHandler)}))
	defer srv.Close()
	e := &env{srv: srv}

	r := e.do(t, "GET", "/api/v1/status", testToken, "")
	rel, _ := r.json(t)["reload"].(map[string]any)
	if r.status != 200 || rel["attempts"] != 2.0 || rel["last_version"] != "abc123" || !strings.Contains(rel["last_error"].(string), "compile rules") {
		t.Fatalf("status: %d %s", r.status, r.body)
	}
	r = e.do(t, "GET", "/ui/health", testToken, "")
	body := string(r.body)
	if r.status != 200 || !strings.Contains(body, `id="last-reload"`) || !strings.Contains(body, "abc123") ||
		!strings.Contains(body, "&lt;bad&gt; &amp; wrong") || strings.Contains(body, "<bad>") {
		t.Fatalf("health page: %d\n%s", r.status, body)
	}

	// A runtime that does not reload shows nothing about reloads.
	if r := newEnv(t).do(t, "GET", "/api/v1/status", testToken, ""); strings.Contains(string(r.body), `"reload"`) {
		t.Errorf("status without reloads: %s", r.body)
	}
}
