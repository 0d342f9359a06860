package gateway

import (
	"context"
	"errors"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/core/store"
)

func openPostgres(ctx context.Context, cfg *config.Config) (store.Store, error) {
	return nil, errors.New("open store: the postgres driver is not built into this gateway yet")
}
