package sandbox

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
)

// The sandbox emulates one provider company ("Ace Facility Services") with
// three branches, connected to four customers. The data is fictional but
// shaped like CorrigoPro's: customers with branch ids (the guide's sample
// branch 500478 "DEMO" is one of them), sites with addresses and assets,
// price lists, repair codes and custom completion fields.

// customerDef is a customer and everything the sandbox knows about it.
type customerDef struct {
	corrigo.Customer
	Prefix string // work order number prefix
	// Settings is set by the seed; afterwards it is read with settings()
	// and replaced with setSettings() (CustomFieldChange changes it).
	Settings     corrigo.CustomerSettings
	smu          sync.RWMutex
	PriceList    []corrigo.PriceListItem
	Currency     string
	TaxRate      float64 // expected tax on invoices when Settings.TaxValidation
	CompositeTax bool    // more than one Tax line allowed (else 3042)
	Sites        []siteDef
}

// settings returns the customer's settings. Slices in it are never
// modified in place: setSettings replaces them.
func (c *customerDef) settings() corrigo.CustomerSettings {
	c.smu.RLock()
	defer c.smu.RUnlock()
	return c.Settings
}

func (c *customerDef) setSettings(st corrigo.CustomerSettings) {
	c.smu.Lock()
	c.Settings = st
	c.smu.Unlock()
}

type siteDef struct {
	Name    string
	SpaceId int
	Address corrigo.Address
	Contact corrigo.Contact
	Assets  []assetDef
}

type assetDef struct {
	Id        int
	Path      string
	Name      string
	Model     string
	Serial    string
	Tasks     []string
	Narrative string
}

type branchDef struct {
	Id         int64
	Name       string
	Associates []corrigo.Associate
}

// priorityDef maps a priority to its SLA offsets from creation.
type priorityDef struct {
	Id                   int
	Name                 string
	Emergency            bool
	Ack, OnSite, DueDate time.Duration
}

var priorities = []priorityDef{
	{1, "EMERGENCY", true, 15 * time.Minute, 2 * time.Hour, 8 * time.Hour},
	{2, "HIGH", false, time.Hour, 4 * time.Hour, 24 * time.Hour},
	{3, "MEDIUM", false, 4 * time.Hour, 24 * time.Hour, 72 * time.Hour},
	{4, "LOW", false, 24 * time.Hour, 72 * time.Hour, 14 * 24 * time.Hour},
}

func priorityByName(name string) (priorityDef, bool) {
	for _, p := range priorities {
		if strings.EqualFold(p.Name, name) {
			return p, true
		}
	}
	return priorityDef{}, false
}

// Provider branch ids.
const (
	BranchDemo  int64 = 500478
	BranchNorth int64 = 500479
	BranchSouth int64 = 500480
)

func seedBranches() []*branchDef {
	return []*branchDef{
		{Id: BranchDemo, Name: "DEMO", Associates: []corrigo.Associate{
			{Id: 7001, Name: "Jon Snow", Category: "CruMember", Phone: "+12025550141", Email: "jon.snow@acefs.example"},
			{Id: 7002, Name: "Arya Stark", Category: "CruMember", Phone: "+12025550142", Email: "arya.stark@acefs.example"},
			{Id: 7003, Name: "Coolair Mechanical LLC", Category: "Subcontractor", Phone: "+12025550190", Email: "dispatch@coolair.example"},
		}},
		{Id: BranchNorth, Name: "North", Associates: []corrigo.Associate{
			{Id: 7101, Name: "Brienne Tarth", Category: "CruMember", Phone: "+12065550111", Email: "brienne@acefs.example"},
			{Id: 7102, Name: "Samwell Tarly", Category: "CruMember", Phone: "+12065550112", Email: "sam@acefs.example"},
			{Id: 7103, Name: "Northern Plumbing Co", Category: "Subcontractor", Phone: "+12065550199", Email: "ops@northplumb.example"},
		}},
		{Id: BranchSouth, Name: "South", Associates: []corrigo.Associate{
			{Id: 7201, Name: "Davos Seaworth", Category: "CruMember", Phone: "+13055550121", Email: "davos@acefs.example"},
			{Id: 7202, Name: "Sunspear Electric", Category: "Subcontractor", Phone: "+13055550177", Email: "jobs@sunspear.example"},
		}},
	}
}

// Customer ids of the seeded customers.
const (
	CustomerHarbor    = 90256 // strict: repair info + custom fields, tax validation, single tax line
	CustomerBluebird  = 90311 // comment required, quotes not allowed (3004), backdating allowed
	CustomerSummit    = 90402 // procedures (checklist) and equipment required, tax validation
	CustomerNorthwind = 90517 // no completion requirements
)

func stdPriceList(cur string, base int64) []corrigo.PriceListItem {
	return []corrigo.PriceListItem{
		{Id: base + 1, Description: "Service call", Category: "Trip", Type: corrigo.LineItemPriceList, Rate: 95, Currency: cur},
		{Id: base + 2, Description: "HVAC technician (hour)", Category: "Labor", Type: corrigo.LineItemLabor, Rate: 110, Currency: cur},
		{Id: base + 3, Description: "Plumber (hour)", Category: "Labor", Type: corrigo.LineItemLabor, Rate: 95, Currency: cur},
		{Id: base + 4, Description: "Air filter 20x25x2", Category: "Material", Type: corrigo.LineItemPriceList, Rate: 18.5, Currency: cur},
		{Id: base + 5, Description: "After-hours surcharge", Category: "Trip", Type: corrigo.LineItemPriceList, Rate: 75, Currency: cur},
	}
}

var repairCodes = []corrigo.RepairCodeSetting{
	{CodeId: 11, Code: "Replaced part", CategoryId: 1, Category: "HVAC"},
	{CodeId: 12, Code: "Cleaned / adjusted", CategoryId: 1, Category: "HVAC"},
	{CodeId: 21, Code: "Cleared blockage", CategoryId: 2, Category: "Plumbing"},
	{CodeId: 31, Code: "Replaced lamp / ballast", CategoryId: 3, Category: "Electrical"},
	{CodeId: 91, Code: "No problem found", CategoryId: 9, Category: "General"},
}

func sites(city, state, zip string, spaceBase int, street []string, contact string, phone string) []siteDef {
	assets := func(base int) []assetDef {
		return []assetDef{
			{Id: base + 1, Path: "ROOF>RTU-3", Name: "Rooftop unit 3", Model: "Carrier 48TC", Serial: fmt.Sprintf("48TC-%05d", base+1),
				Tasks: []string{"Not cooling", "Noisy", "Quarterly PM"}, Narrative: "Sales floor is warm; thermostat reads 82F."},
			{Id: base + 2, Path: "RESTROOMS>MEN'S>TOILET 2", Name: "Toilet 2", Model: "Kohler K-3999", Serial: fmt.Sprintf("KO-%05d", base+2),
				Tasks: []string{"Clogged", "Leaking"}, Narrative: "Water on the floor around the base."},
			{Id: base + 3, Path: "BUILDING EXTERIOR>PARKING LOT", Name: "Parking lot lighting", Model: "Cree OSQ", Serial: fmt.Sprintf("CR-%05d", base+3),
				Tasks: []string{"Lights out", "Flickering"}, Narrative: "Three poles dark on the east side."},
			{Id: base + 4, Path: "BUILDING EXTERIOR>BACK LOT", Name: "Back lot wall", Model: "", Serial: "",
				Tasks: []string{"Graffiti"}, Narrative: "Graffiti on the loading dock wall."},
		}
	}
	out := make([]siteDef, 0, len(street))
	for i, st := range street {
		id := spaceBase + i
		out = append(out, siteDef{
			Name:    fmt.Sprintf("Store #%d", id%1000),
			SpaceId: id,
			Address: corrigo.Address{Street1: st, City: city, State: state, Zip: zip, Country: "USA"},
			Contact: corrigo.Contact{FullName: contact, ContactAt: "Store manager", Phones: []string{phone}, Emails: []string{strings.ToLower(strings.ReplaceAll(contact, " ", ".")) + "@customer.example"}},
			Assets:  assets(id * 10),
		})
	}
	return out
}

func seedCustomers() []*customerDef {
	return []*customerDef{
		{
			Customer: corrigo.Customer{Id: CustomerHarbor, Name: "Harbor Retail Group", BranchIds: []int64{BranchDemo, BranchNorth}},
			Prefix:   "HRG",
			Settings: corrigo.CustomerSettings{
				CustomerId: CustomerHarbor, RepairInfoRequired: true, CustomFieldsRequired: true,
				QuoteSubmitAllowed: true, TaxValidation: true, RepairCodes: repairCodes,
				CustomFields: []corrigo.CustomFieldSetting{
					{Id: 501, Label: "Work performed by", IsRequired: true, Values: []string{"Technician", "Subcontractor"}},
					{Id: 502, Label: "Technician count", IsRequired: false},
				},
			},
			PriceList: stdPriceList("USD", 8000), Currency: "USD", TaxRate: 0.0825,
			Sites: sites("Seattle", "WA", "98101", 1100, []string{"1200 Harbor Ave SW", "455 Pine St", "9 Alaskan Way"}, "Maria Lopez", "+12065550100"),
		},
		{
			Customer: corrigo.Customer{Id: CustomerBluebird, Name: "Bluebird Restaurants", BranchIds: []int64{BranchDemo}},
			Prefix:   "BBR",
			Settings: corrigo.CustomerSettings{
				CustomerId: CustomerBluebird, CommentRequired: true, QuoteSubmitAllowed: false, BackdatingAllowed: true,
				RepairCodes: repairCodes,
			},
			PriceList: stdPriceList("USD", 8100), Currency: "USD", CompositeTax: true,
			Sites: sites("Austin", "TX", "78701", 2100, []string{"300 Congress Ave", "1601 S Lamar Blvd"}, "Dwayne Carter", "+15125550100"),
		},
		{
			Customer: corrigo.Customer{Id: CustomerSummit, Name: "Summit Health Clinics", BranchIds: []int64{BranchNorth, BranchSouth}},
			Prefix:   "SHC",
			Settings: corrigo.CustomerSettings{
				CustomerId: CustomerSummit, CheckListRequired: true, EquipmentRequired: true,
				QuoteSubmitAllowed: true, TaxValidation: true, RepairCodes: repairCodes,
			},
			PriceList: stdPriceList("USD", 8200), Currency: "USD", TaxRate: 0.06,
			Sites: sites("Denver", "CO", "80202", 3100, []string{"1700 Lincoln St", "2500 E 1st Ave", "77 Colfax Ave"}, "Priya Natarajan", "+13035550100"),
		},
		{
			Customer: corrigo.Customer{Id: CustomerNorthwind, Name: "Northwind Banking", BranchIds: []int64{BranchSouth}},
			Prefix:   "NWB",
			Settings: corrigo.CustomerSettings{
				CustomerId: CustomerNorthwind, QuoteSubmitAllowed: true, BackdatingAllowed: true, RepairCodes: repairCodes,
			},
			PriceList: stdPriceList("USD", 8300), Currency: "USD", CompositeTax: true,
			Sites: sites("Miami", "FL", "33131", 4100, []string{"200 S Biscayne Blvd", "1111 Brickell Ave"}, "Elena Ruiz", "+13055550100"),
		},
	}
}

// WorkOrderSpec says what kind of work order to dispatch. Zero fields are
// chosen at random (reproducibly, from Options.Seed).
type WorkOrderSpec struct {
	CustomerId  int      `json:",omitempty"` // one of the seeded customers
	BranchId    int64    `json:",omitempty"` // one of the customer's BranchIds
	Type        string   `json:",omitempty"` // PMRM or Request
	Priority    string   `json:",omitempty"` // EMERGENCY, HIGH, MEDIUM, LOW
	PreBilled   bool     `json:",omitempty"`
	Nte         *float64 `json:",omitempty"` // 0 = no limit
	Description string   `json:",omitempty"`
	// Status creates the work order directly in a later state (tests).
	Status          corrigo.Status `json:",omitempty"`
	Created         corrigo.Time   `json:",omitempty"`
	QuoteRequested  bool           `json:",omitempty"`
	WorkOrderNumber string         `json:",omitempty"`
	// Silent skips the NewWorkOrder notification.
	Silent bool `json:",omitempty"`
}

func validStatus(st corrigo.Status) bool {
	for _, s := range corrigo.AllStatuses {
		if s == st {
			return true
		}
	}
	return false
}

// buildWorkOrder makes a record from a spec. It only reads immutable seed
// data and the generator; the caller assigns ids and inserts it.
func (s *Sandbox) buildWorkOrder(spec WorkOrderSpec, cust *customerDef, id int64, number string) (*record, error) {
	now := s.now().UTC()
	created := spec.Created.Time
	if created.IsZero() {
		created = now
	}
	branch := spec.BranchId
	if branch == 0 {
		branch = cust.BranchIds[s.randIntN(len(cust.BranchIds))]
	}
	typ := spec.Type
	switch {
	case typ == "":
		typ = corrigo.TypeRequest
		if s.randIntN(10) < 4 {
			typ = corrigo.TypePMRM
		}
	case strings.EqualFold(typ, corrigo.TypePMRM):
		typ = corrigo.TypePMRM
	case strings.EqualFold(typ, corrigo.TypeRequest):
		typ = corrigo.TypeRequest
	default:
		return nil, fmt.Errorf("unknown work order type %q (want PMRM or Request)", spec.Type)
	}
	var pr priorityDef
	if spec.Priority == "" {
		pr = priorities[1+s.randIntN(len(priorities)-1)]
		if s.randIntN(10) == 0 {
			pr = priorities[0]
		}
	} else {
		var ok bool
		if pr, ok = priorityByName(spec.Priority); !ok {
			return nil, fmt.Errorf("unknown priority %q (want EMERGENCY, HIGH, MEDIUM or LOW)", spec.Priority)
		}
	}
	status := spec.Status
	if status == "" {
		status = corrigo.StatusNew
	}
	if !validStatus(status) {
		return nil, fmt.Errorf("unknown status %q", spec.Status)
	}
	site := cust.Sites[s.randIntN(len(cust.Sites))]
	asset := site.Assets[s.randIntN(len(site.Assets))]
	task := asset.Tasks[s.randIntN(len(asset.Tasks))]
	if typ == corrigo.TypePMRM {
		asset = site.Assets[0]
		task = "Quarterly PM"
	}
	desc := spec.Description
	if desc == "" {
		desc = fmt.Sprintf("%s: %s. %s", asset.Name, task, asset.Narrative)
		if typ == corrigo.TypePMRM {
			desc = fmt.Sprintf("Quarterly preventive maintenance of %s per contract.", strings.ToLower(asset.Name))
		}
	}
	nte := 0.0
	if spec.Nte != nil {
		nte = *spec.Nte
	} else {
		nte = []float64{0, 300, 500, 750, 1500}[s.randIntN(5)]
	}
	sched := &corrigo.Appointment{Pte: "CallFirst"}
	if s.randIntN(2) == 0 {
		sched = &corrigo.Appointment{Pte: "Appointment", ScheduledStart: corrigo.NewTime(created.Add(pr.OnSite / 2).Truncate(time.Minute))}
	}
	wo := &corrigo.WorkOrder{
		WorkOrderId:         id,
		WorkOrderNumber:     number,
		Status:              status,
		Type:                typ,
		WorkType:            &corrigo.WorkType{Name: typ},
		Created:             corrigo.NewTime(created),
		LastUpdate:          corrigo.NewTime(created),
		Customer:            &corrigo.CustomerRef{ID: cust.Id, Name: cust.Name},
		BranchId:            branch,
		Schedule:            sched,
		AccompanyingMessage: desc,
		Nte:                 &corrigo.Nte{Amount: nte},
		Sla: &corrigo.Sla{
			AcknowledgeBy: corrigo.NewTime(created.Add(pr.Ack)),
			OnSiteBy:      corrigo.NewTime(created.Add(pr.OnSite)),
			DueDate:       corrigo.NewTime(created.Add(pr.DueDate)),
			PriorityId:    pr.Id, PriorityName: pr.Name, IsEmergency: pr.Emergency,
		},
		WorkDetails: &corrigo.WorkDetails{
			Assets: []corrigo.Asset{{Id: asset.Id, Path: asset.Path, Task: task, AssetName: asset.Name}},
		},
		Contact: &corrigo.Contact{
			FullName: site.Contact.FullName, ContactAt: site.Contact.ContactAt,
			Phones: append([]string(nil), site.Contact.Phones...), Emails: append([]string(nil), site.Contact.Emails...),
		},
		ServiceLocation: &corrigo.ServiceLocation{SpaceId: site.SpaceId, SpaceName: site.Name, Address: &corrigo.Address{
			Street1: site.Address.Street1, City: site.Address.City, State: site.Address.State, Zip: site.Address.Zip, Country: site.Address.Country,
		}},
		Currency:    cust.Currency,
		IsPreBilled: spec.PreBilled,
	}
	if spec.QuoteRequested {
		wo.Nte.Quote = &corrigo.Quote{QuoteStatus: corrigo.QuoteRequested}
	}
	if typ == corrigo.TypePMRM {
		wo.WorkDetails.Procedures = s.pmProcedures(asset)
	} else if cust.Id == CustomerBluebird {
		// Bluebird still uses legacy checklists on its requests.
		wo.WorkDetails.CheckList = sampleCheckList(id)
	}
	rec := &record{
		wo:       wo,
		customer: cust,
		invoice: corrigo.Invoice{
			WorkOrderId: id, Status: corrigo.InvoiceDraft, IsPreBilled: spec.PreBilled,
			Currency: cust.Currency, SubmissionDeadline: corrigo.NewTime(created.Add(30 * 24 * time.Hour)),
		},
	}
	for _, a := range site.Assets {
		if a.Model == "" {
			continue
		}
		rec.available = append(rec.available, corrigo.Equipment{
			Id: int64(a.Id), Type: "Existing", EquipmentAssetId: int64(a.Id), Name: a.Name, Model: a.Model, SerialNumber: a.Serial,
		})
	}
	return rec, nil
}

// pmProcedures is the procedure of a preventive-maintenance work order.
func (s *Sandbox) pmProcedures(asset assetDef) []corrigo.Procedure {
	pid := 300000 + int(s.nextSeq())
	base := 5000000 + int(s.nextSeq())*10
	return []corrigo.Procedure{{
		Id: pid, Order: 1, Name: "Quarterly HVAC PM", AllowMarkNotApplicable: true, Status: "Open",
		Asset: &corrigo.Asset{Id: asset.Id, Path: asset.Path, Task: "Quarterly PM", AssetName: asset.Name},
		Steps: []corrigo.StepDescriptor{
			{Id: base + 1, Order: 1, Status: "Open", IsRequired: true, Description: "Replace air filters", StepType: "Field", Label: "Filters replaced", DataType: "Bool"},
			{Id: base + 2, Order: 2, Status: "Open", IsRequired: true, Description: "Record supply air temperature (F)", StepType: "Field", Label: "Supply air temp", DataType: "String"},
			{Id: base + 3, Order: 3, Status: "Open", IsRequired: false, Description: "Cost of parts used", StepType: "Field", Label: "Parts cost", DataType: "Money"},
			{Id: base + 4, Order: 4, Status: "Open", IsRequired: false, Description: "Inspect belts and report wear", StepType: "Text"},
		},
	}}
}
