package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/wogate/wogate/pkg/core/store/sqlite"
	"github.com/wogate/wogate/pkg/core/store/storetest"
)

// BenchmarkInsertEvent compares group commit with one transaction per
// event (MaxBatch 1), at 32 concurrent callers on 2 CPUs (parallelism 16).
//
//	go test -run '^$' -bench BenchmarkInsertEvent -benchtime 3s ./pkg/core/store/sqlite/
func BenchmarkInsertEvent(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts sqlite.Options
	}{
		{"group/full", sqlite.Options{}},
		{"group/full/nowait", sqlite.Options{MaxWait: -1}},
		{"group/full/autocheckpoint", sqlite.Options{CheckpointInterval: -1}},
		{"batch1/full", sqlite.Options{MaxBatch: 1}},
		{"group/normal", sqlite.Options{Synchronous: "NORMAL"}},
		{"batch1/normal", sqlite.Options{MaxBatch: 1, Synchronous: "NORMAL"}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			st := openAt(b, filepath.Join(b.TempDir(), "bench.db"), tc.opts)
			storetest.BenchInsert(b, st, 16)
			ws := st.WriterStats()
			if ws.Commits > 0 {
				b.ReportMetric(float64(ws.Ops)/float64(ws.Commits), "rows/commit")
			}
		})
	}
}
