package gateway

import (
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
