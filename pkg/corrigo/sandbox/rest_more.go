package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/wogate/wogate/pkg/corrigo"
)

// ---- invoices ----

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// recomputeInvoice sets line amounts and the invoice totals.
func recomputeInvoice(inv *corrigo.Invoice) (subtotal, tax float64) {
	for i := range inv.LineItems {
		li := &inv.LineItems[i]
		li.Amount = round2(li.Quantity * li.Rate)
		if li.Type == corrigo.LineItemTax {
			tax += li.Amount
		} else {
			subtotal += li.Amount
		}
	}
	inv.TaxAmount = round2(tax)
	inv.TotalAmount = round2(subtotal + tax - inv.DiscountAmount)
	return round2(subtotal), round2(tax)
}

var validLineTypes = []string{corrigo.LineItemPriceList, corrigo.LineItemLabor, corrigo.LineItemMaterial, corrigo.LineItemTax, corrigo.LineItemOther}

func hGetInvoice(c *call) (any, *apiError) {
	rec, e := c.woParam()
	if e != nil {
		return nil, e
	}
	rec.mu.Lock()
	inv := cloneInvoice(rec.invoice)
	rec.mu.Unlock()
	return corrigo.InvoiceResponse{Invoice: inv, Envelope: c.env()}, nil
}

func hUpdateInvoice(c *call) (any, *apiError) {
	var req corrigo.InvoiceUpdateRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	in := req.Invoice
	if e := requireWO(in.WorkOrderId); e != nil {
		return nil, e
	}
	c.woID = in.WorkOrderId
	for i, li := range in.LineItems {
		if li.Type != "" && !slices.Contains(validLineTypes, li.Type) {
			return nil, errValidation(verr(fmt.Sprintf("Invoice.LineItems[%d].Type", i), vInvalidValue, fmt.Sprintf("Type must be one of %q", validLineTypes)))
		}
		if math.IsNaN(li.Quantity) || math.IsNaN(li.Rate) {
			return nil, errValidation(verr(fmt.Sprintf("Invoice.LineItems[%d]", i), vIncorrectType, "Quantity and Rate must be numbers"))
		}
	}
	var out corrigo.Invoice
	ch := &change{actor: ActorProvider, op: "invoiceUpdate", msgID: c.msgID}
	_, e := c.s.apply(in.WorkOrderId, ch, func(rec *record, w *corrigo.WorkOrder) *apiError {
		// Rejected is terminal: "you can do nothing with it" (API.md §4.2).
		if e := notTerminal(w, "invoiceUpdate"); e != nil {
			return e
		}
		inv := cloneInvoice(rec.invoice)
		if inv.Status != corrigo.InvoiceDraft && inv.Status != corrigo.InvoiceDisputed {
			return errCode(corrigo.CodeInvoiceNotEditable, "Invoice of work order %d is %s and cannot be edited", w.WorkOrderId, inv.Status)
		}
		taxLines := 0
		for _, li := range in.LineItems {
			if li.Type == corrigo.LineItemTax {
				taxLines++
			}
		}
		if taxLines > 1 && !rec.customer.CompositeTax {
			return errCode(corrigo.CodeCompositeTax, "Customer %s does not support composite tax: at most one Tax line item", rec.customer.Name)
		}
		for _, li := range in.LineItems {
			if li.Id != 0 && !slices.ContainsFunc(inv.LineItems, func(x corrigo.LineItem) bool { return x.Id == li.Id }) {
				return errCode(corrigo.CodeUnknownLineItem, "Line item %d is not present in the invoice", li.Id)
			}
		}
		// Line items not referenced by Id are deleted (API.md §1.6).
		lines := make([]corrigo.LineItem, 0, len(in.LineItems))
		for _, li := range in.LineItems {
			if li.Id == 0 {
				li.Id = c.s.nextSeq()
			}
			lines = append(lines, li)
		}
		inv.LineItems = lines
		inv.InvoiceNumber = in.InvoiceNumber
		inv.InvoiceDate = in.InvoiceDate
		inv.DiscountAmount = in.DiscountAmount
		inv.Comment = in.Comment
		recomputeInvoice(&inv)
		rec.invoice = inv
		out = cloneInvoice(inv)
		return nil
	})
	if e != nil {
		return nil, e
	}
	return corrigo.InvoiceResponse{Invoice: out, Envelope: c.env()}, nil
}

// invoiceContentProblems lists what makes an invoice unsubmittable (3052).
func (s *Sandbox) invoiceContentProblems(rec *record, inv corrigo.Invoice) []corrigo.ValidationError {
	var v []corrigo.ValidationError
	if len(inv.LineItems) == 0 {
		v = append(v, verr("LineItems", vRequired, "the invoice has no line items"))
	}
	if strings.TrimSpace(inv.InvoiceNumber) == "" {
		v = append(v, verr("InvoiceNumber", vRequired, "InvoiceNumber is required"))
	}
	if inv.InvoiceDate.IsZero() {
		v = append(v, verr("InvoiceDate", vRequired, "InvoiceDate is required"))
	} else if inv.InvoiceDate.After(s.now().Add(24 * 60 * 60 * 1e9)) {
		v = append(v, verr("InvoiceDate", vInvalidValue, "InvoiceDate is in the future"))
	}
	subtotal := 0.0
	for i, li := range inv.LineItems {
		f := fmt.Sprintf("LineItems[%d]", i)
		if strings.TrimSpace(li.Description) == "" {
			v = append(v, verr(f+".Description", vRequired, "line item has no description"))
		}
		if li.Quantity == 0 {
			v = append(v, verr(f+".Quantity", vInvalidValue, "Quantity must not be 0"))
		}
		if li.Rate < 0 {
			v = append(v, verr(f+".Rate", vInvalidValue, "Rate must not be negative"))
		}
		if li.Type == corrigo.LineItemPriceList && !rec.customer.hasPriceListItem(li.PriceListId) {
			v = append(v, verr(f+".PriceListId", vInvalidValue, fmt.Sprintf("price list item %d is not in the customer's price list", li.PriceListId)))
		}
		if li.Type != corrigo.LineItemTax {
			subtotal += li.Amount
		}
	}
	if inv.DiscountAmount < 0 || inv.DiscountAmount > subtotal {
		v = append(v, verr("DiscountAmount", vInvalidValue, "DiscountAmount must be between 0 and the line item total"))
	}
	return v
}

func hSubmitInvoice(c *call) (any, *apiError) {
	var req corrigo.InvoiceSubmitRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if e := requireWO(req.WorkOrderId); e != nil {
		return nil, e
	}
	c.woID = req.WorkOrderId
	ch := &change{actor: ActorProvider, op: "invoiceSubmit", msgID: c.msgID}
	_, e := c.s.apply(req.WorkOrderId, ch, func(rec *record, w *corrigo.WorkOrder) *apiError {
		return c.s.submitInvoice(rec, w, req.SubmitAnyway, ch)
	})
	if e != nil {
		return nil, e
	}
	return c.env(), nil
}

// submitInvoice applies CorrigoPro's invoice submission rules (API.md
// §1.6, §4.2). Through the API (ch.actor Provider) the work order must be
// completed, prebilled or not: "the only way to accept a prebilled work
// order is to submit an invoice via CorrigoPro Desktop" [C]. From Desktop
// (the SubmitInvoice action), a prebilled New work order's invoice may be
// submitted and the work order becomes Accepted, with the Accepted
// notification.
func (s *Sandbox) submitInvoice(rec *record, w *corrigo.WorkOrder, submitAnyway bool, ch *change) *apiError {
	if e := notTerminal(w, "invoiceSubmit"); e != nil {
		return e
	}
	inv := cloneInvoice(rec.invoice)
	if inv.Status != corrigo.InvoiceDraft && inv.Status != corrigo.InvoiceDisputed {
		return errCode(corrigo.CodeInvoiceStatus, "Invoice of work order %d is %s and cannot be submitted", w.WorkOrderId, inv.Status)
	}
	completed := w.Status == corrigo.StatusCheckedOut || w.Status == corrigo.StatusVerified
	prebilledDesktop := ch.actor == ActorDesktop && w.IsPreBilled && w.Status == corrigo.StatusNew
	if !completed && !prebilledDesktop {
		msg := "Work order %d is %s: it must be completed or checked out before invoicing"
		if w.IsPreBilled && w.Status == corrigo.StatusNew {
			msg += "; a prebilled work order's invoice is submitted in CorrigoPro Desktop"
		}
		return errCode(corrigo.CodeNotCompleted, msg, w.WorkOrderId, w.Status)
	}
	if v := s.invoiceContentProblems(rec, inv); len(v) > 0 {
		e := errCode(corrigo.CodeInvoiceContent, "Invoice content is invalid: %s", v[0].Message)
		e.Validation = v
		return e
	}
	if rec.customer.settings().TaxValidation && !submitAnyway {
		subtotal, tax := recomputeInvoice(&inv)
		want := round2((subtotal - inv.DiscountAmount) * rec.customer.TaxRate)
		if math.Abs(want-tax) > 0.01 {
			return errCode(corrigo.CodeTaxMismatch, "Tax amount %.2f does not match the customer's calculation %.2f; resubmit with SubmitAnyway to override", tax, want)
		}
	}
	inv.Status = corrigo.InvoicePendingVerification
	rec.invoice = inv
	if prebilledDesktop {
		// Submitting a prebilled work order's invoice in Desktop accepts it.
		w.Status = corrigo.StatusAccepted
		ch.emit(w, corrigo.AcceptedPayload{StatusChange: corrigo.StatusChange{Status: w.Status, Comment: ch.comment}})
	}
	return nil
}

func hPriceList(c *call) (any, *apiError) {
	var cust *customerDef
	if c.q("workOrderId") == "" && c.q("customerId") != "" {
		id, e := c.qID("customerId")
		if e != nil {
			return nil, e
		}
		if cust = c.s.customer(int(id)); cust == nil {
			return nil, errCode(corrigo.CodeEntityNotFound, "Customer %d not found", id)
		}
	} else {
		rec, e := c.woParam()
		if e != nil {
			return nil, e
		}
		cust = rec.customer
	}
	return corrigo.PriceListResponse{PriceList: slices.Clone(cust.PriceList), Envelope: c.env()}, nil
}

// ---- messages ----

var validVisibility = []string{"All", "CruOnly", "CruLeads", "CruLead", "CruSubs", "None"}

func hMessages(c *call) (any, *apiError) {
	rec, e := c.woParam()
	if e != nil {
		return nil, e
	}
	rec.mu.Lock()
	out := make([]corrigo.TextMessage, 0, len(rec.messages))
	for _, m := range rec.messages {
		// Only messages visible to all (Customer In) are returned (API.md §1.5).
		if m.MessageVisibility == "" || m.MessageVisibility == "All" {
			out = append(out, m)
		}
	}
	rec.mu.Unlock()
	return corrigo.MessagesResponse{Messages: out, Envelope: c.env()}, nil
}

func hPostMessage(c *call) (any, *apiError) {
	var req corrigo.PostMessageRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if e := requireWO(req.WorkOrderId); e != nil {
		return nil, e
	}
	c.woID = req.WorkOrderId
	if e := checkComment("Text", req.Text, true); e != nil {
		return nil, e
	}
	vis := req.MessageVisibility
	if vis == "" {
		vis = "All"
	}
	if !slices.Contains(validVisibility, vis) {
		return nil, errValidation(verr("MessageVisibility", vInvalidValue, fmt.Sprintf("MessageVisibility must be one of %q", validVisibility)))
	}
	now := corrigo.NewTime(c.s.now())
	ch := &change{actor: ActorProvider, op: "message", msgID: c.msgID, comment: req.Text}
	if _, e := c.s.apply(req.WorkOrderId, ch, func(rec *record, w *corrigo.WorkOrder) *apiError {
		if e := notTerminal(w, "message"); e != nil {
			return e
		}
		rec.messages = append(rec.messages, corrigo.TextMessage{
			Id: c.s.nextSeq(), Text: req.Text, MessageVisibility: vis, Created: now,
			Sender: &corrigo.Sender{Name: c.client, Type: "CorrigoPro"},
		})
		return nil
	}); e != nil {
		return nil, e
	}
	return c.env(), nil
}

// ---- attachments ----

var validDocTypes = []string{"Document", "Picture", "Signature", "InvoicePrintout", "ServiceContract", "Misc"}

func isInvoicePath(c *call) bool { return strings.Contains(strings.ToLower(c.r.URL.Path), "/invoice/") }

func hListAttachments(c *call) (any, *apiError) {
	rec, e := c.woParam()
	if e != nil {
		return nil, e
	}
	inv := isInvoicePath(c)
	out := []corrigo.Attachment{}
	rec.mu.Lock()
	for _, a := range rec.attachments {
		if (a.Subtype == "InvoicePrintout") == inv || !inv {
			out = append(out, a)
		}
	}
	rec.mu.Unlock()
	return corrigo.AttachmentsResponse{Attachments: out, Envelope: c.env()}, nil
}

func hUploadAttachment(c *call) (any, *apiError) {
	_, params, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	mr := multipart.NewReader(bytes.NewReader(c.body), params["boundary"])
	fields := map[string]string{}
	var content []byte
	var haveFile bool
	var fileName, fileType string
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errValidation(verr("", vIncorrectType, "malformed multipart body: "+err.Error()))
		}
		name := strings.ToLower(p.FormName())
		b, err := io.ReadAll(io.LimitReader(p, c.s.opts.MaxUploadBytes+1))
		if err != nil {
			return nil, errValidation(verr(p.FormName(), vIncorrectType, "cannot read part: "+err.Error()))
		}
		if name == "file" {
			haveFile, content, fileName, fileType = true, b, p.FileName(), p.Header.Get("Content-Type")
			continue
		}
		fields[name] = string(b)
	}
	if m := fields["messageid"]; m != "" {
		c.msgID = m
	}
	woID, err := strconv.ParseInt(strings.TrimSpace(fields["workorderid"]), 10, 64)
	if err != nil || woID <= 0 {
		return nil, errValidation(verr("WorkOrderId", vRequired, "WorkOrderId (integer) is required"))
	}
	c.woID = woID
	name := fields["name"]
	if name == "" {
		name = fileName
	}
	mimeType := fields["mimetype"]
	docType := fields["documenttype"]
	if docType == "" {
		docType = "Document"
	}
	vis := fields["messagevisibility"]
	if vis == "" {
		vis = "All"
	}
	var v []corrigo.ValidationError
	switch {
	case !haveFile:
		v = append(v, verr("File", vRequired, "File is required"))
	case int64(len(content)) > c.s.opts.MaxUploadBytes:
		v = append(v, verr("File", vMaxLength, fmt.Sprintf("File exceeds %d bytes", c.s.opts.MaxUploadBytes)))
	case len(content) == 0:
		v = append(v, verr("File", vRequired, "File is empty"))
	}
	if name == "" || path.Ext(name) == "" {
		v = append(v, verr("Name", vRequired, "Name with a file extension is required"))
	}
	if mimeType == "" {
		v = append(v, verr("MimeType", vRequired, "MimeType is required"))
	}
	if !slices.Contains(validDocTypes, docType) {
		v = append(v, verr("DocumentType", vInvalidValue, fmt.Sprintf("DocumentType must be one of %q", validDocTypes)))
	}
	if !slices.Contains(validVisibility, vis) {
		v = append(v, verr("MessageVisibility", vInvalidValue, fmt.Sprintf("MessageVisibility must be one of %q", validVisibility)))
	}
	if len(v) > 0 {
		return nil, errValidation(v...)
	}
	_ = fileType
	if isInvoicePath(c) {
		docType = "InvoicePrintout"
	}
	att := corrigo.Attachment{AttachmentId: uuid.NewString(), Name: name, MimeType: mimeType, Size: int64(len(content)), Subtype: docType}
	ch := &change{actor: ActorProvider, op: "attachmentAdd", msgID: c.msgID, comment: name}
	if _, e := c.s.apply(woID, ch, func(rec *record, w *corrigo.WorkOrder) *apiError {
		if e := notTerminal(w, "attachment"); e != nil {
			return e
		}
		rec.attachments = append(rec.attachments, att)
		return nil
	}); e != nil {
		return nil, e
	}
	c.s.storeFile(&file{meta: att, workOrderId: woID, data: content})
	return corrigo.AttachmentUploadResponse{AttachmentId: att.AttachmentId, Envelope: c.env()}, nil
}

func (s *Sandbox) storeFile(f *file) {
	s.mu.Lock()
	s.files[f.meta.AttachmentId] = f
	s.mu.Unlock()
}

func (s *Sandbox) fileByID(id string) *file {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.files[id]
}

func hDownloadURL(c *call) (any, *apiError) {
	id := c.q("attachmentId")
	if id == "" {
		return nil, errValidation(verr("attachmentId", vRequired, "attachmentId is required"))
	}
	f := c.s.fileByID(id)
	if f == nil {
		return nil, errCode(corrigo.CodeEntityNotFound, "Attachment %s not found", id)
	}
	c.woID = f.workOrderId
	return corrigo.DownloadURLResponse{Url: c.s.URL() + "/_sandbox/files/" + id, Envelope: c.env()}, nil
}

// ---- associates and bulk ----

func hAssociates(c *call) (any, *apiError) {
	id, e := c.qID("branchId")
	if e != nil {
		return nil, e
	}
	b := c.s.branch(id)
	if b == nil {
		return nil, errCode(corrigo.CodeEntityNotFound, "Branch %d not found", id)
	}
	return corrigo.AssociatesResponse{Associates: slices.Clone(b.Associates), Envelope: c.env()}, nil
}

// bulkActionHandler serves bulk accept/reject: each work order is processed
// on its own; the answer is an array with one element per work order.
func bulkActionHandler(op string, wf workflow) handlerFunc {
	return func(c *call) (any, *apiError) {
		var req corrigo.BulkActionRequest
		if e := c.decode(&req); e != nil {
			return nil, e
		}
		if len(req.WorkOrderIds) == 0 {
			return nil, errValidation(verr("WorkOrderIds", vRequired, "WorkOrderIds is required"))
		}
		if e := checkComment("Comment", req.Comment, op == "reject"); e != nil {
			return nil, e
		}
		if len(req.WorkOrderIds) == 1 {
			c.woID = req.WorkOrderIds[0]
		}
		out := make([]corrigo.BulkResult, 0, len(req.WorkOrderIds))
		for _, id := range req.WorkOrderIds {
			ar := corrigo.CheckOutRequest{ActionRequest: corrigo.ActionRequest{WorkOrderId: id, Comment: req.Comment}}
			ch := &change{actor: ActorProvider, op: "bulk/" + op, msgID: c.msgID, comment: req.Comment}
			_, e := c.s.apply(id, ch, func(rec *record, w *corrigo.WorkOrder) *apiError { return wf(c.s, rec, w, &ar, ch) })
			if e != nil {
				out = append(out, corrigo.BulkResult{WorkOrderId: id, Code: e.Code, Message: e.Message})
				continue
			}
			out = append(out, corrigo.BulkResult{WorkOrderId: id})
		}
		return out, nil
	}
}

var errMulti = &apiError{Code: -1}

func bulkAssignHandler(assign bool) handlerFunc {
	op := "bulk/unassign"
	if assign {
		op = "bulk/assign"
	}
	return func(c *call) (any, *apiError) {
		var req corrigo.BulkAssignRequest
		if e := c.decode(&req); e != nil {
			return nil, e
		}
		var v []corrigo.ValidationError
		if len(req.WorkOrderIds) == 0 {
			v = append(v, verr("WorkOrderIds", vRequired, "WorkOrderIds is required"))
		}
		if len(req.AssociateIds) == 0 {
			v = append(v, verr("AssociateIds", vRequired, "AssociateIds is required"))
		}
		if len(v) > 0 {
			return nil, errValidation(v...)
		}
		if len(req.WorkOrderIds) == 1 {
			c.woID = req.WorkOrderIds[0]
		}
		out := make([]corrigo.BulkResult, 0, len(req.WorkOrderIds))
		for _, id := range req.WorkOrderIds {
			var errs []corrigo.BulkResult
			ch := &change{actor: ActorProvider, op: op, msgID: c.msgID, comment: fmt.Sprint(req.AssociateIds)}
			_, e := c.s.apply(id, ch, func(rec *record, w *corrigo.WorkOrder) *apiError {
				if e := notTerminal(w, op); e != nil {
					return e
				}
				b := c.s.branch(w.BranchId)
				for _, a := range req.AssociateIds {
					if b == nil || !slices.ContainsFunc(b.Associates, func(x corrigo.Associate) bool { return x.Id == a }) {
						errs = append(errs, corrigo.BulkResult{WorkOrderId: id, Code: corrigo.CodeEntityNotFound,
							Message: fmt.Sprintf("Associate %d is not available to branch %d", a, w.BranchId)})
					}
				}
				if len(errs) > 0 {
					return errMulti
				}
				for _, a := range req.AssociateIds {
					i := slices.Index(rec.assignees, a)
					switch {
					case assign && i < 0:
						rec.assignees = append(rec.assignees, a)
					case !assign && i >= 0:
						rec.assignees = slices.Delete(rec.assignees, i, i+1)
					}
				}
				return nil
			})
			switch {
			case e == errMulti:
				out = append(out, errs...)
			case e != nil:
				out = append(out, corrigo.BulkResult{WorkOrderId: id, Code: e.Code, Message: e.Message})
			default:
				out = append(out, corrigo.BulkResult{WorkOrderId: id})
			}
		}
		return out, nil
	}
}

// ---- procedures ----

func hProcedures(c *call) (any, *apiError) {
	rec, e := c.woParam()
	if e != nil {
		return nil, e
	}
	w := rec.snapshot()
	out := []corrigo.Procedure{}
	if w.WorkDetails != nil && w.WorkDetails.Procedures != nil {
		out = w.WorkDetails.Procedures
	}
	return corrigo.ProceduresResponse{Procedures: out, Envelope: c.env()}, nil
}

func findProcedure(w *corrigo.WorkOrder, id int) *corrigo.Procedure {
	if w.WorkDetails == nil {
		return nil
	}
	for i := range w.WorkDetails.Procedures {
		if w.WorkDetails.Procedures[i].Id == id {
			return &w.WorkDetails.Procedures[i]
		}
	}
	return nil
}

func hProcedureSteps(c *call) (any, *apiError) {
	rec, e := c.woParam()
	if e != nil {
		return nil, e
	}
	pid, e := c.qID("procedureId")
	if e != nil {
		return nil, e
	}
	w := rec.snapshot()
	p := findProcedure(w, int(pid))
	if p == nil {
		return nil, errCode(corrigo.CodeEntityNotFound, "Procedure %d not found on work order %d", pid, w.WorkOrderId)
	}
	return corrigo.StepsResponse{Steps: p.Steps, Envelope: c.env()}, nil
}

func hUpdateStep(c *call) (any, *apiError) {
	var req corrigo.StepUpdateRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if e := requireWO(req.WorkOrderId); e != nil {
		return nil, e
	}
	c.woID = req.WorkOrderId
	if req.ProcedureId <= 0 {
		return nil, errValidation(verr("ProcedureId", vRequired, "ProcedureId is required"))
	}
	if req.Step.Id <= 0 {
		return nil, errValidation(verr("Step.Id", vRequired, "Step.Id is required"))
	}
	ch := &change{actor: ActorProvider, op: "procedureStep", msgID: c.msgID, comment: fmt.Sprintf("procedure %d step %d: %s", req.ProcedureId, req.Step.Id, req.Step.Status)}
	if _, e := c.s.apply(req.WorkOrderId, ch, func(rec *record, w *corrigo.WorkOrder) *apiError {
		if e := guard(w, "procedure/step", corrigo.StatusAccepted, corrigo.StatusCheckedIn, corrigo.StatusPaused, corrigo.StatusOnHold); e != nil {
			return e
		}
		p := findProcedure(w, req.ProcedureId)
		if p == nil {
			return errCode(corrigo.CodeEntityNotFound, "Procedure %d not found on work order %d", req.ProcedureId, w.WorkOrderId)
		}
		i := slices.IndexFunc(p.Steps, func(x corrigo.StepDescriptor) bool { return x.Id == req.Step.Id })
		if i < 0 {
			return errCode(corrigo.CodeEntityNotFound, "Step %d not found in procedure %d", req.Step.Id, req.ProcedureId)
		}
		if e := procedureNotNA(p); e != nil {
			return e
		}
		if e := setStep(&p.Steps[i], req.Step); e != nil {
			return e
		}
		updateProcedureStatus(p)
		return nil
	}); e != nil {
		return nil, e
	}
	return c.env(), nil
}

// ---- equipment ----

func hEquipment(c *call) (any, *apiError) {
	rec, e := c.woParam()
	if e != nil {
		return nil, e
	}
	rec.mu.Lock()
	out := append([]corrigo.Equipment{}, rec.equipment...)
	rec.mu.Unlock()
	return corrigo.EquipmentResponse{Equipment: out, Envelope: c.env()}, nil
}

func hAvailableEquipment(c *call) (any, *apiError) {
	rec, e := c.woParam()
	if e != nil {
		return nil, e
	}
	rec.mu.Lock()
	out := append([]corrigo.Equipment{}, rec.available...)
	rec.mu.Unlock()
	return corrigo.EquipmentResponse{Equipment: out, Envelope: c.env()}, nil
}

func hEquipmentHistory(c *call) (any, *apiError) {
	if _, e := c.woParam(); e != nil {
		return nil, e
	}
	return map[string]any{"History": []any{}, "MessageId": c.msgID}, nil
}

func hAddEquipment(c *call) (any, *apiError) {
	var req corrigo.EquipmentRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if e := requireWO(req.WorkOrderId); e != nil {
		return nil, e
	}
	c.woID = req.WorkOrderId
	eq := req.Equipment
	switch {
	case strings.EqualFold(eq.Type, "Existing"):
		eq.Type = "Existing"
		if eq.EquipmentAssetId == 0 {
			return nil, errValidation(verr("Equipment.EquipmentAssetId", vRequired, "EquipmentAssetId is required for Type Existing"))
		}
	case strings.EqualFold(eq.Type, "Unknown"):
		eq.Type = "Unknown"
	case strings.EqualFold(eq.Type, "New"), strings.EqualFold(eq.Type, "NewInstalled"):
		eq.Type = "New"
		if strings.TrimSpace(eq.Name) == "" {
			return nil, errValidation(verr("Equipment.Name", vRequired, "Name is required for new equipment"))
		}
	default:
		return nil, errValidation(verr("Equipment.Type", vInvalidValue, "Type must be Existing, Unknown or New"))
	}
	ch := &change{actor: ActorProvider, op: "equipmentAdd", msgID: c.msgID, comment: eq.Type}
	if _, e := c.s.apply(req.WorkOrderId, ch, func(rec *record, w *corrigo.WorkOrder) *apiError {
		if e := notTerminal(w, "equipment"); e != nil {
			return e
		}
		if eq.Type == "Existing" {
			i := slices.IndexFunc(rec.available, func(x corrigo.Equipment) bool { return x.EquipmentAssetId == eq.EquipmentAssetId })
			if i < 0 {
				return errCode(corrigo.CodeEntityNotFound, "Equipment asset %d is not available for work order %d", eq.EquipmentAssetId, w.WorkOrderId)
			}
			a := rec.available[i]
			eq.Name, eq.Model, eq.SerialNumber = a.Name, a.Model, a.SerialNumber
		}
		eq.Id = c.s.nextSeq()
		rec.equipment = append(rec.equipment, eq)
		return nil
	}); e != nil {
		return nil, e
	}
	return c.env(), nil
}

// hUpdateAttachment: PUT api/attachments [I]. CorrigoPro documents that
// attachments cannot be modified (API.md §1.5 [C]): a business-rule
// refusal (3000) once the attachment is found.
func hUpdateAttachment(c *call) (any, *apiError) {
	var req corrigo.AttachmentUpdateRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if e := requireWO(req.WorkOrderId); e != nil {
		return nil, e
	}
	c.woID = req.WorkOrderId
	if strings.TrimSpace(req.AttachmentId) == "" {
		return nil, errValidation(verr("AttachmentId", vRequired, "AttachmentId is required"))
	}
	ch := &change{actor: ActorProvider, op: "attachmentUpdate", msgID: c.msgID}
	_, e := c.s.apply(req.WorkOrderId, ch, func(rec *record, w *corrigo.WorkOrder) *apiError {
		if e := notTerminal(w, "attachment"); e != nil {
			return e
		}
		if !slices.ContainsFunc(rec.attachments, func(a corrigo.Attachment) bool { return a.AttachmentId == req.AttachmentId }) {
			return errCode(corrigo.CodeEntityNotFound, "Attachment %q not found on work order %d", req.AttachmentId, w.WorkOrderId)
		}
		return errBusinessRule("Attachments cannot be modified; delete attachment %s and upload a new one", req.AttachmentId)
	})
	return nil, e
}

// hDeleteAttachment: DELETE api/attachments [I]. Like uploads, not for a
// Rejected (3001) or Recalled (3005) work order. API calls send no
// notification (API.md §3.1).
func hDeleteAttachment(c *call) (any, *apiError) {
	var req corrigo.AttachmentDeleteRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if e := requireWO(req.WorkOrderId); e != nil {
		return nil, e
	}
	c.woID = req.WorkOrderId
	if strings.TrimSpace(req.AttachmentId) == "" {
		return nil, errValidation(verr("AttachmentId", vRequired, "AttachmentId is required"))
	}
	ch := &change{actor: ActorProvider, op: "attachmentDelete", msgID: c.msgID, comment: req.AttachmentId}
	if _, e := c.s.apply(req.WorkOrderId, ch, func(rec *record, w *corrigo.WorkOrder) *apiError {
		if e := notTerminal(w, "attachment"); e != nil {
			return e
		}
		i := slices.IndexFunc(rec.attachments, func(a corrigo.Attachment) bool { return a.AttachmentId == req.AttachmentId })
		if i < 0 {
			return errCode(corrigo.CodeEntityNotFound, "Attachment %q not found on work order %d", req.AttachmentId, w.WorkOrderId)
		}
		rec.attachments = slices.Delete(slices.Clone(rec.attachments), i, i+1)
		return nil
	}); e != nil {
		return nil, e
	}
	c.s.mu.Lock()
	delete(c.s.files, req.AttachmentId)
	c.s.mu.Unlock()
	return c.env(), nil
}

func equipmentIndex(rec *record, id int64) int {
	return slices.IndexFunc(rec.equipment, func(x corrigo.Equipment) bool { return x.Id == id })
}

// hUpdateEquipment: PUT api/equipment [I]: Equipment.Id names equipment on
// the work order; Name, Model, SerialNumber and Comment given replace the
// stored ones (Type and the asset stay).
func hUpdateEquipment(c *call) (any, *apiError) {
	var req corrigo.EquipmentRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if e := requireWO(req.WorkOrderId); e != nil {
		return nil, e
	}
	c.woID = req.WorkOrderId
	eq := req.Equipment
	if eq.Id <= 0 {
		return nil, errValidation(verr("Equipment.Id", vRequired, "Equipment.Id is required"))
	}
	ch := &change{actor: ActorProvider, op: "equipmentUpdate", msgID: c.msgID, comment: strconv.FormatInt(eq.Id, 10)}
	if _, e := c.s.apply(req.WorkOrderId, ch, func(rec *record, w *corrigo.WorkOrder) *apiError {
		if e := notTerminal(w, "equipment"); e != nil {
			return e
		}
		i := equipmentIndex(rec, eq.Id)
		if i < 0 {
			return errCode(corrigo.CodeEntityNotFound, "Equipment %d not found on work order %d", eq.Id, w.WorkOrderId)
		}
		cur := rec.equipment[i]
		if eq.Name != "" {
			cur.Name = eq.Name
		}
		if eq.Model != "" {
			cur.Model = eq.Model
		}
		if eq.SerialNumber != "" {
			cur.SerialNumber = eq.SerialNumber
		}
		if eq.Comment != "" {
			cur.Comment = eq.Comment
		}
		rec.equipment = slices.Clone(rec.equipment)
		rec.equipment[i] = cur
		return nil
	}); e != nil {
		return nil, e
	}
	return c.env(), nil
}

// hDeleteEquipment: DELETE api/equipment [I], Equipment.Id.
func hDeleteEquipment(c *call) (any, *apiError) {
	var req corrigo.EquipmentRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if e := requireWO(req.WorkOrderId); e != nil {
		return nil, e
	}
	c.woID = req.WorkOrderId
	if req.Equipment.Id <= 0 {
		return nil, errValidation(verr("Equipment.Id", vRequired, "Equipment.Id is required"))
	}
	ch := &change{actor: ActorProvider, op: "equipmentDelete", msgID: c.msgID, comment: strconv.FormatInt(req.Equipment.Id, 10)}
	if _, e := c.s.apply(req.WorkOrderId, ch, func(rec *record, w *corrigo.WorkOrder) *apiError {
		if e := notTerminal(w, "equipment"); e != nil {
			return e
		}
		i := equipmentIndex(rec, req.Equipment.Id)
		if i < 0 {
			return errCode(corrigo.CodeEntityNotFound, "Equipment %d not found on work order %d", req.Equipment.Id, w.WorkOrderId)
		}
		rec.equipment = slices.Delete(slices.Clone(rec.equipment), i, i+1)
		return nil
	}); e != nil {
		return nil, e
	}
	return c.env(), nil
}
