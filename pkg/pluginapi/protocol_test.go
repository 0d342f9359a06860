package pluginapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi/internal/pluginpb"
)

func fullActions() []Action {
	t0 := corrigo.NewTime(time.Date(2026, 3, 4, 5, 6, 7, 890000000, time.UTC))
	return []Action{
		{Kind: KindAccept, WorkOrderID: 1, Comment: "on it", PerformedBy: &corrigo.Person{Name: "Ann", Phone: "555"}},
		{Kind: KindReject, Comment: "not our trade"},
		{Kind: KindCheckIn, Location: &corrigo.GeoLocation{Latitude: 52.1, Longitude: -0.5}, ActualActionDate: &t0},
		{Kind: KindPause, Comment: "parts"},
		{Kind: KindCheckOut, RepairInfo: &corrigo.RepairInfo{CodeId: 4, Code: "RPL", CategoryId: 2, Category: "Plumbing"},
			CustomFields: []corrigo.CustomField{{Id: 1, Value: "Yes"}, {Id: 2, Value: "42"}}},
		{Kind: KindWorkDoneDetails, CustomFields: []corrigo.CustomField{{Id: 3, Value: "x"}}},
		{Kind: KindQuote, Amount: 120.5, LineItems: []corrigo.LineItem{{Id: 0, Type: corrigo.LineItemLabor, Description: "2h", Quantity: 2, Rate: 60.25, Amount: 120.5, PriceListId: 9}}},
		{Kind: KindInvoiceUpdate, Invoice: &corrigo.Invoice{WorkOrderId: 1, InvoiceNumber: "INV-1", InvoiceDate: t0, Status: corrigo.InvoiceDraft,
			IsPreBilled: true, DiscountAmount: 1, TaxAmount: 2, TotalAmount: 3, Currency: "EUR", SubmissionDeadline: t0, Comment: "c",
			LineItems: []corrigo.LineItem{{Id: 7, Type: corrigo.LineItemMaterial, Category: "Pipes", Quantity: 1, Rate: 3, Amount: 3}}}},
		{Kind: KindInvoiceSubmit, SubmitAnyway: true},
		{Kind: KindNote, Text: "internal"},
		{Kind: KindMessage, Text: "hello", Visibility: "CruOnly"},
		{Kind: KindAppointment, Appointment: &corrigo.Appointment{ScheduledStart: t0, Pte: "Appointment"}},
	}
}

func TestActionsRoundTrip(t *testing.T) {
	in := fullActions()
	pb, err := actionsToPB(in)
	if err != nil {
		t.Fatal(err)
	}
	// Through the wire format too, not just the structs.
	b, err := proto.Marshal(&pluginpb.HandleEventResponse{Actions: pb})
	if err != nil {
		t.Fatal(err)
	}
	var resp pluginpb.HandleEventResponse
	if err := proto.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	out, err := actionsFromPB(resp.GetActions())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		ij, _ := json.Marshal(in)
		oj, _ := json.Marshal(out)
		t.Fatalf("round trip differs:\n%s\n%s", ij, oj)
	}
	// Every kind has a wire value.
	for _, k := range AllKinds {
		if _, err := actionToPB(Action{Kind: k}); err != nil {
			t.Errorf("kind %s: %v", k, err)
		}
	}
	if _, err := actionToPB(Action{Kind: "teleport"}); err == nil || !strings.Contains(err.Error(), "teleport") {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, err := actionFromPB(&pluginpb.Action{Kind: 99}); err == nil {
		t.Fatal("unknown wire kind accepted")
	}
}

func TestEventRoundTrip(t *testing.T) {
	wo := corrigo.WorkOrder{WorkOrderId: 5, WorkOrderNumber: "WO-5", Status: corrigo.StatusNew,
		Created: corrigo.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)), IsPreBilled: true}
	h := corrigo.Header{WorkOrderId: 5, BranchId: 2, Sender: &corrigo.Sender{Name: "S", Type: "Customer"},
		Action: corrigo.ActionNewWorkOrder, ActionDate: corrigo.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 700, time.UTC)),
		ApiVersion: "2.0", MessageId: "m-1"}
	body, err := corrigo.NewNotification(h, corrigo.NewWorkOrderPayload{Details: wo})
	if err != nil {
		t.Fatal(err)
	}
	in := Event{ID: "e1", Account: "acme", Source: "webhook", Rule: "all", Header: h, WorkOrder: &wo, Body: body, Replay: true}
	pb, err := eventToPB(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := eventFromPB(pb)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip differs:\n%+v\n%+v", in, out)
	}
	n, err := out.Notification()
	if err != nil || n.Header.MessageId != "m-1" {
		t.Fatalf("notification: %v %+v", err, n)
	}
	if _, err := eventFromPB(&pluginpb.Event{WorkOrderJson: []byte("{")}); err == nil {
		t.Fatal("bad work order JSON accepted")
	}
}

func TestHostErrorMapping(t *testing.T) {
	tests := []struct {
		err       error
		code      codes.Code
		retryable bool
		notFound  bool
	}{
		{ErrNotFound, codes.NotFound, false, true},
		{&Error{Message: "busy", Retryable: true}, codes.Unavailable, true, false},
		{&Error{Message: "no"}, codes.FailedPrecondition, false, false},
		{&corrigo.APIError{StatusCode: 400}, codes.InvalidArgument, false, false},
		{errors.New("dial tcp: refused"), codes.Unavailable, true, false},
	}
	for _, tt := range tests {
		st := hostStatus(tt.err)
		if status.Code(st) != tt.code {
			t.Errorf("%v → %v, want %v", tt.err, status.Code(st), tt.code)
		}
		back := hostError("op", st)
		var pe *Error
		if !errors.As(back, &pe) || pe.Retryable != tt.retryable || errors.Is(back, ErrNotFound) != tt.notFound {
			t.Errorf("%v → %v (retryable %v, not found %v)", tt.err, back, pe != nil && pe.Retryable, errors.Is(back, ErrNotFound))
		}
	}
}

func TestAsError(t *testing.T) {
	if AsError(nil) != nil {
		t.Fatal("nil")
	}
	if e := AsError(errors.New("x")); !e.Retryable || e.Message != "x" {
		t.Fatalf("plain error: %+v", e)
	}
	p := Permanent(errors.New("bad"))
	if e := AsError(errors.Join(errors.New("ctx"), p)); e != p {
		t.Fatalf("wrapped: %+v", e)
	}
	if r := RetryLater(nil); !r.Retryable || r.Message == "" {
		t.Fatalf("RetryLater(nil) = %+v", r)
	}
}

func TestErrorVerdictsOnTheWire(t *testing.T) {
	for _, tt := range []struct {
		in                 *Error
		retryable, ne, wNP bool
	}{
		{RetryLater(errors.New("down")), true, false, false},
		{Permanent(errors.New("bad")), false, false, false},
		{NeedsPerson(errors.New("no site")), false, true, true},
		// NeedsPerson wins: a gateway that does not know the field must
		// not retry the event forever.
		{&Error{Message: "both", Retryable: true, NeedsPerson: true}, false, true, true},
	} {
		pb := errorToPB(tt.in)
		if pb.GetRetryable() != tt.retryable || pb.GetNeedsPerson() != tt.ne {
			t.Errorf("%+v on the wire: retryable %v, needs_person %v", tt.in, pb.GetRetryable(), pb.GetNeedsPerson())
		}
		b, err := proto.Marshal(pb)
		if err != nil {
			t.Fatal(err)
		}
		var back pluginpb.PluginError
		if err := proto.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		got := errorFromPB(&back)
		if got.Message != tt.in.Message || got.Retryable != tt.retryable || got.NeedsPerson != tt.wNP {
			t.Errorf("%+v came back as %+v", tt.in, got)
		}
	}
	// retry_after_ms carries a retryable error's RetryAfter (field 4; a
	// gateway built before it ignores it and uses its backoff).
	for _, tt := range []struct {
		in   *Error
		want time.Duration
	}{
		{RetryAfter(errors.New("busy"), 4*time.Second), 4 * time.Second},
		{RetryAfter(errors.New("busy"), 1500*time.Microsecond), time.Millisecond},
		{RetryAfter(errors.New("busy"), -time.Second), 0},
		{&Error{Message: "dead", RetryAfter: time.Second}, 0}, // not retryable: no wait to speak of
	} {
		b, err := proto.Marshal(errorToPB(tt.in))
		if err != nil {
			t.Fatal(err)
		}
		var back pluginpb.PluginError
		if err := proto.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if got := errorFromPB(&back); got.RetryAfter != tt.want || got.Retryable != tt.in.Retryable {
			t.Errorf("%+v came back as %+v, want RetryAfter %v", tt.in, got, tt.want)
		}
	}
	// What a plugin built before needs_person existed sends: fields 1 and
	// 2 only. It decodes as before, without the new verdict.
	old := []byte{0x0a, 0x03, 'b', 'a', 'd', 0x10, 0x00}
	var pb pluginpb.PluginError
	if err := proto.Unmarshal(old, &pb); err != nil {
		t.Fatal(err)
	}
	if e := errorFromPB(&pb); e.Message != "bad" || e.Retryable || e.NeedsPerson {
		t.Errorf("old plugin's error decoded as %+v", e)
	}
	// needs_person is field 3, a varint: a gateway built before it skips
	// it as an unknown field and reads retryable false.
	b, _ := proto.Marshal(errorToPB(NeedsPerson(errors.New("x"))))
	if !bytes.Contains(b, []byte{0x18, 0x01}) {
		t.Errorf("needs_person is not encoded as field 3: % x", b)
	}
}

func TestLoggerWritesHCLogJSON(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: hclogAttr}))
	l.Warn("disk low", "free_mb", 12)
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	ts, _ := m["@timestamp"].(string)
	if _, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", ts); err != nil {
		t.Fatalf("@timestamp %q: %v", ts, err)
	}
	if m["@level"] != "warn" || m["@message"] != "disk low" || m["free_mb"] != 12.0 {
		t.Fatalf("line = %v", m)
	}
}

func TestLogFields(t *testing.T) {
	fs := logFields([]any{"s", "x", "i", 3, "f", 1.5, "b", true, "e", errors.New("boom"), slog.Int("attr", 4), "dangling"})
	got := map[string]any{}
	for _, a := range logFieldsFromPB(fs) {
		at := a.(slog.Attr)
		got[at.Key] = at.Value.Any()
	}
	want := map[string]any{"s": "x", "i": int64(3), "f": 1.5, "b": true, "e": "boom", "attr": int64(4), "!BADKEY": "dangling"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
}

// FuzzDecodeHandleEventResponse feeds arbitrary bytes as a plugin's reply:
// the host must turn anything into actions or an error, never panic.
func FuzzDecodeHandleEventResponse(f *testing.F) {
	pb, _ := actionsToPB(fullActions())
	seed, _ := proto.Marshal(&pluginpb.HandleEventResponse{Actions: pb})
	f.Add(seed)
	f.Add([]byte{0x0a, 0x02, 0x08, 0x63})
	f.Fuzz(func(t *testing.T, data []byte) {
		var resp pluginpb.HandleEventResponse
		if proto.Unmarshal(data, &resp) != nil {
			return
		}
		actions, err := actionsFromPB(resp.GetActions())
		if err != nil {
			return
		}
		for _, a := range actions {
			_ = a.Validate()
			if _, err := actionToPB(a); err != nil {
				t.Fatalf("decoded action does not encode again: %v", err)
			}
		}
		_ = errorFromPB(resp.GetError())
	})
}

type describeOnly struct{ Plugin }

func (describeOnly) Describe(context.Context) (Info, error) {
	return Info{Name: "d", Version: "2.1.0", ConfigSchema: Schema{Fields: []Field{
		{Name: "wait", Type: TypeDuration, Default: 90 * time.Second, Description: "How long."},
	}}}, nil
}

func TestDescribeCommand(t *testing.T) {
	var out bytes.Buffer
	if code, ok := describeCommand(describeOnly{}, "--describe", &out); !ok || code != 0 {
		t.Fatalf("code %d handled %v", code, ok)
	}
	var got struct {
		Name     string
		Version  string
		Protocol int
		Config   []map[string]any
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Name != "d" || got.Protocol != ProtocolVersion || len(got.Config) != 1 || got.Config[0]["default"] != "1m30s" {
		t.Fatalf("describe = %s", out.String())
	}
	out.Reset()
	if _, ok := describeCommand(describeOnly{}, "--config-markdown", &out); !ok || !strings.Contains(out.String(), "| `wait` | duration | no | `1m30s` | How long. |") {
		t.Fatalf("markdown = %s", out.String())
	}
	if _, ok := describeCommand(describeOnly{}, "--other", &out); ok {
		t.Fatal("unknown flag handled")
	}
}
