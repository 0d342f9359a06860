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

// insertReq is one InsertEvent call waiting for a batch.
type insertReq struct {
	ctx  context.Context
	row  eventRow
	done chan insertRes // buffered
}

type insertRes struct {
	id  int64 // 0: duplicate
	err error
}

// eventRow is an event's column values, cleaned for PostgreSQL.
type eventRow struct {
	account, messageID, action, source, plugin, status, lastError string
	workOrderID                                                   int64
	actionDate, receivedAt, nextAt, handledAt, updatedAt          time.Time
	body                                                          []byte
	traceParent                                                   *string // NULL when unset
}

func newEventRow(e *store.Event, now time.Time) eventRow {
	return eventRow{
		account: clean(e.Account), messageID: clean(e.MessageID), action: clean(e.Action),
		source: clean(string(e.Source)), plugin: clean(e.Plugin), status: string(e.Status), lastError: clean(e.LastError),
		workOrderID: e.WorkOrderID,
		actionDate:  e.ActionDate, receivedAt: e.ReceivedAt, nextAt: e.NextAt, handledAt: e.HandledAt, updatedAt: now,
		body: blob(e.Body), traceParent: nullText(e.TraceParent),
	}
}

// insertBatchSQL inserts a whole batch in one statement: one round trip and
// one commit (one WAL flush) for every event in it. unnest keeps the
// statement text fixed whatever the batch size, so it is prepared once.
const insertBatchSQL = `INSERT INTO events (account, message_id, work_order_id, action, action_date, received_at,
	source, plugin, body, status, next_at, handled_at, last_error, updated_at, trace_parent)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::timestamptz[], $6::timestamptz[],
	$7::text[], $8::text[], $9::bytea[], $10::text[], $11::timestamptz[], $12::timestamptz[], $13::text[], $14::timestamptz[],
	$15::text[])
ON CONFLICT (account, message_id) DO NOTHING
RETURNING id, account, message_id`

// InsertEvent implements store.Store.
func (s *Store) InsertEvent(ctx context.Context, e *store.Event) (bool, error) {
	now := storeutil.Now()
	if err := storeutil.PrepareEvent(e, now); err != nil {
		return false, fmt.Errorf("postgres insert event: %w", err)
	}
	if err := s.open("insert event"); err != nil {
		return false, err
	}
	row := newEventRow(e, now)
	var res insertRes
	if s.opts.MaxBatch <= 1 {
		res = s.insertOne(ctx, row)
	} else {
		req := &insertReq{ctx: ctx, row: row, done: make(chan insertRes, 1)}
		select {
		case s.inserts <- req:
		case <-s.closing:
			return false, fmt.Errorf("postgres insert event: %w", store.ErrClosed)
		case <-ctx.Done():
			return false, fmt.Errorf("postgres insert event: %w", ctx.Err())
		}
		select {
		case res = <-req.done:
		case <-ctx.Done():
			return false, fmt.Errorf("postgres insert event: %w", ctx.Err())
		}
	}
	if res.err != nil {
		return false, s.wrap("insert event", res.err)
	}
	if res.id == 0 {
		return false, nil
	}
	e.ID = res.id
	return true, nil
}

// insertOne inserts a single row in its own statement.
func (s *Store) insertOne(ctx context.Context, r eventRow) insertRes {
	ctx, cancel := s.stmtCtx(ctx)
	defer cancel()
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO events (account, message_id, work_order_id, action, action_date, received_at,
		source, plugin, body, status, next_at, handled_at, last_error, updated_at, trace_parent)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT (account, message_id) DO NOTHING RETURNING id`,
		r.account, r.messageID, r.workOrderID, r.action, r.actionDate, r.receivedAt, r.source, r.plugin, r.body,
		r.status, r.nextAt, zt(r.handledAt), r.lastError, r.updatedAt, r.traceParent).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return insertRes{}
	}
	return insertRes{id: id, err: err}
}

// flusher gathers InsertEvent calls into batches and inserts each batch with
// one statement. Several flushers run so one batch gathers while another is
// committing.
func (s *Store) flusher() {
	defer s.flushersWG.Done()
	batch := make([]*insertReq, 0, s.opts.MaxBatch)
	for {
		batch = batch[:0]
		select {
		case r := <-s.inserts:
			batch = append(batch, r)
		case <-s.closing:
			return
		}
		batch = s.gather(batch)
		s.flush(batch)
	}
}

func (s *Store) gather(batch []*insertReq) []*insertReq {
	max := s.opts.MaxBatch
	for len(batch) < max {
		select {
		case r := <-s.inserts:
			batch = append(batch, r)
			continue
		default:
		}
		break
	}
	if s.opts.MaxWait <= 0 || len(batch) >= max {
		return batch
	}
	t := time.NewTimer(s.opts.MaxWait)
	defer t.Stop()
	for len(batch) < max {
		select {
		case r := <-s.inserts:
			batch = append(batch, r)
		case <-t.C:
			return batch
		case <-s.closing:
			return batch
		}
	}
	return batch
}

type msgKey struct{ account, messageID string }

// flush inserts a batch and answers every caller. If the batch statement
// fails (one bad row fails them all), each row is retried alone so only
// the bad one reports an error.
func (s *Store) flush(batch []*insertReq) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- insertRes{err: err}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	if len(live) == 1 {
		live[0].done <- s.insertOne(context.Background(), live[0].row)
		return
	}
	n := len(live)
	var (
		accounts, msgs, actions, sources, plugins, statuses, lastErrs = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		wos                                                           = make([]int64, n)
		ads, ras, nas, updated                                        = make([]time.Time, n), make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		has                                                           = make([]*time.Time, n)
		bodies                                                        = make([][]byte, n)
		traces                                                        = make([]*string, n)
	)
	for i, r := range live {
		w := r.row
		accounts[i], msgs[i], actions[i], sources[i], plugins[i], statuses[i], lastErrs[i] = w.account, w.messageID, w.action, w.source, w.plugin, w.status, w.lastError
		wos[i], ads[i], ras[i], nas[i], updated[i], bodies[i] = w.workOrderID, w.actionDate, w.receivedAt, w.nextAt, w.updatedAt, w.body
		traces[i] = w.traceParent
		if !w.handledAt.IsZero() {
			t := w.handledAt
			has[i] = &t
		}
	}
	ctx, cancel := s.stmtCtx(context.Background())
	defer cancel()
	rows, err := s.pool.Query(ctx, insertBatchSQL, accounts, msgs, wos, actions, ads, ras, sources, plugins, bodies,
		statuses, nas, has, lastErrs, updated, traces)
	ids := map[msgKey]int64{}
	if err == nil {
		for rows.Next() {
			var id int64
			var k msgKey
			if err = rows.Scan(&id, &k.account, &k.messageID); err != nil {
				break
			}
			ids[k] = id
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	if err != nil {
		for _, r := range live {
			r.done <- s.insertOne(context.Background(), r.row)
		}
		return
	}
	s.batches.Add(1)
	s.batchedRows.Add(int64(n))
	for _, r := range live {
		k := msgKey{r.row.account, r.row.messageID}
		id := ids[k]
		delete(ids, k) // a second request for the same message in this batch is the duplicate
		r.done <- insertRes{id: id}
	}
}
