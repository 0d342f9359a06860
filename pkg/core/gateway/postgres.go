package gateway

import (
	"context"
	"fmt"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/postgres"
)

// openPostgres opens the shared PostgreSQL store, for several gateway
// replicas working one database (leases keep them apart).
func openPostgres(ctx context.Context, cfg *config.Config, opts Options) (store.Store, error) {
	st, err := postgres.Open(ctx, cfg.Store.DSN.Value(), postgres.Options{
		Schema:   opts.PostgresSchema,
		MaxBatch: cfg.Store.GroupCommit.MaxBatch,
		MaxWait:  cfg.Store.GroupCommit.MaxWait,
	})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}
