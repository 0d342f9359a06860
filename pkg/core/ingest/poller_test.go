package ingest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
)

// fakeAPI answers search and get from a list of work orders and records
// what it was asked, so the tests can check windows and batch sizes.
type fakeAPI struct {
	mu       sync.Mutex
	wos      []corrigo.WorkOrder
	searches []corrigo.SearchParameters
	gets     [][]int64
	failNext error
}

func (a *fakeAPI) SearchWorkOrders(ctx context.Context, p corrigo.SearchParameters) ([]corrigo.WorkOrderSummary, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.searches = append(a.searches, p)
	if err := a.failNext; err != nil {
		a.failNext = nil
		return nil, err
	}
	var out []corrigo.WorkOrderSummary
	for _, w := range a.wos {
		if w.Status != corrigo.StatusNew {
			continue
		}
		if p.Created != nil && (w.Created.Before(p.Created.From.Time) || w.Created.After(p.Created.To.Time)) {
			continue
		}
		out = append(out, corrigo.WorkOrderSummary{WorkOrderId: w.WorkOrderId, Status: w.Status, Created: w.Created})
	}
	return out, nil
}

func (a *fakeAPI) GetWorkOrders(ctx context.Context, ids []int64) ([]corrigo.WorkOrder, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gets = append(a.gets, append([]int64(nil), ids...))
	var out []corrigo.WorkOrder
	for _, id := range ids {
		for _, w := range a.wos {
			if w.WorkOrderId == id {
				out = append(out, w)
			}
		}
	}
	return out, nil
}

func testPoller(t *testing.T, api SearchAPI, st PollStore, now *time.Time) *Poller {
	t.Helper()
	p, err := NewPoller(PollerOptions{Account: "main", API: api, Store: st, Interval: time.Minute, Lookback: 10 * time.Minute,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPollerStoresUnseenNewWorkOrders(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	api := &fakeAPI{}
	for i := int64(1); i <= 120; i++ {
		api.wos = append(api.wos, corrigo.WorkOrder{WorkOrderId: i, WorkOrderNumber: "WO-" + string(rune('A'+i%26)),
			Status: corrigo.StatusNew, BranchId: 7, Created: corrigo.NewTime(now.Add(-time.Duration(i) * time.Second))})
	}
	api.wos = append(api.wos, corrigo.WorkOrder{WorkOrderId: 999, Status: corrigo.StatusAccepted, Created: corrigo.NewTime(now)})
	st := newMemStore()
	// Work order 5 already arrived by webhook: polling must not repeat it.
	if _, err := st.InsertEvent(context.Background(), &store.Event{Account: "main", MessageID: "hook-5", WorkOrderID: 5, Action: "NewWorkOrder"}); err != nil {
		t.Fatal(err)
	}
	p := testPoller(t, api, st, &now)

	n, err := p.PollOnce(context.Background())
	if err != nil || n != 119 {
		t.Fatalf("PollOnce = %d, %v; want 119 stored", n, err)
	}
	for _, ids := range api.gets {
		if len(ids) > fetchBatch {
			t.Errorf("fetched %d ids in one call; CorrigoPro allows %d", len(ids), fetchBatch)
		}
	}
	s := api.searches[0]
	if len(s.Statuses) != 1 || s.Statuses[0] != corrigo.StatusNew || !s.Created.From.Equal(now.Add(-10*time.Minute)) || !s.Created.To.Equal(now) {
		t.Errorf("first search = %+v, want New created in [now-10m, now]", s)
	}
	evs := st.snapshot()
	sort.Slice(evs, func(i, j int) bool { return evs[i].WorkOrderID < evs[j].WorkOrderID })
	e := evs[len(evs)-1]
	if e.MessageID != "poll-main-120" || e.Source != "poll" || e.Action != "NewWorkOrder" || e.WorkOrderID != 120 {
		t.Errorf("polled event = %+v", e)
	}
	nt, err := corrigo.DecodeNotification(e.Body)
	if err != nil {
		t.Fatalf("polled body does not decode: %v", err)
	}
	pl, ok := nt.Payload.(corrigo.NewWorkOrderPayload)
	if !ok || pl.Details.WorkOrderId != 120 || nt.Header.MessageId != "poll-main-120" || nt.Header.BranchId != 7 {
		t.Errorf("polled notification = %+v", nt)
	}

	// The watermark is stored; the next round searches from it minus the
	// lookback and finds nothing new.
	wm, _ := st.GetWatermark(context.Background(), WatermarkName("main"))
	if wm != now.Format(time.RFC3339Nano) {
		t.Errorf("watermark = %q", wm)
	}
	now = now.Add(time.Minute)
	n, err = p.PollOnce(context.Background())
	if err != nil || n != 0 {
		t.Fatalf("second PollOnce = %d, %v; want 0", n, err)
	}
	if from := api.searches[1].Created.From.Time; !from.Equal(now.Add(-time.Minute - 10*time.Minute)) {
		t.Errorf("second search from %v, want watermark - lookback", from)
	}

	// A restarted poller (same store) resumes from the stored watermark.
	now = now.Add(time.Hour)
	p2 := testPoller(t, api, st, &now)
	if _, err := p2.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if from := api.searches[2].Created.From.Time; !from.Equal(now.Add(-time.Hour - 10*time.Minute)) {
		t.Errorf("after restart search from %v, want the stored watermark - lookback", from)
	}
}

func TestPollerFailureKeepsWatermark(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	api := &fakeAPI{failNext: errors.New("HTTP 503")}
	st := newMemStore()
	p := testPoller(t, api, st, &now)
	if _, err := p.PollOnce(context.Background()); err == nil {
		t.Fatal("search failure not reported")
	}
	if wm, _ := st.GetWatermark(context.Background(), WatermarkName("main")); wm != "" {
		t.Errorf("watermark advanced to %q after a failed round", wm)
	}
	st.fail = errDown
	api.wos = []corrigo.WorkOrder{{WorkOrderId: 1, Status: corrigo.StatusNew, Created: corrigo.NewTime(now)}}
	if _, err := p.PollOnce(context.Background()); err == nil {
		t.Fatal("store failure not reported")
	}
}

func TestPollerRunStopsWithContext(t *testing.T) {
	now := time.Now()
	api := &fakeAPI{}
	p := testPoller(t, api, newMemStore(), &now)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		api.mu.Lock()
		n := len(api.searches)
		api.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not poll at once")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
