package corrigo

// Request and response bodies of the CorrigoPro Direct endpoints (API.md §1).
// The client sends them and the sandbox decodes them, so both agree on the
// wire format by construction. Exact bodies of the workflow calls are
// inferred [I] (API.md §10.1): {WorkOrderId, Comment?, Location?,
// ActualActionDate?, PerformedBy?, MessageId}.
//
// MessageId is filled in by the client on every call; callers leave it empty
// (or set it through WithMessageID).

// Envelope is the MessageId every body carries.
type Envelope struct {
	MessageId string `json:",omitempty"`
}

// DateRange bounds a search criterion.
type DateRange struct {
	From Time `json:",omitempty"`
	To   Time `json:",omitempty"`
}

// SearchParameters are the criteria of POST api/workOrder/search.
type SearchParameters struct {
	Created         *DateRange `json:",omitempty"`
	AcknowledgeBy   *DateRange `json:",omitempty"`
	OnSiteBy        *DateRange `json:",omitempty"`
	DueDate         *DateRange `json:",omitempty"`
	LastUpdate      *DateRange `json:",omitempty"`
	Statuses        []Status   `json:",omitempty"`
	CustomerId      string     `json:",omitempty"`
	WorkOrderNumber string     `json:",omitempty"`
}

// SearchRequest is the body of POST api/workOrder/search.
type SearchRequest struct {
	Parameters SearchParameters
	Envelope
}

// SearchResponse is the answer of POST api/workOrder/search.
type SearchResponse struct {
	WorkOrders []WorkOrderSummary
	Envelope
}

// WorkOrdersResponse is the answer of GET api/workOrder?ids=...
type WorkOrdersResponse struct {
	WorkOrders []WorkOrder
	Envelope
}

// CustomersResponse is the answer of GET api/customers.
type CustomersResponse struct {
	Customers []Customer
	Envelope
}

// CustomerSettingsResponse is the answer of GET api/customerSettings [I shape].
type CustomerSettingsResponse struct {
	Settings CustomerSettings
	Envelope
}

// ActionRequest is the common body of the workflow calls.
type ActionRequest struct {
	WorkOrderId      int64
	Comment          string       `json:",omitempty"`
	Location         *GeoLocation `json:",omitempty"`
	ActualActionDate *Time        `json:",omitempty"`
	PerformedBy      *Person      `json:",omitempty"`
	Envelope
}

// Workflow request bodies.
type (
	// AcceptRequest: PUT api/workOrder/accept.
	AcceptRequest = ActionRequest
	// RejectRequest: PUT api/workOrder/reject; Comment is mandatory.
	RejectRequest = ActionRequest
	// CheckInRequest: PUT api/workOrder/checkIn.
	CheckInRequest = ActionRequest
	// PauseRequest: PUT api/workOrder/pause.
	PauseRequest = ActionRequest
	// ReopenRequest: PUT api/workOrder/reopen.
	ReopenRequest = ActionRequest
)

// CheckOutRequest is the body of PUT api/workOrder/checkOut. Which of
// RepairInfo, CustomFields, Procedures and CheckList are required depends on
// the customer's settings.
type CheckOutRequest struct {
	ActionRequest
	RepairInfo   *RepairInfo     `json:",omitempty"`
	CustomFields []CustomField   `json:",omitempty"`
	Procedures   []Procedure     `json:",omitempty"`
	CheckList    []CheckListItem `json:",omitempty"`
}

// WorkDoneDetailsRequest is the body of PUT api/workOrder/workDoneDetails,
// sent after an IVR check-out left the work order NeedsCompletionDetails.
type WorkDoneDetailsRequest = CheckOutRequest

// QuoteSubmitRequest is the body of PUT api/workOrder/quoteSubmit.
type QuoteSubmitRequest struct {
	WorkOrderId int64
	Amount      float64
	Comment     string     `json:",omitempty"`
	LineItems   []LineItem `json:",omitempty"`
	Envelope
}

// AppointmentInfoRequest is the body of PUT api/workOrder/appointmentInfo.
type AppointmentInfoRequest struct {
	WorkOrderId int64
	Appointment Appointment
	Envelope
}

// NoteRequest is the body of PUT api/workOrder/note.
type NoteRequest struct {
	WorkOrderId  int64
	InternalNote string
	PerformedBy  *Person `json:",omitempty"`
	Envelope
}

// NoteHistoryResponse is the answer of GET api/workOrder/noteHistory.
type NoteHistoryResponse struct {
	NoteHistory []NoteHistoryEntry
	Envelope
}

// InvoiceResponse is the answer of GET api/invoice (and of PUT api/invoice).
type InvoiceResponse struct {
	Invoice Invoice
	Envelope
}

// InvoiceUpdateRequest is the body of PUT api/invoice. Line items not
// referenced by Id are deleted by CorrigoPro.
type InvoiceUpdateRequest struct {
	Invoice Invoice
	Envelope
}

// InvoiceSubmitRequest is the body of PUT api/invoice/submit.
type InvoiceSubmitRequest struct {
	WorkOrderId  int64
	SubmitAnyway bool `json:",omitempty"` // override a tax mismatch (3056)
	Envelope
}

// PriceListResponse is the answer of GET api/invoice/pricelist.
type PriceListResponse struct {
	PriceList []PriceListItem
	Envelope
}

// MessagesResponse is the answer of GET api/messages.
type MessagesResponse struct {
	Messages []TextMessage
	Envelope
}

// PostMessageRequest is the body of POST api/messages.
type PostMessageRequest struct {
	WorkOrderId       int64
	Text              string
	MessageVisibility string `json:",omitempty"` // default All
	Envelope
}

// AttachmentsResponse is the answer of GET api/attachments.
type AttachmentsResponse struct {
	Attachments []Attachment
	Envelope
}

// AttachmentUploadResponse is the answer of POST api/attachments.
type AttachmentUploadResponse struct {
	AttachmentId string
	Envelope
}

// DownloadURLResponse is the answer of GET api/attachments/downloadUrl.
type DownloadURLResponse struct {
	Url string
	Envelope
}

// AssociatesResponse is the answer of GET api/associates.
type AssociatesResponse struct {
	Associates []Associate
	Envelope
}

// BulkActionRequest is the body of PUT api/bulk/accept and api/bulk/reject.
type BulkActionRequest struct {
	WorkOrderIds []int64
	Comment      string `json:",omitempty"`
	Envelope
}

// BulkAssignRequest is the body of PUT api/bulk/assign (and unassign [I]).
type BulkAssignRequest struct {
	WorkOrderIds []int64
	AssociateIds []int64
	Envelope
}

// BulkResult is one element of a bulk call's array answer: one per
// successfully processed work order, possibly several per failed one.
type BulkResult struct {
	WorkOrderId int64
	Code        int    `json:",omitempty"`
	Message     string `json:",omitempty"`
}

// ProceduresResponse is the answer of GET api/procedure.
type ProceduresResponse struct {
	Procedures []Procedure
	Envelope
}

// StepsResponse is the answer of GET api/procedure/step.
type StepsResponse struct {
	Steps []StepDescriptor
	Envelope
}

// StepUpdateRequest is the body of PUT api/procedure/step.
type StepUpdateRequest struct {
	WorkOrderId int64
	ProcedureId int
	Step        Step
	Envelope
}

// EquipmentResponse is the answer of GET api/equipment and api/equipment/available.
type EquipmentResponse struct {
	Equipment []Equipment
	Envelope
}

// EquipmentRequest is the body of POST api/equipment.
type EquipmentRequest struct {
	WorkOrderId int64
	Equipment   Equipment
	Envelope
}

// TokenResponse is the OAuth server's answer.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
	Error       string `json:"error,omitempty"`
	ErrorDesc   string `json:"error_description,omitempty"`
}

// ErrorBody is CorrigoPro's error body (API.md §2.2).
type ErrorBody struct {
	Code             int
	Message          string
	ValidationErrors []ValidationError `json:",omitempty"`
	MessageId        string            `json:",omitempty"`
}
