package gateway

import (
	"context"

	"github.com/wogate/wogate/pkg/core/commlog"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
)

// exchangeObserver turns the client's exchanges of one account into
// outbound communication log entries (corrigo.Config.Observer).
func exchangeObserver(w *commlog.Writer, account string) func(corrigo.Exchange) {
	return func(x corrigo.Exchange) {
		e := store.LogEntry{
			Time:        x.Start.UTC(),
			Duration:    x.Duration,
			Account:     account,
			Direction:   "outbound",
			Severity:    "info",
			Method:      x.Method,
			URL:         commlog.RedactURL(x.URL),
			Status:      x.Status,
			WorkOrderID: x.WorkOrderID,
			MessageID:   x.MessageID,
			Request:     string(x.RequestBody),
			Response:    string(x.ResponseBody),
		}
		switch {
		case x.Err != nil:
			e.Severity = "error"
			if x.Status >= 400 && x.Status < 500 {
				e.Severity = "warn"
			}
			e.Error = x.Err.Error()
		case x.Status >= 500 || x.Status == 0:
			e.Severity = "error"
		case x.Status >= 400:
			e.Severity = "warn"
		}
		w.Add(e)
	}
}

// workOrderInfo finds a work order's number and customer for the
// communication log in the NewWorkOrder event the store holds for it
// (webhook, poller or reconciliation: all carry the work order as
// Details). Work orders whose NewWorkOrder was pruned, or never stored,
// stay without.
func workOrderInfo(st store.Store) commlog.LookupFunc {
	return func(ctx context.Context, account string, id int64) (commlog.WorkOrderInfo, bool, error) {
		evs, err := st.ListEvents(ctx, store.EventFilter{Account: account, WorkOrderID: id, Action: string(corrigo.ActionNewWorkOrder), Limit: 1})
		if err != nil || len(evs) == 0 {
			return commlog.WorkOrderInfo{}, false, err
		}
		n, err := corrigo.DecodeNotification(evs[0].Body)
		if err != nil {
			return commlog.WorkOrderInfo{}, false, nil //nolint:nilerr // an undecodable event just has no work order info
		}
		p, ok := n.Payload.(corrigo.NewWorkOrderPayload)
		if !ok {
			return commlog.WorkOrderInfo{}, false, nil
		}
		info := commlog.WorkOrderInfo{Number: p.Details.WorkOrderNumber}
		if p.Details.Customer != nil {
			info.Customer = p.Details.Customer.Name
		}
		return info, true, nil
	}
}
