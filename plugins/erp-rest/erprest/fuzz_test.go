package erprest

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/pkg/pluginapi/plugintest"
)

func FuzzParseCallback(f *testing.F) {
	for _, s := range []string{
		`{"job_id":"J-1","status":"done"}`, `{"job_id":12,"status":"x"}`, `{"data":{"job":{"id":"a","state":"b"}}}`,
		`[]`, `{}`, `null`, `{"job_id":{},"status":[]}`, `{"job_id":"` + strings.Repeat("x", 300) + `","status":"a"}`,
		`{"job_id":"J","status":"s"} trailing`, "\xff", `{"job_id":1e400,"status":"s"}`,
	} {
		f.Add([]byte(s))
	}
	paths := [][2]string{{"job_id", "status"}, {"data.job.id", "data.job.state"}, {"list.0", "list[1]"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, p := range paths {
			jp, _ := parseJSONPath(p[0])
			sp, _ := parseJSONPath(p[1])
			cb, err := ParseCallback(body, jp, sp)
			if err != nil {
				continue
			}
			if cb.JobID == "" || cb.Status == "" || len(cb.JobID) > 200 || len(cb.Status) > 200 {
				t.Fatalf("accepted %q: %+v", body, cb)
			}
			if !json.Valid(body) {
				t.Fatalf("accepted invalid JSON %q", body)
			}
		}
	})
}

// FuzzHandleInbound sends arbitrary bodies (validly signed or not) through
// the whole callback path with a real status map: the plugin must answer
// JSON with a known status and only valid actions, never panic.
func FuzzHandleInbound(f *testing.F) {
	cfg := map[string]any{
		"base_url":       "http://127.0.0.1:1",
		"create_body":    map[string]any{"t": "x"},
		"inbound_secret": "s",
		"status_map": map[string]any{
			"on_site": map[string]any{"action": "check_in", "actual_date": "${body.at}", "latitude": "${body.lat}", "longitude": "${body.lon}"},
			"done": []any{
				map[string]any{"action": "check_out", "repair_code": "${body.code}", "repair_code_id": "${body.code_id}"},
				map[string]any{"action": "invoice", "line_items": "${body.lines}", "tax_amount": "${body.tax}"},
			},
			"quoted": map[string]any{"action": "quote", "amount": "${body.amount}", "line_items": "${body.lines}"},
			"sched":  map[string]any{"action": "appointment", "scheduled_start": "${body.at}"},
			"msg":    map[string]any{"action": "message", "text": "${body.text}", "visibility": "${body.vis}"},
		},
	}
	applied, errs := Schema().Apply(cfg)
	if len(errs) > 0 {
		f.Fatal(errs)
	}
	p := New()
	host := plugintest.NewHost()
	if err := p.Configure(context.Background(), applied, host); err != nil {
		f.Fatal(err)
	}
	_ = host.KVPut(context.Background(), WorkOrderKey("J-1"), []byte(`{"account":"a","work_order_id":5}`))
	for _, s := range []string{
		`{"job_id":"J-1","status":"on_site","at":"2030-01-01T00:00:00Z","lat":1,"lon":2}`,
		`{"job_id":"J-1","status":"done","code":"X","code_id":3.5,"lines":[{"Rate":1,"Quantity":2}],"tax":"1"}`,
		`{"job_id":"J-1","status":"quoted","amount":-1}`,
		`{"job_id":"J-1","status":"quoted","lines":"nope"}`,
		`{"job_id":"J-1","status":"sched","at":1e30}`,
		`{"job_id":"J-1","status":"msg","text":{"a":1}}`,
		`{"job_id":"J-2","status":"done"}`,
	} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, sign bool) {
		h := http.Header{}
		if sign {
			h.Set("X-Signature", hex.EncodeToString(Sign("s", body)))
		}
		resp, acts, err := p.HandleInbound(context.Background(), inboundReq(body, h))
		if err != nil {
			t.Fatalf("error %v", err)
		}
		var out map[string]any
		if json.Unmarshal(resp.Body, &out) != nil {
			t.Fatalf("answer not JSON: %q", resp.Body)
		}
		switch resp.Status {
		case 200:
		case 400, 401, 404, 413, 422:
			if len(acts) > 0 {
				t.Fatalf("%d with actions", resp.Status)
			}
		default:
			t.Fatalf("status %d", resp.Status)
		}
		if !sign && resp.Status != 401 {
			t.Fatalf("unsigned callback answered %d", resp.Status)
		}
		for _, a := range acts {
			if err := a.Validate(); err != nil || a.WorkOrderID != 5 {
				t.Fatalf("bad action %+v: %v", a, err)
			}
			if _, err := json.Marshal(a); err != nil {
				t.Fatalf("action does not encode: %v", err)
			}
		}
	})
}

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"${wo.WorkOrderNumber}", "a${1+}b", "$${x}", "${", "${'}'}", "${ {'a': wo.Customer.Name}.a }", "${wo.Sla.DueDate}x${now}"} {
		f.Add(s)
	}
	env := sampleEnv()
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := compileString(s, JobEnv{}, true)
		if err != nil {
			return
		}
		_, _ = tp.render(env)
		bt, err := compileBody(map[string]any{"k": s, "l": []any{s}}, JobEnv{})
		if err != nil {
			t.Fatalf("string compiled but body did not: %v", err)
		}
		if v, err := bt.eval(env); err == nil {
			if _, err := json.Marshal(v); err != nil {
				t.Fatalf("body does not encode: %v", err)
			}
		}
	})
}

func inboundReq(body []byte, h http.Header) (r inboundRequest) {
	r.Method, r.Header, r.Body = http.MethodPost, h, body
	return r
}

type inboundRequest = pluginapi.InboundRequest
