package pluginapi

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi/internal/pluginpb"
)

// BenchmarkEventCodec is the SDK's own share of a HandleEvent round trip:
// event to wire and back, one accept action to wire and back (without the
// transport, which BenchmarkPluginRoundTrip in pkg/core/plugins adds).
func BenchmarkEventCodec(b *testing.B) {
	now := corrigo.NewTime(time.Now())
	wo := corrigo.WorkOrder{
		WorkOrderId: 4242, WorkOrderNumber: "WO-004242", Status: corrigo.StatusNew, Type: corrigo.TypeRequest,
		WorkType: &corrigo.WorkType{Name: "Repair"}, Created: now, LastUpdate: now, BranchId: 17,
		Schedule:            &corrigo.Appointment{ScheduledStart: now, Pte: "Appointment"},
		AccompanyingMessage: "Leaking pipe under the sink in the second floor kitchen; water on the floor.",
		Nte:                 &corrigo.Nte{Amount: 500},
		Sla:                 &corrigo.Sla{DueDate: now, OnSiteBy: now, AcknowledgeBy: now, PriorityId: 2, PriorityName: "High"},
		Currency:            "USD",
	}
	h := corrigo.Header{WorkOrderId: 4242, Action: corrigo.ActionNewWorkOrder, ActionDate: now, MessageId: "m"}
	body, _ := corrigo.NewNotification(h, corrigo.NewWorkOrderPayload{Details: wo})
	ev := Event{ID: "e", Account: "acme", Source: "webhook", Header: h, WorkOrder: &wo, Body: body}
	actions := []Action{{Kind: KindAccept, WorkOrderID: 4242, Comment: "accepted"}}
	b.ReportAllocs()
	for b.Loop() {
		pev, err := eventToPB(ev)
		if err != nil {
			b.Fatal(err)
		}
		wire, _ := proto.Marshal(&pluginpb.HandleEventRequest{Event: pev})
		var req pluginpb.HandleEventRequest
		if err := proto.Unmarshal(wire, &req); err != nil {
			b.Fatal(err)
		}
		if _, err := eventFromPB(req.GetEvent()); err != nil {
			b.Fatal(err)
		}
		pas, _ := actionsToPB(actions)
		wire, _ = proto.Marshal(&pluginpb.HandleEventResponse{Actions: pas})
		var resp pluginpb.HandleEventResponse
		_ = proto.Unmarshal(wire, &resp)
		if _, err := actionsFromPB(resp.GetActions()); err != nil {
			b.Fatal(err)
		}
	}
}
