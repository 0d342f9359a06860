package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
)

// workOrderParams are what the work order list accepts.
var workOrderParams = []string{"account", "since", "problems", "status", "q", "limit", "before_id"}

// maxWorkOrderLimit bounds one page of the work order list: each row
// costs a handful of indexed lookups.
const maxWorkOrderLimit = 500

// defaultWorkOrderLimit is the list's page size.
const defaultWorkOrderLimit = 50

// WorkOrderView is one row of the work order list.
type WorkOrderView struct {
	Account     string `json:"account"`
	WorkOrderID int64  `json:"work_order_id"`
	// Number and Customer come from the communication log, or else from
	// the newest NewWorkOrder the gateway stored.
	Number   string `json:"number,omitempty"`
	Customer string `json:"customer,omitempty"`
	// Status is the work order's status in CorrigoPro as the gateway last
	// saw it: from the newest notification that carries one, or from a
	// status-changing action the gateway sent after it. StatusFrom says
	// which ("event:12", "action:7"); StatusAt when.
	Status     string     `json:"status,omitempty"`
	StatusFrom string     `json:"status_from,omitempty"`
	StatusAt   time.Time  `json:"status_at,omitzero"`
	Events     int        `json:"events"`
	Actions    int        `json:"actions"`
	FirstSeen  time.Time  `json:"first_seen"`
	LastEvent  EventBrief `json:"last_event"`
	// LastAction is the newest action for the work order, with its result
	// (status, and the reason when it was not sent).
	LastAction *ActionBrief `json:"last_action,omitempty"`
	// DeadLetters counts unresolved dead letters (dead or parked events
	// and actions); Parked and Dead say which kinds are among them.
	DeadLetters int  `json:"dead_letters"`
	Parked      bool `json:"parked,omitempty"`
	Dead        bool `json:"dead,omitempty"`
}

// EventBrief is an event as a list row shows it.
type EventBrief struct {
	ID         int64     `json:"id"`
	Action     string    `json:"action"`
	Source     string    `json:"source"`
	ReceivedAt time.Time `json:"received_at"`
	Status     string    `json:"status"`
	LastError  string    `json:"last_error,omitempty"`
}

// ActionBrief is an action as a list row shows it.
type ActionBrief struct {
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	SentAt    time.Time `json:"sent_at,omitzero"`
	LastError string    `json:"last_error,omitempty"`
}

// WorkOrderPage is one page of the work order list, newest last event
// first.
type WorkOrderPage struct {
	Items []WorkOrderView `json:"items"`
	Count int             `json:"count"`
	// NextBeforeID continues with work orders whose last event is older
	// (before_id); 0 when this page was not full.
	NextBeforeID int64 `json:"next_before_id,omitempty"`
}

// workOrderQuery is a parsed list request: the store filter plus what is
// matched on the fetched rows (status, text).
type workOrderQuery struct {
	f      store.WorkOrderFilter
	status string
	text   string
}

func parseWorkOrderQuery(q url.Values, accounts []string, now time.Time) (workOrderQuery, error) {
	var wq workOrderQuery
	if err := checkParams(q, workOrderParams); err != nil {
		return wq, err
	}
	var err error
	if wq.f.Account, err = checkAccount(q.Get("account"), accounts); err != nil {
		return wq, err
	}
	if wq.f.Since, err = parseTime("since", q.Get("since"), now); err != nil {
		return wq, err
	}
	switch p := q.Get("problems"); p {
	case "", "0", "false":
	case "1", "true":
		wq.f.DeadLetters = true
	default:
		return wq, badField("problems", "must be true or false, not "+strconv.Quote(p))
	}
	if s := q.Get("status"); len(s) > 50 {
		return wq, badField("status", "too long")
	}
	wq.status = q.Get("status")
	if s := q.Get("q"); len(s) > 200 {
		return wq, badField("q", "too long")
	}
	wq.text = strings.ToLower(strings.TrimSpace(q.Get("q")))
	if wq.f.Limit, err = parseLimit(q.Get("limit"), maxWorkOrderLimit); err != nil {
		return wq, err
	}
	if q.Get("limit") == "" {
		wq.f.Limit = defaultWorkOrderLimit
	}
	if wq.f.BeforeEventID, err = parseID("before_id", q.Get("before_id")); err != nil {
		return wq, err
	}
	return wq, nil
}

// workOrders lists a page. Status and text narrow the rows the store
// returned for the page, so a narrowed page may hold fewer rows than the
// limit while older matches exist: NextBeforeID is set whenever the
// store's page was full.
func (h *Handler) workOrders(ctx context.Context, wq workOrderQuery) (WorkOrderPage, error) {
	f := wq.f
	f.SentKinds = statusKinds
	sums, err := h.st.RecentWorkOrders(ctx, f)
	if err != nil {
		return WorkOrderPage{}, fmt.Errorf("list work orders: %w", err)
	}
	p := WorkOrderPage{Items: []WorkOrderView{}}
	for i := range sums {
		v := workOrderView(&sums[i])
		if wq.status != "" && !strings.EqualFold(v.Status, wq.status) {
			continue
		}
		if wq.text != "" && !strings.Contains(strings.ToLower(v.Number+"\x00"+v.Customer+"\x00"+strconv.FormatInt(v.WorkOrderID, 10)), wq.text) {
			continue
		}
		p.Items = append(p.Items, v)
	}
	p.Count = len(p.Items)
	if len(sums) == wq.f.Limit && len(sums) > 0 {
		p.NextBeforeID = sums[len(sums)-1].Recent[0].ID
	}
	return p, nil
}

func workOrderView(s *store.WorkOrderSummary) WorkOrderView {
	last := s.Recent[0]
	v := WorkOrderView{Account: s.Account, WorkOrderID: s.WorkOrderID, Number: s.Number, Customer: s.Customer,
		Events: s.Events, Actions: s.Actions, FirstSeen: s.FirstSeen, DeadLetters: s.DeadLetters,
		LastEvent: EventBrief{ID: last.ID, Action: last.Action, Source: string(last.Source), ReceivedAt: last.ReceivedAt,
			Status: string(last.Status), LastError: last.LastError}}
	for _, e := range s.Recent {
		switch e.Status {
		case store.EventParked:
			v.Parked = true
		case store.EventDead:
			v.Dead = true
		}
	}
	if a := s.LastAction; a != nil {
		v.LastAction = &ActionBrief{ID: a.ID, Kind: a.Kind, Status: string(a.Status), CreatedAt: a.CreatedAt, SentAt: a.SentAt, LastError: a.LastError}
		switch a.Status {
		case store.ActionParked:
			v.Parked = true
		case store.ActionDead:
			v.Dead = true
		}
	}
	// Status: the newest event that says it, unless the gateway changed
	// it since by an action CorrigoPro accepted.
	for _, e := range s.Recent {
		b := bodyFacts(e.Body)
		if v.Number == "" {
			v.Number = b.number
		}
		if v.Customer == "" {
			v.Customer = b.customer
		}
		if v.Status != "" {
			continue
		}
		st := b.status
		if st == "" {
			st = statusAfterNotification[e.Action]
		}
		if st != "" {
			v.Status, v.StatusFrom, v.StatusAt = st, ref{"event", e.ID}.String(), statusTime(e)
		}
	}
	if a := s.LastSent; a != nil {
		if st := statusAfterAction[a.Kind]; st != "" && (v.Status == "" || !a.SentAt.Before(v.StatusAt)) {
			v.Status, v.StatusFrom, v.StatusAt = st, ref{"action", a.ID}.String(), a.SentAt
		}
	}
	return v
}

func statusTime(e store.Event) time.Time {
	if !e.ActionDate.IsZero() {
		return e.ActionDate
	}
	return e.ReceivedAt
}

// statusAfterNotification is the status a notification's action leaves
// the work order in, for bodies that do not carry a Status (API.md §3.3:
// the Status field of each notification).
var statusAfterNotification = map[string]string{
	"NewWorkOrder": "New", "Accepted": "Accepted", "Rejected": "Rejected", "CheckedIn": "CheckedIn",
	"Paused": "Paused", "CheckedOut": "CheckedOut", "NeedsCompletionDetails": "NeedsCompletionDetails",
	"PutOnHold": "OnHold", "Reopened": "New", "Recalled": "Recalled",
}

// statusAfterAction is the status an action the gateway sent (and
// CorrigoPro accepted) leaves the work order in; CorrigoPro sends no
// webhook for actions done through its API (API.md §3.1).
var statusAfterAction = map[string]string{
	"accept": "Accepted", "reject": "Rejected", "check_in": "CheckedIn", "pause": "Paused", "check_out": "CheckedOut",
}

// statusKinds are statusAfterAction's kinds, sorted.
var statusKinds = func() []string {
	ks := make([]string, 0, len(statusAfterAction))
	for k := range statusAfterAction {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}()

type facts struct{ status, number, customer string }

// bodyFacts reads what a stored notification says about the work order:
// its Status (top level, or Details for a NewWorkOrder and polled work
// orders), number and customer. Bodies that do not decode say nothing.
func bodyFacts(body json.RawMessage) facts {
	var b struct {
		Status  string `json:"Status"`
		Details *struct {
			Status          string `json:"Status"`
			WorkOrderNumber string `json:"WorkOrderNumber"`
			Customer        *struct {
				Name string `json:"Name"`
			} `json:"Customer"`
		} `json:"Details"`
	}
	if len(body) == 0 || json.Unmarshal(body, &b) != nil {
		return facts{}
	}
	f := facts{status: b.Status}
	if d := b.Details; d != nil {
		if f.status == "" {
			f.status = d.Status
		}
		f.number = d.WorkOrderNumber
		if d.Customer != nil {
			f.customer = d.Customer.Name
		}
	}
	return f
}

func (h *Handler) apiWorkOrders(w http.ResponseWriter, r *http.Request) {
	wq, err := parseWorkOrderQuery(r.URL.Query(), h.accounts(), h.o.Now())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p, err := h.workOrders(r.Context(), wq)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

type workOrdersData struct {
	Q        url.Values
	Accounts []string
	Page     WorkOrderPage
	Older    string
}

// uiWorkOrders is the work order list, or with ?id= a work order's
// timeline (uiWorkOrder).
func (h *Handler) uiWorkOrders(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("id") {
		h.uiWorkOrder(w, r)
		return
	}
	q := dropEmpty(r.URL.Query())
	d := workOrdersData{Q: q, Accounts: h.accounts()}
	p := page{Title: "Work orders", Nav: "work-orders", Data: &d}
	wq, err := parseWorkOrderQuery(q, d.Accounts, h.o.Now())
	if err != nil {
		p.Error = err.Error()
		h.render(w, r, http.StatusBadRequest, "workorders", p)
		return
	}
	if d.Page, err = h.workOrders(r.Context(), wq); err != nil {
		h.uiFail(w, r, err)
		return
	}
	if d.Page.NextBeforeID != 0 {
		nq := cloneValues(q)
		nq.Set("before_id", strconv.FormatInt(d.Page.NextBeforeID, 10))
		d.Older = "/ui/work-orders?" + nq.Encode()
	}
	h.render(w, r, http.StatusOK, "workorders", p)
}
