package main_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/plugins"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/pkg/pluginapi/plugintest"
)

var bin string

// TestMain builds the real plugin binary once.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "csv-export-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "csv-export")
	out, err := exec.CommandContext(context.Background(), "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build plugin: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// kv is an in-memory plugins.HostServices.
type kv struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *kv) GetWorkOrder(context.Context, string, int64) (*corrigo.WorkOrder, error) {
	return nil, pluginapi.ErrNotFound
}
func (s *kv) GetCustomerSettings(context.Context, string, int) (*corrigo.CustomerSettings, error) {
	return nil, pluginapi.ErrNotFound
}
func (s *kv) KVGet(_ context.Context, p, k string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[p+"/"+k]
	return v, ok, nil
}
func (s *kv) KVPut(_ context.Context, p, k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[p+"/"+k] = append([]byte(nil), v...)
	return nil
}
func (s *kv) KVDelete(_ context.Context, p, k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, p+"/"+k)
	return nil
}

func rows(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}

// TestRealBinaryWithManager launches the built plugin through the
// gateway's plugin manager, writes rows, kills the process with SIGKILL,
// and checks that after the supervisor's restart a redelivered event is
// still written once.
func TestRealBinaryWithManager(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := t.TempDir()
	host := &kv{m: map[string][]byte{}}
	m := plugins.NewManager(host, slog.New(slog.NewTextHandler(io.Discard, nil)),
		plugins.WithSupervisor(plugins.Supervisor{HealthInterval: 50 * time.Millisecond, BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond}))
	defer func() { _ = m.Close(context.Background()) }()

	bad, err := m.Validate(ctx, plugins.Spec{Name: "csv", Command: bin, Config: map[string]any{"dir": dir, "file": "{nope}.csv"}})
	if err != nil || len(bad) != 1 || bad[0].Key != "file" {
		t.Fatalf("validate: %v %v", bad, err)
	}

	spec := plugins.Spec{Name: "csv", Command: bin, Config: map[string]any{"dir": dir, "accept": true}}
	if err := m.Start(ctx, []plugins.Spec{spec}); err != nil {
		t.Fatal(err)
	}
	ev := func(i int) pluginapi.Event {
		e := plugintest.NewWorkOrderEvent("acme", corrigo.WorkOrder{WorkOrderId: int64(100 + i), WorkOrderNumber: fmt.Sprintf("WO-%d", 100+i)})
		e.ID = fmt.Sprintf("ev-%d", i)
		e.Header.ActionDate = corrigo.NewTime(time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC))
		return e
	}
	for i := range 5 {
		acts, err := m.HandleEvent(ctx, "csv", ev(i))
		if err != nil {
			t.Fatal(err)
		}
		if len(acts) != 1 || acts[0].Kind != pluginapi.KindAccept {
			t.Fatalf("actions = %+v", acts)
		}
	}
	file := filepath.Join(dir, "workorders-2024-06-01.csv")
	if n := len(rows(t, file)); n != 6 {
		t.Fatalf("%d records, want header + 5", n)
	}

	// Kill the plugin hard, as a crash would.
	pid := m.Health()["csv"].PID
	if pid == 0 {
		t.Fatal("no pid in health")
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Lose a mark too, as if the crash hit between row and mark.
	_ = host.KVDelete(ctx, "csv", "row:ev-4")
	deadline := time.Now().Add(20 * time.Second)
	for {
		h := m.Health()["csv"]
		if h.State == plugins.StateRunning && h.PID != pid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin not restarted: %+v", h)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := 3; i < 7; i++ { // ev-3, ev-4 redelivered; ev-5, ev-6 new
		if _, err := m.HandleEvent(ctx, "csv", ev(i)); err != nil {
			t.Fatal(err)
		}
	}
	recs := rows(t, file)
	if len(recs) != 8 {
		t.Fatalf("%d records after restart and redelivery, want header + 7", len(recs))
	}
	seen := map[string]bool{}
	for _, r := range recs[1:] {
		id := r[len(r)-1]
		if seen[id] {
			t.Fatalf("event %s written twice", id)
		}
		seen[id] = true
	}

	resp, acts, err := m.HandleInbound(ctx, "csv", pluginapi.InboundRequest{
		Method: "POST", Path: "/inbox", Body: []byte("work_order_id,action,comment\n100,note,parts on order\n"),
	})
	if err != nil || resp.Status != 200 || len(acts) != 1 || acts[0].Text != "parts on order" {
		t.Fatalf("inbound: %d %s %+v %v", resp.Status, resp.Body, acts, err)
	}
}

// TestBinaryPrintsConfigReference checks the flags used to generate docs.
func TestBinaryPrintsConfigReference(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), bin, "--config-markdown").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "| `dir` | string | yes |") {
		t.Fatalf("--config-markdown printed:\n%s", out)
	}
}
