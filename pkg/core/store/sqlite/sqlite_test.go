package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/sqlite"
	"github.com/wogate/wogate/pkg/core/store/storetest"
)

func openAt(t testing.TB, path string, opts sqlite.Options) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAt(t, filepath.Join(t.TempDir(), "wogate.db"), sqlite.Options{})
	}, storetest.WithReopen(func(t *testing.T) (store.Store, func(t *testing.T) store.Store) {
		path := filepath.Join(t.TempDir(), "data", "wogate.db")
		return openAt(t, path, sqlite.Options{}), func(t *testing.T) store.Store {
			return openAt(t, path, sqlite.Options{})
		}
	}))
}

// Without group commit (one transaction per write) the store behaves the
// same; only slower.
func TestConformanceNoGroupCommit(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openAt(t, filepath.Join(t.TempDir(), "wogate.db"), sqlite.Options{MaxBatch: 1, Synchronous: "NORMAL"})
	})
}
