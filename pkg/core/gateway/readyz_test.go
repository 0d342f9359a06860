package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wogate/wogate/internal/testhttp"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// diskFull makes the real store's writes fail as a full disk does, while
// reads and Ping keep working.
type diskFull struct {
	store.Store
	full *atomic.Bool
}

var errDiskFull = errors.New("database or disk is full (SQLITE_FULL)")

func (d diskFull) InsertEvent(ctx context.Context, e *store.Event) (bool, error) {
	if d.full.Load() {
		return false, errDiskFull
	}
	return d.Store.InsertEvent(ctx, e)
}

func (d diskFull) SetWatermark(ctx context.Context, name, value string) error {
	if d.full.Load() {
		return errDiskFull
	}
	return d.Store.SetWatermark(ctx, name, value)
}

func (d diskFull) AppendLog(ctx context.Context, entries ...store.LogEntry) error {
	if d.full.Load() {
		return errDiskFull
	}
	return d.Store.AppendLog(ctx, entries...)
}

// TestReadyzReflectsFailingWrites: with every write failing (and Ping
// fine) /readyz turns 503 after the first failed write, without a word
// of detail on the public listener; once writes work again its own probe
// write makes it ready with no other traffic.
func TestReadyzReflectsFailingWrites(t *testing.T) {
	var full atomic.Bool
	w := newWorld(t, worldOpts{wrapStore: func(st store.Store) store.Store { return diskFull{Store: st, full: &full} }})
	readyz := func() (int, string) {
		resp, err := testhttp.Get(t.Context(), "http://"+w.addr+"/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := readyz(); code != 200 {
		t.Fatalf("readyz before: %d %s", code, body)
	}
	full.Store(true)
	w.sb.SetWebhookURL("")
	wo := w.create()
	tok, err := w.sb.WebhookToken()
	if err != nil {
		t.Fatal(err)
	}
	// A webhook while the disk is full gets 503 (CorrigoPro retries it).
	ns := w.sb.Notifications(sandbox.NotificationFilter{WorkOrderId: wo})
	req, _ := http.NewRequestWithContext(t.Context(), "POST", "http://"+w.addr+"/webhooks/corrigo/main", strings.NewReader(string(ns[0].Body)))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("webhook with a full disk: %d", resp.StatusCode)
	}
	code, body := readyz()
	var ans map[string]any
	if err := json.Unmarshal([]byte(body), &ans); err != nil || code != 503 || len(ans) != 1 || ans["status"] != "unavailable" {
		t.Fatalf("readyz with failing writes: %d %s, want 503 with no details", code, body)
	}
	if strings.Contains(body, "full") || strings.Contains(body, "store") {
		t.Fatalf("public readyz leaks details: %s", body)
	}
	if p := strings.Join(w.g.problems(t.Context()), "; "); !strings.Contains(p, "the last write failed") || !strings.Contains(p, "disk is full") {
		t.Fatalf("problems %q, want the failed write", p)
	}
	// Still unready with no traffic while the disk stays full (the probe
	// write fails too).
	time.Sleep(probeEvery + 100*time.Millisecond) // waits out the probe interval (a behaviour, not a timing claim)
	if code, _ := readyz(); code != 503 {
		t.Fatalf("readyz after a failed probe: %d", code)
	}
	// Space again: the probe write succeeds and readiness returns.
	full.Store(false)
	w.waitFor("ready again after the disk has space", func() bool {
		code, _ := readyz()
		return code == 200
	})
}
