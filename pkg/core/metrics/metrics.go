// Package metrics exposes the gateway's Prometheus metrics. It owns one
// registry and offers adapters that fit the hooks the pipeline already has,
// so wiring is one line per stage and no stage imports Prometheus:
//
//   - WrapStore (gateway.Options.WrapStore) counts events by account,
//     action and outcome (stored, duplicate, done, dead, parked, retry) and
//     rule hits, read from the decisions dispatch records;
//   - an egress.Observer (ActionDone, BreakerChanged) counts actions by
//     kind and outcome and breaker transitions;
//   - InstrumentPlugins wraps the dispatcher's plugin caller to time calls;
//   - ObserveExchanges wraps a corrigo.Config.Observer to count token
//     refreshes and CorrigoPro calls;
//   - sources read on every scrape: the store's backlog (queue depth and
//     oldest age per account), breaker states, plugin health, webhook
//     counters and the communication log's drop counter.
//
// Values that come from outside (event actions, plugin-chosen action
// kinds) are bounded label values: past a fixed number of distinct values
// new ones are counted as "other", so a misbehaving peer cannot blow up
// the series count.
package metrics

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wogate/wogate/pkg/core/egress"
	"github.com/wogate/wogate/pkg/core/overload"
	"github.com/wogate/wogate/pkg/core/plugins"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// Namespace prefixes every metric name.
const Namespace = "wogate"

// BacklogSource reports pending work per account (store.Store).
type BacklogSource interface {
	Backlog(ctx context.Context) (map[string]store.Backlog, error)
}

// BreakerSource reports circuit breaker states (*egress.Sender).
type BreakerSource interface {
	Accounts() []string
	BreakerState(account string) egress.BreakerState
}

// PluginSource reports plugin health (*plugins.Manager).
type PluginSource interface {
	Health() map[string]plugins.PluginHealth
}

// Metrics is the gateway's metric set. Create it with New; it is safe for
// concurrent use. Sources may be set (and replaced, on reload) at any time.
type Metrics struct {
	reg   *prometheus.Registry
	start time.Time

	events         *prometheus.CounterVec
	actions        *prometheus.CounterVec
	actionLatency  *prometheus.HistogramVec
	pluginLatency  *prometheus.HistogramVec
	breakerChanges *prometheus.CounterVec
	tokenRefreshes *prometheus.CounterVec
	corrigoCalls   *prometheus.CounterVec
	corrigoLatency *prometheus.HistogramVec
	ruleHits       *prometheus.CounterVec
	signatures     *prometheus.CounterVec

	actionLabels *bounded
	kindLabels   *bounded

	hits sync.Map // rule name → *atomic.Int64

	// claimed remembers the labels of events this process claimed, so the
	// outcome (which the store call gives only by id) can be labelled.
	claimed sync.Map // int64 → eventLabels

	mu       sync.Mutex
	backlog  BacklogSource
	breakers BreakerSource
	plugins  PluginSource
	webhooks func() map[string]int64
	commlog  func() (written, dropped int64)
	overload func() overload.State
	scrapeTO time.Duration
}

type eventLabels struct{ account, action string }

// Options configure New.
type Options struct {
	// ScrapeTimeout bounds the store query made on each scrape; default 2s.
	ScrapeTimeout time.Duration
	// NoRuntimeCollectors leaves out the Go runtime and process collectors
	// (tests that compare exact output).
	NoRuntimeCollectors bool
}

// New creates the metrics and their registry.
func New(o Options) *Metrics {
	if o.ScrapeTimeout <= 0 {
		o.ScrapeTimeout = 2 * time.Second
	}
	m := &Metrics{
		reg:          prometheus.NewRegistry(),
		start:        time.Now(),
		scrapeTO:     o.ScrapeTimeout,
		actionLabels: newBounded(64),
		kindLabels:   newBounded(64),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "events_total",
			Help: "Events by account, CorrigoPro action and outcome: stored and duplicate at ingest; done, dead, parked and retry at dispatch.",
		}, []string{"account", "action", "outcome"}),
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "actions_total",
			Help: "Action sends to CorrigoPro by account, action kind and outcome (sent, refused, dead, parked, retry, canceled).",
		}, []string{"account", "kind", "outcome"}),
		actionLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "action_send_duration_seconds",
			Help:    "Time to send one action to CorrigoPro, guard checks included, by account.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"account"}),
		pluginLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "plugin_call_duration_seconds",
			Help:    "Duration of HandleEvent calls to plugins, by plugin and outcome (ok, error).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"plugin", "outcome"}),
		breakerChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "breaker_transitions_total",
			Help: "Circuit breaker state changes by account and new state.",
		}, []string{"account", "to"}),
		tokenRefreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "token_refreshes_total",
			Help: "OAuth token requests to CorrigoPro by account and outcome (ok, error).",
		}, []string{"account", "outcome"}),
		corrigoCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "corrigo_requests_total",
			Help: "HTTP exchanges with the CorrigoPro API (token requests excluded) by account and status class (2xx, 4xx, 5xx, error).",
		}, []string{"account", "class"}),
		corrigoLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Name: "corrigo_request_duration_seconds",
			Help:    "Duration of HTTP exchanges with the CorrigoPro API by account.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"account"}),
		ruleHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "rule_hits_total",
			Help: "Events a rule matched, by rule (counted when the decision is stored).",
		}, []string{"rule"}),
		signatures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Name: "webhook_signatures_verified_total",
			Help: "Accepted webhook tokens by account and the hash/signed-bytes combination that verified them (the algorithm is inferred: pin the one counted here).",
		}, []string{"account", "combination"}),
	}
	m.reg.MustRegister(m.events, m.actions, m.actionLatency, m.pluginLatency, m.breakerChanges,
		m.tokenRefreshes, m.corrigoCalls, m.corrigoLatency, m.ruleHits, m.signatures, &scrapeCollector{m: m})
	if !o.NoRuntimeCollectors {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// Registry returns the registry, to add collectors or gather in tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text (or OpenMetrics)
// format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Since is when counting started (process start): rule hits and other
// counters are since then.
func (m *Metrics) Since() time.Time { return m.start }

// SetBacklogSource sets where queue depth and age come from (the store).
func (m *Metrics) SetBacklogSource(s BacklogSource) { m.mu.Lock(); m.backlog = s; m.mu.Unlock() }

// SetBreakerSource sets where breaker states come from (the egress sender).
func (m *Metrics) SetBreakerSource(s BreakerSource) { m.mu.Lock(); m.breakers = s; m.mu.Unlock() }

// SetPluginSource sets where plugin health comes from (the plugin manager).
func (m *Metrics) SetPluginSource(s PluginSource) { m.mu.Lock(); m.plugins = s; m.mu.Unlock() }

// WebhookSignatureVerified counts one accepted webhook token of account
// and the combination ("SHA-256/decoded") that verified it. The values
// come from the account's configured verifier, so they are few.
func (m *Metrics) WebhookSignatureVerified(account, combination string) {
	m.signatures.WithLabelValues(account, combination).Inc()
}

// SetWebhookStats sets the webhook counters (ingest.Stats.Snapshot): each
// reason's count since start.
func (m *Metrics) SetWebhookStats(snapshot func() map[string]int64) {
	m.mu.Lock()
	m.webhooks = snapshot
	m.mu.Unlock()
}

// SetCommLogStats sets the communication log's counters
// (commlog.Writer.Stats).
func (m *Metrics) SetCommLogStats(stats func() (written, dropped int64)) {
	m.mu.Lock()
	m.commlog = stats
	m.mu.Unlock()
}

// SetOverloadSource sets where the load-shedding state comes from
// (overload.Shedder.State).
func (m *Metrics) SetOverloadSource(state func() overload.State) {
	m.mu.Lock()
	m.overload = state
	m.mu.Unlock()
}

// ActionDone implements egress.Observer.
func (m *Metrics) ActionDone(account string, kind pluginapi.ActionKind, outcome egress.Outcome, latency time.Duration) {
	m.actions.WithLabelValues(account, m.kindLabels.value(string(kind)), string(outcome)).Inc()
	m.actionLatency.WithLabelValues(account).Observe(latency.Seconds())
}

// BreakerChanged implements egress.Observer. It only counts: it runs under
// the breaker's lock. The current state is read on scrape.
func (m *Metrics) BreakerChanged(account string, from, to egress.BreakerState) {
	m.breakerChanges.WithLabelValues(account, string(to)).Inc()
}

var _ egress.Observer = (*Metrics)(nil)

// RuleHits returns how many events each rule matched since start.
func (m *Metrics) RuleHits() map[string]int64 {
	out := map[string]int64{}
	m.hits.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

func (m *Metrics) hit(rule string) {
	c, ok := m.hits.Load(rule)
	if !ok {
		c, _ = m.hits.LoadOrStore(rule, new(atomic.Int64))
	}
	c.(*atomic.Int64).Add(1)
	m.ruleHits.WithLabelValues(rule).Inc()
}

// countDecision counts the rules a stored decision matched. Inbound events
// record a pseudo-rule "inbound", which is not a configured rule.
func (m *Metrics) countDecision(raw json.RawMessage) {
	if len(raw) == 0 {
		return
	}
	d, err := store.DecodeDecision(raw)
	if err != nil {
		return
	}
	for _, r := range d.Rules {
		if r.Rule != "" && r.Rule != "inbound" {
			m.hit(r.Rule)
		}
	}
}

// Tee returns an egress.Observer that tells every observer in turn (the
// gateway's own logging observer and these metrics).
func Tee(obs ...egress.Observer) egress.Observer { return tee(obs) }

type tee []egress.Observer

func (t tee) ActionDone(account string, kind pluginapi.ActionKind, outcome egress.Outcome, latency time.Duration) {
	for _, o := range t {
		o.ActionDone(account, kind, outcome, latency)
	}
}

func (t tee) BreakerChanged(account string, from, to egress.BreakerState) {
	for _, o := range t {
		o.BreakerChanged(account, from, to)
	}
}

// bounded caps the distinct values a label takes.
type bounded struct {
	mu   sync.Mutex
	max  int
	seen map[string]bool
}

func newBounded(max int) *bounded { return &bounded{max: max, seen: map[string]bool{}} }

func (b *bounded) value(v string) string {
	if v == "" {
		return "none"
	}
	if len(v) > 64 || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "other"
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seen[v] {
		return v
	}
	if len(b.seen) >= b.max {
		return "other"
	}
	b.seen[v] = true
	return v
}

// webhookNonVerification are webhook results that are not token
// verification failures.
var webhookNonVerification = map[string]bool{
	"accepted": true, "duplicate": true, "method_not_allowed": true, "body_too_large": true,
	"body_read": true, "bad_body": true, "store_unavailable": true, "event_type_mismatch": true,
	"source_not_allowed": true, "overloaded": true,
}

var (
	descPendingEvents = prometheus.NewDesc(Namespace+"_queue_pending_events",
		"Events waiting to be dispatched, per account.", []string{"account"}, nil)
	descOldestEvent = prometheus.NewDesc(Namespace+"_queue_oldest_event_age_seconds",
		"Age of the oldest pending event per account (0 when none is pending).", []string{"account"}, nil)
	descPendingActions = prometheus.NewDesc(Namespace+"_queue_pending_actions",
		"Actions waiting to be sent to CorrigoPro, per account.", []string{"account"}, nil)
	descOldestAction = prometheus.NewDesc(Namespace+"_queue_oldest_action_age_seconds",
		"Age of the oldest pending action per account (0 when none is pending).", []string{"account"}, nil)
	descStoreUp = prometheus.NewDesc(Namespace+"_store_up",
		"1 if the last backlog query to the store succeeded during this scrape.", nil, nil)
	descBreaker = prometheus.NewDesc(Namespace+"_breaker_state",
		"Circuit breaker state per account: 1 for the current state (closed, half-open, open), 0 for the others.",
		[]string{"account", "state"}, nil)
	descPluginUp = prometheus.NewDesc(Namespace+"_plugin_up",
		"1 if the plugin process is running and serving calls.", []string{"plugin"}, nil)
	descPluginState = prometheus.NewDesc(Namespace+"_plugin_state",
		"Plugin supervisor state: 1 for the current state (starting, running, restarting, quarantined, stopped).",
		[]string{"plugin", "state"}, nil)
	descPluginRestarts = prometheus.NewDesc(Namespace+"_plugin_restarts_total",
		"Plugin restarts after a crash, since start.", []string{"plugin"}, nil)
	descPluginCrashes = prometheus.NewDesc(Namespace+"_plugin_recent_crashes",
		"Plugin crashes inside the supervisor's window; reaching the plugin's max_crashes quarantines it.", []string{"plugin"}, nil)
	descPluginInFlight = prometheus.NewDesc(Namespace+"_plugin_in_flight",
		"Calls to the plugin in progress.", []string{"plugin"}, nil)
	descWebhooks = prometheus.NewDesc(Namespace+"_webhook_requests_total",
		"Webhook requests by result: accepted, duplicate, or the reason they were refused.", []string{"result"}, nil)
	descVerifyFailures = prometheus.NewDesc(Namespace+"_webhook_verification_failures_total",
		"Webhook requests refused because their token did not verify, by reason.", []string{"reason"}, nil)
	descShedding = prometheus.NewDesc(Namespace+"_overload_shedding",
		"1 while webhooks are refused with 503 because a limit of the overload section is exceeded.", nil, nil)
	descOverLimit = prometheus.NewDesc(Namespace+"_overload_limit_exceeded",
		"1 for each overload limit exceeded at the last sample: pending_events, oldest_pending, free_disk, store_size.", []string{"limit"}, nil)
	descFreeDisk = prometheus.NewDesc(Namespace+"_overload_free_disk_bytes",
		"Free space on the data directory's file system at the last sample (SQLite store).", nil, nil)
	descStoreBytes = prometheus.NewDesc(Namespace+"_overload_store_bytes",
		"Size of the store at the last sample (SQLite: database and WAL files; PostgreSQL: the database).", nil, nil)
	descCommLog = prometheus.NewDesc(Namespace+"_commlog_entries_total",
		"Communication log entries by result (written, dropped when the queue was full).", []string{"result"}, nil)
)

var breakerStates = []egress.BreakerState{egress.BreakerClosed, egress.BreakerHalfOpen, egress.BreakerOpen}

var pluginStates = []plugins.State{plugins.StateStarting, plugins.StateRunning, plugins.StateRestarting,
	plugins.StateQuarantined, plugins.StateStopped}

// scrapeCollector reads the sources on each scrape. Its metrics are
// unchecked (no Describe output) because their label values are only
// known then.
type scrapeCollector struct{ m *Metrics }

func (c *scrapeCollector) Describe(chan<- *prometheus.Desc) {}

func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	m.mu.Lock()
	backlog, breakers, plugs, webhooks, clog, ovl := m.backlog, m.breakers, m.plugins, m.webhooks, m.commlog, m.overload
	m.mu.Unlock()

	if ovl != nil {
		st := ovl()
		ch <- prometheus.MustNewConstMetric(descShedding, prometheus.GaugeValue, boolf(st.Shedding))
		for _, l := range []string{"pending_events", "oldest_pending", "free_disk", "store_size"} {
			ch <- prometheus.MustNewConstMetric(descOverLimit, prometheus.GaugeValue, boolf(slices.Contains(st.Reasons, l)), l)
		}
		if st.Sample.FreeDiskBytes >= 0 && !st.Taken.IsZero() {
			ch <- prometheus.MustNewConstMetric(descFreeDisk, prometheus.GaugeValue, float64(st.Sample.FreeDiskBytes))
		}
		if st.Sample.StoreBytes >= 0 && !st.Taken.IsZero() {
			ch <- prometheus.MustNewConstMetric(descStoreBytes, prometheus.GaugeValue, float64(st.Sample.StoreBytes))
		}
	}

	if backlog != nil {
		ctx, cancel := context.WithTimeout(context.Background(), m.scrapeTO)
		bl, err := backlog.Backlog(ctx)
		cancel()
		if err != nil {
			ch <- prometheus.MustNewConstMetric(descStoreUp, prometheus.GaugeValue, 0)
		} else {
			ch <- prometheus.MustNewConstMetric(descStoreUp, prometheus.GaugeValue, 1)
			// Accounts with nothing pending report zeros, so their series
			// exist (alerts on absent series are brittle).
			if breakers != nil {
				for _, acc := range breakers.Accounts() {
					if _, ok := bl[acc]; !ok {
						bl[acc] = store.Backlog{}
					}
				}
			}
			now := time.Now()
			for _, acc := range sortedKeys(bl) {
				b := bl[acc]
				ch <- prometheus.MustNewConstMetric(descPendingEvents, prometheus.GaugeValue, float64(b.PendingEvents), acc)
				ch <- prometheus.MustNewConstMetric(descOldestEvent, prometheus.GaugeValue, age(now, b.OldestEvent, b.PendingEvents), acc)
				ch <- prometheus.MustNewConstMetric(descPendingActions, prometheus.GaugeValue, float64(b.PendingActions), acc)
				ch <- prometheus.MustNewConstMetric(descOldestAction, prometheus.GaugeValue, age(now, b.OldestAction, b.PendingActions), acc)
			}
		}
	}
	if breakers != nil {
		for _, acc := range breakers.Accounts() {
			cur := breakers.BreakerState(acc)
			for _, s := range breakerStates {
				ch <- prometheus.MustNewConstMetric(descBreaker, prometheus.GaugeValue, boolf(s == cur), acc, string(s))
			}
		}
	}
	if plugs != nil {
		health := plugs.Health()
		for _, name := range sortedKeys(health) {
			h := health[name]
			ch <- prometheus.MustNewConstMetric(descPluginUp, prometheus.GaugeValue, boolf(h.State == plugins.StateRunning), name)
			for _, s := range pluginStates {
				ch <- prometheus.MustNewConstMetric(descPluginState, prometheus.GaugeValue, boolf(h.State == s), name, string(s))
			}
			ch <- prometheus.MustNewConstMetric(descPluginRestarts, prometheus.CounterValue, float64(h.Restarts), name)
			ch <- prometheus.MustNewConstMetric(descPluginCrashes, prometheus.GaugeValue, float64(h.RecentCrashes), name)
			ch <- prometheus.MustNewConstMetric(descPluginInFlight, prometheus.GaugeValue, float64(h.InFlight), name)
		}
	}
	if webhooks != nil {
		snap := webhooks()
		for _, reason := range sortedKeys(snap) {
			if reason == "event_type_mismatch" {
				continue // a warning on an accepted request, not a result
			}
			ch <- prometheus.MustNewConstMetric(descWebhooks, prometheus.CounterValue, float64(snap[reason]), reason)
			if !webhookNonVerification[reason] {
				ch <- prometheus.MustNewConstMetric(descVerifyFailures, prometheus.CounterValue, float64(snap[reason]), reason)
			}
		}
	}
	if clog != nil {
		written, dropped := clog()
		ch <- prometheus.MustNewConstMetric(descCommLog, prometheus.CounterValue, float64(written), "written")
		ch <- prometheus.MustNewConstMetric(descCommLog, prometheus.CounterValue, float64(dropped), "dropped")
	}
}

func age(now, oldest time.Time, pending int) float64 {
	if pending == 0 || oldest.IsZero() {
		return 0
	}
	return max(0, now.Sub(oldest).Seconds())
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
