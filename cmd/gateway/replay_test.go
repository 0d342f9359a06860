package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
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
	dir, config         string
	base, oauth, cert   string
	plugin              string
	workOrders          []int64
	events, sentActions int
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
	sb, err := sandbox.New(sandbox.Options{WebhookRetry: true, TimeScale: 0.0001})
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
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
	st, err := gateway.OpenStoreReadOnly(context.Background(), cfg, "")
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return st.ListEvents(context.Background(), store.EventFilter{Limit: 1000})
}

func runReplayCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = replayMain(context.Background(), args, &o, &e, replayEnv{})
	return code, o.String(), e.String()
}

func TestReplayExplore(t *testing.T) {
	r := record(t)
	evs, _ := listAll(t, r)
	for _, e := range evs {
		t.Logf("%d %s %d %s %s %s", e.ID, e.Account, e.WorkOrderID, e.Action, e.Status, e.Decision)
	}
	code, out, errOut := runReplayCmd(t, "--config", r.config)
	t.Logf("same: %d\n%s\n%s", code, out, errOut)
	changed := r.writeConfig(t, "changed.yaml", `
  - name: new-to-accept
    when: event.Action == "NewWorkOrder" && event.WorkOrderId != `+fmt.Sprint(r.workOrders[1])+`
    plugin: accept
  - name: messages-on-accepted
    when: event.Action == "MessageSent" && workOrder.Status == "Accepted"
    plugin: accept
    shadow: true
  - name: audit
    when: "true"
    plugin: accept
`)
	code, out, errOut = runReplayCmd(t, "--config", changed)
	t.Logf("changed: %d\n%s\n%s", code, out, errOut)
	code, out, errOut = runReplayCmd(t, "--config", r.config, "--with-plugins")
	t.Logf("plugins: %d\n%s\n%s", code, out, errOut)
	_ = io.Discard
	_ = regexp.MustCompile
	_ = json.Marshal
	_ = replay.Report{}
	_ = progress.Options{}
}
