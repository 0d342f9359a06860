package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
)

// call is one REST request being served.
type call struct {
	s      *Sandbox
	r      *http.Request
	query  url.Values
	body   []byte
	msgID  string
	client string
	woID   int64
}

// handlerFunc answers a REST call with a value to encode as JSON (status
// 200) or an error.
type handlerFunc func(c *call) (any, *apiError)

type route struct {
	handler   handlerFunc
	body      bool // JSON body required
	multipart bool
}

// apiRoutes maps "METHOD lower-case path below /direct/api/" to handlers.
// CorrigoPro's routes are ASP.NET routes, matched case-insensitively
// (API.md §1).
func (s *Sandbox) apiRoutes() map[string]route {
	j := func(h handlerFunc) route { return route{handler: h, body: true} }
	g := func(h handlerFunc) route { return route{handler: h} }
	return map[string]route{
		"GET customers":                        g(hCustomers),
		"GET customersettings":                 g(hCustomerSettings),
		"POST workorder/search":                j(hSearch),
		"GET workorder":                        g(hGetWorkOrders),
		"PUT workorder/accept":                 j(workflowHandler("accept", wfAccept, false)),
		"PUT workorder/reject":                 j(workflowHandler("reject", wfReject, false)),
		"PUT workorder/checkin":                j(workflowHandler("checkIn", wfCheckIn, false)),
		"PUT workorder/pause":                  j(workflowHandler("pause", wfPause, false)),
		"PUT workorder/reopen":                 j(workflowHandler("reopen", wfReopen, false)),
		"PUT workorder/checkout":               j(workflowHandler("checkOut", wfCheckOut, true)),
		"PUT workorder/workdonedetails":        j(workflowHandler("workDoneDetails", wfWorkDoneDetails, true)),
		"PUT workorder/quotesubmit":            j(hQuoteSubmit),
		"PUT workorder/appointmentinfo":        j(hAppointmentInfo),
		"PUT workorder/note":                   j(hNote),
		"GET workorder/notehistory":            g(hNoteHistory),
		"PUT workorder/additionalfield":        j(hAdditionalField),
		"GET workorder/additionalfieldhistory": g(hAdditionalFieldHistory),
		"GET workorder/ismsettings":            g(hIsmSettings),
		"GET invoice":                          g(hGetInvoice),
		"PUT invoice":                          j(hUpdateInvoice),
		"PUT invoice/submit":                   j(hSubmitInvoice),
		"GET invoice/pricelist":                g(hPriceList),
		"GET invoice/attachments":              g(hListAttachments),
		"POST invoice/attachments":             {handler: hUploadAttachment, multipart: true},
		"GET messages":                         g(hMessages),
		"POST messages":                        j(hPostMessage),
		"GET attachments":                      g(hListAttachments),
		"POST attachments":                     {handler: hUploadAttachment, multipart: true},
		"GET attachments/downloadurl":          g(hDownloadURL),
		"PUT attachments":                      j(hUpdateAttachment),
		"DELETE attachments":                   j(hDeleteAttachment),
		"GET associates":                       g(hAssociates),
		"PUT bulk/accept":                      j(bulkActionHandler("accept", wfAccept)),
		"PUT bulk/reject":                      j(bulkActionHandler("reject", wfReject)),
		"PUT bulk/assign":                      j(bulkAssignHandler(true)),
		"PUT bulk/unassign":                    j(bulkAssignHandler(false)),
		"GET procedure":                        g(hProcedures),
		"GET procedure/step":                   g(hProcedureSteps),
		"PUT procedure/step":                   j(hUpdateStep),
		"GET equipment":                        g(hEquipment),
		"GET equipment/available":              g(hAvailableEquipment),
		"POST equipment":                       j(hAddEquipment),
		"GET equipment/history":                g(hEquipmentHistory),
		"PUT equipment":                        j(hUpdateEquipment),
		"DELETE equipment":                     j(hDeleteEquipment),
		"GET health":                           g(hHealth),
		"GET heartbeat":                        g(hHealth),
	}
}

// errorBody is the error answer. Unlike corrigo.ErrorBody it writes null
// for absent ValidationErrors and MessageId, as CorrigoPro does.
type errorBody struct {
	Code             int
	Message          string
	ValidationErrors []corrigo.ValidationError
	MessageId        *string
}

// serveAPI serves /Direct/api/...: faults, authentication, routing, the
// Content-Type rule, the handler, the answer and the usage log entry.
func (s *Sandbox) serveAPI(w http.ResponseWriter, r *http.Request, routes map[string]route) {
	start := time.Now()
	c := &call{s: s, r: r, query: r.URL.Query()}
	c.msgID = c.q("messageId")
	status, resp, code := s.handleAPI(w, c, routes)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if c.msgID != "" {
		w.Header().Set("X-Message-Id", c.msgID)
	}
	w.WriteHeader(status)
	_, _ = w.Write(resp)

	entry := UsageEntry{
		Time: start, Duration: time.Since(start), Direction: DirectionInbound, Method: r.Method,
		Path: r.URL.Path, Status: status, Code: code, Client: c.client, MessageId: c.msgID,
		WorkOrderId: c.woID, Response: string(resp),
	}
	if r.URL.RawQuery != "" {
		entry.Path += "?" + r.URL.RawQuery
	}
	if len(c.body) > 0 {
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
			entry.Request = fmt.Sprintf("(multipart/form-data, %d bytes)", len(c.body))
		} else {
			entry.Request = string(c.body)
		}
	}
	if c.woID != 0 {
		if rec := s.rec(c.woID); rec != nil {
			wo := rec.snapshot()
			entry.WorkOrderNumber = wo.WorkOrderNumber
			entry.Customer = rec.customer.Name
		}
	}
	if code == corrigo.CodeUnauthorized {
		// CorrigoPro's usage log leaves out requests with an invalid
		// Authorization (API.md §3.5).
		return
	}
	s.usage.add(entry)
}

func (s *Sandbox) handleAPI(w http.ResponseWriter, c *call, routes map[string]route) (status int, resp []byte, code int) {
	r := c.r
	fail := func(e *apiError) (int, []byte, int) {
		b := errorBody{Code: e.Code, Message: e.Message, ValidationErrors: e.Validation}
		if c.msgID != "" {
			b.MessageId = &c.msgID
		}
		out, _ := marshal(b)
		return e.Status, out, e.Code
	}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("sandbox: handler panic", "path", r.URL.Path, "panic", p)
			status, resp, code = fail(errInternal())
		}
	}()

	f := s.faults.Load()
	if !f.OutageUntil.IsZero() && s.now().Before(f.OutageUntil) {
		w.Header().Set("Retry-After", strconv.Itoa(int(time.Until(f.OutageUntil).Seconds())+1))
		return fail(&apiError{Status: http.StatusServiceUnavailable, Code: corrigo.CodeInternal, Message: "Service Unavailable (sandbox outage window)"})
	}
	if f.Latency > 0 {
		t := time.NewTimer(time.Duration(f.Latency))
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	if s.chance(f.ErrorRate) {
		return fail(errInternal())
	}

	client, why := s.tokens.check(r.Header.Get("Authorization"))
	if why != "" {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+string(why)+`"`)
		return fail(&apiError{Status: http.StatusUnauthorized, Code: corrigo.CodeUnauthorized, Message: "Authorization has been denied for this request."})
	}
	c.client = client

	p := strings.ToLower(strings.TrimRight(r.URL.Path, "/"))
	p = strings.TrimPrefix(p, "/direct/api/")
	rt, ok := routes[r.Method+" "+p]
	if !ok {
		for _, m := range []string{"GET", "PUT", "POST", "DELETE"} {
			if _, ok := routes[m+" "+p]; ok {
				return fail(&apiError{Status: http.StatusMethodNotAllowed, Message: fmt.Sprintf("The requested resource does not support http method '%s'.", r.Method)})
			}
		}
		msg := fmt.Sprintf("No HTTP resource was found that matches the request URI '%s'.", r.URL.Path)
		b, _ := marshal(map[string]string{"Message": msg})
		return http.StatusNotFound, b, 0
	}
	if rt.body || rt.multipart {
		limit := int64(4 << 20)
		if rt.multipart {
			limit = s.opts.MaxUploadBytes + 1<<20
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			return fail(errValidation(verr("", vIncorrectType, "cannot read request body: "+err.Error())))
		}
		if int64(len(body)) > limit {
			return fail(errValidation(verr("File", vMaxLength, fmt.Sprintf("request body exceeds %d bytes", limit))))
		}
		c.body = body
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if rt.body {
			c.peek()
			// The guide: a body-bearing call without Content-Type
			// application/json fails with 500 / code 1000.
			if mt != "application/json" && mt != "text/json" {
				return fail(errInternal())
			}
			if len(bytes.TrimSpace(body)) == 0 {
				return fail(errEmptyModel)
			}
		} else if mt != "multipart/form-data" {
			return fail(errValidation(verr("", vIncorrectType, "multipart/form-data expected")))
		}
	}
	out, e := rt.handler(c)
	if e != nil {
		return fail(e)
	}
	b, err := marshal(out)
	if err != nil {
		return fail(errInternal())
	}
	return http.StatusOK, b, 0
}

// peek reads the body's MessageId and WorkOrderId, for the answer and the
// usage log, even when the call fails before its handler decodes it.
func (c *call) peek() {
	var env struct {
		MessageId   string
		WorkOrderId int64
	}
	// A type error in one field still fills the others.
	_ = json.Unmarshal(c.body, &env)
	if env.MessageId != "" {
		c.msgID = env.MessageId
	}
	c.woID = env.WorkOrderId
}

// decode reads the JSON body into v; a type mismatch is a 2100.
func (c *call) decode(v any) *apiError {
	if err := json.Unmarshal(c.body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errValidation(verr(te.Field, vIncorrectType, fmt.Sprintf("expected %s, got JSON %s", te.Type, te.Value)))
		}
		return errValidation(verr("", vIncorrectType, "malformed JSON: "+err.Error()))
	}
	return nil
}

// q returns a query parameter, matching its name case-insensitively.
func (c *call) q(name string) string {
	if v := c.query.Get(name); v != "" {
		return v
	}
	for k, v := range c.query {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// qID parses a required positive integer query parameter.
func (c *call) qID(name string) (int64, *apiError) {
	v := c.q(name)
	if v == "" {
		return 0, errValidation(verr(name, vRequired, name+" is required"))
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, errValidation(verr(name, vIncorrectType, fmt.Sprintf("%s must be a positive integer, got %q", name, v)))
	}
	return n, nil
}

func (c *call) env() corrigo.Envelope { return corrigo.Envelope{MessageId: c.msgID} }

// woParam reads workOrderId and returns the record; unknown is 3005.
func (c *call) woParam() (*record, *apiError) {
	id, e := c.qID("workOrderId")
	if e != nil {
		return nil, e
	}
	c.woID = id
	rec := c.s.rec(id)
	if rec == nil {
		return nil, errRecalled(id)
	}
	return rec, nil
}

func requireWO(id int64) *apiError {
	if id <= 0 {
		return errValidation(verr("WorkOrderId", vRequired, "WorkOrderId is required"))
	}
	return nil
}

func hHealth(c *call) (any, *apiError) {
	return map[string]string{"Status": "Healthy", "MessageId": c.msgID}, nil
}

func hCustomers(c *call) (any, *apiError) {
	c.s.mu.RLock()
	out := make([]corrigo.Customer, 0, len(c.s.customers))
	for _, cu := range c.s.customers {
		out = append(out, cu.Customer)
	}
	c.s.mu.RUnlock()
	return corrigo.CustomersResponse{Customers: out, Envelope: c.env()}, nil
}

func hCustomerSettings(c *call) (any, *apiError) {
	id, e := c.qID("customerId")
	if e != nil {
		return nil, e
	}
	cu := c.s.customer(int(id))
	if cu == nil {
		return nil, errCode(corrigo.CodeEntityNotFound, "Customer %d not found", id)
	}
	return corrigo.CustomerSettingsResponse{Settings: cu.settings(), Envelope: c.env()}, nil
}

func inRange(t corrigo.Time, r *corrigo.DateRange) bool {
	if r == nil {
		return true
	}
	if t.IsZero() {
		return false
	}
	if !r.From.IsZero() && t.Before(r.From.Time) {
		return false
	}
	if !r.To.IsZero() && t.After(r.To.Time) {
		return false
	}
	return true
}

func hSearch(c *call) (any, *apiError) {
	var req corrigo.SearchRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	p := req.Parameters
	for _, st := range p.Statuses {
		if !validStatus(st) {
			return nil, errValidation(verr("Parameters.Statuses", vInvalidValue, fmt.Sprintf("unknown status %q", st)))
		}
	}
	for name, r := range map[string]*corrigo.DateRange{"Created": p.Created, "AcknowledgeBy": p.AcknowledgeBy, "OnSiteBy": p.OnSiteBy, "DueDate": p.DueDate, "LastUpdate": p.LastUpdate} {
		if r != nil && !r.From.IsZero() && !r.To.IsZero() && r.To.Before(r.From.Time) {
			return nil, errValidation(verr("Parameters."+name, vInvalidValue, "To is before From"))
		}
	}
	custID := 0
	if p.CustomerId != "" {
		n, err := strconv.Atoi(strings.TrimSpace(p.CustomerId))
		if err != nil {
			return nil, errValidation(verr("Parameters.CustomerId", vIncorrectType, "CustomerId must be a number"))
		}
		if c.s.customer(n) == nil {
			return nil, errCode(corrigo.CodeEntityNotFound, "Customer %d not found", n)
		}
		custID = n
	}
	out := []corrigo.WorkOrderSummary{}
	for _, rec := range c.s.records() {
		w := rec.snapshot()
		if custID != 0 && (w.Customer == nil || w.Customer.ID != custID) {
			continue
		}
		if p.WorkOrderNumber != "" && !strings.EqualFold(p.WorkOrderNumber, w.WorkOrderNumber) {
			continue
		}
		if len(p.Statuses) > 0 && !containsStatus(p.Statuses, w.Status) {
			continue
		}
		var sla corrigo.Sla
		if w.Sla != nil {
			sla = *w.Sla
		}
		if !inRange(w.Created, p.Created) || !inRange(w.LastUpdate, p.LastUpdate) || !inRange(sla.AcknowledgeBy, p.AcknowledgeBy) ||
			!inRange(sla.OnSiteBy, p.OnSiteBy) || !inRange(sla.DueDate, p.DueDate) {
			continue
		}
		out = append(out, summaryOf(w))
	}
	return corrigo.SearchResponse{WorkOrders: out, Envelope: c.env()}, nil
}

func containsStatus(list []corrigo.Status, s corrigo.Status) bool {
	for _, x := range list {
		if strings.EqualFold(string(x), string(s)) {
			return true
		}
	}
	return false
}

// parseIDs reads ids=1&ids=2, ids[0]=1&ids[1]=2 and ids=1,2.
func parseIDs(q url.Values) ([]int64, *apiError) {
	var ids []int64
	for k, vs := range q {
		lk := strings.ToLower(k)
		if lk != "ids" && (!strings.HasPrefix(lk, "ids[") || !strings.HasSuffix(lk, "]")) {
			continue
		}
		for _, v := range vs {
			for _, part := range strings.Split(v, ",") {
				part = strings.TrimSpace(part)
				if part == "" {
					continue
				}
				n, err := strconv.ParseInt(part, 10, 64)
				if err != nil || n <= 0 {
					return nil, errValidation(verr("ids", vIncorrectType, fmt.Sprintf("work order id %q is not a positive integer", part)))
				}
				ids = append(ids, n)
			}
		}
	}
	return ids, nil
}

func hGetWorkOrders(c *call) (any, *apiError) {
	ids, e := parseIDs(c.query)
	if e != nil {
		return nil, e
	}
	switch {
	case len(ids) == 0:
		return nil, errValidation(verr("ids", vRequired, "at least one work order id is required"))
	case len(ids) > corrigo.MaxIDsPerGet:
		return nil, errValidation(verr("ids", vMaxLength, fmt.Sprintf("at most %d ids per call, got %d", corrigo.MaxIDsPerGet, len(ids))))
	}
	if len(ids) == 1 {
		c.woID = ids[0]
	}
	// Sorted by id for a stable answer; unknown ids are left out [I].
	seen := map[int64]bool{}
	out := make([]corrigo.WorkOrder, 0, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if rec := c.s.rec(id); rec != nil {
			out = append(out, *rec.snapshot())
		}
	}
	return corrigo.WorkOrdersResponse{WorkOrders: out, Envelope: c.env()}, nil
}

// workflowHandler serves one of the status-changing PUTs.
func workflowHandler(op string, wf workflow, checkout bool) handlerFunc {
	return func(c *call) (any, *apiError) {
		var req corrigo.CheckOutRequest
		var e *apiError
		if checkout {
			e = c.decode(&req)
		} else {
			e = c.decode(&req.ActionRequest)
		}
		if e != nil {
			return nil, e
		}
		if e := requireWO(req.WorkOrderId); e != nil {
			return nil, e
		}
		c.woID = req.WorkOrderId
		ch := &change{actor: ActorProvider, op: op, msgID: c.msgID, comment: req.Comment}
		if _, e := c.s.apply(req.WorkOrderId, ch, func(rec *record, w *corrigo.WorkOrder) *apiError {
			return wf(c.s, rec, w, &req, ch)
		}); e != nil {
			return nil, e
		}
		return c.env(), nil
	}
}

func hQuoteSubmit(c *call) (any, *apiError) {
	var req corrigo.QuoteSubmitRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if e := requireWO(req.WorkOrderId); e != nil {
		return nil, e
	}
	c.woID = req.WorkOrderId
	if req.Amount <= 0 {
		return nil, errValidation(verr("Amount", vInvalidValue, "Amount must be greater than 0"))
	}
	if e := checkComment("Comment", req.Comment, false); e != nil {
		return nil, e
	}
	ch := &change{actor: ActorProvider, op: "quoteSubmit", msgID: c.msgID, comment: req.Comment}
	_, e := c.s.apply(req.WorkOrderId, ch, func(rec *record, w *corrigo.WorkOrder) *apiError {
		return quoteSubmit(rec, w, &req)
	})
	if e != nil {
		return nil, e
	}
	return c.env(), nil
}

func quoteSubmit(rec *record, w *corrigo.WorkOrder, req *corrigo.QuoteSubmitRequest) *apiError {
	switch {
	case w.Status == corrigo.StatusRecalled:
		return errRecalled(w.WorkOrderId)
	case w.Status == corrigo.StatusRejected:
		return errCode(corrigo.CodeQuoteNotAllowed, "A quote cannot be submitted for rejected work order %d", w.WorkOrderId)
	case !rec.customer.settings().QuoteSubmitAllowed:
		return errCode(corrigo.CodeQuoteNotAllowed, "Customer %s does not allow quote submission", rec.customer.Name)
	case w.Nte != nil && w.Nte.Quote != nil && (w.Nte.Quote.QuoteStatus == corrigo.QuoteSubmitted || w.Nte.Quote.QuoteStatus == corrigo.QuoteApproved):
		return errCode(corrigo.CodeQuoteNotAllowed, "A quote was already submitted for work order %d; the customer must reject it before a new one", w.WorkOrderId)
	}
	for i, li := range req.LineItems {
		if li.PriceListId != 0 && !rec.customer.hasPriceListItem(li.PriceListId) {
			return errValidation(verr(fmt.Sprintf("LineItems[%d].PriceListId", i), vInvalidValue, fmt.Sprintf("price list item %d not found", li.PriceListId)))
		}
	}
	if w.Nte == nil {
		w.Nte = &corrigo.Nte{}
	}
	w.Nte.Quote = &corrigo.Quote{Amount: req.Amount, QuoteStatus: corrigo.QuoteSubmitted, Comment: req.Comment}
	return nil
}

func (cu *customerDef) hasPriceListItem(id int64) bool {
	for _, p := range cu.PriceList {
		if p.Id == id {
			return true
		}
	}
	return false
}

var validPte = []string{"Appointment", "CallFirst", "PTE", "NotApplicable"}

func hAppointmentInfo(c *call) (any, *apiError) {
	var req corrigo.AppointmentInfoRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if e := requireWO(req.WorkOrderId); e != nil {
		return nil, e
	}
	c.woID = req.WorkOrderId
	ch := &change{actor: ActorProvider, op: "appointmentInfo", msgID: c.msgID}
	if _, e := c.s.apply(req.WorkOrderId, ch, func(rec *record, w *corrigo.WorkOrder) *apiError {
		return setAppointment(w, req.Appointment, ch)
	}); e != nil {
		return nil, e
	}
	return c.env(), nil
}

func setAppointment(w *corrigo.WorkOrder, a corrigo.Appointment, ch *change) *apiError {
	if a.ScheduledStart.IsZero() {
		return errValidation(verr("Appointment.ScheduledStart", vRequired, "ScheduledStart is required"))
	}
	if a.Pte != "" && !containsFold(validPte, a.Pte) {
		return errValidation(verr("Appointment.Pte", vInvalidValue, fmt.Sprintf("Pte must be one of %q", validPte)))
	}
	if e := notTerminal(w, "appointmentInfo"); e != nil {
		return e
	}
	if w.Status == corrigo.StatusCheckedOut || w.Status == corrigo.StatusVerified {
		return errState(w, "appointmentInfo")
	}
	w.Schedule = &corrigo.Appointment{ScheduledStart: a.ScheduledStart, Pte: a.Pte}
	ch.emit(w, corrigo.AppointmentInfoChangedPayload{Appointment: *w.Schedule})
	return nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func hNote(c *call) (any, *apiError) {
	var req corrigo.NoteRequest
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if e := requireWO(req.WorkOrderId); e != nil {
		return nil, e
	}
	c.woID = req.WorkOrderId
	if strings.TrimSpace(req.InternalNote) == "" {
		return nil, errValidation(verr("InternalNote", vRequired, "InternalNote is required"))
	}
	if len(req.InternalNote) > 4000 {
		return nil, errValidation(verr("InternalNote", vMaxLength, "InternalNote must be at most 4000 characters"))
	}
	ch := &change{actor: ActorProvider, op: "note", msgID: c.msgID}
	now := corrigo.NewTime(c.s.now())
	if _, e := c.s.apply(req.WorkOrderId, ch, func(rec *record, w *corrigo.WorkOrder) *apiError {
		// Rejected is terminal: "you can do nothing with it" (API.md §4.2).
		if e := notTerminal(w, "note"); e != nil {
			return e
		}
		w.InternalNote = req.InternalNote
		rec.notes = append(rec.notes, corrigo.NoteHistoryEntry{InternalNote: req.InternalNote, PerformedBy: req.PerformedBy, Created: now})
		return nil
	}); e != nil {
		return nil, e
	}
	return c.env(), nil
}

func hNoteHistory(c *call) (any, *apiError) {
	rec, e := c.woParam()
	if e != nil {
		return nil, e
	}
	rec.mu.Lock()
	notes := append([]corrigo.NoteHistoryEntry{}, rec.notes...)
	rec.mu.Unlock()
	return corrigo.NoteHistoryResponse{NoteHistory: notes, Envelope: c.env()}, nil
}

// Additional fields: no customer in the sandbox defines any, so the calls
// validate their input and answer with empty data [I].
func hAdditionalField(c *call) (any, *apiError) {
	var req struct {
		WorkOrderId     int64
		AdditionalField struct{ AdditionalField int }
	}
	if e := c.decode(&req); e != nil {
		return nil, e
	}
	if e := requireWO(req.WorkOrderId); e != nil {
		return nil, e
	}
	c.woID = req.WorkOrderId
	if c.s.rec(req.WorkOrderId) == nil {
		return nil, errRecalled(req.WorkOrderId)
	}
	return nil, errCode(corrigo.CodeEntityNotFound, "Additional field %d not found", req.AdditionalField.AdditionalField)
}

func hAdditionalFieldHistory(c *call) (any, *apiError) {
	if _, e := c.woParam(); e != nil {
		return nil, e
	}
	return map[string]any{"AdditionalFieldHistory": []any{}, "MessageId": c.msgID}, nil
}

func hIsmSettings(c *call) (any, *apiError) {
	rec, e := c.woParam()
	if e != nil {
		return nil, e
	}
	rec.mu.Lock()
	ism := rec.ism
	rec.mu.Unlock()
	if ism.Status == "" {
		return map[string]any{"IsmSettings": nil, "MessageId": c.msgID}, nil
	}
	return map[string]any{"IsmSettings": ism, "MessageId": c.msgID}, nil
}
