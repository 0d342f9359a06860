package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/internal/progress"
	"github.com/wogate/wogate/pkg/core/admin"
	"github.com/wogate/wogate/pkg/core/admin/admintest"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
)

const dlqToken = "dlq-test-token-0123456789"

type dlqEnv struct {
	st   store.Store
	seed *admintest.Seeded
	url  string
}

// newDLQEnv serves the real admin handler over a seeded SQLite store.
func newDLQEnv(t *testing.T) *dlqEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "wogate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	seed, err := admintest.Seed(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(admin.New(st, admintest.NewRuntime(), admin.Options{Token: dlqToken, Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	return &dlqEnv{st: st, seed: seed, url: srv.URL}
}

func (e *dlqEnv) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := dlqMain(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func (e *dlqEnv) conn() []string { return []string{"--admin-url", e.url, "--token", dlqToken} }

func TestDLQList(t *testing.T) {
	e := newDLQEnv(t)
	s := e.seed
	tests := []struct {
		name  string
		args  []string
		want  []string
		notIn []string
	}{
		{"all", nil, []string{"REF", "LAST ERROR", fmt.Sprintf("event:%d", s.DeadEvent), fmt.Sprintf("action:%d", s.DeadAction), "unknown site 77", "globex"}, nil},
		{"events of acme", []string{"--kind", "event", "--account", "acme"}, []string{fmt.Sprintf("event:%d", s.ParkedEvent)}, []string{"globex", "action:"}},
		{"parked", []string{"--status", "parked"}, []string{"parked", "mailer"}, []string{"unknown site"}},
		{"by work order", []string{"--work-order", "1001"}, []string{"note"}, []string{"event:"}},
		{"nothing", []string{"--status", "ignored"}, []string{"no dead letters match"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := e.run(t, append(append([]string{"list"}, e.conn()...), tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.notIn {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		code, out, errs := e.run(t, append([]string{"list", "--format", "json"}, e.conn()...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		var a struct {
			Items []admin.DeadLetterView
			Count int
		}
		if err := json.Unmarshal([]byte(out), &a); err != nil || a.Count != 4 || len(a.Items) != 4 {
			t.Fatalf("json %v: %s", err, out)
		}
	})
	t.Run("limit reached note", func(t *testing.T) {
		code, out, errs := e.run(t, append([]string{"list", "--limit", "2"}, e.conn()...)...)
		if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(errs, "showing the newest 2") {
			t.Fatalf("exit %d\n%s\n%s", code, out, errs)
		}
	})
}

func TestDLQShow(t *testing.T) {
	e := newDLQEnv(t)
	code, out, errs := e.run(t, append([]string{"show", fmt.Sprintf("event:%d", e.seed.DeadEvent)}, e.conn()...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, w := range []string{"status:", "dead", "unknown site 77", "event body:", `"CheckedIn"`, "decision:", "erp-all", "config version:", "cfg-1"} {
		if !strings.Contains(out, w) {
			t.Errorf("show lacks %q:\n%s", w, out)
		}
	}
	// An action with its event's actions, flags after the ref, bare id.
	code, out, errs = e.run(t, append([]string{"show", fmt.Sprint(e.seed.DeadAction), "--kind", "action"}, e.conn()...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, w := range []string{"payload:", "hello", "k-1001-1", "actions of the event:", fmt.Sprintf("action:%d", e.seed.SentAction), "sent"} {
		if !strings.Contains(out, w) {
			t.Errorf("show lacks %q:\n%s", w, out)
		}
	}
	code, out, _ = e.run(t, append([]string{"show", "--format", "json", fmt.Sprintf("action:%d", e.seed.DeadAction)}, e.conn()...)...)
	var d admin.DeadLetterDetail
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil || d.Outbox == nil || d.Outbox.Kind != "note" {
		t.Fatalf("json show: %d %s", code, out)
	}
	code, _, errs = e.run(t, append([]string{"show", "event:999999"}, e.conn()...)...)
	if code != 1 || !strings.Contains(errs, "HTTP 404") {
		t.Fatalf("unknown: %d %s", code, errs)
	}
}

func TestDLQReprocessAndIgnore(t *testing.T) {
	e := newDLQEnv(t)
	ctx := context.Background()
	s := e.seed
	// One by ref.
	code, out, errs := e.run(t, append([]string{"reprocess", fmt.Sprintf("event:%d", s.DeadEvent)}, e.conn()...)...)
	if code != 0 || !strings.Contains(out, "1 requeued, 0 failed") || !strings.Contains(out, "cfg-2") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if ev, _ := e.st.GetEvent(ctx, s.DeadEvent); ev.Status != store.EventPending {
		t.Fatalf("event status %s", ev.Status)
	}
	// --id with --kind, and a ref that is not a dead letter: exit 1.
	code, out, _ = e.run(t, append([]string{"ignore", "--kind", "event", "--id", fmt.Sprint(s.ParkedEvent), "--id", fmt.Sprintf("event:%d", s.DoneEvent)}, e.conn()...)...)
	if code != 1 || !strings.Contains(out, "1 ignored, 1 failed") || !strings.Contains(out, "wrong state") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if ev, _ := e.st.GetEvent(ctx, s.ParkedEvent); ev.Status != store.EventIgnored {
		t.Fatalf("parked event status %s", ev.Status)
	}
	// JSON output.
	code, out, _ = e.run(t, append([]string{"ignore", "--format", "json", fmt.Sprintf("action:%d", s.DeadAction)}, e.conn()...)...)
	var res admin.BulkResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Succeeded != 1 || res.Results[0].Status != "ignored" {
		t.Fatalf("json: %d %s", code, out)
	}
}

func TestDLQAllMatchingWithProgress(t *testing.T) {
	e := newDLQEnv(t)
	ctx := context.Background()
	// 150 more dead events in globex, one lane each.
	const extra = 150
	for i := range extra {
		ev := &store.Event{Account: "globex", MessageID: fmt.Sprintf("bulk-%d", i), WorkOrderID: int64(5000 + i), Action: "Paused",
			Source: "poll", Body: json.RawMessage(`{}`)}
		if _, err := e.st.InsertEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := e.st.ClaimEvents(ctx, "test", time.Minute, 1000)
	if err != nil || len(evs) != extra {
		t.Fatalf("claimed %d: %v", len(evs), err)
	}
	for _, ev := range evs {
		if err := e.st.CompleteEvent(ctx, ev.ID, "test", store.Outcome{Status: store.EventDead, LastError: "plugin said no"}); err != nil {
			t.Fatal(err)
		}
	}
	// Not a terminal: no progress, the summary on stdout.
	args := append([]string{"--all-matching", "--account", "globex", "--kind", "event"}, e.conn()...)
	code, out, errs := e.run(t, append([]string{"ignore"}, args...)...)
	if code != 0 || errs != "" || !strings.Contains(out, "151 ignored, 0 failed") {
		t.Fatalf("ignore without a terminal: exit %d, stderr %q\n%s", code, errs, out)
	}
	// On a terminal (every update due on the fake clock): the match
	// count, then a line per batch, each drawn over the last, cleared at
	// the end.
	clock := time.Unix(0, 0)
	setDLQProgress(t, progress.Options{Enabled: true, Now: func() time.Time { clock = clock.Add(time.Second); return clock }})
	code, out, errs = e.run(t, append([]string{"reprocess", "--status", "ignored"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, w := range []string{"\rreprocess: 151 dead letter(s) match", "\rreprocess: 100/151 dead letters (66%), 100 ok, 0 failed",
		"\rreprocess: 151/151 dead letters (100%), 151 ok, 0 failed"} {
		if !strings.Contains(errs, w) {
			t.Errorf("progress lacks %q:\n%q", w, errs)
		}
	}
	if !strings.HasSuffix(errs, "\r") {
		t.Errorf("progress line not cleared: %q", errs)
	}
	if !strings.Contains(out, "151 requeued, 0 failed") {
		t.Errorf("summary: %s", out)
	}
	// --quiet: no progress even on a terminal.
	if code, _, errs := e.run(t, append([]string{"ignore", "--quiet", "event:1"}, e.conn()...)...); errs != "" {
		t.Errorf("--quiet: exit %d, stderr %q", code, errs)
	}
	left, err := e.st.ListDeadLetters(ctx, store.DeadLetterFilter{Account: "globex"})
	if err != nil || len(left) != 0 {
		t.Fatalf("left %d: %v", len(left), err)
	}
	// Nothing matches any more.
	code, out, _ = e.run(t, append([]string{"ignore", "--all-matching", "--account", "globex"}, e.conn()...)...)
	if code != 0 || !strings.Contains(out, "no dead letters match; nothing to ignore") {
		t.Fatalf("exit %d: %s", code, out)
	}
}

// setDLQProgress makes gateway dlq show progress as on a terminal.
func setDLQProgress(t *testing.T, o progress.Options) {
	old := dlqProgress
	dlqProgress = func(io.Writer) progress.Options { return o }
	t.Cleanup(func() { dlqProgress = old })
}

func TestDLQErrors(t *testing.T) {
	e := newDLQEnv(t)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no subcommand", nil, 2, "usage: gateway dlq"},
		{"unknown subcommand", []string{"purge"}, 2, `gateway dlq: unknown command "purge" (want list, show, reprocess, ignore)`},
		{"bad flag", []string{"list", "--colour"}, 2, "flag provided but not defined"},
		{"bad format", []string{"list", "--format", "xml", "--admin-url", e.url}, 2, "--format must be table or json"},
		{"no address", []string{"list"}, 2, "no admin API address"},
		{"bad address", []string{"list", "--admin-url", "ftp://x"}, 2, "want http://host:port"},
		{"wrong token", []string{"list", "--admin-url", e.url, "--token", "nope"}, 1, "invalid bearer token (check --token"},
		{"missing token", []string{"list", "--admin-url", e.url}, 1, "HTTP 401"},
		{"bad filter value", []string{"list", "--admin-url", e.url, "--token", dlqToken, "--status", "zombie"}, 1, "status: must be dead, parked, ignored or refused"},
		{"unknown account", []string{"list", "--admin-url", e.url, "--token", dlqToken, "--account", "initech"}, 1, `unknown account "initech"`},
		{"bad ref", []string{"reprocess", "--admin-url", e.url, "evnt:3"}, 2, `ref "evnt:3": want event:ID or action:ID`},
		{"bare id without kind", []string{"reprocess", "--admin-url", e.url, "3"}, 2, "give --kind"},
		{"no refs", []string{"ignore", "--admin-url", e.url}, 2, "needs refs"},
		{"refs and all", []string{"ignore", "--admin-url", e.url, "--all-matching", "event:1"}, 2, "not both"},
		{"filters without all", []string{"ignore", "--admin-url", e.url, "--account", "acme", "event:1"}, 2, "only with --all-matching"},
		{"show two", []string{"show", "--admin-url", e.url, "event:1", "event:2"}, 2, "exactly one ref"},
		{"list with refs", []string{"list", "--admin-url", e.url, "event:1"}, 2, "list takes filters"},
		{"server down", []string{"list", "--admin-url", "http://" + closedAddr(t), "--token", dlqToken}, 1, "(connection refused): the gateway may not be running, or its admin.listen differs; pass --admin-url"},
		{"missing config", []string{"list", "--config", "/nonexistent/wogate.yaml"}, 2, "cannot read config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("WOGATE_ADMIN_URL", "")
			t.Setenv("WOGATE_ADMIN_TOKEN", "")
			code, out, errs := e.run(t, tc.args...)
			if code != tc.code || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d (want %d), stderr lacks %q:\n%s\n%s", code, tc.code, tc.want, errs, out)
			}
		})
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func TestDLQEndpointFromConfigAndEnv(t *testing.T) {
	e := newDLQEnv(t)
	u := strings.TrimPrefix(e.url, "http://")
	_, port, _ := net.SplitHostPort(u)
	dir := t.TempDir()
	path := filepath.Join(dir, "wogate.yaml")
	cfg := fmt.Sprintf("data_dir: %s\nadmin:\n  listen: \"0.0.0.0:%s\"\n  token: %s\ncorrigo:\n  accounts:\n    main:\n      sandbox: true\n", dir, port, dlqToken)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WOGATE_ADMIN_URL", "")
	t.Setenv("WOGATE_ADMIN_TOKEN", "")
	code, out, errs := e.run(t, "list", "--config", path)
	if code != 0 || !strings.Contains(out, "unknown site 77") {
		t.Fatalf("from config: exit %d\n%s\n%s", code, out, errs)
	}
	t.Setenv("WOGATE_ADMIN_URL", e.url)
	t.Setenv("WOGATE_ADMIN_TOKEN", dlqToken)
	code, out, errs = e.run(t, "list", "--kind", "action")
	if code != 0 || !strings.Contains(out, "note") {
		t.Fatalf("from env: exit %d\n%s\n%s", code, out, errs)
	}
}

func TestListenURL(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8081": "http://127.0.0.1:8081",
		":8081":          "http://127.0.0.1:8081",
		"0.0.0.0:9":      "http://127.0.0.1:9",
		"[::]:9":         "http://[::1]:9",
		"admin.lan:443":  "http://admin.lan:443",
	} {
		got, err := listenURL(in)
		if err != nil || got != want {
			t.Errorf("listenURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := listenURL("nonsense"); err == nil {
		t.Error("listenURL accepted an address without port")
	}
}
