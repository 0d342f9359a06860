package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wogate/wogate/internal/testplugin"
	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/gateway"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// BenchmarkEndToEnd measures the whole pipeline: the sandbox fires a
// NewWorkOrder webhook, the gateway verifies and stores it, dispatch
// evaluates one rule and calls one plugin (a real process over gRPC), the
// accept action goes through the outbox and egress back to the sandbox,
// which records the work order as Accepted. Latency is per work order, from
// the notification's creation in the sandbox to the accept in its history.
//
//	go test ./bench -run '^$' -bench EndToEnd -benchtime 20000x
func BenchmarkEndToEnd(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("sqlite-"+sync, func(b *testing.B) { benchEndToEnd(b, sync, "", 0) })
	}
	b.Run("postgres", func(b *testing.B) {
		dsn := os.Getenv("WOGATE_TEST_POSTGRES")
		if dsn == "" {
			b.Skip("set WOGATE_TEST_POSTGRES to include PostgreSQL")
		}
		benchEndToEnd(b, "", dsn, 0)
	})
}

// BenchmarkEndToEndPaced sends work orders at a fixed rate well below
// capacity, so the latency percentiles are the pipeline's own and not time
// spent queued behind a burst (BenchmarkEndToEnd fires everything at once).
//
//	go test ./bench -run '^$' -bench EndToEndPaced -benchtime 2000x
func BenchmarkEndToEndPaced(b *testing.B) {
	for _, rate := range []int{50, 200} {
		b.Run(fmt.Sprintf("sqlite-FULL/%d-per-s", rate), func(b *testing.B) { benchEndToEnd(b, "FULL", "", rate) })
	}
}

func benchEndToEnd(b *testing.B, synchronous, pgDSN string, rate int) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sb, err := sandbox.New(sandbox.Options{WebhookConcurrency: 64, TimeScale: 0.001,
		UsageLogSize: 1000, NotificationKeep: 1000, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := sb.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = sb.Close() }()

	dir := b.TempDir()
	certFile := filepath.Join(dir, "corrigo.pem")
	if err := os.WriteFile(certFile, sb.CertificatePEM(), 0o600); err != nil {
		b.Fatal(err)
	}
	plugin, err := testplugin.BuildErr("accept")
	if err != nil {
		b.Fatal(err)
	}
	storeYAML := ""
	if pgDSN != "" {
		storeYAML = fmt.Sprintf("store: {driver: postgres, dsn: %q}\n", pgDSN)
	}
	yaml := fmt.Sprintf(`listen: 127.0.0.1:1
data_dir: %s
%scorrigo:
  accounts:
    main:
      base_url: %s
      oauth_url: %s
      client_id: sandbox
      client_secret: sandbox-secret
      webhook: {path: /webhooks/corrigo/main, certificate: "file:%s"}
      polling: {enabled: false}
plugins:
  accept: {command: %s, timeout: 10s, concurrency: 64, config: {mode: quiet}}
rules:
  - name: new-work-orders
    when: event.Action == "NewWorkOrder"
    plugin: accept
admin: {listen: ""}
`, dir, storeYAML, sb.BaseURL(), sb.OAuthURL(), certFile, plugin)
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := (&net.ListenConfig{}).Listen(b.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &timedStore{}
	opts := gateway.Options{Logger: quiet, Listener: ln, SQLiteSynchronous: synchronous}
	if pgDSN != "" {
		opts.PostgresSchema = pgSchema(b, pgDSN)
	}
	if os.Getenv("WOGATE_BENCH_TRACE") != "" {
		opts.WrapStore = func(s store.Store) store.Store { ts.Store = s; return ts }
		defer ts.report(os.Stderr)
	}
	g, err := gateway.New(ctx, cfg, opts)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	sb.SetWebhookURL("http://" + ln.Addr().String() + "/webhooks/corrigo/main")

	// Warm up: token, plugin connection, prepared statements.
	warm, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{Type: corrigo.TypeRequest})
	if err != nil {
		b.Fatal(err)
	}
	waitAccepted(b, sb, []int64{warm.WorkOrderId}, time.Minute)

	if os.Getenv("WOGATE_BENCH_TRACE") != "" {
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			t0 := time.Now()
			for {
				select {
				case <-stop:
					return
				case <-time.After(250 * time.Millisecond):
				}
				st := g.Stats()
				var ws sqlite.WriterStats
				if s, ok := ts.Store.(*sqlite.Store); ok {
					ws = s.WriterStats()
				}
				fmt.Fprintf(os.Stderr, "%6.2fs sandbox-pending=%d webhooks=%d dispatched=%d sent=%d commits=%d writes=%d\n", time.Since(t0).Seconds(),
					sb.PendingNotifications(), st.Webhooks["accepted"], st.Dispatch.Done, st.Egress["sent"], ws.Commits, ws.Ops)
			}
		}()
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	start := time.Now()
	ids := make([]int64, b.N)
	created := make([]time.Time, b.N)
	var wg sync.WaitGroup
	creators := 8
	var tick <-chan time.Time
	if rate > 0 {
		creators = 1
		t := time.NewTicker(time.Second / time.Duration(rate))
		defer t.Stop()
		tick = t.C
	}
	for c := range creators {
		wg.Go(func() {
			for i := c; i < b.N; i += creators {
				if tick != nil {
					<-tick
				}
				created[i] = time.Now()
				wo, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{Type: corrigo.TypeRequest})
				if err != nil {
					b.Error(err)
					return
				}
				ids[i] = wo.WorkOrderId
			}
		})
	}
	wg.Wait()
	accepted := waitAccepted(b, sb, ids, 10*time.Minute)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	// Throughput runs to the last accept the sandbox recorded, not to when
	// the harness noticed it.
	var last time.Time
	for _, t := range accepted {
		if t.After(last) {
			last = t
		}
	}
	elapsed := last.Sub(start)

	if os.Getenv("WOGATE_BENCH_TRACE") != "" {
		for _, id := range []int64{ids[0], ids[len(ids)/2], ids[len(ids)-1]} {
			evs, _ := g.Store().EventsForWorkOrder(context.Background(), "main", id)
			acts, _ := g.Store().ActionsForWorkOrder(context.Background(), "main", id)
			for _, e := range evs {
				fmt.Fprintf(os.Stderr, "wo %d: received %s handled %s (+%v) decision %s\n", id, e.ReceivedAt.Format("15:04:05.000"),
					e.HandledAt.Format("15:04:05.000"), e.HandledAt.Sub(e.ReceivedAt), e.Decision)
			}
			for _, a := range acts {
				fmt.Fprintf(os.Stderr, "   action created %s sent %s (+%v)\n", a.CreatedAt.Format("15:04:05.000"), a.SentAt.Format("15:04:05.000"), a.SentAt.Sub(a.CreatedAt))
			}
			fmt.Fprintf(os.Stderr, "   created in sandbox %s, accepted %s\n", created[slices.Index(ids, id)].Format("15:04:05.000"), accepted[id].Format("15:04:05.000"))
		}
	}
	lat := make([]time.Duration, 0, b.N)
	for i, id := range ids {
		lat = append(lat, accepted[id].Sub(created[i]))
	}
	reportLatency(b, lat, elapsed, "events/s")
	// The sandbox and the gateway share this process; the plugin process
	// is not counted.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
}

// waitAccepted polls the sandbox until every work order is Accepted and
// returns when each was accepted (from the sandbox's history). It looks at
// no more than 200 work orders per sweep, oldest first, so the harness
// takes little CPU from the pipeline it measures.
func waitAccepted(b *testing.B, sb *sandbox.Sandbox, ids []int64, limit time.Duration) map[int64]time.Time {
	b.Helper()
	out := make(map[int64]time.Time, len(ids))
	left := append([]int64(nil), ids...)
	deadline := time.Now().Add(limit)
	for len(left) > 0 {
		keep := left[:0]
		for i, id := range left {
			if i >= 200 {
				keep = append(keep, left[i:]...)
				break
			}
			wo, hist, ok := sb.WorkOrder(id)
			if !ok || wo.Status != corrigo.StatusAccepted {
				keep = append(keep, id)
				continue
			}
			for _, h := range hist {
				if h.To == corrigo.StatusAccepted {
					out[id] = h.Time
				}
			}
		}
		left = keep
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d work orders not accepted after %v", len(left), len(ids), limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return out
}

// pgSchema returns a fresh schema name and drops the schema afterwards.
func pgSchema(b *testing.B, dsn string) string {
	schema := fmt.Sprintf("wogate_bench_%d", time.Now().UnixNano())
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, dsn); err == nil {
			_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			_ = conn.Close(ctx)
		}
	})
	return schema
}
