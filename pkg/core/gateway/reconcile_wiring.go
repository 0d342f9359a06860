package gateway

import (
	"context"
	"time"

	"github.com/wogate/wogate/pkg/core/reconcile"
)

// runMaintenance runs the retention pruner until ctx ends (retention.events
// and retention.log; dead letters stay until resolved). Run starts it
// beside the pollers, so it stops with ingest. Reconciliation of missed
// webhooks runs beside it (see Run).
func (g *Gateway) runMaintenance(ctx context.Context) {
	keep := retention(g.cfg.Retention.Events, g.cfg.Retention.Log)
	if keep <= 0 {
		return
	}
	p, err := reconcile.NewPruner(reconcile.PrunerOptions{Store: g.st, Retention: keep, Logger: g.log})
	if err != nil {
		g.log.Error("retention not started", "err", err)
		return
	}
	_ = p.Run(ctx)
}

// retention is the cutoff age the store prunes with. The store prunes
// events and the log with one cutoff, so the longer retention wins and
// nothing goes before its configured age; 0 (keep forever) for either
// keeps everything.
func retention(events, log time.Duration) time.Duration {
	if events <= 0 || log <= 0 {
		return 0
	}
	return max(events, log)
}
