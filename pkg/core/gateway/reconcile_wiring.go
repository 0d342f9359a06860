package gateway

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/reconcile"
	"github.com/wogate/wogate/pkg/core/store"
)

// runMaintenance runs the loops that keep the store honest until ctx
// ends, and returns when they have all stopped: one reconciler per
// account with reconcile.interval > 0 (fills the gaps webhooks left and
// reports webhook silence) and the retention pruner (retention.events for
// events and actions, retention.log for the communication log; dead
// letters stay until resolved). Run starts it beside
// the pollers, so it stops with ingest.
func (g *Gateway) runMaintenance(ctx context.Context) {
	var wg sync.WaitGroup
	mx := newReconcileMetrics(g)
	for _, name := range accountNames(g.cfg) {
		a := g.cfg.Corrigo.Accounts[name]
		if a.Reconcile.Interval <= 0 {
			continue
		}
		path := a.Webhook.Path
		if a.Webhook.Disabled {
			path = ""
		}
		r, err := reconcile.New(reconcile.Options{
			Account: name, API: g.clients[name], Store: g.st,
			Interval: a.Reconcile.Interval, Window: a.Reconcile.Window, SilenceAlert: a.Reconcile.SilenceAlert,
			WebhookPath: path,
			OnStored: func(e *store.Event) {
				mx.filled.WithLabelValues(e.Account, e.Action).Inc()
				g.disp.Wake()
			},
			OnSilence: func(s reconcile.Silence) {
				g.silences.put(s)
				v := 0.0
				if s.Silent {
					v = 1
				}
				mx.silent.WithLabelValues(s.Account).Set(v)
			},
			Logger: g.log,
		})
		if err != nil {
			g.log.Error("reconciliation not started", "account", name, "err", err)
			continue
		}
		wg.Go(func() { _ = r.Run(ctx) })
	}
	if events, log := g.cfg.Retention.Events, g.cfg.Retention.Log; events > 0 || log > 0 {
		// Reconciliation tells "never seen" from "seen and pruned" by the
		// store: events must outlive every reconcile window. The log is
		// not consulted for that, so it keeps its own age.
		events = eventRetention(g.cfg, events, func(account string, window time.Duration) {
			g.log.Warn("events retention raised to the reconcile window, so reconciliation does not refill pruned work orders",
				"account", account, "retention", g.cfg.Retention.Events.String(), "window", window.String())
		})
		p, err := reconcile.NewPruner(reconcile.PrunerOptions{Store: g.st, Events: events, Log: log, Logger: g.log})
		if err != nil {
			g.log.Error("retention not started", "err", err)
		} else {
			wg.Go(func() { _ = p.Run(ctx) })
		}
	}
	wg.Wait()
	g.silences.clear()
}

// eventRetention is the age handled events are pruned at: retention.events
// (0 keeps them forever), raised to the longest reconcile window of any
// account with reconciliation on; raised is told each account whose window
// raised it.
func eventRetention(cfg *config.Config, events time.Duration, raised func(account string, window time.Duration)) time.Duration {
	if events <= 0 {
		return 0
	}
	for _, name := range accountNames(cfg) {
		a := cfg.Corrigo.Accounts[name]
		if a.Reconcile.Interval > 0 && a.Reconcile.Window > events {
			if raised != nil {
				raised(name, a.Reconcile.Window)
			}
			events = a.Reconcile.Window
		}
	}
	return events
}

// WebhookSilence returns, per account, the last webhook silence report of
// its reconciler while the gateway runs (accounts never reported silent
// are absent). Metrics and health checks read it.
func (g *Gateway) WebhookSilence() map[string]reconcile.Silence { return g.silences.get() }

// silenceReports holds the reconcilers' last reports, per account, until
// the maintenance loops stop.
type silenceReports struct {
	mu sync.Mutex
	m  map[string]reconcile.Silence
}

func (r *silenceReports) put(s reconcile.Silence) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]reconcile.Silence{}
	}
	r.m[s.Account] = s
}

func (r *silenceReports) get() map[string]reconcile.Silence {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]reconcile.Silence, len(r.m))
	for k, v := range r.m {
		out[k] = v
	}
	return out
}

func (r *silenceReports) clear() {
	r.mu.Lock()
	r.m = nil
	r.mu.Unlock()
}

// reconcileMetrics are the reconcilers' Prometheus series, registered on
// the gateway's metrics registry (served at the admin listener's
// /metrics).
type reconcileMetrics struct {
	silent *prometheus.GaugeVec
	filled *prometheus.CounterVec
}

func newReconcileMetrics(g *Gateway) reconcileMetrics {
	m := reconcileMetrics{
		silent: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "wogate", Name: "webhook_silent",
			Help: "1 while reconciliation finds changes no webhook brought and none arrived for reconcile.silence_alert; 0 after it ended."},
			[]string{"account"}),
		filled: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "wogate", Name: "reconcile_gaps_filled_total",
			Help: "Events stored by reconciliation for changes no webhook brought, by notification action."},
			[]string{"account", "action"}),
	}
	if g.metrics == nil {
		return m
	}
	m.silent = registerCollector(g, m.silent)
	m.filled = registerCollector(g, m.filled)
	return m
}

// registerCollector registers c, or returns the collector already
// registered under its name (a second Run of the same gateway).
func registerCollector[C prometheus.Collector](g *Gateway, c C) C {
	err := g.metrics.Registry().Register(c)
	var are prometheus.AlreadyRegisteredError
	switch {
	case err == nil:
	case errors.As(err, &are):
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	default:
		g.log.Warn("reconcile metrics not registered", "err", err)
	}
	return c
}
