package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/internal/testhttp"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

func TestCustomers(t *testing.T) {
	_, c := start(t, sandbox.Options{})
	ctx := context.Background()
	cs, err := c.Customers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 4 || cs[0].Id != sandbox.CustomerHarbor || !slices.Contains(cs[0].BranchIds, sandbox.BranchDemo) {
		t.Fatalf("customers %+v", cs)
	}
	st, err := c.CustomerSettings(ctx, sandbox.CustomerHarbor)
	if err != nil {
		t.Fatal(err)
	}
	if st.CustomerId != sandbox.CustomerHarbor || !st.RepairInfoRequired || len(st.CustomFields) == 0 || len(st.RepairCodes) == 0 {
		t.Fatalf("settings %+v", st)
	}
	_, err = c.CustomerSettings(ctx, 4242)
	wantErr(t, err, corrigo.CodeEntityNotFound)
}

func TestSearch(t *testing.T) {
	sb, c := start(t, sandbox.Options{})
	ctx := context.Background()
	old := corrigo.NewTime(time.Now().Add(-48 * time.Hour).Truncate(time.Second))
	a := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerHarbor, Created: old})
	b := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerHarbor, Status: corrigo.StatusAccepted})
	cc := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerBluebird})
	wo, _, _ := sb.WorkOrder(cc)
	hour := func(d time.Duration) corrigo.Time { return corrigo.NewTime(time.Now().Add(d)) }
	ids := func(ws []corrigo.WorkOrderSummary) []int64 {
		var out []int64
		for _, w := range ws {
			out = append(out, w.WorkOrderId)
		}
		return out
	}
	tests := []struct {
		name string
		p    corrigo.SearchParameters
		want []int64
		code int
	}{
		{"all", corrigo.SearchParameters{}, []int64{a, b, cc}, 0},
		{"status New", corrigo.SearchParameters{Statuses: []corrigo.Status{corrigo.StatusNew}}, []int64{a, cc}, 0},
		{"customer", corrigo.SearchParameters{CustomerId: strconv.Itoa(sandbox.CustomerHarbor)}, []int64{a, b}, 0},
		{"customer and status", corrigo.SearchParameters{CustomerId: "90256", Statuses: []corrigo.Status{corrigo.StatusAccepted}}, []int64{b}, 0},
		{"number", corrigo.SearchParameters{WorkOrderNumber: strings.ToLower(wo.WorkOrderNumber)}, []int64{cc}, 0},
		{"created last hour", corrigo.SearchParameters{Created: &corrigo.DateRange{From: hour(-time.Hour), To: hour(time.Minute)}}, []int64{b, cc}, 0},
		{"created before", corrigo.SearchParameters{Created: &corrigo.DateRange{To: hour(-24 * time.Hour)}}, []int64{a}, 0},
		{"last update", corrigo.SearchParameters{LastUpdate: &corrigo.DateRange{From: hour(-time.Hour)}}, []int64{b, cc}, 0},
		{"due date far", corrigo.SearchParameters{DueDate: &corrigo.DateRange{From: hour(365 * 24 * time.Hour)}}, nil, 0},
		{"unknown customer", corrigo.SearchParameters{CustomerId: "1"}, nil, corrigo.CodeEntityNotFound},
		{"bad customer", corrigo.SearchParameters{CustomerId: "abc"}, nil, corrigo.CodeValidation},
		{"bad status", corrigo.SearchParameters{Statuses: []corrigo.Status{"Open"}}, nil, corrigo.CodeValidation},
		{"inverted range", corrigo.SearchParameters{Created: &corrigo.DateRange{From: hour(0), To: hour(-time.Hour)}}, nil, corrigo.CodeValidation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.SearchWorkOrders(ctx, tc.p)
			wantErr(t, err, tc.code)
			if tc.code == 0 && !slices.Equal(ids(got), tc.want) {
				t.Fatalf("got %v, want %v", ids(got), tc.want)
			}
		})
	}
}

func TestGetWorkOrders(t *testing.T) {
	sb, c := start(t, sandbox.Options{SeedWorkOrders: 60})
	ctx := context.Background()
	all := sb.WorkOrderIDs()
	if len(all) != 60 {
		t.Fatalf("seeded %d", len(all))
	}
	// The client splits 60 ids into batches of 50 and 10.
	got, err := c.GetWorkOrders(ctx, append(all, 999999))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 60 || got[0].WorkOrderId != all[0] || got[59].WorkOrderId != all[59] {
		t.Fatalf("got %d work orders", len(got))
	}
	if got[0].Customer == nil || got[0].Sla == nil || got[0].ServiceLocation == nil || got[0].Contact == nil {
		t.Fatalf("thin work order: %+v", got[0])
	}
	one, err := c.GetWorkOrder(ctx, all[3])
	if err != nil || one.WorkOrderId != all[3] {
		t.Fatalf("GetWorkOrder: %v %v", one, err)
	}
	if _, err := c.GetWorkOrder(ctx, 999999); err == nil {
		t.Fatal("unknown id: no error")
	}

	tok := rawToken(t, sb)
	base := sb.BaseURL() + "api/workOrder?messageId=m1"
	// ids[0]=..&ids[1]=.. form.
	r := raw(t, "GET", fmt.Sprintf("%s&ids[0]=%d&ids[1]=%d", base, all[0], all[1]), tok, "", nil)
	var wr corrigo.WorkOrdersResponse
	if err := json.Unmarshal(r.Body, &wr); err != nil || r.Status != 200 || len(wr.WorkOrders) != 2 || wr.MessageId != "m1" {
		t.Fatalf("ids[n] form: %d %s", r.Status, r.Body)
	}
	// 51 ids: 2100.
	var q strings.Builder
	for _, id := range all[:51] {
		fmt.Fprintf(&q, "&ids=%d", id)
	}
	r = raw(t, "GET", base+q.String(), tok, "", nil)
	if eb := r.errBody(t); r.Status != 400 || eb.Code != corrigo.CodeValidation || eb.MessageId != "m1" {
		t.Fatalf("51 ids: %d %s", r.Status, r.Body)
	}
	// No ids, bad ids.
	for _, u := range []string{base, base + "&ids=x"} {
		r = raw(t, "GET", u, tok, "", nil)
		if eb := r.errBody(t); r.Status != 400 || eb.Code != corrigo.CodeValidation {
			t.Fatalf("%s: %d %s", u, r.Status, r.Body)
		}
	}
}

// TestAcceptExactlyOnce: the history records every accepted provider call
// with its MessageId, and the usage log every request.
func TestAcceptExactlyOnce(t *testing.T) {
	sb, c := start(t, sandbox.Options{})
	id := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind})
	ctx := corrigo.WithMessageID(context.Background(), "mid-accept-1")
	wantErr(t, c.Accept(ctx, corrigo.AcceptRequest{WorkOrderId: id, Comment: "on it"}), 0)
	// A retry of the same call is refused: the work order is Accepted.
	wantErr(t, c.Accept(ctx, corrigo.AcceptRequest{WorkOrderId: id}), corrigo.CodeInvalidState)
	_, hist, _ := sb.WorkOrder(id)
	n := 0
	for _, h := range hist {
		if h.Action == "accept" {
			n++
			if h.MessageId != "mid-accept-1" || h.Actor != sandbox.ActorProvider || h.From != corrigo.StatusNew || h.To != corrigo.StatusAccepted || h.Comment != "on it" {
				t.Fatalf("history entry %+v", h)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d accept entries", n)
	}
	log := sb.Usage(sandbox.UsageFilter{WorkOrderId: id, MessageId: "mid-accept-1"})
	if len(log) != 2 || log[0].Status != 200 || log[1].Status != 400 || log[1].Code != corrigo.CodeInvalidState {
		t.Fatalf("usage log %+v", log)
	}
	e := log[0]
	if e.Direction != sandbox.DirectionInbound || e.WorkOrderNumber == "" || e.Customer != "Northwind Banking" ||
		!strings.Contains(e.Request, "mid-accept-1") || !strings.Contains(e.Response, "mid-accept-1") || e.Client != sandbox.DefaultClientID {
		t.Fatalf("usage entry %+v", e)
	}
}

func TestInvoiceRules(t *testing.T) {
	sb, c := start(t, sandbox.Options{})
	ctx := context.Background()
	today := corrigo.NewTime(time.Now().Add(-time.Hour))
	lines := func(tax float64, priceList ...int64) []corrigo.LineItem {
		pl := int64(8001) // Harbor's service call
		if len(priceList) > 0 {
			pl = priceList[0]
		}
		ls := []corrigo.LineItem{
			{Type: corrigo.LineItemPriceList, PriceListId: pl, Description: "Service call", Quantity: 1, Rate: 95},
			{Type: corrigo.LineItemLabor, Description: "HVAC technician", Quantity: 1.5, Rate: 110},
		}
		if tax > 0 {
			ls = append(ls, corrigo.LineItem{Type: corrigo.LineItemTax, Description: "Sales tax", Quantity: 1, Rate: tax})
		}
		return ls
	}
	inv := func(id int64, ls []corrigo.LineItem) corrigo.Invoice {
		return corrigo.Invoice{WorkOrderId: id, InvoiceNumber: "INV-" + strconv.FormatInt(id, 10), InvoiceDate: today, LineItems: ls}
	}
	submit := func(id int64, anyway bool) error {
		return c.SubmitInvoice(ctx, corrigo.InvoiceSubmitRequest{WorkOrderId: id, SubmitAnyway: anyway})
	}

	// Harbor: tax validated at 8.25%, a single Tax line.
	id := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerHarbor, Status: corrigo.StatusCheckedOut})
	got, err := c.GetInvoice(ctx, id)
	if err != nil || got.Status != corrigo.InvoiceDraft || got.WorkOrderId != id {
		t.Fatalf("get invoice %+v %v", got, err)
	}
	wantErr(t, submit(id, false), corrigo.CodeInvoiceContent) // empty invoice
	_, err = c.UpdateInvoice(ctx, inv(id, append(lines(10), corrigo.LineItem{Type: corrigo.LineItemTax, Description: "city", Quantity: 1, Rate: 1})))
	wantErr(t, err, corrigo.CodeCompositeTax)
	up, err := c.UpdateInvoice(ctx, inv(id, lines(10)))
	wantErr(t, err, 0)
	if len(up.LineItems) != 3 || up.LineItems[0].Id == 0 || up.TotalAmount != 95+165+10 || up.TaxAmount != 10 {
		t.Fatalf("updated invoice %+v", up)
	}
	bad := inv(id, lines(10))
	bad.LineItems[0].Id = 123456789
	_, err = c.UpdateInvoice(ctx, bad)
	wantErr(t, err, corrigo.CodeUnknownLineItem)
	// Keep line 1 by id, drop the rest: CorrigoPro deletes unreferenced lines.
	keep := inv(id, []corrigo.LineItem{up.LineItems[0], up.LineItems[1]})
	keep.LineItems = append(keep.LineItems, corrigo.LineItem{Type: corrigo.LineItemTax, Description: "Sales tax", Quantity: 1, Rate: 5})
	up2, err := c.UpdateInvoice(ctx, keep)
	wantErr(t, err, 0)
	if len(up2.LineItems) != 3 || up2.LineItems[0].Id != up.LineItems[0].Id || up2.LineItems[2].Id == up.LineItems[2].Id {
		t.Fatalf("line ids after update: %+v", up2.LineItems)
	}
	wantErr(t, submit(id, false), corrigo.CodeTaxMismatch) // 8.25% of 260 is 21.45
	wantErr(t, submit(id, true), 0)
	got, _ = c.GetInvoice(ctx, id)
	if got.Status != corrigo.InvoicePendingVerification {
		t.Fatalf("status after submit %q", got.Status)
	}
	wantErr(t, submit(id, false), corrigo.CodeInvoiceStatus)
	_, err = c.UpdateInvoice(ctx, keep)
	wantErr(t, err, corrigo.CodeInvoiceNotEditable)
	// A dispute makes the invoice editable and submittable again.
	if _, err := sb.Act(id, sandbox.Action{Action: sandbox.ActInvoiceStatus, Status: corrigo.InvoiceDisputed, Comment: "rate too high"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.UpdateInvoice(ctx, inv(id, lines(21.45)))
	wantErr(t, err, 0)
	wantErr(t, submit(id, false), 0)

	// Not completed yet: 3051.
	open := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind, Status: corrigo.StatusCheckedIn})
	_, err = c.UpdateInvoice(ctx, inv(open, lines(0)))
	wantErr(t, err, 0)
	wantErr(t, submit(open, false), corrigo.CodeNotCompleted)

	// Content problems: 3052 with the reasons.
	cont := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind, Status: corrigo.StatusCheckedOut})
	badLines := lines(0)
	badLines[1].Quantity = 0
	badLines[0].PriceListId = 1
	_, err = c.UpdateInvoice(ctx, inv(cont, badLines))
	wantErr(t, err, 0)
	err = submit(cont, false)
	wantErr(t, err, corrigo.CodeInvoiceContent)

	// Prebilled: "the only way to accept a prebilled work order is to
	// submit an invoice via CorrigoPro Desktop" (API.md §4.2 [C]). Through
	// the API the work order is not completed (3051) and stays New; the
	// Desktop submission accepts it and sends Accepted.
	pre := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind, PreBilled: true})
	_, err = c.UpdateInvoice(ctx, inv(pre, lines(0, 8301)))
	wantErr(t, err, 0)
	wantErr(t, submit(pre, false), corrigo.CodeNotCompleted)
	if st := status(t, sb, pre); st != corrigo.StatusNew {
		t.Fatalf("prebilled after API submit: %s, want New", st)
	}
	res, err := sb.Act(pre, sandbox.Action{Action: sandbox.ActSubmitInvoice})
	if err != nil || res.WorkOrder.Status != corrigo.StatusAccepted || len(res.NotificationIds) != 1 {
		t.Fatalf("Desktop SubmitInvoice on a prebilled New work order: %+v %v", res, err)
	}
	if got, err := c.GetInvoice(ctx, pre); err != nil || got.Status != corrigo.InvoicePendingVerification {
		t.Fatalf("prebilled invoice after Desktop submit: %+v %v", got, err)
	}
	if ns := sb.Notifications(sandbox.NotificationFilter{WorkOrderId: pre}); len(ns) != 1 || ns[0].Action != corrigo.ActionAccepted {
		t.Fatalf("notifications after Desktop submit: %+v", ns)
	}

	// Rejected is terminal: the invoice can be neither edited nor submitted.
	rej := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind, Status: corrigo.StatusRejected})
	_, err = c.UpdateInvoice(ctx, inv(rej, lines(0)))
	wantErr(t, err, corrigo.CodeInvalidState)
	wantErr(t, submit(rej, false), corrigo.CodeInvalidState)

	// Recalled: 3005 on every invoice call.
	rec := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind, Status: corrigo.StatusRecalled})
	_, err = c.UpdateInvoice(ctx, inv(rec, lines(0)))
	wantErr(t, err, corrigo.CodeNotFoundOrRecalled)
	wantErr(t, submit(rec, false), corrigo.CodeNotFoundOrRecalled)

	pl, err := c.PriceList(ctx, id)
	if err != nil || len(pl) == 0 || pl[0].Id != 8001 {
		t.Fatalf("price list %+v %v", pl, err)
	}
}

func TestMessagesNotesAttachments(t *testing.T) {
	sb, c := start(t, sandbox.Options{})
	ctx := context.Background()
	id := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind, Status: corrigo.StatusAccepted})
	wantErr(t, c.PostMessage(ctx, corrigo.PostMessageRequest{WorkOrderId: id, Text: "visible"}), 0)
	wantErr(t, c.PostMessage(ctx, corrigo.PostMessageRequest{WorkOrderId: id, Text: "crew only", MessageVisibility: "CruOnly"}), 0)
	if _, err := sb.Act(id, sandbox.Action{Action: sandbox.ActMessage, Text: "from the customer"}); err != nil {
		t.Fatal(err)
	}
	ms, err := c.Messages(ctx, id)
	if err != nil || len(ms) != 2 || ms[0].Text != "visible" || ms[1].Text != "from the customer" || ms[1].Sender.Type != "Customer" {
		t.Fatalf("messages %+v %v", ms, err)
	}

	wantErr(t, c.AddNote(ctx, corrigo.NoteRequest{WorkOrderId: id, InternalNote: "first", PerformedBy: &corrigo.Person{Name: "Jon"}}), 0)
	wantErr(t, c.AddNote(ctx, corrigo.NoteRequest{WorkOrderId: id, InternalNote: "second"}), 0)
	nh, err := c.NoteHistory(ctx, id)
	if err != nil || len(nh) != 2 || nh[0].InternalNote != "first" || nh[0].PerformedBy.Name != "Jon" {
		t.Fatalf("note history %+v %v", nh, err)
	}
	if wo, _ := c.GetWorkOrder(ctx, id); wo.InternalNote != "second" {
		t.Fatalf("InternalNote %q", wo.InternalNote)
	}

	content := strings.Repeat("pdf!", 1000)
	aid, err := c.UploadAttachment(ctx, corrigo.AttachmentUpload{WorkOrderId: id, Name: "report.pdf", MimeType: "application/pdf", DocumentType: "Document", Content: strings.NewReader(content)})
	if err != nil || aid == "" {
		t.Fatalf("upload %q %v", aid, err)
	}
	as, err := c.Attachments(ctx, id)
	if err != nil || len(as) != 1 || as[0].AttachmentId != aid || as[0].Size != int64(len(content)) || as[0].MimeType != "application/pdf" {
		t.Fatalf("attachments %+v %v", as, err)
	}
	u, err := c.AttachmentDownloadURL(ctx, aid)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := testhttp.Get(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if string(b) != content || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("download: %d bytes, %q", len(b), resp.Header.Get("Content-Type"))
	}
	_, err = c.AttachmentDownloadURL(ctx, "no-such-attachment")
	wantErr(t, err, corrigo.CodeEntityNotFound)
	iid, err := c.UploadInvoiceAttachment(ctx, corrigo.AttachmentUpload{WorkOrderId: id, Name: "invoice.pdf", MimeType: "application/pdf", Content: strings.NewReader("x")})
	if err != nil {
		t.Fatal(err)
	}
	ia, err := c.InvoiceAttachments(ctx, id)
	if err != nil || len(ia) != 1 || ia[0].AttachmentId != iid {
		t.Fatalf("invoice attachments %+v %v", ia, err)
	}

	// Over the limit: the client refuses before sending; the sandbox refuses
	// what a client without that check sends. The default limit is the
	// documented 20 MB; the full-size check is skipped under -race and
	// -short, where a smaller configured limit exercises the same rule.
	if sandbox.DefaultMaxUploadBytes != corrigo.MaxAttachmentBytes {
		t.Fatalf("default upload limit %d", sandbox.DefaultMaxUploadBytes)
	}
	tok := rawToken(t, sb)
	if !raceEnabled && !testing.Short() {
		body, ctype := multipartBody(t, id, 20<<20+1)
		r := raw(t, "POST", sb.BaseURL()+"api/attachments", tok, ctype, body)
		if eb := r.errBody(t); r.Status != 400 || eb.Code != corrigo.CodeValidation {
			t.Fatalf("20 MB + 1 upload: %d %s", r.Status, r.Body)
		}
	}
	small, _ := start(t, sandbox.Options{MaxUploadBytes: 64 << 10})
	sid := mk(t, small, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind, Status: corrigo.StatusAccepted})
	for size, want := range map[int]int{64 << 10: 200, 64<<10 + 1: 400} {
		body, ctype := multipartBody(t, sid, size)
		if r := raw(t, "POST", small.BaseURL()+"api/attachments", rawToken(t, small), ctype, body); r.Status != want {
			t.Fatalf("%d-byte upload with a 64 KiB limit: %d %s", size, r.Status, r.Body)
		}
	}
	body, ctype := multipartBody(t, id, 10)
	r := raw(t, "POST", sb.BaseURL()+"api/attachments", tok, ctype, body)
	if r.Status != 200 {
		t.Fatalf("small raw upload: %d %s", r.Status, r.Body)
	}
	// Missing MimeType (the client would refuse it too).
	body, ctype = multipartBody(t, id, -1)
	r = raw(t, "POST", sb.BaseURL()+"api/attachments", tok, ctype, body)
	if eb := r.errBody(t); r.Status != 400 || eb.Code != corrigo.CodeValidation || eb.ValidationErrors[0].FieldName != "MimeType" {
		t.Fatalf("no MimeType: %d %s", r.Status, r.Body)
	}
}

func TestAssociatesAndBulk(t *testing.T) {
	sb, c := start(t, sandbox.Options{})
	ctx := context.Background()
	as, err := c.Associates(ctx, sandbox.BranchDemo)
	if err != nil || len(as) < 2 || as[0].Category != "CruMember" || as[2].Category != "Subcontractor" {
		t.Fatalf("associates %+v %v", as, err)
	}
	_, err = c.Associates(ctx, 1)
	wantErr(t, err, corrigo.CodeEntityNotFound)

	spec := sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerBluebird, BranchId: sandbox.BranchDemo}
	n1, n2 := mk(t, sb, spec), mk(t, sb, spec)
	spec.PreBilled = true
	pre := mk(t, sb, spec)
	res, err := c.BulkAccept(ctx, corrigo.BulkActionRequest{WorkOrderIds: []int64{n1, pre, 999999, n2}})
	if err != nil {
		t.Fatal(err)
	}
	want := []corrigo.BulkResult{{WorkOrderId: n1}, {WorkOrderId: pre, Code: corrigo.CodePrebilledAccept}, {WorkOrderId: 999999, Code: corrigo.CodeNotFoundOrRecalled}, {WorkOrderId: n2}}
	if len(res) != len(want) {
		t.Fatalf("bulk accept %+v", res)
	}
	for i := range want {
		if res[i].WorkOrderId != want[i].WorkOrderId || res[i].Code != want[i].Code || (res[i].Code != 0) != (res[i].Message != "") {
			t.Fatalf("bulk accept [%d] = %+v, want %+v", i, res[i], want[i])
		}
	}
	_, err = c.BulkReject(ctx, corrigo.BulkActionRequest{WorkOrderIds: []int64{n1}})
	wantErr(t, err, corrigo.CodeValidation)
	_, err = c.BulkAccept(ctx, corrigo.BulkActionRequest{})
	wantErr(t, err, corrigo.CodeValidation)
	spec.PreBilled = false
	n3 := mk(t, sb, spec)
	res, err = c.BulkReject(ctx, corrigo.BulkActionRequest{WorkOrderIds: []int64{n3, n1}, Comment: "out of area"})
	if err != nil || len(res) != 2 || res[0].Code != 0 || res[1].Code != corrigo.CodeInvalidState {
		t.Fatalf("bulk reject %+v %v", res, err)
	}
	if status(t, sb, n3) != corrigo.StatusRejected {
		t.Fatal("n3 not rejected")
	}

	// Assign: one result per work order, one per error for a failed one;
	// already assigned is a no-op; the status does not change.
	res, err = c.BulkAssign(ctx, corrigo.BulkAssignRequest{WorkOrderIds: []int64{n1, n2}, AssociateIds: []int64{7001, 7003}})
	if err != nil || len(res) != 2 || res[0].Code != 0 || res[1].Code != 0 {
		t.Fatalf("bulk assign %+v %v", res, err)
	}
	res, err = c.BulkAssign(ctx, corrigo.BulkAssignRequest{WorkOrderIds: []int64{n1, n2}, AssociateIds: []int64{7001, 7101, 7201}})
	if err != nil || len(res) != 4 || res[0].WorkOrderId != n1 || res[0].Code != corrigo.CodeEntityNotFound || res[1].WorkOrderId != n1 || res[3].WorkOrderId != n2 {
		t.Fatalf("bulk assign with unknown associates %+v %v", res, err)
	}
	res, err = c.BulkAssign(ctx, corrigo.BulkAssignRequest{WorkOrderIds: []int64{n1}, AssociateIds: []int64{7001}})
	if err != nil || len(res) != 1 || res[0].Code != 0 {
		t.Fatalf("re-assign %+v %v", res, err)
	}
	d, _ := sb.Detail(n1)
	if !slices.Equal(d.Assignees, []int64{7001, 7003}) || d.WorkOrder.Status != corrigo.StatusAccepted {
		t.Fatalf("assignees %v status %s", d.Assignees, d.WorkOrder.Status)
	}
	res, err = c.BulkUnassign(ctx, corrigo.BulkAssignRequest{WorkOrderIds: []int64{n1, n3}, AssociateIds: []int64{7001}})
	if err != nil || len(res) != 2 || res[0].Code != 0 || res[1].Code != corrigo.CodeInvalidState {
		t.Fatalf("unassign %+v %v", res, err)
	}
	if d, _ := sb.Detail(n1); !slices.Equal(d.Assignees, []int64{7003}) {
		t.Fatalf("assignees after unassign %v", d.Assignees)
	}
	_, err = c.BulkAssign(ctx, corrigo.BulkAssignRequest{WorkOrderIds: []int64{n1}})
	wantErr(t, err, corrigo.CodeValidation)
}

func TestProceduresAndEquipmentLists(t *testing.T) {
	sb, c := start(t, sandbox.Options{})
	ctx := context.Background()
	pm := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind, Type: corrigo.TypePMRM, Status: corrigo.StatusAccepted})
	req := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind, Type: corrigo.TypeRequest})
	ps, err := c.Procedures(ctx, pm)
	if err != nil || len(ps) != 1 || len(ps[0].Steps) != 4 || ps[0].Asset == nil {
		t.Fatalf("procedures %+v %v", ps, err)
	}
	for _, s := range ps[0].Steps {
		if s.IsRequired {
			wantErr(t, c.UpdateProcedureStep(ctx, corrigo.StepUpdateRequest{WorkOrderId: pm, ProcedureId: ps[0].Id, Step: corrigo.Step{Id: s.Id, Status: "NA"}}), 0)
		}
	}
	for _, s := range ps[0].Steps {
		if !s.IsRequired {
			wantErr(t, c.UpdateProcedureStep(ctx, corrigo.StepUpdateRequest{WorkOrderId: pm, ProcedureId: ps[0].Id, Step: corrigo.Step{Id: s.Id, Status: "Done", Value: "1", Currency: "USD"}}), 0)
		}
	}
	ps, _ = c.Procedures(ctx, pm)
	if ps[0].Status != "Done" {
		t.Fatalf("procedure status %q after all steps", ps[0].Status)
	}
	_, err = c.ProcedureSteps(ctx, pm, 1)
	wantErr(t, err, corrigo.CodeEntityNotFound)
	if ps, err := c.Procedures(ctx, req); err != nil || len(ps) != 0 {
		t.Fatalf("request procedures %+v %v", ps, err)
	}
	_, err = c.Procedures(ctx, 999999)
	wantErr(t, err, corrigo.CodeNotFoundOrRecalled)
	av, err := c.AvailableEquipment(ctx, req)
	if err != nil || len(av) == 0 || av[0].Type != "Existing" {
		t.Fatalf("available %+v %v", av, err)
	}
	eq, err := c.Equipment(ctx, req)
	if err != nil || len(eq) != 0 {
		t.Fatalf("equipment %+v %v", eq, err)
	}
	if _, err := c.EquipmentHistory(ctx, req); err != nil {
		t.Fatal(err)
	}
	if err := c.Health(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestTransportRules covers what happens before a handler runs: routes
// matched case-insensitively, 404, the Content-Type rule, an empty body,
// bad and revoked tokens, and MessageId echoes.
func TestTransportRules(t *testing.T) {
	sb, _ := start(t, sandbox.Options{})
	tok := rawToken(t, sb)
	id := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind})
	body := []byte(fmt.Sprintf(`{"WorkOrderId":%d,"MessageId":"m-ct"}`, id))
	root := sb.URL()
	tests := []struct {
		name, method, path, token, ctype string
		body                             []byte
		status, code                     int
		msgID                            string
	}{
		{"lower-case route", "GET", "/direct/api/customers?messageId=m1", tok, "", nil, 200, 0, "m1"},
		{"mixed-case route", "GET", "/Direct/API/Customers/?MESSAGEID=m2", tok, "", nil, 200, 0, "m2"},
		{"unknown route", "GET", "/Direct/api/nothing", tok, "", nil, 404, 0, ""},
		{"wrong method", "DELETE", "/Direct/api/customers", tok, "", nil, 405, 0, ""},
		{"no Content-Type", "PUT", "/Direct/api/workOrder/accept", tok, "", body, 500, corrigo.CodeInternal, "m-ct"},
		{"form Content-Type", "PUT", "/Direct/api/workOrder/accept", tok, "application/x-www-form-urlencoded", body, 500, corrigo.CodeInternal, "m-ct"},
		{"empty body", "PUT", "/Direct/api/workOrder/accept", tok, "application/json", nil, 400, corrigo.CodeValidation, ""},
		{"malformed JSON", "PUT", "/Direct/api/workOrder/accept", tok, "application/json", []byte(`{"WorkOrderId":`), 400, corrigo.CodeValidation, ""},
		{"wrong type", "PUT", "/Direct/api/workOrder/accept", tok, "application/json", []byte(`{"WorkOrderId":"x","MessageId":"m3"}`), 400, corrigo.CodeValidation, "m3"},
		{"no token", "GET", "/Direct/api/customers", "", "", nil, 401, corrigo.CodeUnauthorized, ""},
		{"bad token", "GET", "/Direct/api/customers?messageId=m4", "H4sI<---->abc", "", nil, 401, corrigo.CodeUnauthorized, "m4"},
		{"missing query", "GET", "/Direct/api/customerSettings?messageId=m5", tok, "", nil, 400, corrigo.CodeValidation, "m5"},
		{"json charset", "PUT", "/Direct/api/workOrder/accept", tok, "application/json; charset=utf-8", body, 200, 0, "m-ct"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := sb.UsageLog()
			r := raw(t, tc.method, root+tc.path, tc.token, tc.ctype, tc.body)
			// CorrigoPro's usage log leaves out requests with an invalid
			// Authorization (API.md §3.5); every other call is logged.
			after := sb.UsageLog()
			if logged, want := len(after)-len(before), 1; tc.status == 401 {
				if logged != 0 {
					t.Fatalf("a %d request was written to the usage log: %+v", tc.status, after[len(after)-1])
				}
			} else if logged != want {
				t.Fatalf("%d usage log entries for one call, want %d", logged, want)
			}
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			var env struct {
				Code      int
				MessageId *string
			}
			if err := json.Unmarshal(r.Body, &env); err != nil {
				t.Fatalf("answer is not JSON: %q", r.Body)
			}
			if env.Code != tc.code {
				t.Fatalf("code %d, want %d: %s", env.Code, tc.code, r.Body)
			}
			got := ""
			if env.MessageId != nil {
				got = *env.MessageId
			}
			if got != tc.msgID {
				t.Fatalf("MessageId %q, want %q: %s", got, tc.msgID, r.Body)
			}
		})
	}
	// Revocation: the token stops working at once.
	if n := sb.RevokeToken(tok); n != 1 {
		t.Fatalf("revoked %d", n)
	}
	n := len(sb.UsageLog())
	if r := raw(t, "GET", root+"/Direct/api/customers", tok, "", nil); r.Status != 401 || r.errBody(t).Code != corrigo.CodeUnauthorized {
		t.Fatalf("revoked token: %d %s", r.Status, r.Body)
	}
	if got := len(sb.UsageLog()); got != n {
		t.Fatalf("a revoked token's request was written to the usage log (%d entries, was %d)", got, n)
	}
}

func multipartBody(t *testing.T, woID int64, size int) ([]byte, string) {
	t.Helper()
	var b strings.Builder
	boundary := "sandboxtestboundary"
	field := func(name, v string) {
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", boundary, name, v)
	}
	field("WorkOrderId", strconv.FormatInt(woID, 10))
	field("Name", "big.bin")
	if size >= 0 {
		field("MimeType", "application/octet-stream")
	} else {
		size = 4
	}
	fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=\"File\"; filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n", boundary)
	b.WriteString(strings.Repeat("a", size))
	fmt.Fprintf(&b, "\r\n--%s--\r\n", boundary)
	return []byte(b.String()), "multipart/form-data; boundary=" + boundary
}
