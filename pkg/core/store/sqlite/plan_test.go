package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// The claims walk pending rows in id order through a partial index and stop
// after LIMIT lane heads. A plan that sorts (a temporary B-tree for the
// ORDER BY) looks at the whole backlog on every claim: 7 ms per claim with
// 5,000 pending events in the end-to-end benchmark (docs/performance.md).
func TestClaimPlansDoNotSort(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "wogate.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	for name, q := range map[string]string{"events": claimEventsSQL, "actions": claimActionsSQL} {
		sel := q[strings.Index(q, "SELECT"):strings.Index(q, "RETURNING")]
		sel = strings.TrimSuffix(strings.TrimSpace(sel), ")")
		rows, err := s.rdb.QueryContext(ctx, "EXPLAIN QUERY PLAN "+sel, "owner", 1, 1, 10)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		_ = rows.Close()
		joined := strings.Join(plan, "; ")
		if strings.Contains(joined, "TEMP B-TREE") || !strings.Contains(joined, name+"_pending") {
			t.Errorf("claim %s plan: %s", name, joined)
		}
	}
}

// The writer keeps its savepoint journal in memory.
func TestWriterTempStoreMemory(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "wogate.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	var mode int
	if err := s.wdb.QueryRowContext(ctx, "PRAGMA temp_store").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != 2 {
		t.Fatalf("writer temp_store = %d, want 2 (MEMORY)", mode)
	}
}
