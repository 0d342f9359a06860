package postgres_test

import (
	"testing"

	"github.com/wogate/wogate/pkg/core/store/postgres"
	"github.com/wogate/wogate/pkg/core/store/storetest"
)

// BenchmarkInsertEvent compares group commit (one multi-row INSERT per
// batch) with one INSERT per event (MaxBatch 1), at 32 concurrent callers
// (parallelism 16 on 2 CPUs), against WOGATE_TEST_POSTGRES.
//
//	go test -run '^$' -bench BenchmarkInsertEvent -benchtime 3s ./pkg/core/store/postgres/
func BenchmarkInsertEvent(b *testing.B) {
	dsn := testDSN(b)
	for _, tc := range []struct {
		name string
		opts postgres.Options
	}{
		{"group", postgres.Options{}},
		{"group/flushers4", postgres.Options{Flushers: 4}},
		{"group/flushers1", postgres.Options{Flushers: 1}},
		{"batch1", postgres.Options{MaxBatch: 1, MaxConns: 32}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			st := openSchema(b, dsn, freshSchema(b, dsn), tc.opts)
			storetest.BenchInsert(b, st, 16)
			if batches, rows := st.BatchStats(); batches > 0 {
				b.ReportMetric(float64(rows)/float64(batches), "rows/batch")
			}
		})
	}
}
