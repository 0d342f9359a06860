package e2e

import (
	"context"
	"os"

	"github.com/jackc/pgx/v5"
	"strconv"
	"testing"
	"time"
)

// The crash tests prove issue 4's promise against real processes: the
// sandbox (CorrigoPro, in this process, over real HTTP) fires thousands of
// webhooks — with duplicate and out-of-order redeliveries, lost deliveries
// and transient API errors — at `gateway run` (a child process with its
// SQLite store in a temp dir and a real plugin process), while the test
// kills the gateway (SIGKILL, process group) or the plugin dies mid-call.
// CorrigoPro's retry queue redelivers whatever was not answered 2xx. At the
// end a ledger compares what CorrigoPro sent and recorded with the store:
// every accepted MessageId handled exactly once, every action recorded by
// CorrigoPro exactly once, per-work-order order preserved, nothing pending.
//
// Sizes fit `make test`; `make crash-test` runs a larger one
// (WOGATE_CRASH_EVENTS, WOGATE_CRASH_KILLS, WOGATE_CRASH_SEED).

func crashSeed() uint64 {
	if v := os.Getenv("WOGATE_CRASH_SEED"); v != "" {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			return n
		}
	}
	return uint64(time.Now().UnixNano())
}

func runCrash(t *testing.T, p crashParams) {
	t.Logf("seed %d (rerun with WOGATE_CRASH_SEED=%d): %d work orders × %d notifications, %d kills, plugin crash_after %d",
		p.Seed, p.Seed, p.WorkOrders, p.Steps, p.Kills, p.PluginCrashAfter)
	w := newCrashWorld(t, p)
	w.startAll()
	w.sb.SetWebhookURL(w.hook)

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), p.Drain+5*time.Minute)
	defer cancel()
	trackCtx, stopTrack := context.WithCancel(ctx)
	defer stopTrack()
	go w.trackDeliveries(trackCtx)

	killDone := make(chan struct{})
	killCtx, stopKiller := context.WithCancel(ctx)
	defer stopKiller()
	go func() {
		defer close(killDone)
		w.killer(killCtx)
	}()
	if err := w.traffic(ctx); err != nil {
		t.Fatalf("traffic: %v", err)
	}
	stopKiller()
	<-killDone
	trafficTime := time.Since(start)

	dctx, dcancel := context.WithTimeout(ctx, p.Drain)
	defer dcancel()
	if err := w.drain(dctx); err != nil {
		t.Fatal(err)
	}
	// Stop cleanly so the store is closed; the ledger reads it directly.
	w.termAll()
	bad, rep := w.checkLedger(context.Background())
	t.Logf("%s; traffic %v, total %v", rep, trafficTime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	for _, b := range bad {
		t.Error(b)
	}
	if p.Kills > 0 && rep.Kills != p.Kills {
		t.Errorf("only %d of %d kills happened", rep.Kills, p.Kills)
	}
	if p.PluginCrashAfter > 0 && rep.PluginCrashes == 0 {
		t.Errorf("the plugin never crashed; the run proves nothing about plugin crashes")
	}
}

func TestCrashGatewayKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped in -short")
	}
	events := envInt("WOGATE_CRASH_EVENTS", 1000)
	steps := 5
	runCrash(t, crashParams{
		WorkOrders: max(1, events/steps), Steps: steps,
		Kills:   envInt("WOGATE_CRASH_KILLS", 5),
		Senders: 48, Seed: crashSeed(), Drain: 90 * time.Second,
	})
}

func TestCrashPluginKilledMidCall(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped in -short")
	}
	events := envInt("WOGATE_CRASH_EVENTS", 1000) / 2
	steps := 5
	// Each plugin process exits while handling its Nth event, with other
	// calls in flight; the supervisor restarts it (quarantine comes after
	// 5 crashes in 10 minutes, so stay below that).
	runCrash(t, crashParams{
		WorkOrders: max(1, events/steps), Steps: steps,
		PluginCrashAfter: max(20, events/3), PluginDelay: 2 * time.Millisecond,
		Senders: 32, Seed: crashSeed(), Drain: 90 * time.Second,
	})
}

// TestCrashReplicasOnPostgres runs two gateway replicas against one
// PostgreSQL database behind a round-robin proxy and kills one of them at
// random moments: leases keep the replicas from handling an event or
// sending an action twice, and the survivor (or the restarted one) takes
// over what the dead one held once its lease expires.
func TestCrashReplicasOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: skipped in -short")
	}
	dsn := postgresForCrash(t)
	events := envInt("WOGATE_CRASH_EVENTS", 1000) / 2
	steps := 5
	runCrash(t, crashParams{
		WorkOrders: max(1, events/steps), Steps: steps,
		Kills:   max(1, envInt("WOGATE_CRASH_KILLS", 5)-1),
		Senders: 32, Seed: crashSeed(), Drain: 90 * time.Second,
		Postgres: dsn, Replicas: 2,
	})
}

// postgresForCrash returns WOGATE_TEST_POSTGRES, or the default local
// server if it answers; without either the test is skipped.
func postgresForCrash(t *testing.T) string {
	t.Helper()
	dsn, set := os.LookupEnv("WOGATE_TEST_POSTGRES")
	if !set || dsn == "" {
		dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		if set {
			t.Fatalf("WOGATE_TEST_POSTGRES=%s is set but unreachable: %v", dsn, err)
		}
		t.Skipf("PostgreSQL not reachable at %s (set WOGATE_TEST_POSTGRES to require it): %v", dsn, err)
	}
	_ = conn.Close(ctx)
	return dsn
}
