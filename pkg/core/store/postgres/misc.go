package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/core/store/internal/storeutil"
)

// AppendLog implements store.Store with one multi-row INSERT.
func (s *Store) AppendLog(ctx context.Context, entries ...store.LogEntry) error {
	if len(entries) == 0 {
		return nil
	}
	now := storeutil.Now()
	n := len(entries)
	times := make([]time.Time, n)
	durs, wos := make([]int64, n), make([]int64, n)
	statuses := make([]int32, n)
	cols := make([][]string, 11)
	for i := range cols {
		cols[i] = make([]string, n)
	}
	for i, l := range entries {
		t := storeutil.Micro(l.Time)
		if t.IsZero() {
			t = now
		}
		times[i], durs[i], wos[i], statuses[i] = t, int64(l.Duration), l.WorkOrderID, int32(l.Status) //nolint:gosec // G115: an HTTP status code
		for j, v := range []string{l.Account, l.Direction, l.Severity, l.Method, l.URL, l.WorkOrderNumber,
			l.Customer, l.MessageID, l.Request, l.Response, l.Error} {
			cols[j][i] = clean(v)
		}
	}
	_, err := s.exec(ctx, "append log", `INSERT INTO comm_log (time, duration_ns, account, direction, severity, method, url,
		status, work_order_id, work_order_number, customer, message_id, request, response, error)
		SELECT t, d, a, dir, sev, m, u, st, wo, won, c, mid, req, resp, e
		FROM unnest($1::timestamptz[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
			$8::integer[], $9::bigint[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])
			WITH ORDINALITY AS u(t, d, a, dir, sev, m, u, st, wo, won, c, mid, req, resp, e, ord)
		ORDER BY ord`,
		times, durs, cols[0], cols[1], cols[2], cols[3], cols[4], statuses, wos, cols[5], cols[6], cols[7], cols[8], cols[9], cols[10])
	return err
}

// QueryLog implements store.Store.
func (s *Store) QueryLog(ctx context.Context, f store.LogFilter) ([]store.LogEntry, error) {
	var w where
	if !f.Since.IsZero() {
		w.add("time >= ?", storeutil.Micro(f.Since))
	}
	if !f.Until.IsZero() {
		w.add("time < ?", storeutil.Micro(f.Until))
	}
	if f.Account != "" {
		w.add("account = ?", clean(f.Account))
	}
	if f.Direction != "" {
		w.add("direction = ?", clean(f.Direction))
	}
	if f.Severity != "" {
		w.add("severity = ?", clean(f.Severity))
	}
	if f.WorkOrderID != 0 {
		w.add("work_order_id = ?", f.WorkOrderID)
	}
	if f.Customer != "" {
		w.add("customer = ?", clean(f.Customer))
	}
	if f.BeforeID > 0 {
		w.add("id < ?", f.BeforeID)
	}
	q := "SELECT " + logCols + " FROM comm_log" + w.String() + " ORDER BY id DESC LIMIT "
	q += w.next(storeutil.Limit(f.Limit))
	return query(ctx, s, "query log", scanLog, q, w.args...)
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
		return nil, false, fmt.Errorf("postgres kv get: %w", err)
	}
	if err := s.open("kv get"); err != nil {
		return nil, false, err
	}
	ctx, cancel := s.stmtCtx(ctx)
	defer cancel()
	var v []byte
	err := s.pool.QueryRow(ctx, "SELECT value FROM kv WHERE plugin = $1 AND key = $2", clean(plugin), clean(key)).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.wrap("kv get", err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, true, nil
}

// KVPut implements store.Store.
func (s *Store) KVPut(ctx context.Context, plugin, key string, value []byte) error {
	if err := checkKV(plugin, key); err != nil {
		return fmt.Errorf("postgres kv put: %w", err)
	}
	if value == nil {
		value = []byte{}
	}
	_, err := s.exec(ctx, "kv put", `INSERT INTO kv (plugin, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value`, clean(plugin), clean(key), value)
	return err
}

// KVDelete implements store.Store; deleting a missing key is not an error.
func (s *Store) KVDelete(ctx context.Context, plugin, key string) error {
	if err := checkKV(plugin, key); err != nil {
		return fmt.Errorf("postgres kv delete: %w", err)
	}
	_, err := s.exec(ctx, "kv delete", "DELETE FROM kv WHERE plugin = $1 AND key = $2", clean(plugin), clean(key))
	return err
}

// GetWatermark implements store.Store.
func (s *Store) GetWatermark(ctx context.Context, name string) (string, error) {
	vals, err := query(ctx, s, "get watermark", func(r pgx.Row) (string, error) {
		var v string
		err := r.Scan(&v)
		return v, err
	}, "SELECT value FROM watermarks WHERE name = $1", clean(name))
	if err != nil || len(vals) == 0 {
		return "", err
	}
	return vals[0], nil
}

// SetWatermark implements store.Store.
func (s *Store) SetWatermark(ctx context.Context, name, value string) error {
	if name == "" {
		return fmt.Errorf("postgres set watermark: %w: empty name", store.ErrInvalid)
	}
	_, err := s.exec(ctx, "set watermark", `INSERT INTO watermarks (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, clean(name), clean(value))
	return err
}

const pruneChunk = 1000

// Prune implements store.Store, deleting in chunks so no statement holds
// locks for long. Idle lane rows are dropped too; claims recreate them.
func (s *Store) Prune(ctx context.Context, before store.PruneBefore) (int64, error) {
	type stmt struct {
		q      string
		before time.Time
	}
	stmts := []stmt{
		{`DELETE FROM actions WHERE id IN (SELECT id FROM actions
			WHERE status IN ('sent', 'refused', 'shadow', 'ignored') AND updated_at < $1 LIMIT $2)`, before.Events},
		{`DELETE FROM events WHERE id IN (SELECT e.id FROM events e
			WHERE e.status IN ('done', 'ignored') AND e.updated_at < $1
			AND NOT EXISTS (SELECT 1 FROM actions a WHERE a.event_id = e.id) LIMIT $2)`, before.Events},
		{`DELETE FROM comm_log WHERE id IN (SELECT id FROM comm_log WHERE time < $1 LIMIT $2)`, before.Log},
	}
	var total int64
	for _, st := range stmts {
		if st.before.IsZero() {
			continue
		}
		b := storeutil.Micro(st.before)
		for {
			tag, err := s.exec(ctx, "prune", st.q, b, pruneChunk)
			if err != nil {
				return total, err
			}
			total += tag.RowsAffected()
			if tag.RowsAffected() < pruneChunk {
				break
			}
		}
	}
	// Lane rows are bookkeeping, not data: not counted.
	_, err := s.exec(ctx, "prune lanes", `DELETE FROM lanes l
		WHERE (l.lease_until IS NULL OR l.lease_until < $1)
		AND NOT EXISTS (SELECT 1 FROM events e WHERE l.kind = 'event' AND e.status = 'pending'
			AND e.account = l.account AND e.work_order_id = l.work_order_id)
		AND NOT EXISTS (SELECT 1 FROM actions a WHERE l.kind = 'action' AND a.status = 'pending'
			AND a.account = l.account AND a.work_order_id = l.work_order_id)`, storeutil.Now())
	return total, err
}
