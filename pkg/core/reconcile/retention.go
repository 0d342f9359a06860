package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

// Pruner is the retention loop: it deletes handled events and finished
// actions older than the events retention, communication log entries older
// than the log retention, and keeps dead letters until an operator
// resolves them (store.Store.Prune).
type Pruner struct {
	o   PrunerOptions
	log *slog.Logger
}

// PruneStore is the part of store.Store the pruner uses.
type PruneStore interface {
	Prune(ctx context.Context, before store.PruneBefore) (int64, error)
}

// PrunerOptions configure a Pruner.
type PrunerOptions struct {
	Store PruneStore
	// Events is how long handled events and their finished actions are
	// kept; 0 keeps them forever.
	Events time.Duration
	// Log is how long communication log entries are kept; 0 keeps them
	// forever.
	Log time.Duration
	// Interval between prunes; default the shorter positive retention
	// divided by 24, between 1 second and 1 hour.
	Interval time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
}

// NewPruner checks o and returns a pruner.
func NewPruner(o PrunerOptions) (*Pruner, error) {
	if o.Store == nil {
		return nil, errors.New("reconcile: pruner needs a store")
	}
	if o.Events < 0 || o.Log < 0 {
		return nil, errors.New("reconcile: pruner retentions must not be negative")
	}
	if o.Events == 0 && o.Log == 0 {
		return nil, errors.New("reconcile: pruner needs a positive events or log retention")
	}
	if o.Interval <= 0 {
		shortest := o.Events
		if shortest == 0 || (o.Log > 0 && o.Log < shortest) {
			shortest = o.Log
		}
		o.Interval = min(max(shortest/24, time.Second), time.Hour)
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
			p.log.Info("pruned old history", "deleted", n, "events_retention", p.o.Events.String(), "log_retention", p.o.Log.String())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// PruneOnce deletes what is older than its retention and returns how many
// rows went. A retention of 0 passes a zero cutoff: nothing of that kind
// is pruned.
func (p *Pruner) PruneOnce(ctx context.Context) (int64, error) {
	return p.o.Store.Prune(ctx, p.Cutoffs())
}

// Cutoffs returns the cutoffs a prune would use now.
func (p *Pruner) Cutoffs() store.PruneBefore {
	now := p.o.Now()
	var b store.PruneBefore
	if p.o.Events > 0 {
		b.Events = now.Add(-p.o.Events)
	}
	if p.o.Log > 0 {
		b.Log = now.Add(-p.o.Log)
	}
	return b
}
