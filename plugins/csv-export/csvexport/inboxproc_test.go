package csvexport

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/pkg/pluginapi/plugintest"
)

// submitHost is a fake host that also offers SubmitActions with the
// contract's idempotency: a repeated key is a no-op.
type submitHost struct {
	*plugintest.Host

	mu       sync.Mutex
	queued   map[string]submitted // key → what was queued
	order    []string             // keys in queue order
	calls    int
	failAt   int   // the failAt-th call fails with a retryable error (before queuing)
	loseAt   int   // the loseAt-th call queues, then reports failure (answer lost)
	refuseWO int64 // actions for this work order are refused permanently
	failAll  error // every call fails with this
}

type submitted struct {
	Account string
	Actions []pluginapi.Action
}

func newSubmitHost() *submitHost {
	return &submitHost{Host: plugintest.NewHost(), queued: map[string]submitted{}}
}

func (h *submitHost) SubmitActions(_ context.Context, account, key string, actions []pluginapi.Action) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if h.failAll != nil {
		return h.failAll
	}
	if h.calls == h.failAt {
		return pluginapi.RetryLater(errors.New("gateway restarting"))
	}
	for _, a := range actions {
		if a.WorkOrderID == h.refuseWO {
			return pluginapi.Permanent(errors.New("work order is closed"))
		}
	}
	if _, dup := h.queued[key]; !dup {
		h.queued[key] = submitted{account, actions}
		h.order = append(h.order, key)
	}
	if h.calls == h.loseAt {
		return errors.New("connection reset")
	}
	return nil
}

func (h *submitHost) all() []submitted {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]submitted, len(h.order))
	for i, k := range h.order {
		out[i] = h.queued[k]
	}
	return out
}

const goodCSV = "work_order_id,action,time,comment,amount,account\n" +
	"4711,check_in,2024-05-01 08:00,on site,,acme\n" +
	"4711,note,,parts ordered,,acme\n" +
	"4712,quote,,pump,1999.99,acme\n" +
	"4713,check_out,,done,,\n" + // account from the remembered work order
	"4714,accept,,,,\n" // account from inbox_account
const badRow = "4715,teleport,,,,acme\n"

func inboxConfig(dir, inbox string) map[string]any {
	return map[string]any{"dir": dir, "inbox": inbox, "inbox_poll": "1h", "inbox_settle": "0s", "inbox_account": "fallback"}
}

// manualInbox configures a plugin whose poller is idle (poll 1h), so the
// test drives scans itself.
func manualInbox(t *testing.T, h pluginapi.Host) (*Plugin, string) {
	t.Helper()
	base := t.TempDir()
	inbox := filepath.Join(base, "inbox")
	return manual(t, h, inboxConfig(filepath.Join(base, "out"), inbox)), inbox
}

func manual(t *testing.T, h pluginapi.Host, cfg map[string]any) *Plugin {
	t.Helper()
	return configuredPlugin(t, &Plugin{manualInbox: true, Now: time.Now}, h, cfg)
}

func drop(t *testing.T, inbox, name, content string) {
	t.Helper()
	tmp := filepath.Join(inbox, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(inbox, name)); err != nil {
		t.Fatal(err)
	}
}

func rememberWO(t *testing.T, h pluginapi.Host, id int64, account string) {
	t.Helper()
	b, _ := json.Marshal(woCache{Account: account})
	var wc woCache
	_ = json.Unmarshal(b, &wc)
	wc.WorkOrder.WorkOrderId = id
	b, _ = json.Marshal(wc)
	if err := h.KVPut(context.Background(), woKey(id), b); err != nil {
		t.Fatal(err)
	}
}

func TestInboxFileApplied(t *testing.T) {
	h := newSubmitHost()
	rememberWO(t, h, 4713, "remembered")
	p, inbox := manualInbox(t, h)
	drop(t, inbox, "updates.csv", goodCSV+badRow)
	fos, err := p.inbox.scan(context.Background(), h, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(fos) != 1 || fos[0].Actions != 5 || fos[0].Rejected != 1 {
		t.Fatalf("outcome = %+v", fos)
	}
	got := h.all()
	accounts := []string{}
	for _, s := range got {
		accounts = append(accounts, s.Account+":"+string(s.Actions[0].Kind))
	}
	if strings.Join(accounts, " ") != "acme:check_in acme:note acme:quote remembered:check_out fallback:accept" {
		t.Fatalf("queued = %v", accounts)
	}
	if _, err := os.Stat(filepath.Join(inbox, "updates.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("file still in the inbox")
	}
	if b, err := os.ReadFile(filepath.Join(inbox, "processed", "updates.csv")); err != nil || string(b) != goodCSV+badRow {
		t.Fatalf("processed copy: %q %v", b, err)
	}
	rej, err := os.ReadFile(filepath.Join(inbox, "rejected", "updates.csv"))
	if err != nil || !strings.Contains(string(rej), "4715,teleport,,,,acme,") || !strings.Contains(string(rej), "line 7: unknown action") {
		t.Fatalf("rejected file = %q %v", rej, err)
	}
	rep, err := os.ReadFile(filepath.Join(inbox, "rejected", "updates.csv.errors.csv"))
	if err != nil || !strings.Contains(string(rep), "updates.csv,7,4715,teleport,") {
		t.Fatalf("errors report = %q %v", rep, err)
	}
	logged := false
	for _, l := range h.Logs() {
		if l.Message == "inbox row rejected" && l.Attrs["line"] == int64(7) {
			logged = true
		}
	}
	if !logged {
		t.Fatalf("rejected row not logged with its line: %+v", h.Logs())
	}

	// The same content dropped again is not applied twice.
	drop(t, inbox, "updates.csv", goodCSV+badRow)
	fos, err = p.inbox.scan(context.Background(), h, "")
	if err != nil || len(fos) != 1 || !fos[0].Already {
		t.Fatalf("re-drop: %+v %v", fos, err)
	}
	if len(h.all()) != 5 {
		t.Fatalf("re-drop queued more actions: %d", len(h.all()))
	}
	entries, _ := os.ReadDir(filepath.Join(inbox, "processed"))
	if len(entries) != 2 {
		t.Fatalf("processed/ has %d files, want the original and the re-drop side by side", len(entries))
	}
}

// TestInboxCrashMidFile: the gateway goes away in the middle of a file
// (and once loses an answer after queuing). The next scans resume where
// the file was left; every row is queued exactly once.
func TestInboxCrashMidFile(t *testing.T) {
	for name, tweak := range map[string]func(h *submitHost){
		"retryable failure at row 3": func(h *submitHost) { h.failAt = 3 },
		"answer lost at row 2":       func(h *submitHost) { h.loseAt = 2 },
	} {
		t.Run(name, func(t *testing.T) {
			h := newSubmitHost()
			rememberWO(t, h, 4713, "remembered")
			tweak(h)
			p, inbox := manualInbox(t, h)
			drop(t, inbox, "u.csv", goodCSV)
			if _, err := p.inbox.scan(context.Background(), h, ""); err == nil {
				t.Fatal("scan with a failing gateway reported no error")
			}
			if _, err := os.Stat(filepath.Join(inbox, "u.csv")); err != nil {
				t.Fatal("file left the inbox although it was not finished")
			}
			// "Restart": a new plugin process on the same KV and folders.
			p2 := manual(t, h, inboxConfig(p.cfg.Dir, inbox))
			if _, err := p2.inbox.scan(context.Background(), h, ""); err != nil {
				t.Fatal(err)
			}
			got := h.all()
			if len(got) != 5 {
				t.Fatalf("%d actions queued, want 5 (each row once)", len(got))
			}
			seen := map[string]bool{}
			for _, s := range got {
				k := string(s.Actions[0].Kind) + "/" + s.Account
				if seen[k] {
					t.Fatalf("%s queued twice", k)
				}
				seen[k] = true
			}
			if _, err := os.Stat(filepath.Join(inbox, "processed", "u.csv")); err != nil {
				t.Fatal("finished file not moved to processed/")
			}
		})
	}
}

func TestInboxGatewayRefusesRow(t *testing.T) {
	h := newSubmitHost()
	h.refuseWO = 4712
	p, inbox := manualInbox(t, h)
	drop(t, inbox, "u.csv", goodCSV)
	fos, err := p.inbox.scan(context.Background(), h, "")
	if err != nil {
		t.Fatal(err)
	}
	if fos[0].Actions != 4 || fos[0].Rejected != 1 {
		t.Fatalf("outcome %+v", fos[0])
	}
	rep, _ := os.ReadFile(filepath.Join(inbox, "rejected", "u.csv.errors.csv"))
	if !strings.Contains(string(rep), "u.csv,4,4712,quote,refused by the gateway: work order is closed") {
		t.Fatalf("report = %s", rep)
	}
}

func TestInboxWholeFileRejected(t *testing.T) {
	h := newSubmitHost()
	p, inbox := manualInbox(t, h)
	drop(t, inbox, "typo.csv", "work_order_id,action,comemnt\n1,note,hi\n")
	if _, err := p.inbox.scan(context.Background(), h, ""); err != nil {
		t.Fatal(err)
	}
	if len(h.all()) != 0 {
		t.Fatal("actions from a file with an unknown column")
	}
	if _, err := os.Stat(filepath.Join(inbox, "rejected", "typo.csv")); err != nil {
		t.Fatal("rejected file not moved to rejected/")
	}
	rep, _ := os.ReadFile(filepath.Join(inbox, "rejected", "typo.csv.errors.csv"))
	if !strings.Contains(string(rep), `unknown column ""comemnt""`) {
		t.Fatalf("report = %s", rep)
	}
}

func TestInboxTooBig(t *testing.T) {
	h := newSubmitHost()
	base := t.TempDir()
	inbox := filepath.Join(base, "in")
	cfg := inboxConfig(filepath.Join(base, "out"), inbox)
	cfg["inbox_max_bytes"] = 64
	p := manual(t, h, cfg)
	drop(t, inbox, "big.csv", goodCSV)
	if _, err := p.inbox.scan(context.Background(), h, ""); err != nil {
		t.Fatal(err)
	}
	rep, _ := os.ReadFile(filepath.Join(inbox, "rejected", "big.csv.errors.csv"))
	if !strings.Contains(string(rep), "larger than inbox_max_bytes") || len(h.all()) != 0 {
		t.Fatalf("report = %s, queued %d", rep, len(h.all()))
	}
}

func TestInboxSkipsUnsettledAndForeignFiles(t *testing.T) {
	h := newSubmitHost()
	base := t.TempDir()
	inbox := filepath.Join(base, "in")
	cfg := inboxConfig(filepath.Join(base, "out"), inbox)
	cfg["inbox_settle"] = "1h"
	p := manual(t, h, cfg)
	drop(t, inbox, "fresh.csv", goodCSV)
	_ = os.WriteFile(filepath.Join(inbox, "notes.txt"), []byte("x"), 0o644)
	_ = os.WriteFile(filepath.Join(inbox, "~$lock.csv"), []byte("x"), 0o644)
	old := time.Now().Add(-2 * time.Hour)
	_ = os.Chtimes(filepath.Join(inbox, "~$lock.csv"), old, old)
	fos, err := p.inbox.scan(context.Background(), h, "")
	if err != nil || len(fos) != 0 {
		t.Fatalf("scan picked up %+v %v", fos, err)
	}
	_ = os.Chtimes(filepath.Join(inbox, "fresh.csv"), old, old)
	fos, err = p.inbox.scan(context.Background(), h, "")
	if err != nil || len(fos) != 1 {
		t.Fatalf("settled file not picked up: %+v %v", fos, err)
	}
}

// TestInboxPoller runs the real poller: a file dropped into the inbox is
// applied without anyone calling scan.
func TestInboxPoller(t *testing.T) {
	h := newSubmitHost()
	base := t.TempDir()
	inbox := filepath.Join(base, "in")
	cfg := inboxConfig(filepath.Join(base, "out"), inbox)
	cfg["inbox_poll"] = "20ms"
	p := configuredPlugin(t, New(), h, cfg)
	drop(t, inbox, "u.csv", goodCSV)
	deadline := time.Now().Add(10 * time.Second)
	for len(h.all()) < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("poller queued %d of 5 actions", len(h.all()))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestInboxWithoutSubmitter: the plain SDK host has no SubmitActions; the
// plugin says so and serves the inbound paths instead.
func TestInboxWithoutSubmitter(t *testing.T) {
	h := plugintest.NewHost()
	base := t.TempDir()
	inbox := filepath.Join(base, "in")
	p := configuredPlugin(t, New(), h, inboxConfig(filepath.Join(base, "out"), inbox))
	warned := false
	for _, l := range h.Logs() {
		if strings.Contains(l.Message, "SubmitActions") {
			warned = true
		}
	}
	if !warned {
		t.Fatal("no warning that the inbox cannot send on its own")
	}
	drop(t, inbox, "u.csv", goodCSV+badRow)
	ctx := context.Background()
	resp, acts, err := p.HandleInbound(ctx, pluginapi.InboundRequest{Method: "POST", Path: "/scan"})
	if err != nil || resp.Status != 200 || len(acts) != 5 {
		t.Fatalf("scan: %d %s, %d actions, %v", resp.Status, resp.Body, len(acts), err)
	}
	// Scanned again: nothing left.
	_, acts, _ = p.HandleInbound(ctx, pluginapi.InboundRequest{Method: "POST", Path: "/scan"})
	if len(acts) != 0 {
		t.Fatalf("second scan returned %d actions", len(acts))
	}
}

func TestInboundUpload(t *testing.T) {
	h := plugintest.NewHost()
	p := configured(t, h, map[string]any{"dir": t.TempDir()}) // no inbox folder needed
	ctx := context.Background()
	req := pluginapi.InboundRequest{Method: "POST", Path: "/inbox", Body: []byte(goodCSV + badRow)}
	req.Query = map[string][]string{"name": {"today.csv"}}
	resp, acts, err := p.HandleInbound(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var sum inboundSummary
	if err := json.Unmarshal(resp.Body, &sum); err != nil {
		t.Fatal(err)
	}
	if resp.Status != 200 || len(acts) != 5 || sum.Actions != 5 || sum.Rejected != 1 || !strings.Contains(sum.Report, "today.csv,7,4715,teleport") {
		t.Fatalf("upload: %d %+v, %d actions", resp.Status, sum, len(acts))
	}
	// Same content again: not applied twice.
	resp, acts, _ = p.HandleInbound(ctx, req)
	_ = json.Unmarshal(resp.Body, &sum)
	if len(acts) != 0 || !sum.Already {
		t.Fatalf("second upload: %s, %d actions", resp.Body, len(acts))
	}
	resp, _, _ = p.HandleInbound(ctx, pluginapi.InboundRequest{Method: "POST", Path: "/inbox", Body: []byte("nope\n")})
	if resp.Status != 422 {
		t.Fatalf("bad file: %d %s", resp.Status, resp.Body)
	}
	resp, _, _ = p.HandleInbound(ctx, pluginapi.InboundRequest{Method: "GET", Path: "/inbox"})
	if resp.Status != 405 {
		t.Fatalf("GET: %d", resp.Status)
	}
	resp, _, _ = p.HandleInbound(ctx, pluginapi.InboundRequest{Method: "POST", Path: "/scan"})
	if resp.Status != 404 {
		t.Fatalf("scan without inbox: %d", resp.Status)
	}
}

func TestInboundEvent(t *testing.T) {
	h := plugintest.NewHost()
	p := configured(t, h, map[string]any{"dir": t.TempDir()})
	ctx := context.Background()
	ev := pluginapi.Event{ID: "900", Account: "acme", Source: "inbound", Body: []byte(goodCSV + "4716,note,,hi,,other\n")}
	acts, err := p.HandleEvent(ctx, ev)
	if err != nil || len(acts) != 5 {
		t.Fatalf("%d actions, %v", len(acts), err)
	}
	// Redelivered: the same actions again (the gateway's outbox dedups).
	again, err := p.HandleEvent(ctx, ev)
	if err != nil || len(again) != 5 {
		t.Fatalf("redelivery: %d actions, %v", len(again), err)
	}
	// The same content as another event: not applied again.
	ev2 := ev
	ev2.ID = "901"
	if acts, _ := p.HandleEvent(ctx, ev2); len(acts) != 0 {
		t.Fatalf("duplicate content as a new event gave %d actions", len(acts))
	}
	_, err = p.HandleEvent(ctx, pluginapi.Event{ID: "902", Account: "acme", Source: "inbound", Body: []byte("x,y\n")})
	var pe *pluginapi.Error
	if !errors.As(err, &pe) || pe.Retryable {
		t.Fatalf("bad inbound file: %v, want permanent", err)
	}
}
