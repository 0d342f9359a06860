package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/internal/storeutil"
)

// AppendLog implements store.Store; all entries commit together.
func (s *Store) AppendLog(ctx context.Context, entries ...store.LogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	now := storeutil.Now()
	rows := make([][]any, len(entries))
	for i, l := range entries {
		t := storeutil.Micro(l.Time)
		if t.IsZero() {
			t = now
		}
		rows[i] = []any{enc(t), int64(l.Duration), l.Account, l.Direction, l.Severity, l.Method, l.URL, l.Status,
			l.WorkOrderID, l.WorkOrderNumber, l.Customer, l.MessageID, l.Request, l.Response, l.Error}
	}
	return s.write(ctx, "append log", func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(bg, `INSERT INTO comm_log (time, duration_ns, account, direction, severity, method, url,
			status, work_order_id, work_order_number, customer, message_id, request, response, error)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer func() { _ = st.Close() }()
		for _, r := range rows {
			if _, err := st.ExecContext(bg, r...); err != nil {
				return err
			}
		}
		return nil
	})
}

// QueryLog implements store.Store.
func (s *Store) QueryLog(ctx context.Context, f store.LogFilter) ([]store.LogEntry, error) {
	var w where
	if !f.Since.IsZero() {
		w.add("time >= ?", enc(storeutil.Micro(f.Since)))
	}
	if !f.Until.IsZero() {
		w.add("time < ?", enc(storeutil.Micro(f.Until)))
	}
	if f.Account != "" {
		w.add("account = ?", f.Account)
	}
	if f.Direction != "" {
		w.add("direction = ?", f.Direction)
	}
	if f.Severity != "" {
		w.add("severity = ?", f.Severity)
	}
	if f.WorkOrderID != 0 {
		w.add("work_order_id = ?", f.WorkOrderID)
	}
	if f.Customer != "" {
		w.add("customer = ?", f.Customer)
	}
	if f.BeforeID > 0 {
		w.add("id < ?", f.BeforeID)
	}
	return query(ctx, s, "query log", scanLog,
		"SELECT "+logCols+" FROM comm_log"+w.String()+" ORDER BY id DESC LIMIT ?", append(w.args, storeutil.Limit(f.Limit))...)
}

func checkKV(plugin, key string) error {
	if plugin == "" || key == "" {
		return fmt.Errorf("%w: kv needs a plugin and a key", store.ErrInvalid)
	}
	return nil
}

// KVGet implements store.Store.
func (s *Store) KVGet(ctx context.Context, plugin, key string) ([]byte, bool, error) {
	if err := checkKV(plugin, key); err != nil {
		return nil, false, fmt.Errorf("sqlite kv get: %w", err)
	}
	vals, err := query(ctx, s, "kv get", func(r scanner) ([]byte, error) {
		var b []byte
		err := r.Scan(&b)
		return b, err
	}, "SELECT value FROM kv WHERE plugin = ? AND key = ?", plugin, key)
	if err != nil || len(vals) == 0 {
		return nil, false, err
	}
	if vals[0] == nil {
		return []byte{}, true, nil
	}
	return vals[0], true, nil
}

// KVPut implements store.Store.
func (s *Store) KVPut(ctx context.Context, plugin, key string, value []byte) error {
	if err := checkKV(plugin, key); err != nil {
		return fmt.Errorf("sqlite kv put: %w", err)
	}
	v := append([]byte{}, value...) // never NULL, and not the caller's slice
	return s.writeOne(ctx, "kv put", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(bg, `INSERT INTO kv (plugin, key, value) VALUES (?, ?, ?)
			ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value`, plugin, key, v)
		return err
	})
}

// KVDelete implements store.Store; deleting a missing key is not an error.
func (s *Store) KVDelete(ctx context.Context, plugin, key string) error {
	if err := checkKV(plugin, key); err != nil {
		return fmt.Errorf("sqlite kv delete: %w", err)
	}
	return s.writeOne(ctx, "kv delete", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(bg, "DELETE FROM kv WHERE plugin = ? AND key = ?", plugin, key)
		return err
	})
}

// GetWatermark implements store.Store.
func (s *Store) GetWatermark(ctx context.Context, name string) (string, error) {
	vals, err := query(ctx, s, "get watermark", func(r scanner) (string, error) {
		var v string
		err := r.Scan(&v)
		return v, err
	}, "SELECT value FROM watermarks WHERE name = ?", name)
	if err != nil || len(vals) == 0 {
		return "", err
	}
	return vals[0], nil
}

// SetWatermark implements store.Store.
func (s *Store) SetWatermark(ctx context.Context, name, value string) error {
	if name == "" {
		return fmt.Errorf("sqlite set watermark: %w: empty name", store.ErrInvalid)
	}
	return s.writeOne(ctx, "set watermark", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(bg, `INSERT INTO watermarks (name, value) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value)
		return err
	})
}

// pruneChunk bounds one prune transaction so ingest never waits long behind
// a large delete.
const pruneChunk = 1000

// Prune implements store.Store. It deletes in chunks, each its own write.
func (s *Store) Prune(ctx context.Context, before store.PruneBefore) (int64, error) {
	type stmt struct {
		q      string
		before time.Time
	}
	stmts := []stmt{
		{`DELETE FROM actions WHERE id IN (SELECT id FROM actions
			WHERE status IN ('sent', 'refused', 'shadow', 'ignored') AND updated_at < ?1 LIMIT ?2)`, before.Events},
		{`DELETE FROM events WHERE id IN (SELECT e.id FROM events e
			WHERE e.status IN ('done', 'ignored') AND e.updated_at < ?1
			AND NOT EXISTS (SELECT 1 FROM actions a WHERE a.event_id = e.id) LIMIT ?2)`, before.Events},
		{`DELETE FROM comm_log WHERE id IN (SELECT id FROM comm_log WHERE time < ?1 LIMIT ?2)`, before.Log},
	}
	var total int64
	for _, st := range stmts {
		if st.before.IsZero() {
			continue
		}
		b := enc(storeutil.Micro(st.before))
		for {
			var n int64
			err := s.writeOne(ctx, "prune", func(tx *sql.Tx) error {
				res, err := tx.ExecContext(bg, st.q, b, pruneChunk)
				if err != nil {
					return err
				}
				n, err = res.RowsAffected()
				return err
			})
			if err != nil {
				return total, err
			}
			total += n
			if n < pruneChunk {
				break
			}
		}
	}
	return total, nil
}
