package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
)

// SearchAPI is the part of *corrigo.Client the poller uses.
type SearchAPI interface {
	SearchWorkOrders(ctx context.Context, p corrigo.SearchParameters) ([]corrigo.WorkOrderSummary, error)
	GetWorkOrders(ctx context.Context, ids []int64) ([]corrigo.WorkOrder, error)
}

// PollStore is the part of store.Store the poller uses.
type PollStore interface {
	InsertEvent(ctx context.Context, e *store.Event) (bool, error)
	SeenWorkOrders(ctx context.Context, account string, ids []int64) (map[int64]bool, error)
	GetWatermark(ctx context.Context, name string) (string, error)
	SetWatermark(ctx context.Context, name, value string) error
}

// PollerOptions configure one account's poller.
type PollerOptions struct {
	Account string
	API     SearchAPI
	Store   PollStore
	// Interval between searches; default 1 minute.
	Interval time.Duration
	// Lookback widens each search window backwards from the last watermark,
	// so work orders created just before a previous search (and indexed
	// late by CorrigoPro) are still found; default 15 minutes. The first
	// search after a fresh start looks back this far from now.
	Lookback time.Duration
	// OnStored is called after each new event is stored; must not block.
	OnStored func(e *store.Event)
	Logger   *slog.Logger
	Now      func() time.Time
}

// fetchBatch is CorrigoPro's limit of ids per GET api/workOrder call.
const fetchBatch = 50

// Poller turns recently created New work orders into NewWorkOrder events.
type Poller struct {
	opts PollerOptions
	log  *slog.Logger
}

// NewPoller checks opts and returns a poller.
func NewPoller(opts PollerOptions) (*Poller, error) {
	if opts.Account == "" || opts.API == nil || opts.Store == nil {
		return nil, errors.New("ingest: poller needs an account, an API client and a store")
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	if opts.Lookback <= 0 {
		opts.Lookback = 15 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Poller{opts: opts, log: log.With("account", opts.Account, "component", "poller")}, nil
}

// WatermarkName is the store key of an account's polling watermark.
func WatermarkName(account string) string { return "poll:" + account }

// PollMessageID is the MessageId of a polled work order's synthetic event.
// It is stable, so polling the same work order twice stores it once.
func PollMessageID(account string, workOrderID int64) string {
	return "poll-" + account + "-" + strconv.FormatInt(workOrderID, 10)
}

// Run polls at once and then every Interval until ctx ends. A failed round
// is logged and retried at the next tick; the watermark only moves forward
// after a round stored everything it found.
func (p *Poller) Run(ctx context.Context) error {
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		if n, err := p.PollOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			p.log.Warn("poll failed; will retry", "err", err)
		} else if n > 0 {
			p.log.Info("poll stored new work orders", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// PollOnce runs one search round and returns how many events it stored.
func (p *Poller) PollOnce(ctx context.Context) (int, error) {
	now := p.opts.Now().UTC()
	wmName := WatermarkName(p.opts.Account)
	from := now.Add(-p.opts.Lookback)
	if v, err := p.opts.Store.GetWatermark(ctx, wmName); err != nil {
		return 0, fmt.Errorf("read watermark: %w", err)
	} else if v != "" {
		wm, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			p.log.Warn("ignoring unreadable watermark", "value", v, "err", err)
		} else {
			from = wm.Add(-p.opts.Lookback)
		}
	}
	found, err := p.opts.API.SearchWorkOrders(ctx, corrigo.SearchParameters{
		Statuses: []corrigo.Status{corrigo.StatusNew},
		Created:  &corrigo.DateRange{From: corrigo.NewTime(from), To: corrigo.NewTime(now)},
	})
	if err != nil {
		return 0, fmt.Errorf("search new work orders: %w", err)
	}
	ids := make([]int64, 0, len(found))
	for _, s := range found {
		if s.WorkOrderId != 0 {
			ids = append(ids, s.WorkOrderId)
		}
	}
	stored := 0
	for len(ids) > 0 {
		batch := ids[:min(fetchBatch, len(ids))]
		ids = ids[len(batch):]
		n, err := p.storeBatch(ctx, batch, now)
		stored += n
		if err != nil {
			return stored, err
		}
	}
	if err := p.opts.Store.SetWatermark(ctx, wmName, now.Format(time.RFC3339Nano)); err != nil {
		return stored, fmt.Errorf("advance watermark: %w", err)
	}
	return stored, nil
}

// storeBatch fetches the unseen work orders among ids and stores one
// NewWorkOrder event for each.
func (p *Poller) storeBatch(ctx context.Context, ids []int64, now time.Time) (int, error) {
	seen, err := p.opts.Store.SeenWorkOrders(ctx, p.opts.Account, ids)
	if err != nil {
		return 0, fmt.Errorf("check seen work orders: %w", err)
	}
	unseen := ids[:0:0]
	for _, id := range ids {
		if !seen[id] {
			unseen = append(unseen, id)
		}
	}
	if len(unseen) == 0 {
		return 0, nil
	}
	wos, err := p.opts.API.GetWorkOrders(ctx, unseen)
	if err != nil {
		return 0, fmt.Errorf("fetch %d work orders: %w", len(unseen), err)
	}
	stored := 0
	for i := range wos {
		ev, err := PolledEvent(p.opts.Account, &wos[i], store.SourcePoll, now)
		if err != nil {
			return stored, err
		}
		inserted, err := p.opts.Store.InsertEvent(ctx, ev)
		if err != nil {
			return stored, fmt.Errorf("store polled work order %d: %w", wos[i].WorkOrderId, err)
		}
		if inserted {
			stored++
			if p.opts.OnStored != nil {
				p.opts.OnStored(ev)
			}
		}
	}
	return stored, nil
}

// PolledEvent builds the synthetic NewWorkOrder event of a work order found
// by polling or reconciliation. Its body is a real notification, so the
// dispatcher and plugins cannot tell it from a webhook but by Source.
func PolledEvent(account string, wo *corrigo.WorkOrder, source store.Source, now time.Time) (*store.Event, error) {
	msgID := string(source) + "-" + account + "-" + strconv.FormatInt(wo.WorkOrderId, 10)
	actionDate := wo.Created
	if actionDate.IsZero() {
		actionDate = corrigo.NewTime(now)
	}
	body, err := corrigo.NewNotification(corrigo.Header{
		WorkOrderId: wo.WorkOrderId,
		BranchId:    wo.BranchId,
		Sender:      &corrigo.Sender{Name: "wogate " + string(source), Type: "Gateway"},
		ActionDate:  actionDate,
		ApiVersion:  "1.1",
		MessageId:   msgID,
	}, corrigo.NewWorkOrderPayload{Details: *wo})
	if err != nil {
		return nil, fmt.Errorf("build notification for work order %d: %w", wo.WorkOrderId, err)
	}
	return &store.Event{
		Account:     account,
		MessageID:   msgID,
		WorkOrderID: wo.WorkOrderId,
		Action:      string(corrigo.ActionNewWorkOrder),
		ActionDate:  actionDate.Time,
		ReceivedAt:  now.UTC(),
		Source:      source,
		Body:        body,
		Status:      store.EventPending,
	}, nil
}
