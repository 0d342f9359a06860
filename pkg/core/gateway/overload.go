package gateway

import (
	"context"
	"path/filepath"
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/overload"
	"github.com/wogate/wogate/pkg/core/store"
)

// storeSizer is implemented by the store implementations (SQLite: the
// database and WAL files; PostgreSQL: the database).
type storeSizer interface {
	SizeBytes(ctx context.Context) (int64, error)
}

// newShedder builds the load shedder of cfg.Overload. raw is the store as
// opened (the decorated g.st hides SizeBytes); diskDir is the directory
// whose file system the free-disk limit watches ("" for none: PostgreSQL
// keeps its data elsewhere).
func (g *Gateway) newShedder(raw store.Store, diskDir string) *overload.Shedder {
	o := g.cfg.Overload
	sample := func(ctx context.Context) (overload.Sample, error) {
		smp := overload.Sample{FreeDiskBytes: -1, StoreBytes: -1}
		bl, err := g.st.Backlog(ctx) // read-only: the readers' pool, not the writer
		if err != nil {
			return smp, err
		}
		now := time.Now()
		for _, b := range bl {
			smp.PendingEvents += b.PendingEvents
			if b.PendingEvents > 0 && !b.OldestEvent.IsZero() {
				smp.OldestPending = max(smp.OldestPending, now.Sub(b.OldestEvent))
			}
		}
		if diskDir != "" {
			smp.FreeDiskBytes = overload.FreeBytes(diskDir)
		}
		if sz, ok := raw.(storeSizer); ok {
			if n, err := sz.SizeBytes(ctx); err == nil {
				smp.StoreBytes = n
			}
		}
		return smp, nil
	}
	return overload.New(overloadLimits(o), o.SampleInterval, sample, g.log.With("component", "overload"))
}

func overloadLimits(o config.Overload) overload.Limits {
	return overload.Limits{MaxPendingEvents: o.MaxPendingEvents, MaxOldestPending: o.MaxOldestPending,
		MinFreeDiskBytes: o.MinFreeDiskBytes, MaxStoreBytes: o.MaxStoreBytes, RetryAfter: o.RetryAfter}
}

// sqliteDir is the directory of the configured SQLite store, "" for
// PostgreSQL.
func sqliteDir(cfg *config.Config) string {
	switch cfg.Store.Driver {
	case "", "sqlite":
		path := cfg.Store.DSN.Value()
		if path == "" {
			path = filepath.Join(cfg.DataDir, config.DefaultSQLiteFile)
		}
		return filepath.Dir(path)
	}
	return ""
}

// overloadProblems are the readiness problems while shedding.
func (g *Gateway) overloadProblems() []string {
	st := g.shed.State()
	if !st.Shedding {
		return nil
	}
	out := make([]string, 0, len(st.Detail))
	for _, d := range st.Detail {
		out = append(out, "overloaded: "+d)
	}
	return out
}
