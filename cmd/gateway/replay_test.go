package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/internal/progress"
	"github.com/wogate/wogate/internal/testplugin"
	"github.com/wogate/wogate/pkg/core/assemble"
	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/gateway"
	"github.com/wogate/wogate/pkg/core/replay"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata golden files")

// replayConfig is the configuration the recorded events were handled
// under; replay tests write variants of it.
const replayConfig = `listen: 127.0.0.1:1
data_dir: %[1]s
corrigo:
  accounts:
    main:
      base_url: %[2]s
      oauth_url: %[3]s
      client_id: sandbox
      client_secret: sandbox-secret
      webhook: {certificate: "file:%[4]s"}
      polling: {enabled: false}
plugins:
  accept:
    command: %[5]s
    timeout: 5s
    config: {actions: {NewWorkOrder: accept, MessageSent: note}, comment: "on our way"}
delivery: {backoff_initial: 20ms, backoff_max: 100ms, max_attempts: 3}
admin: {listen: ""}
rules:
  - name: new-to-accept
    when: event.Action == "NewWorkOrder"
    plugin: accept
  - name: messages-on-accepted
    when: event.Action == "MessageSent" && workOrder.Status == "Accepted"
    plugin: accept
`

// recorded is a store filled by a real gateway, stopped, and the pieces to
// write other configurations over the same store.
type recorded struct {
	dir, config       string
	base, oauth, cert string
	plugin            string
	workOrders        []int64
	events            int
}

// writeConfig writes a configuration over the recorded store: the recorded
// one with the rules section replaced when rules is not empty.
func (r *recorded) writeConfig(t *testing.T, name, rules string) string {
	t.Helper()
	y := fmt.Sprintf(replayConfig, r.dir, r.base, r.oauth, r.cert, r.plugin)
	if rules != "" {
		y = y[:strings.Index(y, "rules:")] + "rules:" + rules
	}
	p := filepath.Join(r.dir, name)
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// record runs a gateway against the sandbox: two work orders arrive and
// are accepted by the plugin; the customer writes on the first, and the
// rule that reads the work order (fetched from the sandbox: Accepted)
// sends a note. Each step is waited for, so event ids are the same every
// run.
func record(t *testing.T) *recorded {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{TimeScale: 0.0001})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	dir := t.TempDir()
	r := &recorded{dir: dir, base: sb.BaseURL(), oauth: sb.OAuthURL(), cert: filepath.Join(dir, "corrigo.pem"),
		plugin: testplugin.Build(t, "accept")}
	if err := os.WriteFile(r.cert, sb.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	r.config = r.writeConfig(t, "config.yaml", "")
	cfg, err := config.Load(r.config)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	g, err := gateway.New(context.Background(), cfg, gateway.Options{Listener: ln, ShutdownTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gateway run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("gateway did not stop")
		}
	}
	defer stop()
	defer func() {
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	}()
	sb.SetWebhookURL("http://" + ln.Addr().String() + "/webhooks/corrigo/main")

	st := g.Store()
	settled := func(what string, id int64, events, sent int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			evs, _ := st.EventsForWorkOrder(ctx, "main", id)
			acts, _ := st.ActionsForWorkOrder(ctx, "main", id)
			nDone, nSent := 0, 0
			for _, e := range evs {
				if e.Status == store.EventDone {
					nDone++
				}
			}
			for _, a := range acts {
				if a.Status == store.ActionSent {
					nSent++
				}
			}
			if nDone >= events && nSent >= sent && nDone == len(evs) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: work order %d has %d events (%d done), %d actions (%d sent); want %d done, %d sent",
					what, id, len(evs), nDone, len(acts), nSent, events, sent)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for i := 0; i < 2; i++ {
		wo, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{Type: corrigo.TypeRequest})
		if err != nil {
			t.Fatal(err)
		}
		r.workOrders = append(r.workOrders, wo.WorkOrderId)
		settled("accept", wo.WorkOrderId, 1, 1)
		time.Sleep(100 * time.Millisecond) // notifications the accept caused
		settled("accept", wo.WorkOrderId, 1, 1)
	}
	if _, err := sb.Act(r.workOrders[0], sandbox.Action{Action: sandbox.ActMessage, Text: "Please call before arriving"}); err != nil {
		t.Fatal(err)
	}
	settled("note", r.workOrders[0], 2, 2)
	stop()
	evs, err := listAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	r.events = len(evs)
	return r
}

func listAll(t *testing.T, r *recorded) ([]store.Event, error) {
	cfg, err := config.Load(r.config)
	if err != nil {
		return nil, err
	}
	st, err := assemble.OpenStore(context.Background(), cfg, assemble.StoreOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer func() { _ = st.Close() }()
	return st.ListEvents(context.Background(), store.EventFilter{Limit: 1000})
}

func runReplayCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = replayMain(context.Background(), args, &o, &e, replayEnv{})
	return code, o.String(), e.String()
}

// changedRules: the second work order's NewWorkOrder no longer matches
// new-to-accept, messages become shadow, and a new catch-all rule matches
// everything.
func changedRules(r *recorded) string {
	return fmt.Sprintf(`
  - name: new-to-accept
    when: event.Action == "NewWorkOrder" && event.WorkOrderId != %d
    plugin: accept
  - name: messages-on-accepted
    when: event.Action == "MessageSent" && workOrder.Status == "Accepted"
    plugin: accept
    shadow: true
  - name: audit
    when: "true"
    plugin: accept
`, r.workOrders[1])
}

var (
	rfc3339Re = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
	uuidRe    = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
)

// normalize replaces what changes from run to run (times, message ids,
// config versions, which hash the temporary paths, and the paths).
func normalize(s string, r *recorded, versions map[string]string) string {
	for v, name := range versions {
		s = strings.ReplaceAll(s, v, name)
	}
	s = strings.ReplaceAll(s, r.dir, "<dir>")
	s = rfc3339Re.ReplaceAllString(s, "<time>")
	return uuidRe.ReplaceAllString(s, "<message-id>")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/gateway -run TestReplay -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (-update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func loadVersion(t *testing.T, path string) string {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Version
}

// TestReplay records events with a real gateway against the sandbox, then
// replays them under the same and under changed rules.
func TestReplay(t *testing.T) {
	r := record(t)
	if r.events != 3 {
		t.Fatalf("recorded %d events, want 3 (two NewWorkOrder, one MessageSent)", r.events)
	}
	changed := r.writeConfig(t, "changed.yaml", changedRules(r))
	versions := map[string]string{loadVersion(t, r.config): "<recorded-version>", loadVersion(t, changed): "<changed-version>"}

	t.Run("same config: nothing differs", func(t *testing.T) {
		code, out, errOut := runReplayCmd(t, "--config", r.config)
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d, stderr %q (no progress without a terminal)\n%s", code, errOut, out)
		}
		want := "replayed 3 events under config <recorded-version> (<dir>/config.yaml): 3 unchanged, 0 changed, 0 errors\n" +
			"recorded under config <recorded-version> (3)\n"
		if got := normalize(out, r, versions); got != want {
			t.Fatalf("output\n%s\nwant\n%s", got, want)
		}
	})

	t.Run("changed rules: diff per event", func(t *testing.T) {
		code, out, errOut := runReplayCmd(t, "--config", changed)
		if code != 1 || errOut != "" {
			t.Fatalf("exit %d, want 1; stderr %q\n%s", code, errOut, out)
		}
		golden(t, "replay-changed.txt", normalize(out, r, versions))
	})

	t.Run("json", func(t *testing.T) {
		code, out, _ := runReplayCmd(t, "--config", changed, "--format", "json")
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s", code, out)
		}
		var rep replay.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		if rep.Replayed != 3 || rep.Changed != 3 || rep.Unchanged != 0 || rep.Errors != 0 || len(rep.Events) != 3 || rep.WithPlugins {
			t.Fatalf("report counts: %+v", rep)
		}
		second := rep.Events[1]
		if second.WorkOrderID != r.workOrders[1] || strings.Join(second.Changes, ",") != "rules,actions" ||
			strings.Join(second.Recorded.Rules, ",") != "new-to-accept" || strings.Join(second.Replayed.Rules, ",") != "audit" {
			t.Fatalf("second event: %+v", second)
		}
		if len(second.ActionDiff) != 1 || second.ActionDiff[0].Change != "removed" || second.ActionDiff[0].Recorded.Kind != "accept" ||
			second.ActionDiff[0].Recorded.Status != "sent" {
			t.Fatalf("second event's action diff: %+v", second.ActionDiff)
		}
		msg := rep.Events[2]
		if len(msg.ActionDiff) != 2 || msg.ActionDiff[0].Change != "removed" || msg.ActionDiff[0].Recorded.Shadow ||
			msg.ActionDiff[1].Change != "added" || !msg.ActionDiff[1].Replayed.Shadow {
			t.Fatalf("shadowed note: %+v", msg.ActionDiff)
		}
		if rep.RecordedVersions[loadVersion(t, r.config)] != 3 || rep.ConfigVersion != loadVersion(t, changed) {
			t.Fatalf("versions: %v, %s", rep.RecordedVersions, rep.ConfigVersion)
		}
	})

	t.Run("with plugins", func(t *testing.T) {
		code, out, errOut := runReplayCmd(t, "--config", r.config, "--with-plugins")
		if code != 0 || !strings.Contains(errOut, "side effects") {
			t.Fatalf("same config with plugins: exit %d, stderr %q\n%s", code, errOut, out)
		}
		// Asked again, the plugin answers for the new audit rule too: every
		// event gains the audit rule's actions.
		code, out, _ = runReplayCmd(t, "--config", changed, "--with-plugins", "--format", "json")
		var rep replay.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 {
			t.Fatalf("exit %d, %v\n%s", code, err, out)
		}
		var added []string
		for _, e := range rep.Events {
			if len(e.Notes) > 0 {
				t.Errorf("event %d: notes with live plugins: %v", e.ID, e.Notes)
			}
			for _, d := range e.ActionDiff {
				if d.Change == "added" && d.Replayed.Rule == "audit" {
					added = append(added, d.Replayed.Kind)
				}
			}
		}
		if strings.Join(added, ",") != "accept,accept,note" {
			t.Fatalf("audit actions added: %v\n%s", added, out)
		}
	})

	t.Run("filters", func(t *testing.T) {
		for _, tc := range []struct {
			args          []string
			replayed, chg int
		}{
			{[]string{"--work-order", fmt.Sprint(r.workOrders[0])}, 2, 2},
			{[]string{"--action", "MessageSent"}, 1, 1},
			{[]string{"--limit", "1"}, 1, 1},
			{[]string{"--account", "main", "--since", "1h"}, 3, 3},
			{[]string{"--from", "2000-01-01", "--to", "2000-01-02"}, 0, 0},
		} {
			code, out, _ := runReplayCmd(t, append([]string{"--config", changed, "--format", "json"}, tc.args...)...)
			var rep replay.Report
			if err := json.Unmarshal([]byte(out), &rep); err != nil {
				t.Fatalf("%v: %v\n%s", tc.args, err, out)
			}
			wantCode := 0
			if tc.chg > 0 {
				wantCode = 1
			}
			if rep.Replayed != tc.replayed || rep.Changed != tc.chg || code != wantCode {
				t.Errorf("%v: exit %d, replayed %d, changed %d; want exit %d, %d, %d", tc.args, code, rep.Replayed, rep.Changed, wantCode, tc.replayed, tc.chg)
			}
		}
	})

	// A configuration kept elsewhere (its data_dir has no store) replays
	// the gateway's store named with --store.
	t.Run("store flag", func(t *testing.T) {
		other := t.TempDir()
		y, err := os.ReadFile(changed)
		if err != nil {
			t.Fatal(err)
		}
		elsewhere := filepath.Join(other, "new.yaml")
		if err := os.WriteFile(elsewhere, []byte(strings.Replace(string(y), "data_dir: "+r.dir, "data_dir: "+other, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		if code, _, errOut := runReplayCmd(t, "--config", elsewhere); code != 2 || !strings.Contains(errOut, "no such file") {
			t.Fatalf("without --store: exit %d, %q", code, errOut)
		}
		code, out, errOut := runReplayCmd(t, "--config", elsewhere, "--store", filepath.Join(r.dir, config.DefaultSQLiteFile), "--format", "json")
		var rep replay.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.Replayed != 3 || rep.Changed != 3 {
			t.Fatalf("with --store: exit %d, %v, %+v, %s", code, err, rep, errOut)
		}
	})

	t.Run("progress on a terminal", func(t *testing.T) {
		clock := time.Unix(0, 0)
		var o, e bytes.Buffer
		env := replayEnv{progress: true, progressOpts: &progress.Options{Enabled: true, Now: func() time.Time {
			clock = clock.Add(time.Second) // every update is due
			return clock
		}}}
		if code := replayMain(context.Background(), []string{"--config", r.config}, &o, &e, env); code != 0 {
			t.Fatalf("exit %d", code)
		}
		for _, want := range []string{"\rreplay: 1/3 events (33%)", "\rreplay: 2/3 events (66%)", "\rreplay: 3/3 events (100%)"} {
			if !strings.Contains(e.String(), want) {
				t.Errorf("stderr %q lacks %q", e.String(), want)
			}
		}
		if !strings.HasSuffix(e.String(), "\r") || !strings.Contains(o.String(), "3 unchanged") {
			t.Errorf("progress line not cleared before the summary: stderr %q, stdout %q", e.String(), o.String())
		}
		e.Reset()
		if code := replayMain(context.Background(), []string{"--config", r.config, "--quiet"}, &o, &e, env); code != 0 || e.Len() != 0 {
			t.Errorf("--quiet: exit %d, stderr %q", code, e.String())
		}
	})

	// Usage and configuration errors exit 2 with a message (events that
	// cannot be replayed are tested in pkg/core/replay).
	t.Run("usage errors", func(t *testing.T) {
		bad := filepath.Join(r.dir, "bad.yaml")
		if err := os.WriteFile(bad, []byte("rules: [\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{
			{},
			{"--config", r.config, "extra"},
			{"--config", r.config, "--format", "xml"},
			{"--config", r.config, "--since", "1h", "--from", "2026-01-01"},
			{"--config", r.config, "--since", "soon"},
			{"--config", r.config, "--from", "2026-01-02", "--to", "2026-01-01"},
			{"--config", r.config, "--work-order", "x"},
			{"--config", r.config, "--limit", "-1"},
			{"--config", r.config, "--account", "nope"},
			{"--config", bad},
			{"--config", filepath.Join(r.dir, "missing.yaml")},
		} {
			if code, out, errOut := runReplayCmd(t, args...); code != 2 || errOut == "" {
				t.Errorf("%v: exit %d, want 2 with a message; stdout %q", args, code, out)
			}
		}
	})
}

// A sandbox-only configuration runs on data_dir/sandbox.db (gateway run
// starts it fresh); replay reads the store gateway run uses.
func TestSandboxStorePath(t *testing.T) {
	cfg := &config.Config{DataDir: "/d", Store: config.StoreConfig{Driver: "sqlite"},
		Corrigo: config.CorrigoConfig{Accounts: map[string]config.Account{"a": {Sandbox: true}, "b": {Sandbox: true}}}}
	if got := sandboxStorePath(cfg, 2); got != "/d/sandbox.db" {
		t.Errorf("sandbox only: %q", got)
	}
	if got := sandboxStorePath(cfg, 1); got != "" {
		t.Errorf("a real account next to the sandbox: %q", got)
	}
	cfg.Store.DSN = "/d/wogate.db"
	if got := sandboxStorePath(cfg, 2); got != "/d/sandbox.db" {
		t.Errorf("the default DSN written out: %q", got)
	}
	cfg.Store.DSN = "/elsewhere.db"
	if got := sandboxStorePath(cfg, 2); got != "" {
		t.Errorf("a configured DSN: %q", got)
	}
}
