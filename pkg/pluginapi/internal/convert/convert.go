// Package convert maps the pkg/corrigo models that travel inside plugin
// actions and events to and from their protocol (pluginpb) messages.
//
// It is the only place that knows both sides, so that the SDK's public
// types never mention protobuf. Nil and zero values map to nil messages and
// back, so a round trip is lossless for every field the protocol carries.
package convert

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi/internal/pluginpb"
)

// Time maps a corrigo.Time; the zero time becomes nil.
func Time(t corrigo.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t.Time)
}

// TimePtr maps an optional corrigo.Time.
func TimePtr(t *corrigo.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return Time(*t)
}

// FromTime maps a timestamp back; nil becomes the zero time.
func FromTime(ts *timestamppb.Timestamp) corrigo.Time {
	if ts == nil {
		return corrigo.Time{}
	}
	return corrigo.NewTime(time.Unix(ts.GetSeconds(), int64(ts.GetNanos())))
}

// FromTimePtr maps a timestamp back to an optional time.
func FromTimePtr(ts *timestamppb.Timestamp) *corrigo.Time {
	if ts == nil {
		return nil
	}
	t := FromTime(ts)
	return &t
}

// Person maps a *corrigo.Person.
func Person(p *corrigo.Person) *pluginpb.Person {
	if p == nil {
		return nil
	}
	return &pluginpb.Person{Name: p.Name, Phone: p.Phone}
}

// FromPerson maps a person back.
func FromPerson(p *pluginpb.Person) *corrigo.Person {
	if p == nil {
		return nil
	}
	return &corrigo.Person{Name: p.GetName(), Phone: p.GetPhone()}
}

// Sender maps a *corrigo.Sender.
func Sender(s *corrigo.Sender) *pluginpb.Sender {
	if s == nil {
		return nil
	}
	return &pluginpb.Sender{Name: s.Name, Phone: s.Phone, Type: s.Type}
}

// FromSender maps a sender back.
func FromSender(s *pluginpb.Sender) *corrigo.Sender {
	if s == nil {
		return nil
	}
	return &corrigo.Sender{Name: s.GetName(), Phone: s.GetPhone(), Type: s.GetType()}
}

// GeoLocation maps a *corrigo.GeoLocation.
func GeoLocation(g *corrigo.GeoLocation) *pluginpb.GeoLocation {
	if g == nil {
		return nil
	}
	return &pluginpb.GeoLocation{Latitude: g.Latitude, Longitude: g.Longitude}
}

// FromGeoLocation maps a location back.
func FromGeoLocation(g *pluginpb.GeoLocation) *corrigo.GeoLocation {
	if g == nil {
		return nil
	}
	return &corrigo.GeoLocation{Latitude: g.GetLatitude(), Longitude: g.GetLongitude()}
}

// RepairInfo maps a *corrigo.RepairInfo.
func RepairInfo(r *corrigo.RepairInfo) *pluginpb.RepairInfo {
	if r == nil {
		return nil
	}
	return &pluginpb.RepairInfo{
		CodeId: int32(r.CodeId), Code: r.Code, CategoryId: int32(r.CategoryId), Category: r.Category, //nolint:gosec // G115: Corrigo IDs are 32-bit on the wire
	}
}

// FromRepairInfo maps repair info back.
func FromRepairInfo(r *pluginpb.RepairInfo) *corrigo.RepairInfo {
	if r == nil {
		return nil
	}
	return &corrigo.RepairInfo{
		CodeId: int(r.GetCodeId()), Code: r.GetCode(), CategoryId: int(r.GetCategoryId()), Category: r.GetCategory(),
	}
}

// CustomFields maps custom field values.
func CustomFields(fs []corrigo.CustomField) []*pluginpb.CustomField {
	if len(fs) == 0 {
		return nil
	}
	out := make([]*pluginpb.CustomField, len(fs))
	for i, f := range fs {
		out[i] = &pluginpb.CustomField{Id: int32(f.Id), Value: f.Value} //nolint:gosec // G115: Corrigo IDs are 32-bit on the wire
	}
	return out
}

// FromCustomFields maps custom field values back.
func FromCustomFields(fs []*pluginpb.CustomField) []corrigo.CustomField {
	if len(fs) == 0 {
		return nil
	}
	out := make([]corrigo.CustomField, len(fs))
	for i, f := range fs {
		out[i] = corrigo.CustomField{Id: int(f.GetId()), Value: f.GetValue()}
	}
	return out
}

// LineItems maps invoice or quote lines.
func LineItems(ls []corrigo.LineItem) []*pluginpb.LineItem {
	if len(ls) == 0 {
		return nil
	}
	out := make([]*pluginpb.LineItem, len(ls))
	for i, l := range ls {
		out[i] = &pluginpb.LineItem{
			Id: l.Id, Type: l.Type, Category: l.Category, Description: l.Description,
			Quantity: l.Quantity, Rate: l.Rate, Amount: l.Amount, PriceListId: l.PriceListId,
		}
	}
	return out
}

// FromLineItems maps lines back; nil entries are skipped.
func FromLineItems(ls []*pluginpb.LineItem) []corrigo.LineItem {
	if len(ls) == 0 {
		return nil
	}
	out := make([]corrigo.LineItem, 0, len(ls))
	for _, l := range ls {
		if l == nil {
			continue
		}
		out = append(out, corrigo.LineItem{
			Id: l.GetId(), Type: l.GetType(), Category: l.GetCategory(), Description: l.GetDescription(),
			Quantity: l.GetQuantity(), Rate: l.GetRate(), Amount: l.GetAmount(), PriceListId: l.GetPriceListId(),
		})
	}
	return out
}

// Invoice maps a *corrigo.Invoice.
func Invoice(v *corrigo.Invoice) *pluginpb.Invoice {
	if v == nil {
		return nil
	}
	return &pluginpb.Invoice{
		WorkOrderId: v.WorkOrderId, InvoiceNumber: v.InvoiceNumber, InvoiceDate: Time(v.InvoiceDate),
		Status: v.Status, IsPreBilled: v.IsPreBilled, DiscountAmount: v.DiscountAmount,
		TaxAmount: v.TaxAmount, TotalAmount: v.TotalAmount, Currency: v.Currency,
		SubmissionDeadline: Time(v.SubmissionDeadline), Comment: v.Comment, LineItems: LineItems(v.LineItems),
	}
}

// FromInvoice maps an invoice back.
func FromInvoice(v *pluginpb.Invoice) *corrigo.Invoice {
	if v == nil {
		return nil
	}
	return &corrigo.Invoice{
		WorkOrderId: v.GetWorkOrderId(), InvoiceNumber: v.GetInvoiceNumber(), InvoiceDate: FromTime(v.GetInvoiceDate()),
		Status: v.GetStatus(), IsPreBilled: v.GetIsPreBilled(), DiscountAmount: v.GetDiscountAmount(),
		TaxAmount: v.GetTaxAmount(), TotalAmount: v.GetTotalAmount(), Currency: v.GetCurrency(),
		SubmissionDeadline: FromTime(v.GetSubmissionDeadline()), Comment: v.GetComment(),
		LineItems: FromLineItems(v.GetLineItems()),
	}
}

// Appointment maps a *corrigo.Appointment.
func Appointment(a *corrigo.Appointment) *pluginpb.Appointment {
	if a == nil {
		return nil
	}
	return &pluginpb.Appointment{ScheduledStart: Time(a.ScheduledStart), Pte: a.Pte}
}

// FromAppointment maps an appointment back.
func FromAppointment(a *pluginpb.Appointment) *corrigo.Appointment {
	if a == nil {
		return nil
	}
	return &corrigo.Appointment{ScheduledStart: FromTime(a.GetScheduledStart()), Pte: a.GetPte()}
}

// Header maps a notification header.
func Header(h corrigo.Header) *pluginpb.Header {
	return &pluginpb.Header{
		WorkOrderId: h.WorkOrderId, BranchId: h.BranchId, Sender: Sender(h.Sender),
		PerformedBy: Person(h.PerformedBy), Action: string(h.Action), ActionDate: Time(h.ActionDate),
		ApiVersion: h.ApiVersion, MessageId: h.MessageId,
	}
}

// FromHeader maps a header back; nil becomes the zero header.
func FromHeader(h *pluginpb.Header) corrigo.Header {
	if h == nil {
		return corrigo.Header{}
	}
	return corrigo.Header{
		WorkOrderId: h.GetWorkOrderId(), BranchId: h.GetBranchId(), Sender: FromSender(h.GetSender()),
		PerformedBy: FromPerson(h.GetPerformedBy()), Action: corrigo.Action(h.GetAction()),
		ActionDate: FromTime(h.GetActionDate()), ApiVersion: h.GetApiVersion(), MessageId: h.GetMessageId(),
	}
}

// kinds pairs the SDK's action kind strings with the protocol enum. Kinds
// are kept as strings here so this package need not import pluginapi.
var kinds = map[string]pluginpb.ActionKind{
	"accept":            pluginpb.ActionKind_ACTION_KIND_ACCEPT,
	"reject":            pluginpb.ActionKind_ACTION_KIND_REJECT,
	"check_in":          pluginpb.ActionKind_ACTION_KIND_CHECK_IN,
	"pause":             pluginpb.ActionKind_ACTION_KIND_PAUSE,
	"check_out":         pluginpb.ActionKind_ACTION_KIND_CHECK_OUT,
	"work_done_details": pluginpb.ActionKind_ACTION_KIND_WORK_DONE_DETAILS,
	"quote":             pluginpb.ActionKind_ACTION_KIND_QUOTE,
	"invoice_update":    pluginpb.ActionKind_ACTION_KIND_INVOICE_UPDATE,
	"invoice_submit":    pluginpb.ActionKind_ACTION_KIND_INVOICE_SUBMIT,
	"note":              pluginpb.ActionKind_ACTION_KIND_NOTE,
	"message":           pluginpb.ActionKind_ACTION_KIND_MESSAGE,
	"appointment":       pluginpb.ActionKind_ACTION_KIND_APPOINTMENT,
}

var kindNames = func() map[pluginpb.ActionKind]string {
	m := make(map[pluginpb.ActionKind]string, len(kinds))
	for s, k := range kinds {
		m[k] = s
	}
	return m
}()

// Kind maps an action kind name to the enum; ok is false for an unknown name.
func Kind(name string) (k pluginpb.ActionKind, ok bool) {
	k, ok = kinds[name]
	return k, ok
}

// FromKind maps the enum back; ok is false for UNSPECIFIED or a value this
// build does not know (a newer plugin's kind).
func FromKind(k pluginpb.ActionKind) (name string, ok bool) {
	name, ok = kindNames[k]
	return name, ok
}
