package sandbox

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
)

// Actors of a history entry.
const (
	ActorProvider = "Provider"   // the provider's integration, through the REST API
	ActorDesktop  = "CorrigoPro" // the provider through Desktop, mobile apps or IVR
	ActorCustomer = "Customer"
	ActorSystem   = "System"
	ActorEmulator = "Emulator" // a sample sent by POST /_sandbox/emulate; nothing changed
)

// HistoryEntry is one change applied to a work order. Every accepted
// provider call is recorded with the MessageId it carried, so tests can
// assert that an action reached CorrigoPro exactly once.
type HistoryEntry struct {
	Seq            int64
	Time           time.Time
	Actor          string
	Action         string         // the API operation ("accept", "checkOut", ...) or notification action
	MessageId      string         `json:",omitempty"`
	From           corrigo.Status `json:",omitempty"`
	To             corrigo.Status `json:",omitempty"`
	Comment        string         `json:",omitempty"`
	NotificationId int64          `json:",omitempty"` // the webhook this change caused, if any
}

// completionInfo is what check-out and workDoneDetails collected.
type completionInfo struct {
	Comment      string
	RepairInfo   *corrigo.RepairInfo
	CustomFields []corrigo.CustomField
}

// record is one work order with everything attached to it. Its lock is
// held only for short state changes, never during I/O or JSON encoding: wo
// is copy-on-write (a stored *WorkOrder is never mutated), so readers take
// the pointer under the lock and encode it after releasing it.
type record struct {
	mu          sync.Mutex
	wo          *corrigo.WorkOrder
	customer    *customerDef
	history     []HistoryEntry
	notes       []corrigo.NoteHistoryEntry
	messages    []corrigo.TextMessage
	attachments []corrigo.Attachment
	invoice     corrigo.Invoice
	assignees   []int64
	equipment   []corrigo.Equipment
	available   []corrigo.Equipment
	completion  completionInfo
	ism         ismStatus
}

// file is an attachment's content, served by its download URL.
type file struct {
	meta        corrigo.Attachment
	workOrderId int64
	data        []byte
}

func (r *record) snapshot() *corrigo.WorkOrder {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.wo
}

// cloneWO deep-copies a work order so it can be changed without touching
// the stored (shared, immutable) one.
func cloneWO(w *corrigo.WorkOrder) corrigo.WorkOrder {
	c := *w
	if w.WorkType != nil {
		v := *w.WorkType
		c.WorkType = &v
	}
	if w.Customer != nil {
		v := *w.Customer
		c.Customer = &v
	}
	if w.Schedule != nil {
		v := *w.Schedule
		c.Schedule = &v
	}
	if w.Nte != nil {
		v := *w.Nte
		if v.Quote != nil {
			q := *v.Quote
			v.Quote = &q
		}
		c.Nte = &v
	}
	if w.Sla != nil {
		v := *w.Sla
		c.Sla = &v
	}
	if w.WorkDetails != nil {
		v := *w.WorkDetails
		v.CheckList = slices.Clone(v.CheckList)
		v.Assets = slices.Clone(v.Assets)
		v.Procedures = cloneProcedures(v.Procedures)
		c.WorkDetails = &v
	}
	if w.Contact != nil {
		v := *w.Contact
		v.Phones = slices.Clone(v.Phones)
		v.Emails = slices.Clone(v.Emails)
		c.Contact = &v
	}
	if w.ServiceLocation != nil {
		v := *w.ServiceLocation
		if v.Address != nil {
			a := *v.Address
			v.Address = &a
		}
		c.ServiceLocation = &v
	}
	return c
}

func cloneProcedures(ps []corrigo.Procedure) []corrigo.Procedure {
	if ps == nil {
		return nil
	}
	out := make([]corrigo.Procedure, len(ps))
	for i, p := range ps {
		if p.Asset != nil {
			a := *p.Asset
			p.Asset = &a
		}
		p.Steps = slices.Clone(p.Steps)
		out[i] = p
	}
	return out
}

func summaryOf(w *corrigo.WorkOrder) corrigo.WorkOrderSummary {
	return corrigo.WorkOrderSummary{
		WorkOrderId: w.WorkOrderId, WorkOrderNumber: w.WorkOrderNumber, Status: w.Status,
		Created: w.Created, LastUpdate: w.LastUpdate, Sla: w.Sla, WorkType: w.WorkType, Customer: w.Customer,
	}
}

// resetState drops every work order and rebuilds the seed data.
func (s *Sandbox) resetState() {
	customers := seedCustomers()
	byID := make(map[int]*customerDef, len(customers))
	for _, c := range customers {
		byID[c.Id] = c
	}
	branches := map[int64]*branchDef{}
	for _, b := range seedBranches() {
		branches[b.Id] = b
	}
	s.mu.Lock()
	s.wos = map[int64]*record{}
	s.order = nil
	s.byNumber = map[string]*record{}
	s.files = map[string]*file{}
	s.customers = customers
	s.custByID = byID
	s.branches = branches
	s.nextWO = 10001
	s.woSeq = map[int]int{}
	s.mu.Unlock()

	// Seeded work orders are spread over the last week, mostly New, some
	// further along, one in ten prebilled.
	now := s.now()
	statuses := []corrigo.Status{
		corrigo.StatusNew, corrigo.StatusNew, corrigo.StatusNew, corrigo.StatusNew, corrigo.StatusNew, corrigo.StatusNew,
		corrigo.StatusAccepted, corrigo.StatusAccepted, corrigo.StatusCheckedIn, corrigo.StatusCheckedOut,
	}
	for i := 0; i < s.opts.SeedWorkOrders; i++ {
		spec := WorkOrderSpec{
			Silent:  true,
			Created: corrigo.NewTime(now.Add(-time.Duration(s.randIntN(7*24*60)) * time.Minute).Truncate(time.Second)),
			Status:  statuses[s.randIntN(len(statuses))],
		}
		if spec.Status == corrigo.StatusNew && s.randIntN(10) == 0 {
			spec.PreBilled = true
		}
		if _, err := s.CreateWorkOrder(spec); err != nil {
			s.log.Error("sandbox: seed work order", "err", err)
		}
	}
}

// Reset drops all work orders, notifications and the usage log, and seeds
// again. Issued tokens stay valid.
func (s *Sandbox) Reset() {
	s.hooks.reset()
	s.usage.reset()
	s.resetState()
}

func (s *Sandbox) customer(id int) *customerDef {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.custByID[id]
}

func (s *Sandbox) branch(id int64) *branchDef {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.branches[id]
}

func (s *Sandbox) rec(id int64) *record {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.wos[id]
}

func (s *Sandbox) records() []*record {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.order)
}

// CreateWorkOrder dispatches a work order from a customer, as if it had just
// been created in Corrigo Enterprise, and sends its NewWorkOrder
// notification (unless spec.Silent).
func (s *Sandbox) CreateWorkOrder(spec WorkOrderSpec) (corrigo.WorkOrder, error) {
	var cust *customerDef
	if spec.CustomerId == 0 {
		s.mu.RLock()
		cust = s.customers[s.randIntN(len(s.customers))]
		s.mu.RUnlock()
	} else if cust = s.customer(spec.CustomerId); cust == nil {
		return corrigo.WorkOrder{}, fmt.Errorf("sandbox: unknown customer %d", spec.CustomerId)
	}
	if spec.BranchId != 0 && !slices.Contains(cust.BranchIds, spec.BranchId) {
		return corrigo.WorkOrder{}, fmt.Errorf("sandbox: branch %d does not serve customer %d (branches %v)", spec.BranchId, cust.Id, cust.BranchIds)
	}
	s.mu.Lock()
	id := s.nextWO
	s.nextWO++
	s.woSeq[cust.Id]++
	number := spec.WorkOrderNumber
	if number == "" {
		number = fmt.Sprintf("%s%d", cust.Prefix, 20000+s.woSeq[cust.Id])
	}
	_, dup := s.byNumber[number]
	s.mu.Unlock()
	if dup {
		return corrigo.WorkOrder{}, fmt.Errorf("sandbox: work order number %q exists", number)
	}
	rec, err := s.buildWorkOrder(spec, cust, id, number)
	if err != nil {
		return corrigo.WorkOrder{}, fmt.Errorf("sandbox: %w", err)
	}
	entry := HistoryEntry{Seq: s.nextSeq(), Time: rec.wo.Created.Time, Actor: ActorCustomer, Action: string(corrigo.ActionNewWorkOrder), To: rec.wo.Status}
	var pending []pendingNotification
	if !spec.Silent {
		pending = append(pending, pendingNotification{
			action:  corrigo.ActionNewWorkOrder,
			sender:  customerSender(rec.wo),
			payload: corrigo.NewWorkOrderPayload{Details: *rec.wo},
		})
	}
	s.mu.Lock()
	if _, dup := s.byNumber[number]; dup {
		s.mu.Unlock()
		return corrigo.WorkOrder{}, fmt.Errorf("sandbox: work order number %q exists", number)
	}
	s.wos[id] = rec
	s.order = append(s.order, rec)
	s.byNumber[number] = rec
	s.mu.Unlock()
	rec.mu.Lock()
	rec.history = append(rec.history, entry)
	ns := s.hooks.prepare(rec, pending)
	if len(ns) > 0 {
		rec.history[len(rec.history)-1].NotificationId = ns[0].Id
	}
	wo := rec.wo
	rec.mu.Unlock()
	s.hooks.enqueue(ns)
	s.log.Debug("sandbox: work order dispatched", "id", id, "number", number, "customer", cust.Name, "status", wo.Status, "silent", spec.Silent)
	return cloneWO(wo), nil
}

// WorkOrder returns a copy of a work order and its history.
func (s *Sandbox) WorkOrder(id int64) (corrigo.WorkOrder, []HistoryEntry, bool) {
	rec := s.rec(id)
	if rec == nil {
		return corrigo.WorkOrder{}, nil, false
	}
	rec.mu.Lock()
	wo, hist := rec.wo, slices.Clone(rec.history)
	rec.mu.Unlock()
	return cloneWO(wo), hist, true
}

// WorkOrderDetail is everything the sandbox holds about one work order.
type WorkOrderDetail struct {
	WorkOrder   corrigo.WorkOrder
	History     []HistoryEntry
	Invoice     corrigo.Invoice
	Messages    []corrigo.TextMessage
	Attachments []corrigo.Attachment
	Notes       []corrigo.NoteHistoryEntry
	Assignees   []int64
	Equipment   []corrigo.Equipment
}

// Detail returns everything about one work order.
func (s *Sandbox) Detail(id int64) (WorkOrderDetail, bool) {
	rec := s.rec(id)
	if rec == nil {
		return WorkOrderDetail{}, false
	}
	rec.mu.Lock()
	d := WorkOrderDetail{
		History:     slices.Clone(rec.history),
		Invoice:     cloneInvoice(rec.invoice),
		Messages:    slices.Clone(rec.messages),
		Attachments: slices.Clone(rec.attachments),
		Notes:       slices.Clone(rec.notes),
		Assignees:   slices.Clone(rec.assignees),
		Equipment:   slices.Clone(rec.equipment),
	}
	wo := rec.wo
	rec.mu.Unlock()
	d.WorkOrder = cloneWO(wo)
	return d, true
}

func cloneInvoice(inv corrigo.Invoice) corrigo.Invoice {
	inv.LineItems = slices.Clone(inv.LineItems)
	return inv
}

// WorkOrderIDs lists every work order id, oldest first.
func (s *Sandbox) WorkOrderIDs() []int64 {
	recs := s.records()
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.snapshot().WorkOrderId
	}
	return out
}

// CustomerInfo is a seeded customer as the control API shows it.
type CustomerInfo struct {
	corrigo.Customer
	Prefix       string
	Currency     string
	TaxRate      float64
	CompositeTax bool
	Settings     corrigo.CustomerSettings
	PriceList    []corrigo.PriceListItem
}

// Customers lists the seeded customers with their settings.
func (s *Sandbox) Customers() []CustomerInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]CustomerInfo, 0, len(s.customers))
	for _, c := range s.customers {
		out = append(out, CustomerInfo{Customer: c.Customer, Prefix: c.Prefix, Currency: c.Currency, TaxRate: c.TaxRate,
			CompositeTax: c.CompositeTax, Settings: c.settings(), PriceList: c.PriceList})
	}
	return out
}

// Branches lists the provider's branches with their associates.
func (s *Sandbox) Branches() []BranchInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]BranchInfo, 0, len(s.branches))
	for _, b := range s.branches {
		out = append(out, BranchInfo{Id: b.Id, Name: b.Name, Associates: b.Associates})
	}
	slices.SortFunc(out, func(a, b BranchInfo) int { return int(a.Id - b.Id) })
	return out
}

// BranchInfo is a provider branch.
type BranchInfo struct {
	Id         int64
	Name       string
	Associates []corrigo.Associate
}
