package erprest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/pkg/pluginapi/plugintest"
	"github.com/wogate/wogate/plugins/erp-rest/erprest"
	"github.com/wogate/wogate/plugins/erp-rest/fakeerp"
)

func TestCreateJobAcceptsAndRecords(t *testing.T) {
	erp := fakeerp.New(fakeerp.Options{})
	defer erp.Close()
	c := start(t, baseConfig(erp))
	acts := mustHandle(t, c, workOrder(501, "WO-501"))
	if kinds(acts) != "accept" || acts[0].Comment != "ERP job J-1001" || acts[0].WorkOrderID != 501 {
		t.Fatalf("actions = %+v", acts)
	}
	jobs := erp.Jobs()
	if len(jobs) != 1 {
		t.Fatalf("jobs = %+v", jobs)
	}
	b := jobs[0].Body
	want := map[string]any{
		"title": `WO-501: Leaking tap in "staff" kitchen`, "external_ref": "WO-501", "priority": float64(3),
		"due": "2030-05-01T17:00:00Z", "nte": float64(450), "source": "corrigo",
	}
	for k, v := range want {
		if b[k] != v {
			t.Errorf("body[%s] = %#v, want %#v", k, b[k], v)
		}
	}
	if cust, _ := b["customer"].(map[string]any); cust["name"] != "Blue Bottle Stores" || cust["id"] != float64(7) {
		t.Errorf("body.customer = %#v", b["customer"])
	}
	if tags, _ := b["tags"].([]any); len(tags) != 2 || tags[1] != account {
		t.Errorf("body.tags = %#v", b["tags"])
	}
	if got := jobs[0].IdempotencyKey; got != "wogate-acme-501" {
		t.Errorf("Idempotency-Key = %q", got)
	}
	kv := c.Host.KV()
	var rec map[string]any
	if err := json.Unmarshal(kv[erprest.JobKey(account, 501)], &rec); err != nil || rec["job_id"] != "J-1001" {
		t.Errorf("job record = %s (%v)", kv[erprest.JobKey(account, 501)], err)
	}
	if got := string(kv[erprest.WorkOrderKey("J-1001")]); got != `{"account":"acme","work_order_id":501}` {
		t.Errorf("wo record = %s", got)
	}
}

func TestOtherEventsAreIgnored(t *testing.T) {
	erp := fakeerp.New(fakeerp.Options{})
	defer erp.Close()
	c := start(t, baseConfig(erp))
	ev := plugintestEvent(account, workOrder(9, "WO-9"))
	ev.Header.Action = "CheckedIn"
	acts, err := c.HandleEvent(ctxT(t), ev)
	if err != nil || len(acts) != 0 || len(erp.Requests()) != 0 {
		t.Fatalf("acts=%v err=%v requests=%d", acts, err, len(erp.Requests()))
	}
}

func TestFetchesWorkOrderWhenEventHasNone(t *testing.T) {
	erp := fakeerp.New(fakeerp.Options{})
	defer erp.Close()
	c := start(t, baseConfig(erp))
	wo := workOrder(77, "WO-77")
	c.Host.AddWorkOrder(account, wo)
	ev := plugintestEvent(account, wo)
	ev.WorkOrder = nil
	acts, err := c.HandleEvent(ctxT(t), ev)
	if err != nil || kinds(acts) != "accept" {
		t.Fatalf("acts=%v err=%v", acts, err)
	}
	ev.Header.WorkOrderId = 78 // unknown to CorrigoPro
	_, err = c.HandleEvent(ctxT(t), ev)
	wantErr(t, err, false, "not found")
}

func TestScheduleGivesAppointment(t *testing.T) {
	now := time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)
	erp := fakeerp.New(fakeerp.Options{ScheduleAfter: 26 * time.Hour, Now: func() time.Time { return now }})
	defer erp.Close()
	c := start(t, with(baseConfig(erp), "accept_requires_schedule", true, "appointment_pte", "CallFirst"))
	acts := mustHandle(t, c, workOrder(1, "WO-1"))
	if kinds(acts) != "accept,appointment" {
		t.Fatalf("actions = %s", kinds(acts))
	}
	ap := acts[1].Appointment
	if !ap.ScheduledStart.Equal(now.Add(26*time.Hour)) || ap.Pte != "CallFirst" {
		t.Errorf("appointment = %+v", ap)
	}
}

func TestAcceptWaitsForSchedule(t *testing.T) {
	erp := fakeerp.New(fakeerp.Options{}) // never schedules
	defer erp.Close()
	c := start(t, with(baseConfig(erp), "accept_requires_schedule", true))
	if acts := mustHandle(t, c, workOrder(1, "WO-1")); len(acts) != 0 {
		t.Fatalf("actions = %+v, want none until the ERP schedules", acts)
	}
	c2 := start(t, with(baseConfig(erp), "accept", false))
	if acts := mustHandle(t, c2, workOrder(2, "WO-2")); len(acts) != 0 {
		t.Fatalf("accept: false gave %+v", acts)
	}
}

func TestRedeliveryCreatesNoSecondJob(t *testing.T) {
	erp := fakeerp.New(fakeerp.Options{})
	defer erp.Close()
	c := start(t, baseConfig(erp))
	wo := workOrder(501, "WO-501")
	first := mustHandle(t, c, wo)
	second := mustHandle(t, c, wo) // same work order, e.g. webhook then poll
	if kinds(first) != kinds(second) || first[0].Comment != second[0].Comment {
		t.Errorf("first %+v, second %+v", first, second)
	}
	if n := countRequests(erp, http.MethodPost, "/api/v1/jobs"); n != 1 {
		t.Errorf("create requests = %d, want 1 (the second event is answered from the key-value store)", n)
	}
}

// TestCrashBetweenCreateAndRecord loses the key-value write right after
// the ERP created the job (as if the plugin died there). The redelivered
// event must find the job through the ERP's duplicate detection, not
// create a second one.
func TestCrashBetweenCreateAndRecord(t *testing.T) {
	cases := []struct {
		name string
		opts fakeerp.Options
		cfg  func(map[string]any) map[string]any
		// lookups is how many GETs the recovery needs.
		lookups int
	}{
		{name: "409 carries id", lookups: 0},
		{name: "409 without id, lookup", opts: fakeerp.Options{HideConflictID: true}, lookups: 1},
		{name: "no idempotency key, external ref", opts: fakeerp.Options{IgnoreIdempotencyKey: true}, lookups: 0},
		{name: "idempotency header off", cfg: func(m map[string]any) map[string]any { return with(m, "idempotency_header", "") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &clientRef{}
			tc.opts.OnCreate = func(fakeerp.Job) {
				if c.fail {
					c.c.Host.FailWith(pluginapi.RetryLater(errString("store unavailable")))
				}
			}
			erp := fakeerp.New(tc.opts)
			defer erp.Close()
			cfg := baseConfig(erp)
			if tc.cfg != nil {
				cfg = tc.cfg(cfg)
			}
			c.c = start(t, cfg)
			c.fail = true
			wo := workOrder(501, "WO-501")
			_, err := handle(t, c.c, wo)
			wantErr(t, err, true, "store unavailable")
			c.fail = false
			c.c.Host.FailWith(nil)
			if len(erp.Jobs()) != 1 || len(c.c.Host.KV()) != 0 {
				t.Fatalf("after the crash: jobs=%d kv=%v", len(erp.Jobs()), c.c.Host.KV())
			}
			acts := mustHandle(t, c.c, wo)
			if kinds(acts) != "accept" || acts[0].Comment != "ERP job J-1001" {
				t.Fatalf("actions after redelivery = %+v", acts)
			}
			if n := len(erp.Jobs()); n != 1 {
				t.Fatalf("ERP has %d jobs, want 1", n)
			}
			if n := countRequests(erp, http.MethodGet, "/api/v1/jobs"); n != tc.lookups {
				t.Errorf("lookups = %d, want %d", n, tc.lookups)
			}
			if string(c.c.Host.KV()[erprest.WorkOrderKey("J-1001")]) == "" {
				t.Error("job not recorded after recovery")
			}
		})
	}
}

type clientRef struct {
	c    *pluginClient
	fail bool
}

func TestConflictWithoutIDOrLookupIsPermanent(t *testing.T) {
	erp := fakeerp.New(fakeerp.Options{HideConflictID: true})
	defer erp.Close()
	erp.AddSite("x", "x")
	c := start(t, with(baseConfig(erp), "lookup_path", nil))
	c2 := start(t, baseConfig(erp))
	mustHandle(t, c2, workOrder(5, "WO-5")) // created through another instance
	_, err := handle(t, c, workOrder(5, "WO-5"))
	wantErr(t, err, false, "lookup_path is not set")
}

func TestValidationErrors(t *testing.T) {
	erp := fakeerp.New(fakeerp.Options{})
	defer erp.Close()
	cfg := baseConfig(erp)
	body := cfg["create_body"].(map[string]any)
	noTitle := map[string]any{"external_ref": body["external_ref"]}

	// By default a refusal parks the event for a person, with the ERP's
	// reason, and sends nothing to CorrigoPro.
	c := start(t, with(cfg, "create_body", noTitle))
	acts, err := handle(t, c, workOrder(1, "WO-1"))
	if len(acts) != 0 {
		t.Fatalf("a refused job sent actions by default: %+v", acts)
	}
	pe := pluginapi.AsError(err)
	if pe == nil || !pe.NeedsPerson || pe.Retryable {
		t.Fatalf("default refusal = %v (%+v), want a needs-a-person error", err, pe)
	}
	for _, want := range []string{erprest.ParkError, "WO-1", "(422)", "title is required", "reprocess"} {
		if !strings.Contains(pe.Message, want) {
			t.Errorf("park reason %q lacks %q", pe.Message, want)
		}
	}
	if len(c.Host.KV()) != 0 {
		t.Errorf("a refused job was recorded: %v", c.Host.KV())
	}

	// reject only when the config says so.
	c = start(t, with(cfg, "create_body", noTitle, "on_validation_error", "reject"))
	acts = mustHandle(t, c, workOrder(3, "WO-3"))
	if kinds(acts) != "reject" || acts[0].Comment != "ERP refused the job: title is required" {
		t.Fatalf("actions = %+v", acts)
	}
	if len(c.Host.KV()) != 0 {
		t.Errorf("a refused job was recorded: %v", c.Host.KV())
	}

	c = start(t, with(cfg, "create_body", noTitle, "on_validation_error", "fail", "reject_reason_path", "errors.0"))
	_, err = handle(t, c, workOrder(2, "WO-2"))
	wantErr(t, err, false, `ERP answered 422: {"field":"title","message":"title is required"}`)
}

func TestRetryableAndPermanentFailures(t *testing.T) {
	for _, st := range []int{500, 502, 503, 429, 401} {
		t.Run(http.StatusText(st), func(t *testing.T) {
			erp := fakeerp.New(fakeerp.Options{})
			defer erp.Close()
			c := start(t, baseConfig(erp))
			erp.FailNext(st)
			_, err := handle(t, c, workOrder(1, "WO-1"))
			wantErr(t, err, true, "ERP answered")
			// The gateway's redelivery then succeeds, creating one job.
			if acts := mustHandle(t, c, workOrder(1, "WO-1")); kinds(acts) != "accept" || len(erp.Jobs()) != 1 {
				t.Fatalf("after recovery: %+v, jobs %d", acts, len(erp.Jobs()))
			}
		})
	}
	t.Run("slow", func(t *testing.T) {
		erp := fakeerp.New(fakeerp.Options{})
		defer erp.Close()
		c := start(t, with(baseConfig(erp), "timeout", "100ms"))
		erp.SetDelay(time.Second)
		_, err := handle(t, c, workOrder(1, "WO-1"))
		wantErr(t, err, true, "slower than timeout")
	})
	t.Run("down", func(t *testing.T) {
		erp := fakeerp.New(fakeerp.Options{})
		c := start(t, baseConfig(erp))
		erp.Close()
		_, err := handle(t, c, workOrder(1, "WO-1"))
		wantErr(t, err, true, "create job: POST")
	})
	t.Run("wrong path", func(t *testing.T) {
		erp := fakeerp.New(fakeerp.Options{})
		defer erp.Close()
		c := start(t, with(baseConfig(erp), "create_path", "/job"))
		_, err := handle(t, c, workOrder(1, "WO-1"))
		wantErr(t, err, false, "ERP answered 404")
	})
	t.Run("no id in answer", func(t *testing.T) {
		erp := fakeerp.New(fakeerp.Options{})
		defer erp.Close()
		c := start(t, with(baseConfig(erp), "create_id_path", "data.id"))
		_, err := handle(t, c, workOrder(1, "WO-1"))
		wantErr(t, err, false, `create_id_path: response has no value at "data.id"`)
	})
	t.Run("template fails at run time", func(t *testing.T) {
		erp := fakeerp.New(fakeerp.Options{})
		defer erp.Close()
		c := start(t, with(baseConfig(erp), "create_body", map[string]any{"x": map[string]any{"y": "${1 / len(wo.WorkOrderNumber) > 0 ? wo.Contact.FullName : ''}"}}))
		_, err := handle(t, c, workOrder(1, "WO-1")) // no Contact
		wantErr(t, err, false, "create_body: x.y:")
	})
	t.Run("host down", func(t *testing.T) {
		erp := fakeerp.New(fakeerp.Options{})
		defer erp.Close()
		c := start(t, baseConfig(erp))
		c.Host.FailWith(pluginapi.RetryLater(errString("gateway restarting")))
		_, err := handle(t, c, workOrder(1, "WO-1"))
		wantErr(t, err, true, "gateway restarting")
		if len(erp.Requests()) != 0 {
			t.Error("the ERP was called although the plugin could not check for an existing job")
		}
	})
}

type errString string

func (e errString) Error() string { return string(e) }

func TestPathEscaping(t *testing.T) {
	erp := fakeerp.New(fakeerp.Options{HideConflictID: true})
	defer erp.Close()
	c := start(t, baseConfig(erp))
	wo := workOrder(1, "WO 1/&x=y")
	mustHandle(t, c, wo)
	c2 := start(t, baseConfig(erp)) // empty KV: will meet the 409 and look up
	acts := mustHandle(t, c2, wo)
	if kinds(acts) != "accept" {
		t.Fatalf("actions = %+v", acts)
	}
	var q string
	for _, r := range erp.Requests() {
		if r.Method == http.MethodGet {
			q = r.Query
		}
	}
	if q != "external_ref=WO+1%2F%26x%3Dy" {
		t.Errorf("lookup query = %q", q)
	}
	if !strings.HasPrefix(acts[0].Comment, "ERP job J-") {
		t.Errorf("comment = %q", acts[0].Comment)
	}
}

func TestIDFromLocationHeader(t *testing.T) {
	erp := fakeerp.New(fakeerp.Options{LocationOnly: true})
	defer erp.Close()
	c := start(t, with(baseConfig(erp), "create_id_path", "header:Location"))
	acts := mustHandle(t, c, workOrder(1, "WO-1"))
	if kinds(acts) != "accept" || acts[0].Comment != "ERP job J-1001" {
		t.Fatalf("actions = %+v", acts)
	}
	c2 := start(t, with(baseConfig(erp), "create_id_path", "header:X-Job-Id"))
	_, err := handle(t, c2, workOrder(2, "WO-2"))
	wantErr(t, err, false, "answer has no X-Job-Id header")
}

// A replayed event (gateway replay --with-plugins) creates no job: it is
// answered from the recorded job when there is one, else with nothing.
func TestReplayCreatesNoJob(t *testing.T) {
	erp := fakeerp.New(fakeerp.Options{})
	defer erp.Close()
	c := start(t, baseConfig(erp))
	replayed := func(wo corrigo.WorkOrder) []pluginapi.Action {
		t.Helper()
		ev := plugintest.NewWorkOrderEvent(account, wo)
		ev.Replay = true
		acts, err := c.HandleEvent(ctxT(t), ev)
		if err != nil {
			t.Fatalf("HandleEvent: %v", err)
		}
		return acts
	}
	if acts := replayed(workOrder(601, "WO-601")); len(acts) != 0 {
		t.Fatalf("replay of a work order without a job: actions %+v", acts)
	}
	if n := countRequests(erp, http.MethodPost, "/api/v1/jobs"); n != 0 || len(c.Host.KV()) != 0 {
		t.Fatalf("replay created %d jobs, wrote %d keys", n, len(c.Host.KV()))
	}
	first := mustHandle(t, c, workOrder(602, "WO-602"))
	again := replayed(workOrder(602, "WO-602"))
	if kinds(again) != "accept" || again[0].Comment != first[0].Comment {
		t.Fatalf("replay of a work order with a job: %+v, want %+v", again, first)
	}
	if n := countRequests(erp, http.MethodPost, "/api/v1/jobs"); n != 1 {
		t.Fatalf("create requests = %d, want 1", n)
	}
}
