package gateway

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/wogate/wogate/internal/testhttp"
	"github.com/wogate/wogate/pkg/core/admin"
	"github.com/wogate/wogate/pkg/core/assemble"
	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// TestCommunicationLogCustomer: the NewWorkOrder webhook, a later
// notification that carries only the work order id, and the accept the
// gateway sent are all logged with the work order's number and customer,
// so the admin API's customer filter finds exactly them.
func TestCommunicationLogCustomer(t *testing.T) {
	w := newWorld(t, worldOpts{})
	customers := w.sb.Customers()
	if len(customers) < 2 {
		t.Fatalf("sandbox has %d customers, want 2", len(customers))
	}
	mine, other := customers[0], customers[1]
	create := func(c sandbox.CustomerInfo) corrigo.WorkOrder {
		wo, err := w.sb.CreateWorkOrder(sandbox.WorkOrderSpec{Type: corrigo.TypeRequest, CustomerId: c.Id})
		if err != nil {
			t.Fatal(err)
		}
		return wo
	}
	wo, otherWO := create(mine), create(other)
	w.waitFor("accepted", func() bool {
		return w.status(wo.WorkOrderId) == corrigo.StatusAccepted && w.status(otherWO.WorkOrderId) == corrigo.StatusAccepted
	})
	if _, err := w.sb.Act(wo.WorkOrderId, sandbox.Action{Action: sandbox.ActNteChange, Amount: 750}); err != nil {
		t.Fatal(err)
	}
	w.waitFor("NteChanged stored", func() bool {
		n, err := w.g.st.CountEvents(context.Background(), store.EventFilter{WorkOrderID: wo.WorkOrderId, Action: string(corrigo.ActionNteChanged)})
		return err == nil && n == 1
	})
	if err := w.stop(); err != nil { // flushes the log
		t.Fatal(err)
	}
	st, err := assemble.OpenStore(context.Background(), w.g.cfg, assemble.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	srv := httptest.NewServer(admin.New(st, nil, admin.Options{}))
	defer srv.Close()

	res, err := testhttp.Get(t.Context(), srv.URL+"/api/v1/log?customer="+url.QueryEscape(mine.Name))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	var page admin.LogPage
	if err := json.NewDecoder(res.Body).Decode(&page); err != nil || res.StatusCode != 200 {
		t.Fatalf("status %d: %v", res.StatusCode, err)
	}
	var newWO, nte, accept int
	for _, e := range page.Items {
		if e.WorkOrderID != wo.WorkOrderId || e.Customer != mine.Name || e.WorkOrderNumber != wo.WorkOrderNumber {
			t.Errorf("entry for customer %q: %+v", mine.Name, e)
			continue
		}
		switch {
		case e.Direction == "inbound" && e.Status == 200 && strings.HasPrefix(e.Request, `{"Details":`): // the body is logged truncated
			newWO++
		case e.Direction == "inbound" && e.Status == 200 && contains(e.Request, `"NteChanged"`):
			nte++
		case e.Direction == "outbound" && contains(e.URL, "accept") && e.Status == 200:
			accept++
		}
	}
	if newWO != 1 || nte != 1 || accept != 1 {
		t.Errorf("customer %q: %d NewWorkOrder webhooks, %d NteChanged webhooks, %d accept calls; want 1 each:\n%+v",
			mine.Name, newWO, nte, accept, page.Items)
	}
}

func contains(s, sub string) bool { return strings.Contains(strings.ToLower(s), strings.ToLower(sub)) }
