package erprest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/pkg/pluginapi/plugintest"
)

// erpAnswer is what the fuzzed ERP answers to every request.
type erpAnswer struct {
	status   int
	location string
	body     []byte
}

// FuzzERPAnswer runs HandleEvent (create the ERP job) against a real HTTP
// ERP on loopback that answers with a fuzzed status, Location header and
// body, with the job id read from the body (create_id_path) or the header
// (header:Location), through the 409 lookup too. The plugin must never
// panic; its actions are valid, for the event's work order only, and only
// accept, appointment or reject (reject only when the ERP refused the job
// with 400 or 422); an error answer (not 2xx or 409) gives no action. A
// job id it records is one a callback can name: ParseCallback reads the
// same id back from {"job_id": id}, and the reverse mapping points to the
// work order.
func FuzzERPAnswer(f *testing.F) {
	for _, s := range []struct {
		status   int
		location string
		body     string
	}{
		{201, "", `{"data":{"job":{"id":"J-1","scheduled_for":"2030-01-02T09:00:00Z"}}}`},
		{201, "", `{"data":{"job":{"id":12345678901234567890}}}`},
		{201, "/api/v1/jobs/J-9", ``},
		{201, "https://erp.example/jobs/J%2F7/", `null`},
		{201, "", `{"data":{"job":{"id":" J-2 "}}}`},
		{201, "", `{"data":{"job":{"id":"   "}}}`},
		{201, "", `{"data":{"job":{"id":true,"scheduled_for":"not a date"}}}`},
		{200, "", `{"data":{"job":{"id":{"nested":1}}}}`},
		{409, "", `{"existing_id":"J-3"}`},
		{409, "", `{"data":[{"id":"J-4"}]}`},
		{422, "", `{"error":{"message":"customer unknown"}}`},
		{400, "", `<html>bad</html>`},
		{503, "", `{}`},
		{429, "", ``},
		{201, "", `{"data":{"job":{"id":"J-5"}}} trailing`},
		{201, "", "\xff\xfe"},
	} {
		f.Add(uint16(s.status), s.location, []byte(s.body), s.location != "", uint8(0))
	}
	f.Add(uint16(422), "", []byte(`{"error":{"message":"no"}}`), false, uint8(1))
	var mu sync.Mutex
	var ans erpAnswer
	erp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		a := ans
		mu.Unlock()
		if a.location != "" {
			w.Header().Set("Location", a.location)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		_, _ = w.Write(a.body)
	}))
	f.Cleanup(erp.Close)
	configs := map[bool]map[string]any{}
	for _, header := range []bool{false, true} {
		cfg := map[string]any{
			"base_url":           erp.URL + "/api/v1",
			"timeout":            "2s",
			"create_body":        map[string]any{"ref": "${wo.WorkOrderNumber}"},
			"create_id_path":     "data.job.id",
			"scheduled_path":     "data.job.scheduled_for",
			"conflict_id_path":   "existing_id",
			"lookup_path":        "/jobs?ref=${wo.WorkOrderNumber}",
			"lookup_id_path":     "data.0.id",
			"accept_comment":     "ERP job ${job_id}",
			"reject_reason_path": "error.message",
		}
		if header {
			cfg["create_id_path"] = "header:Location"
		}
		configs[header] = cfg
	}
	jobID, status := jsonPath{"job_id"}, jsonPath{"status"}
	f.Fuzz(func(t *testing.T, code uint16, location string, body []byte, header bool, onValidation uint8) {
		st := int(code)
		if st < 200 || st > 599 {
			st = 200 + st%400
		}
		a := erpAnswer{status: st, location: location, body: body}
		mu.Lock()
		ans = a
		mu.Unlock()
		cfg := configs[header]
		if onValidation%2 == 1 {
			cfg = withKey(cfg, "on_validation_error", "reject")
		}
		applied, errs := Schema().Apply(cfg)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		p := New()
		host := plugintest.NewHost()
		if err := p.Configure(context.Background(), applied, host); err != nil {
			t.Fatal(err)
		}
		wo := corrigo.WorkOrder{WorkOrderId: 42, WorkOrderNumber: "WO-42", Status: corrigo.StatusNew, Type: corrigo.TypeRequest}
		acts, err := p.HandleEvent(context.Background(), plugintest.NewWorkOrderEvent("acme", wo))
		if err != nil && len(acts) > 0 {
			t.Fatalf("error and actions: %v %+v", err, acts)
		}
		okAnswer := a.status/100 == 2 || a.status == http.StatusConflict
		for _, act := range acts {
			if verr := act.Validate(); verr != nil || act.WorkOrderID != 42 {
				t.Fatalf("bad action %+v: %v", act, verr)
			}
			switch act.Kind {
			case pluginapi.KindAccept, pluginapi.KindAppointment:
				if !okAnswer {
					t.Fatalf("ERP answered %d, yet %s", a.status, act.Kind)
				}
			case pluginapi.KindReject:
				if a.status != 400 && a.status != 422 {
					t.Fatalf("reject after %d", a.status)
				}
			default:
				t.Fatalf("unexpected action %s", act.Kind)
			}
			if _, err := json.Marshal(act); err != nil {
				t.Fatalf("action does not encode: %v", err)
			}
		}
		rec, ok, err := (&jobRun{p: p, host: host}).loadJob(context.Background(), JobKey("acme", 42))
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		if !okAnswer {
			t.Fatalf("a job %q recorded after %d", rec.JobID, a.status)
		}
		cbBody, _ := json.Marshal(map[string]string{"job_id": rec.JobID, "status": "x"})
		cb, err := ParseCallback(cbBody, jobID, status)
		if err != nil || cb.JobID != rec.JobID {
			t.Fatalf("recorded job id %q cannot be named by a callback: %v", rec.JobID, err)
		}
		wb, found, _ := host.KVGet(context.Background(), WorkOrderKey(rec.JobID))
		var back woRecord
		if !found || json.Unmarshal(wb, &back) != nil || back.WorkOrderID != 42 || back.Account != "acme" {
			t.Fatalf("job %q does not map back to the work order: %q", rec.JobID, wb)
		}
	})
}

// withKey returns a copy of cfg with k set to v.
func withKey(cfg map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(cfg)+1)
	for key, val := range cfg {
		out[key] = val
	}
	out[k] = v
	return out
}
