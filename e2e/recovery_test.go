package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
)

// The recovery tests measure issue 12's "kill -9 → last stranded work
// order done": the gateway is SIGKILLed (with its plugin) while its
// workers hold the leases of events whose plugin calls are still running,
// and the work orders those events belong to must be done within 15 s.
//
//   - SQLite: the gateway is restarted at once; it holds the store alone,
//     so it takes back every lease its predecessor left
//     (sqlite.Options.Exclusive) instead of waiting them out.
//   - PostgreSQL, two replicas: the killed replica stays down; the
//     survivor claims its events once their leases, no longer renewed,
//     run out (delivery.event_lease, 10 s by default).
//
// The delivery section leaves event_lease at its default on purpose.

const recoveryDelivery = `  max_attempts: 1000
  backoff_initial: 20ms
  backoff_max: 250ms
`

func TestRecoveryAfterKillSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("recovery test: skipped in -short")
	}
	runRecovery(t, "", 1)
}

func TestRecoveryAfterKillPostgresReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("recovery test: skipped in -short")
	}
	runRecovery(t, postgresForCrash(t), 2)
}

func runRecovery(t *testing.T, dsn string, replicas int) {
	const workOrders = 40
	w := newCrashWorld(t, crashParams{
		WorkOrders: workOrders, Steps: 1, Senders: 8, Seed: crashSeed(),
		// Slow enough that the kill finds calls in flight, well inside the
		// plugin's 2 s timeout.
		PluginDelay: time.Second,
		Postgres:    dsn, Replicas: replicas, Delivery: recoveryDelivery,
	})
	w.startAll()
	w.sb.SetWebhookURL(w.hook)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	trackCtx, stopTrack := context.WithCancel(ctx)
	defer stopTrack()
	go w.trackDeliveries(trackCtx)
	if err := w.traffic(ctx); err != nil {
		t.Fatalf("traffic: %v", err)
	}
	// Every notification stored, the first plugin calls under way.
	w.mu.Lock()
	for len(w.delivered) < workOrders && ctx.Err() == nil {
		w.cond.Wait()
	}
	w.mu.Unlock()
	time.Sleep(300 * time.Millisecond)

	stranded := len(w.notFinal(corrigo.StatusAccepted, workOrders))
	killed := time.Now()
	w.gws[0].kill()
	if replicas == 1 {
		w.gws[0].start() // at once, as systemd's Restart=always would
	}
	if stranded == 0 {
		t.Fatal("every work order was done before the kill; the run proves nothing")
	}
	dctx, dcancel := context.WithTimeout(ctx, 90*time.Second)
	defer dcancel()
	if err := w.drain(dctx); err != nil {
		t.Fatal(err)
	}
	took := time.Since(killed)
	kind := "SQLite, restarted at once"
	if replicas > 1 {
		kind = "PostgreSQL, the other replica"
	}
	t.Logf("kill -9 → last stranded work order done: %v (%s; %d of %d work orders not done at the kill)",
		took.Round(10*time.Millisecond), kind, stranded, workOrders)
	if took > 15*time.Second {
		t.Errorf("recovery took %v, want at most 15 s", took.Round(time.Millisecond))
	}
	w.termAll()
	bad, rep := w.checkLedger(context.Background())
	t.Logf("%s", rep)
	for _, b := range bad {
		t.Error(b)
	}
}
