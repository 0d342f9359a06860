package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/internal/testhttp"
	"github.com/wogate/wogate/pkg/core/egress"
	"github.com/wogate/wogate/pkg/core/metrics"
	"github.com/wogate/wogate/pkg/core/plugins"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
)

type fakeBreakers map[string]egress.BreakerState

func (f fakeBreakers) Accounts() []string { return []string{"acme", "globex"} }
func (f fakeBreakers) BreakerState(a string) egress.BreakerState {
	return f[a]
}

type fakePlugins map[string]plugins.PluginHealth

func (f fakePlugins) Health() map[string]plugins.PluginHealth { return f }

type fakeCaller struct{ err error }

func (f fakeCaller) HandleEvent(ctx context.Context, plugin string, ev pluginapi.Event) ([]pluginapi.Action, error) {
	time.Sleep(time.Millisecond)
	return nil, f.err
}

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := testhttp.Get(t.Context(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("scrape status %d: %s", res.StatusCode, b)
	}
	return string(b)
}

// TestExposition drives every adapter against a real SQLite store and
// checks the scraped series and their values.
func TestExposition(t *testing.T) {
	ctx := context.Background()
	raw, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "wogate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = raw.Close() }()
	m := metrics.New(metrics.Options{})
	st := m.WrapStore(raw)
	m.SetBacklogSource(st)
	m.SetBreakerSource(fakeBreakers{"acme": egress.BreakerClosed, "globex": egress.BreakerOpen})
	m.SetPluginSource(fakePlugins{
		"erp":    {Name: "erp", State: plugins.StateRunning, InFlight: 2},
		"mailer": {Name: "mailer", State: plugins.StateQuarantined, Restarts: 4, RecentCrashes: 5},
	})
	m.SetWebhookStats(func() map[string]int64 {
		return map[string]int64{"accepted": 10, "duplicate": 2, "bad_signature": 3, "expired": 1, "missing_token": 5, "bad_body": 1, "event_type_mismatch": 7}
	})
	m.SetCommLogStats(func() (int64, int64) { return 40, 2 })

	// Events: 3 stored (one duplicate), done with a decision, dead, retried.
	for i, a := range []string{"NewWorkOrder", "CheckedIn", "Paused"} {
		ev := &store.Event{Account: "acme", MessageID: "m" + a, WorkOrderID: int64(100 + i), Action: a, Source: "webhook", Body: json.RawMessage(`{}`)}
		if _, err := st.InsertEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if ins, err := st.InsertEvent(ctx, &store.Event{Account: "acme", MessageID: "mPaused", WorkOrderID: 102, Action: "Paused"}); err != nil || ins {
		t.Fatalf("duplicate insert: %v %v", ins, err)
	}
	evs, err := st.ClaimEvents(ctx, "w", time.Minute, 10)
	if err != nil || len(evs) != 3 {
		t.Fatalf("claim %d %v", len(evs), err)
	}
	for _, ev := range evs {
		switch ev.Action {
		case "NewWorkOrder":
			err = st.CompleteEvent(ctx, ev.ID, "w", store.Outcome{Status: store.EventDone,
				Decision: json.RawMessage(`{"rules":[{"rule":"erp-new","plugin":"erp","actions":0},{"rule":"audit","actions":0}]}`)})
		case "CheckedIn":
			err = st.CompleteEvent(ctx, ev.ID, "w", store.Outcome{Status: store.EventDead, LastError: "x",
				Decision: json.RawMessage(`{"rules":[{"rule":"erp-new","plugin":"erp"}]}`)})
		case "Paused":
			err = st.RetryEvent(ctx, ev.ID, "w", time.Now().Add(time.Hour), "later")
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	// Egress observer, through Tee.
	obs := metrics.Tee(egress.NopObserver{}, m)
	obs.ActionDone("acme", pluginapi.KindAccept, egress.OutcomeSent, 120*time.Millisecond)
	obs.ActionDone("acme", pluginapi.KindAccept, egress.OutcomeSent, 80*time.Millisecond)
	obs.ActionDone("acme", pluginapi.KindCheckOut, egress.OutcomeRefused, time.Millisecond)
	obs.BreakerChanged("globex", egress.BreakerClosed, egress.BreakerOpen)

	// Plugin calls.
	ok := m.InstrumentPlugins(fakeCaller{})
	bad := m.InstrumentPlugins(fakeCaller{err: errors.New("boom")})
	_, _ = ok.HandleEvent(ctx, "erp", pluginapi.Event{})
	_, _ = bad.HandleEvent(ctx, "erp", pluginapi.Event{})

	// Exchanges: a token refresh, a failed one, an API call.
	var seen int
	obsx := m.ObserveExchanges("acme", func(corrigo.Exchange) { seen++ })
	obsx(corrigo.Exchange{Method: "POST", URL: "https://oauth/token", Status: 200, RequestBody: []byte("grant_type=client_credentials&client_id=a&client_secret=REDACTED")})
	obsx(corrigo.Exchange{Method: "POST", URL: "https://oauth/token", Status: 400, RequestBody: []byte("grant_type=client_credentials&client_id=a&client_secret=REDACTED")})
	obsx(corrigo.Exchange{Method: "PUT", URL: "https://api/workOrder/accept", Status: 200, Duration: 30 * time.Millisecond})
	obsx(corrigo.Exchange{Method: "GET", URL: "https://api/workOrder/1", Err: errors.New("dial")})
	if seen != 4 {
		t.Fatalf("next observer called %d times", seen)
	}

	out := scrape(t, m.Handler())
	want := []string{
		`wogate_events_total{account="acme",action="NewWorkOrder",outcome="stored"} 1`,
		`wogate_events_total{account="acme",action="Paused",outcome="duplicate"} 1`,
		`wogate_events_total{account="acme",action="NewWorkOrder",outcome="done"} 1`,
		`wogate_events_total{account="acme",action="CheckedIn",outcome="dead"} 1`,
		`wogate_events_total{account="acme",action="Paused",outcome="retry"} 1`,
		`wogate_rule_hits_total{rule="erp-new"} 2`,
		`wogate_rule_hits_total{rule="audit"} 1`,
		`wogate_queue_pending_events{account="acme"} 1`,
		`wogate_queue_oldest_event_age_seconds{account="acme"}`,
		`wogate_queue_pending_actions{account="acme"} 0`,
		`wogate_store_up 1`,
		`wogate_queue_pending_events{account="globex"} 0`,
		`wogate_actions_total{account="acme",kind="accept",outcome="sent"} 2`,
		`wogate_actions_total{account="acme",kind="check_out",outcome="refused"} 1`,
		`wogate_action_send_duration_seconds_count{account="acme"} 3`,
		`wogate_breaker_state{account="globex",state="open"} 1`,
		`wogate_breaker_state{account="globex",state="closed"} 0`,
		`wogate_breaker_state{account="acme",state="closed"} 1`,
		`wogate_breaker_transitions_total{account="globex",to="open"} 1`,
		`wogate_plugin_call_duration_seconds_count{outcome="ok",plugin="erp"} 1`,
		`wogate_plugin_call_duration_seconds_count{outcome="error",plugin="erp"} 1`,
		`wogate_plugin_up{plugin="erp"} 1`,
		`wogate_plugin_up{plugin="mailer"} 0`,
		`wogate_plugin_state{plugin="mailer",state="quarantined"} 1`,
		`wogate_plugin_restarts_total{plugin="mailer"} 4`,
		`wogate_plugin_recent_crashes{plugin="mailer"} 5`,
		`wogate_plugin_in_flight{plugin="erp"} 2`,
		`wogate_webhook_requests_total{result="accepted"} 10`,
		`wogate_webhook_requests_total{result="bad_body"} 1`,
		`wogate_webhook_verification_failures_total{reason="bad_signature"} 3`,
		`wogate_webhook_verification_failures_total{reason="expired"} 1`,
		`wogate_webhook_verification_failures_total{reason="missing_token"} 5`,
		`wogate_token_refreshes_total{account="acme",outcome="ok"} 1`,
		`wogate_token_refreshes_total{account="acme",outcome="error"} 1`,
		`wogate_corrigo_requests_total{account="acme",class="2xx"} 1`,
		`wogate_corrigo_requests_total{account="acme",class="error"} 1`,
		`wogate_corrigo_request_duration_seconds_count{account="acme"} 2`,
		`wogate_commlog_entries_total{result="dropped"} 2`,
		`go_goroutines`,
		`process_cpu_seconds_total`,
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("scrape lacks %s", w)
		}
	}
	for _, not := range []string{
		`wogate_webhook_verification_failures_total{reason="bad_body"}`,
		`wogate_webhook_verification_failures_total{reason="accepted"}`,
		`event_type_mismatch`,
	} {
		if strings.Contains(out, not) {
			t.Errorf("scrape has %s", not)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", out)
	}
	hits := m.RuleHits()
	if hits["erp-new"] != 2 || hits["audit"] != 1 || len(hits) != 2 {
		t.Errorf("RuleHits %v", hits)
	}
}

// A store that fails its backlog query reports store_up 0 instead of
// failing the scrape.
type failingBacklog struct{}

func (failingBacklog) Backlog(context.Context) (map[string]store.Backlog, error) {
	return nil, errors.New("database is locked")
}

func TestScrapeSurvivesStoreFailure(t *testing.T) {
	m := metrics.New(metrics.Options{NoRuntimeCollectors: true})
	m.SetBacklogSource(failingBacklog{})
	out := scrape(t, m.Handler())
	if !strings.Contains(out, "wogate_store_up 0") {
		t.Fatalf("scrape:\n%s", out)
	}
	if strings.Contains(out, "go_goroutines") {
		t.Fatalf("runtime collectors registered although turned off")
	}
}

// Label values that come from outside are bounded.
func TestBoundedLabels(t *testing.T) {
	m := metrics.New(metrics.Options{NoRuntimeCollectors: true})
	for i := range 100 {
		m.ActionDone("acme", pluginapi.ActionKind("kind-"+string(rune('a'+i%26))+string(rune('a'+i/26))), egress.OutcomeSent, 0)
	}
	m.ActionDone("acme", pluginapi.ActionKind("bad\nkind"), egress.OutcomeSent, 0)
	m.ActionDone("acme", "", egress.OutcomeSent, 0)
	out := scrape(t, m.Handler())
	if n := strings.Count(out, "wogate_actions_total{"); n != 66 { // 64 kinds + other + none
		t.Fatalf("%d action series", n)
	}
	if !strings.Contains(out, `kind="other"`) || !strings.Contains(out, `kind="none"`) {
		t.Fatalf("no other/none series:\n%s", out)
	}
}
