package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// The work order list reads through indexes only: the newest events by
// the primary key (no sort), dead letters by the status indexes, one work
// order by its (account, work_order_id) indexes, its log entries by
// comm_log_work_order.
func TestWorkOrderPlansUseIndexes(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "wogate.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	plan := func(q string, args ...any) string {
		rows, err := s.rdb.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer func() { _ = rows.Close() }()
		var out []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			out = append(out, detail)
		}
		return strings.Join(out, "; ")
	}
	hq, hargs := woHeadsQuery("a", time.Now(), 7, 10)
	heads := plan(hq, hargs...)
	if strings.Contains(heads, "TEMP B-TREE") {
		t.Errorf("heads plan sorts: %s", heads)
	}
	for name, q := range map[string]string{
		"dead events":  "SELECT DISTINCT account, work_order_id FROM events WHERE status IN ('dead', 'parked') AND account = ? LIMIT 10",
		"dead actions": "SELECT DISTINCT account, work_order_id FROM actions WHERE status IN ('dead', 'parked') AND account = ? LIMIT 10",
		"counts":       woCountsSQL,
		"recent":       woRecentSQL,
		"newest":       woNewestSQL,
		"last action":  woLastActionSQL,
		"last sent":    woLastSentSQL,
		"last sent of": woLastSentPrefix + " AND kind IN (?, ?)" + woLastSentSuffix,
		"log number":   woLogSQL["work_order_number"],
		"log customer": woLogSQL["customer"],
	} {
		p := plan(q, "a", 1, 5, "x") // surplus arguments are ignored
		for _, step := range strings.Split(p, "; ") {
			if (strings.HasPrefix(step, "SCAN ") || strings.HasPrefix(step, "SEARCH ")) && !strings.Contains(step, "INDEX") && step != "SCAN CONSTANT ROW" {
				t.Errorf("%s: a step without an index: %s (plan %s)", name, step, p)
			}
		}
	}
}
