package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// outageScale compresses the outage run: 2 hours become 12 s, and the
// gateway's delivery defaults are divided by the same factor.
const outageScale = 600

// outageDelivery is config.Default* for delivery, divided by outageScale.
// event_lease is not scaled: it bounds a single send (SendTimeout is half
// of it), which a loaded test machine needs whole; it plays no part in
// how attempts are counted.
func outageDelivery(retryAfterMax time.Duration) string {
	return fmt.Sprintf(`  max_attempts: %d
  backoff_initial: %s
  backoff_max: %s
  retry_after_max: %s
  event_lease: 2s
  breaker: {consecutive_failures: %d, open_timeout: %s, half_open_requests: %d}
`, config.DefaultConfig.Delivery.MaxAttempts, config.DefaultConfig.Delivery.BackoffInitial/outageScale, config.DefaultConfig.Delivery.BackoffMax/outageScale,
		retryAfterMax, config.DefaultConfig.Delivery.Breaker.ConsecutiveFailures, config.DefaultConfig.Delivery.Breaker.OpenTimeout/outageScale,
		config.DefaultConfig.Delivery.Breaker.HalfOpenRequests)
}

// TestOutageTwoHoursCompressed: CorrigoPro's REST API is down for two
// hours (compressed to 12 s; the sandbox answers every API call 503 with
// Retry-After) while its webhooks keep coming. `gateway run`, a real
// process with its SQLite store and plugin, runs with the delivery
// defaults scaled by the same factor (max_attempts 10, backoff 1s → 5m,
// breaker 5 failures / 30 s / 1 probe, retry_after_max 10m). The actions
// pile up in the outbox while the outage lasts; afterwards the crash
// test's ledger must hold: every notification stored once and done in
// order, every action recorded by CorrigoPro exactly once in order per
// work order, nothing pending and no dead letter.
//
// Twice: with the defaults, where the sandbox's Retry-After (the rest of
// the outage, capped by retry_after_max) keeps the account quiet between
// probes; and with retry_after_max 0s (Retry-After ignored), where the
// breaker alone paces the tries: a probe every open_timeout, about 240 in
// the two hours, far more than max_attempts.
func TestOutageTwoHoursCompressed(t *testing.T) {
	if testing.Short() {
		t.Skip("12 s outage: skipped in -short")
	}
	for _, tc := range []struct {
		name          string
		retryAfterMax time.Duration
		fetch         bool
	}{
		{"defaults, rule fetches the work order", config.DefaultConfig.Delivery.RetryAfterMax / outageScale, true},
		{"retry-after ignored", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) { runOutage(t, outageDelivery(tc.retryAfterMax), tc.fetch) })
	}
}

// runOutage is one outage run; with fetch, the rule fetches the work
// order for every event but NewWorkOrder, so those events (not only their
// actions) need CorrigoPro and wait for it.
func runOutage(t *testing.T, delivery string, fetch bool) {
	p := crashParams{
		WorkOrders: 40, Steps: 5, Senders: 8, Seed: crashSeed(), Drain: 90 * time.Second,
		// Spread the traffic over the first half of the outage.
		Pace:           time.Second,
		Delivery:       delivery,
		FetchWorkOrder: fetch,
	}
	t.Logf("seed %d; delivery (scaled 1/%d):\n%s", p.Seed, outageScale, delivery)
	w := newCrashWorld(t, p)
	w.startAll()

	// The outage, switched on over the sandbox's control API. PUT replaces
	// every fault: keep the crash world's duplicates, redeliveries, lost
	// deliveries and 1 % API errors.
	outage := 2 * time.Hour / outageScale
	faults := w.sb.Faults()
	faults.OutageFor = sandbox.Duration(outage)
	body, _ := json.Marshal(faults)
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPut, w.sb.ControlURL()+"faults", bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT faults: %s", resp.Status)
	}
	outageEnd := w.sb.Faults().OutageUntil
	if time.Until(outageEnd) < outage-time.Second {
		t.Fatalf("outage until %v, want about %v from now", outageEnd, outage)
	}
	w.sb.SetWebhookURL(w.hook)

	ctx, cancel := context.WithTimeout(context.Background(), p.Drain+5*time.Minute)
	defer cancel()
	trackCtx, stopTrack := context.WithCancel(ctx)
	defer stopTrack()
	go w.trackDeliveries(trackCtx)
	start := time.Now()
	if err := w.traffic(ctx); err != nil {
		t.Fatalf("traffic: %v", err)
	}
	trafficDone := time.Since(start)
	if time.Now().After(outageEnd) {
		t.Fatalf("the traffic outlasted the outage (%v): the run proves nothing", trafficDone)
	}
	// Nothing can land while CorrigoPro is down, and no event may die.
	if n := len(w.notFinal(finalStatus(p.Steps), len(w.wos))); n != len(w.wos) {
		t.Fatalf("%d work orders reached their final status during the outage", len(w.wos)-n)
	}
	time.Sleep(time.Until(outageEnd))
	dctx, dcancel := context.WithTimeout(ctx, p.Drain)
	defer dcancel()
	if err := w.drain(dctx); err != nil {
		t.Fatal(err)
	}
	landed := time.Since(outageEnd)
	w.termAll()

	bad, rep := w.checkLedger(context.Background())
	for _, b := range bad {
		t.Error(b)
	}

	// What the outage cost: CorrigoPro's refusals, and the tries the
	// actions counted.
	refused := 0
	for _, u := range w.sb.Usage(sandbox.UsageFilter{Direction: sandbox.DirectionInbound}) {
		if u.Status == http.StatusServiceUnavailable && !u.Time.After(outageEnd) {
			refused++
		}
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(w.dir, "data", config.DefaultSQLiteFile), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	maxAttempts, actions := 0, 0
	for _, id := range w.wos {
		as, err := st.ActionsForWorkOrder(context.Background(), "main", id)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			actions++
			maxAttempts = max(maxAttempts, a.Attempts)
			if a.Status != store.ActionSent {
				t.Errorf("work order %d: action %d (%s) is %s: %s", id, a.ID, a.Kind, a.Status, a.LastError)
			}
		}
	}
	if maxAttempts >= config.DefaultConfig.Delivery.MaxAttempts {
		t.Errorf("an action counted %d tries (max_attempts %d): the outage spent its attempts", maxAttempts, config.DefaultConfig.Delivery.MaxAttempts)
	}
	log := w.logText()
	eventWaits := countLines(log, "event failed while CorrigoPro is unavailable")
	if fetch && eventWaits == 0 {
		t.Errorf("no event waited for CorrigoPro: the rule's fetch was not exercised")
	}
	t.Logf("%s", rep)
	t.Logf("outage %v (2 h / %d): traffic took %v; %d API calls refused 503 during the outage; "+
		"%d action deferrals without a try, %d event retries not counted, %d breaker state changes; after the outage every action landed in %v; "+
		"%d actions, max Attempts of an action %d (max_attempts %d)",
		outage, outageScale, trafficDone.Round(time.Millisecond), refused,
		countLines(log, "action waits for CorrigoPro"), eventWaits,
		countLines(log, "corrigo circuit breaker changed state"),
		landed.Round(time.Millisecond), actions, maxAttempts, config.DefaultConfig.Delivery.MaxAttempts)
}
