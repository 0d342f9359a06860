package egress

import (
	"context"
	"testing"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
)

// FuzzSendPayload feeds arbitrary outbox payloads (written by plugins, so
// outside input) through Send. Whatever the bytes, Send must not panic and
// must give a well-formed Result: either a final status or a retry.
func FuzzSendPayload(f *testing.F) {
	for _, seed := range []string{
		`{"Kind":"accept","WorkOrderID":1}`,
		`{"Kind":"reject","WorkOrderID":1}`,
		`{"Kind":"check_out","WorkOrderID":1,"RepairInfo":{"CodeId":1},"CustomFields":[{"Id":7,"Value":"x"}]}`,
		`{"Kind":"quote","WorkOrderID":1,"LineItems":[{"Quantity":1e308,"Rate":1e308}]}`,
		`{"Kind":"invoice_update","WorkOrderID":1,"Invoice":{"WorkOrderId":2}}`,
		`{"Kind":"appointment","WorkOrderID":1,"Appointment":{"ScheduledStart":"2026-01-01T00:00:00Z"}}`,
		`{"Kind":"note","WorkOrderID":-5,"Text":"x"}`,
		`{"Kind":"message","Text":"x","ActualActionDate":"not a date"}`,
		`null`, `[]`, `{`, ``,
	} {
		f.Add([]byte(seed), int64(1), 1)
	}
	fetch := &fakeAPI{wo: corrigo.WorkOrder{WorkOrderId: 1, Status: corrigo.StatusNew, Customer: &corrigo.CustomerRef{ID: 3}}}
	s := NewSender(map[string]API{"main": fetch}, Options{Logger: quiet})
	f.Fuzz(func(t *testing.T, payload []byte, woID int64, attempts int) {
		a := store.OutboxAction{ID: 1, IdempotencyKey: "k", Account: "main", WorkOrderID: woID, Payload: payload, Attempts: attempts}
		r := s.Send(context.Background(), a)
		if !r.Retry {
			switch r.Status {
			case store.ActionSent, store.ActionRefused, store.ActionDead, store.ActionParked:
			default:
				t.Fatalf("final result without a final status: %+v", r)
			}
		}
		if r.Status != store.ActionSent && !r.Retry && r.Reason == "" {
			t.Fatalf("%s without a reason", r.Status)
		}
	})
}

// fakeAPI answers every call in memory: the one work order for any id, no
// settings, success for every action.
type fakeAPI struct{ wo corrigo.WorkOrder }

func (f *fakeAPI) Accept(context.Context, corrigo.AcceptRequest) error                   { return nil }
func (f *fakeAPI) Reject(context.Context, corrigo.RejectRequest) error                   { return nil }
func (f *fakeAPI) CheckIn(context.Context, corrigo.CheckInRequest) error                 { return nil }
func (f *fakeAPI) Pause(context.Context, corrigo.PauseRequest) error                     { return nil }
func (f *fakeAPI) CheckOut(context.Context, corrigo.CheckOutRequest) error               { return nil }
func (f *fakeAPI) WorkDoneDetails(context.Context, corrigo.WorkDoneDetailsRequest) error { return nil }
func (f *fakeAPI) SubmitQuote(context.Context, corrigo.QuoteSubmitRequest) error         { return nil }
func (f *fakeAPI) UpdateInvoice(_ context.Context, inv corrigo.Invoice) (*corrigo.Invoice, error) {
	return &inv, nil
}
func (f *fakeAPI) SubmitInvoice(context.Context, corrigo.InvoiceSubmitRequest) error { return nil }
func (f *fakeAPI) AddNote(context.Context, corrigo.NoteRequest) error                { return nil }
func (f *fakeAPI) PostMessage(context.Context, corrigo.PostMessageRequest) error     { return nil }
func (f *fakeAPI) SetAppointmentInfo(context.Context, corrigo.AppointmentInfoRequest) error {
	return nil
}
func (f *fakeAPI) GetWorkOrder(_ context.Context, id int64) (*corrigo.WorkOrder, error) {
	wo := f.wo
	wo.WorkOrderId = id
	return &wo, nil
}
func (f *fakeAPI) GetWorkOrders(ctx context.Context, ids []int64) ([]corrigo.WorkOrder, error) {
	var out []corrigo.WorkOrder
	for _, id := range ids {
		wo, _ := f.GetWorkOrder(ctx, id)
		out = append(out, *wo)
	}
	return out, nil
}
func (f *fakeAPI) CustomerSettings(context.Context, int) (*corrigo.CustomerSettings, error) {
	return &corrigo.CustomerSettings{}, nil
}
