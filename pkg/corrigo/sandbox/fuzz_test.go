package sandbox_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// fuzzSandbox is shared by the fuzz targets' iterations: the handler is
// called in-process, so no port is needed.
func fuzzSandbox(f *testing.F) (*sandbox.Sandbox, string) {
	sb, err := sandbox.New(sandbox.Options{Key: testKey, CertificatePEM: testCertPEM, SeedWorkOrders: 10, UsageLogSize: 100})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = sb.Close() })
	tok, err := sb.IssueToken("x", "", 0)
	if err != nil {
		f.Fatal(err)
	}
	// Only OAuth-issued tokens are accepted: get one through the handler.
	req := httptest.NewRequestWithContext(f.Context(), "POST", "/OAuth/Token", strings.NewReader("grant_type=client_credentials&client_id=sandbox&client_secret=sandbox-secret"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	sb.Handler().ServeHTTP(rec, req)
	var tr corrigo.TokenResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil || tr.AccessToken == "" {
		f.Fatalf("token: %s %v (%s)", rec.Body, err, tok)
	}
	return sb, tr.AccessToken
}

// FuzzAPIBody sends arbitrary JSON bodies to every body-bearing endpoint.
// Whatever the body, the answer is a JSON object or array, never a 500 (the
// Content-Type is right), and the sandbox keeps working.
func FuzzAPIBody(f *testing.F) {
	sb, tok := fuzzSandbox(f)
	routes := []string{
		"POST workOrder/search", "PUT workOrder/accept", "PUT workOrder/reject", "PUT workOrder/checkIn",
		"PUT workOrder/pause", "PUT workOrder/checkOut", "PUT workOrder/workDoneDetails", "PUT workOrder/quoteSubmit",
		"PUT workOrder/appointmentInfo", "PUT workOrder/note", "PUT workOrder/reopen", "PUT invoice", "PUT invoice/submit",
		"POST messages", "PUT bulk/accept", "PUT bulk/reject", "PUT bulk/assign", "PUT bulk/unassign",
		"PUT procedure/step", "POST equipment", "PUT workOrder/additionalField",
		"PUT attachments", "DELETE attachments", "PUT equipment", "DELETE equipment",
	}
	seeds := []string{
		`{"Parameters":{"Created":{"From":"2018-03-26T18:01:24.000Z","To":"2018-03-26T18:01:29.000Z"},"Statuses":["New"]},"MessageId":"m"}`,
		`{"WorkOrderId":10001,"Comment":"x","MessageId":"m"}`,
		`{"WorkOrderId":10002,"RepairInfo":{"CodeId":11},"CustomFields":[{"Id":501,"Value":"Technician"}],"Procedures":[{"Id":1,"Steps":[{"Id":2,"Status":"Done"}]}]}`,
		`{"Invoice":{"WorkOrderId":10003,"LineItems":[{"Id":0,"Type":"Tax","Quantity":1,"Rate":5},{"Id":9,"Type":"Tax"}]}}`,
		`{"WorkOrderIds":[10001,10002,0,-1],"AssociateIds":[7001],"Comment":"c"}`,
		`{"WorkOrderId":10004,"ProcedureId":300001,"Step":{"Id":5000021,"Status":"NA","Currency":"usd"}}`,
		`{"WorkOrderId":10005,"Equipment":{"Type":"Existing","EquipmentAssetId":41101}}`,
		`{"WorkOrderId":10005,"Equipment":{"Id":7,"SerialNumber":"x"}}`,
		`{"WorkOrderId":10006,"AttachmentId":"00000000-0000-0000-0000-000000000000","Name":"a.jpg"}`,
		`{"WorkOrderId":1e30}`, `[]`, `null`, `"x"`, `{"WorkOrderId":"10001"}`, `{`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	h := sb.Handler()
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		method, path, _ := strings.Cut(routes[int(route)%len(routes)], " ")
		req := httptest.NewRequestWithContext(t.Context(), method, "/Direct/api/"+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusInternalServerError {
			t.Fatalf("%s %s with %q: 500 %s", method, path, body, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s: answer is not JSON: %q", method, path, rec.Body)
		}
		if rec.Code == http.StatusBadRequest {
			var eb corrigo.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Code < 2000 {
				t.Fatalf("%s %s: 400 without an error code: %s", method, path, rec.Body)
			}
		}
	})
}

// FuzzAPIQuery sends arbitrary query strings to the GET endpoints.
func FuzzAPIQuery(f *testing.F) {
	sb, tok := fuzzSandbox(f)
	paths := []string{"workOrder", "customerSettings", "invoice", "invoice/pricelist", "messages", "attachments",
		"attachments/downloadUrl", "associates", "procedure", "procedure/step", "equipment", "equipment/available",
		"workOrder/noteHistory"}
	for i, q := range []string{"ids=10001&ids=10002", "ids[0]=10001&ids[1]=x", "ids=1,2,3", "customerId=90256", "workOrderId=10001&procedureId=300001",
		"branchId=500478", "attachmentId=abc", "workOrderId=-1", "WORKORDERID=10002", "ids=" + strings.Repeat("1,", 60), "%zz"} {
		f.Add(uint8(i), q)
	}
	h := sb.Handler()
	f.Fuzz(func(t *testing.T, p uint8, query string) {
		req, err := http.NewRequestWithContext(t.Context(), "GET", "http://sandbox/Direct/api/"+paths[int(p)%len(paths)], nil)
		if err != nil {
			t.Skip()
		}
		req.URL.RawQuery = query
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 || !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("GET %s?%s: %d %q", req.URL.Path, query, rec.Code, rec.Body)
		}
	})
}

// FuzzUpload sends arbitrary multipart bodies to POST api/attachments.
func FuzzUpload(f *testing.F) {
	sb, tok := fuzzSandbox(f)
	f.Add("b1", []byte("--b1\r\nContent-Disposition: form-data; name=\"WorkOrderId\"\r\n\r\n10001\r\n--b1\r\nContent-Disposition: form-data; name=\"Name\"\r\n\r\na.txt\r\n--b1\r\nContent-Disposition: form-data; name=\"MimeType\"\r\n\r\ntext/plain\r\n--b1\r\nContent-Disposition: form-data; name=\"File\"; filename=\"a.txt\"\r\n\r\nhello\r\n--b1--\r\n"))
	f.Add("b2", []byte("--b2\r\n\r\n--b2--"))
	f.Add("", []byte("not multipart"))
	h := sb.Handler()
	f.Fuzz(func(t *testing.T, boundary string, body []byte) {
		req := httptest.NewRequestWithContext(t.Context(), "POST", "/Direct/api/attachments", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "multipart/form-data; boundary=\""+strings.ReplaceAll(boundary, "\"", "")+"\"")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 || !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("upload: %d %q", rec.Code, rec.Body)
		}
	})
}
