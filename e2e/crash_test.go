package e2e

import (
	"context"
	"os"
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
	w.gw.start()
	w.sb.SetWebhookURL(w.gw.url("/webhooks/corrigo/main"))

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
	w.gw.term()
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
