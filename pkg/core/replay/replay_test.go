package replay_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/decide"
	"github.com/wogate/wogate/pkg/core/dispatch"
	"github.com/wogate/wogate/pkg/core/replay"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/postgres"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

const baseConfig = `data_dir: %s
corrigo:
  accounts:
    main: {sandbox: true}
plugins:
  erp: {command: /bin/true}
rules:
%s`

const recordedRules = `
  - name: new
    when: event.Action == "NewWorkOrder"
    plugin: erp
  - name: messages
    when: event.Action == "MessageSent" && workOrder.Status == "New"
    plugin: erp
`

func loadConfig(t *testing.T, dir, name, rules string) *config.Config {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(fmt.Sprintf(baseConfig, dir, rules)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadWith(p, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// erp is the plugin as the dispatcher called it when the events were
// recorded: it accepts new work orders (but fails permanently for work
// order 3) and notes messages.
type erp struct {
	mu    sync.Mutex
	calls int
}

func (p *erp) HandleEvent(ctx context.Context, plugin string, ev pluginapi.Event) ([]pluginapi.Action, error) {
	p.mu.Lock()
	p.calls++
	p.mu.Unlock()
	switch {
	case ev.Header.WorkOrderId == 3:
		return nil, &pluginapi.Error{Message: "ERP refuses work order 3"}
	case ev.Header.Action == corrigo.ActionNewWorkOrder:
		return []pluginapi.Action{{Kind: pluginapi.KindAccept, Comment: "on our way"}}, nil
	}
	return []pluginapi.Action{{Kind: pluginapi.KindNote, Text: "seen: " + string(ev.Header.Action)}}, nil
}

// liveCorrigo answers the dispatcher's work order fetches at record time.
type liveCorrigo struct{}

func (liveCorrigo) GetWorkOrder(ctx context.Context, account string, id int64) (*corrigo.WorkOrder, error) {
	return &corrigo.WorkOrder{WorkOrderId: id, Status: corrigo.StatusNew}, nil
}

func body(action string, wo int64, msg string) []byte {
	details := ""
	if action == "NewWorkOrder" {
		details = fmt.Sprintf(`,"Details":{"WorkOrderId":%d,"Number":"WO-%d","Status":"New"}`, wo, wo)
	}
	return fmt.Appendf(nil, `{"Text":"hello","Header":{"WorkOrderId":%d,"Action":%q,"ActionDate":"2026-03-02T10:00:00Z","ApiVersion":"1.0","MessageId":%q}%s}`,
		wo, action, msg, details)
}

// recordStore has the real dispatcher handle events into a SQLite store,
// one at a time, as a running gateway would; then one more event arrives
// and stays pending.
func recordStore(t *testing.T, cfg *config.Config, open opener) {
	t.Helper()
	ctx := context.Background()
	st := open(t, false)
	defer func() { _ = st.Close() }()
	eval, err := decide.NewEvaluator(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := dispatch.New(dispatch.Options{Store: st, Evaluator: eval, Plugins: &erp{}, WorkOrders: liveCorrigo{},
		Classify: decide.ClassifyPluginError, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	for i, e := range []struct {
		action string
		wo     int64
	}{
		{"NewWorkOrder", 1}, // accepted
		{"MessageSent", 2},  // the rule reads work order 2, whose NewWorkOrder is not stored
		{"NewWorkOrder", 3}, // the plugin fails: dead letter
		{"NewWorkOrder", 1}, // the same work order under another MessageId: skipped as a duplicate
	} {
		ev := &store.Event{Account: "main", MessageID: fmt.Sprintf("m%d", i+1), WorkOrderID: e.wo, Action: e.action,
			Source: "webhook", Body: body(e.action, e.wo, fmt.Sprintf("m%d", i+1))}
		if _, err := st.InsertEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
		d.Wake()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := st.GetEvent(ctx, ev.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != store.EventPending {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("event %d not handled", ev.ID)
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(2 * time.Millisecond) // distinct handled_at
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := st.InsertEvent(ctx, &store.Event{Account: "main", MessageID: "m5", WorkOrderID: 5, Action: "NewWorkOrder",
		Source: "webhook", Body: body("NewWorkOrder", 5, "m5")}); err != nil {
		t.Fatal(err)
	}
}

// opener opens the store under test, read-only or not.
type opener func(t *testing.T, readOnly bool) store.Store

func sqliteStore(t *testing.T) opener {
	path := filepath.Join(t.TempDir(), "wogate.db")
	return func(t *testing.T, readOnly bool) store.Store {
		st, err := sqlite.Open(context.Background(), path, sqlite.Options{ReadOnly: readOnly})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
}

func postgresStore(t *testing.T) opener {
	dsn, set := os.LookupEnv("WOGATE_TEST_POSTGRES")
	if !set || dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	schema := fmt.Sprintf("wogate_replay_%d", time.Now().UnixNano())
	probe, err := postgres.Open(context.Background(), dsn, postgres.Options{Schema: schema})
	if err != nil {
		if set {
			t.Fatalf("WOGATE_TEST_POSTGRES=%s is set but unusable: %v", dsn, err)
		}
		t.Skipf("PostgreSQL not reachable (set WOGATE_TEST_POSTGRES to require it): %v", err)
	}
	_ = probe.Close()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, dsn); err == nil {
			_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			_ = conn.Close(ctx)
		}
	})
	return func(t *testing.T, readOnly bool) store.Store {
		st, err := postgres.Open(context.Background(), dsn, postgres.Options{Schema: schema, ReadOnly: readOnly})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
}

func run(t *testing.T, cfg *config.Config, open opener) *replay.Report {
	t.Helper()
	st := open(t, true)
	defer func() { _ = st.Close() }()
	if _, err := st.InsertEvent(context.Background(), &store.Event{Account: "main", MessageID: "ro", Body: []byte(`{}`)}); err == nil {
		t.Fatal("the read-only store took an insert")
	}
	var progress []int64
	rep, err := replay.Run(context.Background(), replay.Options{Config: cfg, Source: st, PageSize: 2,
		Progress: func(done, total int64) { progress = append(progress, done, total) }})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(progress) != "[1 5 2 5 3 5 4 5 5 5]" {
		t.Errorf("progress calls (done, total): %v", progress)
	}
	return rep
}

func TestReplayOnSQLite(t *testing.T)   { testReplay(t, sqliteStore(t)) }
func TestReplayOnPostgres(t *testing.T) { testReplay(t, postgresStore(t)) }

func testReplay(t *testing.T, open opener) {
	dir := t.TempDir()
	cfg := loadConfig(t, dir, "config.yaml", recordedRules)
	recordStore(t, cfg, open)

	t.Run("same rules", func(t *testing.T) {
		rep := run(t, cfg, open)
		// The accepted event, the dead letter (its plugin error answered as
		// recorded) and the duplicate (only events handled before it count)
		// are unchanged; the message cannot be replayed; the pending event
		// is skipped.
		if rep.Replayed != 4 || rep.Unchanged != 3 || rep.Changed != 0 || rep.Errors != 1 || rep.Skipped != 1 || rep.OK() {
			t.Fatalf("report: %+v", rep)
		}
		e := rep.Events[0]
		if e.Action != "MessageSent" || e.WorkOrderID != 2 || !strings.Contains(e.Error, "reads work order 2") ||
			!strings.Contains(e.Error, "NewWorkOrder") {
			t.Fatalf("error event: %+v", e)
		}
	})

	t.Run("rule removed", func(t *testing.T) {
		changed := loadConfig(t, dir, "changed.yaml", `
  - name: messages
    when: event.Action == "MessageSent"
    plugin: erp
`)
		rep := run(t, changed, open)
		if rep.Replayed != 4 || rep.Changed != 2 || rep.Errors != 0 || rep.Unchanged != 2 {
			t.Fatalf("report: %+v", rep)
		}
		byWO := map[int64][]replay.Event{}
		for _, e := range rep.Events {
			byWO[e.WorkOrderID] = append(byWO[e.WorkOrderID], e)
		}
		// Work order 1: the accept would not be made.
		acc := byWO[1][0]
		if strings.Join(acc.Changes, ",") != "rules,actions" || len(acc.ActionDiff) != 1 || acc.ActionDiff[0].Change != "removed" ||
			acc.ActionDiff[0].Recorded.Kind != "accept" || acc.ActionDiff[0].Recorded.Status != "pending" {
			t.Fatalf("work order 1: %+v", acc)
		}
		// The duplicate NewWorkOrder: no rule matches it now either, but
		// the duplicate check still skips it (it was skipped before too).
		if len(byWO[1]) != 1 {
			t.Fatalf("the duplicate changed: %+v", byWO[1])
		}
		// Work order 2: the message now matches without reading the work
		// order, and the plugin answers what it answered.
		if m := byWO[2]; len(m) != 0 {
			t.Fatalf("work order 2 changed: %+v", m)
		}
		// Work order 3: no rule calls the failing plugin: done, not dead.
		dead := byWO[3][0]
		if strings.Join(dead.Changes, ",") != "outcome,rules" || dead.Recorded.Status != "dead" || dead.Replayed.Status != "done" ||
			!strings.Contains(dead.Recorded.Error, "ERP refuses") {
			t.Fatalf("work order 3: %+v", dead)
		}
	})
}
