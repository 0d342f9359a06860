package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wogate/wogate/internal/testplugin"
	"github.com/wogate/wogate/pkg/core/admin"
	"github.com/wogate/wogate/pkg/core/plugins"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

// gateway plugins list/restart against the real admin handler and a real
// plugin manager running the test plugin.
func TestPluginsListAndRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "wogate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	m := plugins.NewManager(nil, slog.New(slog.DiscardHandler))
	defer func() { _ = m.Close(context.Background()) }()
	err = m.Start(ctx, []plugins.Spec{{Name: "accept", Command: testplugin.Build(t, "accept"),
		Supervisor: plugins.Supervisor{MaxCrashes: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	rt := &admin.Live{PluginHealth: func() admin.PluginHealther { return m }}
	srv := httptest.NewServer(admin.New(st, rt, admin.Options{Token: dlqToken, Logger: slog.New(slog.DiscardHandler)}))
	defer srv.Close()
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := pluginsMain(ctx, append(args, "--admin-url", srv.URL, "--token", dlqToken), &out, &errb)
		return code, out.String(), errb.String()
	}

	code, out, errs := run("list")
	if code != 0 || !strings.Contains(out, "accept") || !strings.Contains(out, "running") {
		t.Fatalf("list: %d %q %q", code, out, errs)
	}
	if code, _, errs := run("restart", "accept"); code != 1 || !strings.Contains(errs, "not quarantined") {
		t.Fatalf("restart of a running plugin: %d %q", code, errs)
	}
	if code, _, errs := run("restart", "nope"); code != 1 || !strings.Contains(errs, "HTTP 404") {
		t.Fatalf("restart of an unknown plugin: %d %q", code, errs)
	}

	if err := syscall.Kill(m.Health()["accept"].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for m.Health()["accept"].State != plugins.StateQuarantined {
		if ctx.Err() != nil {
			t.Fatalf("not quarantined: %+v", m.Health()["accept"])
		}
		time.Sleep(10 * time.Millisecond)
	}
	code, out, _ = run("list")
	if code != 0 || !strings.Contains(out, "quarantined") || !strings.Contains(out, "plugin process exited") {
		t.Fatalf("list while quarantined: %d %q", code, out)
	}
	code, out, errs = run("restart", "accept")
	if code != 0 || !strings.Contains(out, "plugin accept is running again") {
		t.Fatalf("restart: %d %q %q", code, out, errs)
	}
	if h := m.Health()["accept"]; h.State != plugins.StateRunning || h.RecentCrashes != 0 {
		t.Fatalf("after restart: %+v", h)
	}
	code, out, _ = run("list", "--format", "json")
	if code != 0 || !strings.Contains(out, `"state": "running"`) {
		t.Fatalf("list json: %d %q", code, out)
	}
	for _, bad := range [][]string{{}, {"frob"}, {"restart"}, {"list", "x"}} {
		var o, e bytes.Buffer
		if c := pluginsMain(ctx, bad, &o, &e); c != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)", bad, c)
		}
	}
}
