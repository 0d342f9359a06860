package corrigo

// This file holds the data models of the CorrigoPro Direct API (API.md §2).
// Field names follow CorrigoPro's JSON exactly (PascalCase), so the structs
// need no tags beyond omitempty. Where API.md marks a field inferred [I], the
// comment says so; unknown fields in responses are ignored by encoding/json,
// so a richer real payload never breaks decoding.

// Status is a work order status (API.md §4.1).
type Status string

// Work order statuses. CheckedOut is what the docs' prose calls "Completed"
// [I]; Verified means the customer verified completed work [I].
const (
	StatusNew                    Status = "New"
	StatusAccepted               Status = "Accepted"
	StatusRejected               Status = "Rejected"
	StatusCheckedIn              Status = "CheckedIn"
	StatusPaused                 Status = "Paused"
	StatusCheckedOut             Status = "CheckedOut"
	StatusOnHold                 Status = "OnHold"
	StatusRecalled               Status = "Recalled"
	StatusVerified               Status = "Verified"
	StatusNeedsCompletionDetails Status = "NeedsCompletionDetails"
)

// AllStatuses lists every known status, in lifecycle order.
var AllStatuses = []Status{
	StatusNew, StatusAccepted, StatusCheckedIn, StatusPaused, StatusCheckedOut,
	StatusNeedsCompletionDetails, StatusOnHold, StatusVerified, StatusRejected, StatusRecalled,
}

// Work order types seen in CorrigoPro.
const (
	TypePMRM    = "PMRM"
	TypeRequest = "Request"
)

// Person is who performed an action (PerformedBy in requests and in the
// legacy Accepted notification).
type Person struct {
	Name  string `json:",omitempty"`
	Phone string `json:",omitempty"`
}

// Sender is who caused a notification (MessageHeader.Sender). Type is
// "CorrigoPro" or "Customer".
type Sender struct {
	Name  string `json:",omitempty"`
	Phone string `json:",omitempty"`
	Type  string `json:",omitempty"`
}

// GeoLocation is a latitude/longitude pair.
type GeoLocation struct {
	Latitude  float64
	Longitude float64
}

// Appointment is a work order's schedule. Pte is "Appointment", "CallFirst"
// (confirmed) or "PTE", "NotApplicable" (inferred from Corrigo Enterprise).
type Appointment struct {
	ScheduledStart Time   `json:",omitempty"`
	Pte            string `json:",omitempty"`
}

// Quote is a provider's price quote on a work order.
type Quote struct {
	Amount      float64
	QuoteStatus string `json:",omitempty"` // Requested, Submitted, Approved, Rejected [I]
	Comment     string `json:",omitempty"`
}

// Quote statuses.
const (
	QuoteRequested = "Requested"
	QuoteSubmitted = "Submitted"
	QuoteApproved  = "Approved"
	QuoteRejected  = "Rejected" // [I] implied by the docs, exact string unconfirmed
)

// Nte is the not-to-exceed limit. Amount 0 means no limit.
type Nte struct {
	Amount float64
	Quote  *Quote `json:",omitempty"`
}

// Sla holds the service-level dates of a work order.
type Sla struct {
	DueDate       Time   `json:",omitempty"`
	OnSiteBy      Time   `json:",omitempty"`
	AcknowledgeBy Time   `json:",omitempty"`
	PriorityId    int    `json:",omitempty"`
	PriorityName  string `json:",omitempty"`
	IsEmergency   bool
}

// CheckListItem is one (deprecated) checklist entry.
type CheckListItem struct {
	Id           int
	SortingIndex int    `json:",omitempty"`
	Description  string `json:",omitempty"`
	Comment      string `json:",omitempty"`
	Exception    string `json:",omitempty"`
	IsDone       bool
}

// Asset is an asset (with its task) a work order is about.
type Asset struct {
	Id        int
	Path      string `json:",omitempty"`
	Task      string `json:",omitempty"`
	AssetName string `json:",omitempty"`
	Comment   string `json:",omitempty"`
}

// StepDescriptor is a procedure step as CorrigoPro describes it.
type StepDescriptor struct {
	Id          int
	Order       int    `json:",omitempty"`
	Status      string `json:",omitempty"` // Unknown, Open, NA, Done
	IsRequired  bool
	Description string `json:",omitempty"`
	StepType    string `json:",omitempty"` // Field, Text
	Value       string `json:",omitempty"`
	Comment     string `json:",omitempty"`
	FlagReason  string `json:",omitempty"`
	Label       string `json:",omitempty"`
	DataType    string `json:",omitempty"` // String, Bool, Money, ...
	Currency    string `json:",omitempty"`
}

// Step is a procedure step update (also used by CheckListMigratedToProcedure).
type Step struct {
	Id       int
	Status   string `json:",omitempty"`
	Value    string `json:",omitempty"`
	Comment  string `json:",omitempty"`
	Currency string `json:",omitempty"`
}

// Procedure is a procedure attached to a work order.
type Procedure struct {
	Id                     int
	Order                  int    `json:",omitempty"`
	Name                   string `json:",omitempty"`
	AllowMarkNotApplicable bool
	Status                 string           `json:",omitempty"`
	Asset                  *Asset           `json:",omitempty"`
	Steps                  []StepDescriptor `json:",omitempty"`
}

// WorkDetails describes the work to do.
type WorkDetails struct {
	CheckList  []CheckListItem `json:",omitempty"`
	Procedures []Procedure     `json:",omitempty"`
	Assets     []Asset         `json:",omitempty"`
}

// Contact is the on-site contact of a work order.
type Contact struct {
	FullName  string   `json:",omitempty"`
	ContactAt string   `json:",omitempty"`
	Phones    []string `json:",omitempty"`
	Emails    []string `json:",omitempty"`
}

// Address is a postal address. Zip is inferred [I] (the model was truncated).
type Address struct {
	Street1 string `json:",omitempty"`
	Street2 string `json:",omitempty"`
	City    string `json:",omitempty"`
	State   string `json:",omitempty"`
	Zip     string `json:",omitempty"`
	Country string `json:",omitempty"`
}

// ServiceLocation is where the work happens. SpaceName, SpaceId and
// OccupantID are confirmed from third-party code; Address is inferred [I].
type ServiceLocation struct {
	SpaceId    int      `json:",omitempty"`
	SpaceName  string   `json:",omitempty"`
	OccupantID string   `json:",omitempty"`
	Address    *Address `json:",omitempty"`
}

// CustomerRef names the customer a work order belongs to.
type CustomerRef struct {
	ID   int
	Name string `json:",omitempty"`
}

// WorkType is the work order's type descriptor. [I] It is an object with a
// Name in search results; Type carries the plain string in details.
type WorkType struct {
	Name string `json:",omitempty"`
}

// WorkOrder is the full work order model (GET api/workOrder, NewWorkOrder
// Details). Fields after Contact are partly inferred (API.md §10.2).
type WorkOrder struct {
	WorkOrderId         int64
	WorkOrderNumber     string           `json:",omitempty"`
	Status              Status           `json:",omitempty"`
	Type                string           `json:",omitempty"` // PMRM or Request
	WorkType            *WorkType        `json:",omitempty"`
	Created             Time             `json:",omitempty"`
	LastUpdate          Time             `json:",omitempty"`
	Customer            *CustomerRef     `json:",omitempty"`
	BranchId            int64            `json:",omitempty"`
	Schedule            *Appointment     `json:",omitempty"`
	AccompanyingMessage string           `json:",omitempty"`
	Nte                 *Nte             `json:",omitempty"`
	Sla                 *Sla             `json:",omitempty"`
	WorkDetails         *WorkDetails     `json:",omitempty"`
	Contact             *Contact         `json:",omitempty"`
	ServiceLocation     *ServiceLocation `json:",omitempty"`
	Currency            string           `json:",omitempty"` // ISO 4217
	IsPreBilled         bool
	InternalNote        string `json:",omitempty"`
}

// WorkOrderSummary is the basic work order returned by search.
type WorkOrderSummary struct {
	WorkOrderId     int64
	WorkOrderNumber string       `json:",omitempty"`
	Status          Status       `json:",omitempty"`
	Created         Time         `json:",omitempty"`
	LastUpdate      Time         `json:",omitempty"`
	Sla             *Sla         `json:",omitempty"`
	WorkType        *WorkType    `json:",omitempty"`
	Customer        *CustomerRef `json:",omitempty"`
}

// Customer is an entry of GET api/customers.
type Customer struct {
	Id        int
	Name      string
	BranchIds []int64 `json:",omitempty"`
}

// RepairInfo is a repair code with its category.
type RepairInfo struct {
	CodeId     int    `json:",omitempty"`
	Code       string `json:",omitempty"`
	CategoryId int    `json:",omitempty"`
	Category   string `json:",omitempty"`
}

// CustomField is a custom completion field value. Values are case-sensitive.
type CustomField struct {
	Id    int
	Value string
}

// CustomFieldSetting describes a custom completion field a customer defines.
// [I] The customerSettings response shape is not documented (API.md §10.6).
type CustomFieldSetting struct {
	Id         int
	Label      string `json:",omitempty"`
	IsRequired bool
	Values     []string `json:",omitempty"`
}

// RepairCodeSetting is one repair code a customer accepts [I].
type RepairCodeSetting struct {
	CodeId     int
	Code       string `json:",omitempty"`
	CategoryId int    `json:",omitempty"`
	Category   string `json:",omitempty"`
}

// CustomerSettings holds a customer's completion requirements. The docs
// confirm what is required (repair info, customer questions, checklist,
// equipment) but not the field names [I]; the gateway's action guard uses
// these to refuse a check-out CorrigoPro would reject.
type CustomerSettings struct {
	CustomerId           int
	RepairInfoRequired   bool
	CustomFieldsRequired bool
	CheckListRequired    bool
	EquipmentRequired    bool
	QuoteSubmitAllowed   bool
	BackdatingAllowed    bool
	CommentRequired      bool
	TaxValidation        bool
	RepairCodes          []RepairCodeSetting  `json:",omitempty"`
	CustomFields         []CustomFieldSetting `json:",omitempty"`
}

// LineItem types.
const (
	LineItemPriceList = "PriceList"
	LineItemLabor     = "Labor"
	LineItemMaterial  = "Material"
	LineItemTax       = "Tax"
	LineItemOther     = "Other"
)

// LineItem is one invoice or quote line. Id 0 means a new line.
type LineItem struct {
	Id          int64
	Type        string `json:",omitempty"` // PriceList, Labor (Quantity = hours), Material, Tax, Other
	Category    string `json:",omitempty"`
	Description string `json:",omitempty"`
	Quantity    float64
	Rate        float64
	Amount      float64 `json:",omitempty"`
	PriceListId int64   `json:",omitempty"`
}

// Invoice statuses. PendingVerification, Authorized and Paid are confirmed;
// Draft, Submitted and Disputed are inferred [I].
const (
	InvoiceDraft               = "Draft"
	InvoiceSubmitted           = "Submitted"
	InvoicePendingVerification = "PendingVerification"
	InvoiceAuthorized          = "Authorized"
	InvoicePaid                = "Paid"
	InvoiceDisputed            = "Disputed"
)

// Invoice is a work order's invoice (GET/PUT api/invoice).
type Invoice struct {
	WorkOrderId        int64
	InvoiceNumber      string `json:",omitempty"`
	InvoiceDate        Time   `json:",omitempty"`
	Status             string `json:",omitempty"`
	IsPreBilled        bool
	DiscountAmount     float64 `json:",omitempty"`
	TaxAmount          float64 `json:",omitempty"`
	TotalAmount        float64
	Currency           string     `json:",omitempty"`
	SubmissionDeadline Time       `json:",omitempty"`
	Comment            string     `json:",omitempty"`
	LineItems          []LineItem `json:",omitempty"`
}

// PriceListItem is one entry of the customer's price list.
type PriceListItem struct {
	Id          int64
	Description string
	Category    string `json:",omitempty"`
	Type        string `json:",omitempty"`
	Rate        float64
	Currency    string `json:",omitempty"`
}

// Attachment describes a file attached to a work order.
type Attachment struct {
	AttachmentId string
	Name         string `json:",omitempty"`
	MimeType     string `json:",omitempty"`
	Size         int64  `json:",omitempty"`
	Subtype      string `json:",omitempty"` // DocumentType: Document, Picture, Signature, InvoicePrintout, ServiceContract, Misc
}

// TextMessage is a message on a work order.
type TextMessage struct {
	Id                int64 `json:",omitempty"`
	Text              string
	MessageVisibility string  `json:",omitempty"` // All, CruOnly, CruLeads, CruSubs, None
	Sender            *Sender `json:",omitempty"`
	Created           Time    `json:",omitempty"`
}

// NoteHistoryEntry is one historical value of a work order's internal note.
type NoteHistoryEntry struct {
	InternalNote string
	PerformedBy  *Person `json:",omitempty"`
	Created      Time    `json:",omitempty"`
}

// Associate is a technician (CruMember) or a subcontractor.
type Associate struct {
	Id       int64
	Name     string
	Category string `json:",omitempty"` // CruMember, Subcontractor
	Phone    string `json:",omitempty"`
	Email    string `json:",omitempty"`
}

// Equipment is equipment used on a work order.
type Equipment struct {
	Id               int64  `json:",omitempty"`
	Type             string `json:",omitempty"` // Existing, Unknown, New
	EquipmentAssetId int64  `json:",omitempty"`
	Name             string `json:",omitempty"`
	Model            string `json:",omitempty"`
	SerialNumber     string `json:",omitempty"`
	Comment          string `json:",omitempty"`
}

// ValidationError is one entry of an error body's ValidationErrors. The
// guide's real response uses FieldName/ErrorType/Message [I per API.md §2.2].
type ValidationError struct {
	FieldName string `json:",omitempty"`
	ErrorType string `json:",omitempty"`
	Message   string `json:",omitempty"`
}
