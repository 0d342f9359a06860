package corrigo

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// TestEndpoints checks every endpoint's method, path, query and body shape
// against a recording server, and that each answer is decoded.
func TestEndpoints(t *testing.T) {
	type result = any
	tests := []struct {
		name    string
		call    func(ctx context.Context, c *Client) (result, error)
		method  string
		path    string
		query   url.Values     // expected query without messageId
		body    map[string]any // expected top-level body fields (subset)
		respond string         // JSON answer
		want    result
		wantWO  int64 // Exchange.WorkOrderID
	}{
		{
			name:   "customers",
			call:   func(ctx context.Context, c *Client) (result, error) { return c.Customers(ctx) },
			method: "GET", path: "api/customers", query: url.Values{},
			respond: `{"Customers":[{"BranchIds":[101138,101470],"Id":100160,"Name":"APAC Demo"}],"MessageId":"x"}`,
			want:    []Customer{{Id: 100160, Name: "APAC Demo", BranchIds: []int64{101138, 101470}}},
		},
		{
			name:   "customer settings",
			call:   func(ctx context.Context, c *Client) (result, error) { return c.CustomerSettings(ctx, 90256) },
			method: "GET", path: "api/customerSettings", query: url.Values{"customerId": {"90256"}},
			respond: `{"Settings":{"CustomerId":90256,"RepairInfoRequired":true}}`,
			want:    &CustomerSettings{CustomerId: 90256, RepairInfoRequired: true},
		},
		{
			name: "search",
			call: func(ctx context.Context, c *Client) (result, error) {
				return c.SearchWorkOrders(ctx, SearchParameters{Statuses: []Status{StatusNew}, CustomerId: "90256"})
			},
			method: "POST", path: "api/workOrder/search",
			body:    map[string]any{"Parameters": map[string]any{"Statuses": []any{"New"}, "CustomerId": "90256"}},
			respond: `{"WorkOrders":[{"WorkOrderId":42,"WorkOrderNumber":"WN1","Status":"New"}]}`,
			want:    []WorkOrderSummary{{WorkOrderId: 42, WorkOrderNumber: "WN1", Status: StatusNew}},
		},
		{
			name:   "get work orders",
			call:   func(ctx context.Context, c *Client) (result, error) { return c.GetWorkOrders(ctx, []int64{1, 2}) },
			method: "GET", path: "api/workOrder", query: url.Values{"ids": {"1", "2"}},
			respond: `{"WorkOrders":[{"WorkOrderId":1,"IsPreBilled":false},{"WorkOrderId":2,"IsPreBilled":true}]}`,
			want:    []WorkOrder{{WorkOrderId: 1}, {WorkOrderId: 2, IsPreBilled: true}},
		},
		{
			name:   "get work order",
			call:   func(ctx context.Context, c *Client) (result, error) { return c.GetWorkOrder(ctx, 42) },
			method: "GET", path: "api/workOrder", query: url.Values{"ids": {"42"}},
			respond: `{"WorkOrders":[{"WorkOrderId":42,"WorkOrderNumber":"WN73243","IsPreBilled":false}]}`,
			want:    &WorkOrder{WorkOrderId: 42, WorkOrderNumber: "WN73243"}, wantWO: 42,
		},
		{
			name: "accept",
			call: func(ctx context.Context, c *Client) (result, error) {
				return nil, c.Accept(ctx, AcceptRequest{WorkOrderId: 42, Comment: "on it"})
			},
			method: "PUT", path: "api/workOrder/accept",
			body: map[string]any{"WorkOrderId": 42.0, "Comment": "on it"}, wantWO: 42,
		},
		{
			name: "reject",
			call: func(ctx context.Context, c *Client) (result, error) {
				return nil, c.Reject(ctx, RejectRequest{WorkOrderId: 42, Comment: "not our trade"})
			},
			method: "PUT", path: "api/workOrder/reject",
			body: map[string]any{"WorkOrderId": 42.0, "Comment": "not our trade"}, wantWO: 42,
		},
		{
			name: "check in",
			call: func(ctx context.Context, c *Client) (result, error) {
				return nil, c.CheckIn(ctx, CheckInRequest{WorkOrderId: 42, Location: &GeoLocation{Latitude: 1.5, Longitude: -2}})
			},
			method: "PUT", path: "api/workOrder/checkIn",
			body: map[string]any{"WorkOrderId": 42.0, "Location": map[string]any{"Latitude": 1.5, "Longitude": -2.0}}, wantWO: 42,
		},
		{
			name: "pause",
			call: func(ctx context.Context, c *Client) (result, error) {
				return nil, c.Pause(ctx, PauseRequest{WorkOrderId: 42})
			},
			method: "PUT", path: "api/workOrder/pause", body: map[string]any{"WorkOrderId": 42.0}, wantWO: 42,
		},
		{
			name: "check out",
			call: func(ctx context.Context, c *Client) (result, error) {
				return nil, c.CheckOut(ctx, CheckOutRequest{ActionRequest: ActionRequest{WorkOrderId: 42, Comment: "done"}, RepairInfo: &RepairInfo{CodeId: 3}})
			},
			method: "PUT", path: "api/workOrder/checkOut",
			body: map[string]any{"WorkOrderId": 42.0, "Comment": "done", "RepairInfo": map[string]any{"CodeId": 3.0}}, wantWO: 42,
		},
		{
			name: "work done details",
			call: func(ctx context.Context, c *Client) (result, error) {
				return nil, c.WorkDoneDetails(ctx, WorkDoneDetailsRequest{ActionRequest: ActionRequest{WorkOrderId: 42}, CustomFields: []CustomField{{Id: 1, Value: "Yes"}}})
			},
			method: "PUT", path: "api/workOrder/workDoneDetails",
			body: map[string]any{"WorkOrderId": 42.0, "CustomFields": []any{map[string]any{"Id": 1.0, "Value": "Yes"}}}, wantWO: 42,
		},
		{
			name: "quote submit",
			call: func(ctx context.Context, c *Client) (result, error) {
				return nil, c.SubmitQuote(ctx, QuoteSubmitRequest{WorkOrderId: 42, Amount: 250.5, Comment: "parts"})
			},
			method: "PUT", path: "api/workOrder/quoteSubmit",
			body: map[string]any{"WorkOrderId": 42.0, "Amount": 250.5, "Comment": "parts"}, wantWO: 42,
		},
		{
			name: "appointment info",
			call: func(ctx context.Context, c *Client) (result, error) {
				return nil, c.SetAppointmentInfo(ctx, AppointmentInfoRequest{WorkOrderId: 42, Appointment: Appointment{Pte: "CallFirst"}})
			},
			method: "PUT", path: "api/workOrder/appointmentInfo",
			body: map[string]any{"WorkOrderId": 42.0, "Appointment": map[string]any{"Pte": "CallFirst"}}, wantWO: 42,
		},
		{
			name: "note",
			call: func(ctx context.Context, c *Client) (result, error) {
				return nil, c.AddNote(ctx, NoteRequest{WorkOrderId: 42, InternalNote: "gate code 1234", PerformedBy: &Person{Name: "Ann", Phone: "555"}})
			},
			method: "PUT", path: "api/workOrder/note",
			body: map[string]any{"WorkOrderId": 42.0, "InternalNote": "gate code 1234", "PerformedBy": map[string]any{"Name": "Ann", "Phone": "555"}}, wantWO: 42,
		},
		{
			name:   "note history",
			call:   func(ctx context.Context, c *Client) (result, error) { return c.NoteHistory(ctx, 42) },
			method: "GET", path: "api/workOrder/noteHistory", query: url.Values{"workOrderId": {"42"}},
			respond: `{"NoteHistory":[{"InternalNote":"a"}]}`,
			want:    []NoteHistoryEntry{{InternalNote: "a"}}, wantWO: 42,
		},
		{
			name: "reopen",
			call: func(ctx context.Context, c *Client) (result, error) {
				return nil, c.Reopen(ctx, ReopenRequest{WorkOrderId: 42})
			},
			method: "PUT", path: "api/workOrder/reopen", body: map[string]any{"WorkOrderId": 42.0}, wantWO: 42,
		},
		{
			name: "additional field",
			call: func(ctx context.Context, c *Client) (result, error) {
				return nil, c.SetAdditionalField(ctx, AdditionalFieldRequest{WorkOrderId: 42, AdditionalField: AdditionalField{AdditionalField: 5, Value: "v"}})
			},
			method: "PUT", path: "api/workOrder/additionalField",
			body: map[string]any{"WorkOrderId": 42.0, "AdditionalField": map[string]any{"AdditionalField": 5.0, "Value": "v"}}, wantWO: 42,
		},
		{
			name:   "additional field history",
			call:   func(ctx context.Context, c *Client) (result, error) { return c.AdditionalFieldHistory(ctx, 42, 5) },
			method: "GET", path: "api/workOrder/AdditionalFieldHistory", query: url.Values{"workOrderId": {"42"}, "additionalFieldId": {"5"}},
			respond: `{"AdditionalFieldHistory":[{"Value":"old","UpdatedBy":"Bob"}]}`,
			want:    []AdditionalFieldHistoryEntry{{Value: "old", UpdatedBy: "Bob"}}, wantWO: 42,
		},
		{
			name:   "ism settings",
			call:   func(ctx context.Context, c *Client) (result, error) { return c.IsmSettings(ctx, 42) },
			method: "GET", path: "api/workOrder/IsmSettings", query: url.Values{"workOrderId": {"42"}},
			respond: `{"Enabled":true}`,
			want:    json.RawMessage(`{"Enabled":true}`), wantWO: 42,
		},
		{
			name:   "invoice get",
			call:   func(ctx context.Context, c *Client) (result, error) { return c.GetInvoice(ctx, 42) },
			method: "GET", path: "api/invoice", query: url.Values{"workOrderId": {"42"}},
			respond: `{"Invoice":{"WorkOrderId":42,"TotalAmount":99.5,"IsPreBilled":false}}`,
			want:    &Invoice{WorkOrderId: 42, TotalAmount: 99.5}, wantWO: 42,
		},
		{
			name: "invoice update",
			call: func(ctx context.Context, c *Client) (result, error) {
				return c.UpdateInvoice(ctx, Invoice{WorkOrderId: 42, InvoiceNumber: "INV-1", LineItems: []LineItem{{Id: 0, Type: LineItemLabor, Quantity: 1.5, Rate: 80}}})
			},
			method: "PUT", path: "api/invoice",
			body:    map[string]any{"Invoice": map[string]any{"WorkOrderId": 42.0, "InvoiceNumber": "INV-1"}},
			respond: `{"Invoice":{"WorkOrderId":42,"InvoiceNumber":"INV-1","TotalAmount":120,"IsPreBilled":false}}`,
			want:    &Invoice{WorkOrderId: 42, InvoiceNumber: "INV-1", TotalAmount: 120}, wantWO: 42,
		},
		{
			name: "invoice submit",
			call: func(ctx context.Context, c *Client) (result, error) {
				return nil, c.SubmitInvoice(ctx, InvoiceSubmitRequest{WorkOrderId: 42, SubmitAnyway: true})
			},
			method: "PUT", path: "api/invoice/submit",
			body: map[string]any{"WorkOrderId": 42.0, "SubmitAnyway": true}, wantWO: 42,
		},
		{
			name:   "price list",
			call:   func(ctx context.Context, c *Client) (result, error) { return c.PriceList(ctx, 42) },
			method: "GET", path: "api/invoice/pricelist", query: url.Values{"workOrderId": {"42"}},
			respond: `{"PriceList":[{"Id":1,"Description":"Trip charge","Rate":75}]}`,
			want:    []PriceListItem{{Id: 1, Description: "Trip charge", Rate: 75}}, wantWO: 42,
		},
		{
			name:   "invoice attachments",
			call:   func(ctx context.Context, c *Client) (result, error) { return c.InvoiceAttachments(ctx, 42) },
			method: "GET", path: "api/invoice/attachments", query: url.Values{"workOrderId": {"42"}},
			respond: `{"Attachments":[{"AttachmentId":"inv-a"}]}`,
			want:    []Attachment{{AttachmentId: "inv-a"}}, wantWO: 42,
		},
		{
			name:   "messages",
			call:   func(ctx context.Context, c *Client) (result, error) { return c.Messages(ctx, 42) },
			method: "GET", path: "api/messages", query: url.Values{"workOrderId": {"42"}},
			respond: `{"Messages":[{"Text":"hello","MessageVisibility":"All"}]}`,
			want:    []TextMessage{{Text: "hello", MessageVisibility: "All"}}, wantWO: 42,
		},
		{
			name: "post message",
			call: func(ctx context.Context, c *Client) (result, error) {
				return nil, c.PostMessage(ctx, PostMessageRequest{WorkOrderId: 42, Text: "ETA 3pm", MessageVisibility: "All"})
			},
			method: "POST", path: "api/messages",
			body: map[string]any{"WorkOrderId": 42.0, "Text": "ETA 3pm", "MessageVisibility": "All"}, wantWO: 42,
		},
		{
			name:   "attachments",
			call:   func(ctx context.Context, c *Client) (result, error) { return c.Attachments(ctx, 42) },
			method: "GET", path: "api/attachments", query: url.Values{"workOrderId": {"42"}},
			respond: `{"Attachments":[{"AttachmentId":"a1","Name":"p.jpg","Size":10}]}`,
			want:    []Attachment{{AttachmentId: "a1", Name: "p.jpg", Size: 10}}, wantWO: 42,
		},
		{
			name:   "attachment download url",
			call:   func(ctx context.Context, c *Client) (result, error) { return c.AttachmentDownloadURL(ctx, "a1") },
			method: "GET", path: "api/attachments/downloadUrl", query: url.Values{"attachmentId": {"a1"}},
			respond: `{"Url":"https://files.example/a1"}`,
			want:    "https://files.example/a1",
		},
		{
			name:   "associates",
			call:   func(ctx context.Context, c *Client) (result, error) { return c.Associates(ctx, 500478) },
			method: "GET", path: "api/associates", query: url.Values{"branchId": {"500478"}},
			respond: `{"Associates":[{"Id":9,"Name":"Tech","Category":"CruMember"}]}`,
			want:    []Associate{{Id: 9, Name: "Tech", Category: "CruMember"}},
		},
		{
			name: "bulk accept",
			call: func(ctx context.Context, c *Client) (result, error) {
				return c.BulkAccept(ctx, BulkActionRequest{WorkOrderIds: []int64{1, 2}})
			},
			method: "PUT", path: "api/bulk/accept",
			body:    map[string]any{"WorkOrderIds": []any{1.0, 2.0}},
			respond: `[{"WorkOrderId":1},{"WorkOrderId":2,"Code":3001,"Message":"bad state"}]`,
			want:    []BulkResult{{WorkOrderId: 1}, {WorkOrderId: 2, Code: 3001, Message: "bad state"}},
		},
		{
			name: "bulk reject",
			call: func(ctx context.Context, c *Client) (result, error) {
				return c.BulkReject(ctx, BulkActionRequest{WorkOrderIds: []int64{3}, Comment: "no"})
			},
			method: "PUT", path: "api/bulk/reject",
			body:    map[string]any{"WorkOrderIds": []any{3.0}, "Comment": "no"},
			respond: `[{"WorkOrderId":3}]`,
			want:    []BulkResult{{WorkOrderId: 3}},
		},
		{
			name: "bulk assign",
			call: func(ctx context.Context, c *Client) (result, error) {
				return c.BulkAssign(ctx, BulkAssignRequest{WorkOrderIds: []int64{3}, AssociateIds: []int64{9}})
			},
			method: "PUT", path: "api/bulk/assign",
			body:    map[string]any{"WorkOrderIds": []any{3.0}, "AssociateIds": []any{9.0}},
			respond: `[{"WorkOrderId":3}]`,
			want:    []BulkResult{{WorkOrderId: 3}},
		},
		{
			name: "bulk unassign",
			call: func(ctx context.Context, c *Client) (result, error) {
				return c.BulkUnassign(ctx, BulkAssignRequest{WorkOrderIds: []int64{3}, AssociateIds: []int64{9}})
			},
			method: "PUT", path: "api/bulk/unassign",
			body:    map[string]any{"WorkOrderIds": []any{3.0}, "AssociateIds": []any{9.0}},
			respond: `[]`,
			want:    []BulkResult{},
		},
		{
			name:   "procedures",
			call:   func(ctx context.Context, c *Client) (result, error) { return c.Procedures(ctx, 42) },
			method: "GET", path: "api/procedure", query: url.Values{"workOrderId": {"42"}},
			respond: `{"Procedures":[{"Id":1,"Name":"Filter change","AllowMarkNotApplicable":false}]}`,
			want:    []Procedure{{Id: 1, Name: "Filter change"}}, wantWO: 42,
		},
		{
			name:   "procedure steps",
			call:   func(ctx context.Context, c *Client) (result, error) { return c.ProcedureSteps(ctx, 42, 1) },
			method: "GET", path: "api/procedure/step", query: url.Values{"workOrderId": {"42"}, "procedureId": {"1"}},
			respond: `{"Steps":[{"Id":7,"Status":"Open","IsRequired":true}]}`,
			want:    []StepDescriptor{{Id: 7, Status: "Open", IsRequired: true}}, wantWO: 42,
		},
		{
			name: "update procedure step",
			call: func(ctx context.Context, c *Client) (result, error) {
				return nil, c.UpdateProcedureStep(ctx, StepUpdateRequest{WorkOrderId: 42, ProcedureId: 1, Step: Step{Id: 7, Status: "Done"}})
			},
			method: "PUT", path: "api/procedure/step",
			body: map[string]any{"WorkOrderId": 42.0, "ProcedureId": 1.0, "Step": map[string]any{"Id": 7.0, "Status": "Done"}}, wantWO: 42,
		},
		{
			name:   "equipment",
			call:   func(ctx context.Context, c *Client) (result, error) { return c.Equipment(ctx, 42) },
			method: "GET", path: "api/equipment", query: url.Values{"workOrderId": {"42"}},
			respond: `{"Equipment":[{"Id":3,"Type":"Existing","EquipmentAssetId":77}]}`,
			want:    []Equipment{{Id: 3, Type: "Existing", EquipmentAssetId: 77}}, wantWO: 42,
		},
		{
			name:   "available equipment",
			call:   func(ctx context.Context, c *Client) (result, error) { return c.AvailableEquipment(ctx, 42) },
			method: "GET", path: "api/equipment/available", query: url.Values{"workOrderId": {"42"}},
			respond: `{"Equipment":[{"EquipmentAssetId":78,"Name":"RTU-2"}]}`,
			want:    []Equipment{{EquipmentAssetId: 78, Name: "RTU-2"}}, wantWO: 42,
		},
		{
			name: "add equipment",
			call: func(ctx context.Context, c *Client) (result, error) {
				return nil, c.AddEquipment(ctx, EquipmentRequest{WorkOrderId: 42, Equipment: Equipment{Type: "Existing", EquipmentAssetId: 78}})
			},
			method: "POST", path: "api/equipment",
			body: map[string]any{"WorkOrderId": 42.0, "Equipment": map[string]any{"Type": "Existing", "EquipmentAssetId": 78.0}}, wantWO: 42,
		},
		{
			name:   "equipment history",
			call:   func(ctx context.Context, c *Client) (result, error) { return c.EquipmentHistory(ctx, 42) },
			method: "GET", path: "api/equipment/history", query: url.Values{"workOrderId": {"42"}},
			respond: `[{"Attribute":"x"}]`,
			want:    json.RawMessage(`[{"Attribute":"x"}]`), wantWO: 42,
		},
		{
			name:   "health",
			call:   func(ctx context.Context, c *Client) (result, error) { return nil, c.Health(ctx) },
			method: "GET", path: "api/health", query: url.Values{},
		},
		{
			name:   "heartbeat",
			call:   func(ctx context.Context, c *Client) (result, error) { return nil, c.Heartbeat(ctx) },
			method: "GET", path: "api/heartbeat", query: url.Values{},
		},
		{
			name: "update attachment",
			call: func(ctx context.Context, c *Client) (result, error) {
				return nil, c.UpdateAttachment(ctx, AttachmentUpdateRequest{WorkOrderId: 42, AttachmentId: "a-1", MessageVisibility: "CruOnly"})
			},
			method: "PUT", path: "api/attachments",
			body: map[string]any{"WorkOrderId": 42.0, "AttachmentId": "a-1", "MessageVisibility": "CruOnly"}, wantWO: 42,
		},
		{
			name: "delete attachment",
			call: func(ctx context.Context, c *Client) (result, error) {
				return nil, c.DeleteAttachment(ctx, AttachmentDeleteRequest{WorkOrderId: 42, AttachmentId: "a-1"})
			},
			method: "DELETE", path: "api/attachments",
			body: map[string]any{"WorkOrderId": 42.0, "AttachmentId": "a-1"}, wantWO: 42,
		},
		{
			name: "update equipment",
			call: func(ctx context.Context, c *Client) (result, error) {
				return nil, c.UpdateEquipment(ctx, EquipmentRequest{WorkOrderId: 42, Equipment: Equipment{Id: 3, SerialNumber: "SN-9"}})
			},
			method: "PUT", path: "api/equipment",
			body: map[string]any{"WorkOrderId": 42.0, "Equipment": map[string]any{"Id": 3.0, "SerialNumber": "SN-9"}}, wantWO: 42,
		},
		{
			name: "delete equipment",
			call: func(ctx context.Context, c *Client) (result, error) {
				return nil, c.DeleteEquipment(ctx, EquipmentRequest{WorkOrderId: 42, Equipment: Equipment{Id: 3}})
			},
			method: "DELETE", path: "api/equipment",
			body: map[string]any{"WorkOrderId": 42.0, "Equipment": map[string]any{"Id": 3.0}}, wantWO: 42,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newClientFake(t)
			respond := tt.respond
			if respond == "" {
				respond = `{"MessageId":"echo"}`
			}
			f.setHandler(respondJSON(200, respond))
			var seen []Exchange
			c := f.client(func(cfg *Config) { cfg.Observer = func(e Exchange) { seen = append(seen, e) } })
			got, err := tt.call(context.Background(), c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tt.method || r.Path != tt.path {
				t.Fatalf("sent %s %s, want %s %s", r.Method, r.Path, tt.method, tt.path)
			}
			if got := r.Header.Get("Accept"); got != "application/json" {
				t.Errorf("Accept = %q", got)
			}
			if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer tok-") {
				t.Errorf("Authorization = %q", r.Header.Get("Authorization"))
			}
			var mid string
			if tt.method == http.MethodGet {
				mid = r.Query.Get("messageId")
				q := url.Values{}
				for k, v := range r.Query {
					if k != "messageId" {
						q[k] = v
					}
				}
				if !reflect.DeepEqual(q, tt.query) {
					t.Errorf("query = %v, want %v", q, tt.query)
				}
				if len(r.Body) != 0 {
					t.Errorf("GET carries a body: %s", r.Body)
				}
				if ct := r.Header.Get("Content-Type"); ct != "" {
					t.Errorf("GET carries Content-Type %q", ct)
				}
			} else {
				if ct := r.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q, want application/json", ct)
				}
				if len(r.Query) != 0 {
					t.Errorf("%s carries a query: %v", r.Method, r.Query)
				}
				m := bodyMap(t, r.Body)
				mid, _ = m["MessageId"].(string)
				for k, want := range tt.body {
					if !reflect.DeepEqual(subset(m[k], want), want) {
						t.Errorf("body %s = %#v, want %#v (body %s)", k, m[k], want, r.Body)
					}
				}
			}
			if mid == "" {
				t.Errorf("no MessageId sent")
			}
			if tt.want != nil && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("result = %#v, want %#v", got, tt.want)
			}
			var api []Exchange
			for _, e := range seen {
				if strings.Contains(e.URL, "/Direct/") {
					api = append(api, e)
				}
			}
			if len(api) != 1 || api[0].MessageID != mid || api[0].Status != 200 || api[0].WorkOrderID != tt.wantWO || api[0].Method != tt.method {
				t.Errorf("observed %+v, want one exchange with MessageID %s and WorkOrderID %d", api, mid, tt.wantWO)
			}
			if tt.method != http.MethodGet && string(api[0].RequestBody) != string(r.Body) {
				t.Errorf("observed request body %s, sent %s", api[0].RequestBody, r.Body)
			}
		})
	}
}

// subset keeps only the keys of got that want has, recursively, so a test
// can name the fields it cares about.
func subset(got, want any) any {
	gm, ok1 := got.(map[string]any)
	wm, ok2 := want.(map[string]any)
	if !ok1 || !ok2 {
		return got
	}
	out := map[string]any{}
	for k, wv := range wm {
		if gv, ok := gm[k]; ok {
			out[k] = subset(gv, wv)
		}
	}
	return out
}
