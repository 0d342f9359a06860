package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Pruner is the retention loop: it deletes handled events, finished
// actions and communication log entries older than the retention, and
// keeps dead letters until an operator resolves them (store.Store.Prune).
type Pruner struct {
	o   PrunerOptions
	log *slog.Logger
}

// PruneStore is the part of store.Store the pruner uses.
type PruneStore interface {
	Prune(ctx context.Context, before time.Time) (int64, error)
}

// PrunerOptions configure a Pruner.
type PrunerOptions struct {
	Store PruneStore
	// Retention is how long handled rows are kept. The store prunes
	// events, actions and the communication log with one cutoff, so the
	// gateway passes the longer of its event and log retentions: nothing
	// is ever deleted before its configured age. 0 turns pruning off.
	Retention time.Duration
	// Interval between prunes; default Retention/24, between 1 second and
	// 1 hour.
	Interval time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
}

// NewPruner checks o and returns a pruner.
func NewPruner(o PrunerOptions) (*Pruner, error) {
	if o.Store == nil {
		return nil, errors.New("reconcile: pruner needs a store")
	}
	if o.Retention <= 0 {
		return nil, errors.New("reconcile: pruner needs a positive retention")
	}
	if o.Interval <= 0 {
		o.Interval = min(max(o.Retention/24, time.Second), time.Hour)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Pruner{o: o, log: log.With("component", "retention")}, nil
}

// Run prunes at once and then every Interval until ctx ends.
func (p *Pruner) Run(ctx context.Context) error {
	t := time.NewTicker(p.o.Interval)
	defer t.Stop()
	for {
		n, err := p.PruneOnce(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			p.log.Warn("pruning failed; will retry", "err", err, "deleted", n)
		case n > 0:
			p.log.Info("pruned old history", "deleted", n, "retention", p.o.Retention.String())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// PruneOnce deletes what is older than the retention and returns how many
// rows went.
func (p *Pruner) PruneOnce(ctx context.Context) (int64, error) {
	return p.o.Store.Prune(ctx, p.o.Now().Add(-p.o.Retention))
}
