package main

// End-to-end tests through real processes: the CorrigoPro sandbox (in
// this process, on loopback HTTP) sends webhooks to the gateway binary,
// which runs the erp-rest binary as its plugin; the plugin creates jobs in
// the fake ERP (loopback HTTP), and the fake ERP's status callbacks go to
// the gateway's /plugins/erp/inbound endpoint and back to the sandbox as
// CorrigoPro actions.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wogate/wogate/internal/testhttp"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
	"github.com/wogate/wogate/plugins/erp-rest/fakeerp"
)

var (
	binDir     string
	gatewayBin string
	pluginBin  string
	buildErr   error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "erp-rest-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	gatewayBin, pluginBin = filepath.Join(dir, "gateway"), filepath.Join(dir, "erp-rest")
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var buildOnce sync.Once

// build compiles the gateway and the plugin once per test binary.
func build(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() {
		// Both links run at once: linking dominates this package's time.
		goBin := filepath.Join(runtime.GOROOT(), "bin", "go") //nolint:staticcheck // SA1019: the toolchain that runs the test builds the binaries
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, b := range [][2]string{{gatewayBin, "github.com/wogate/wogate/cmd/gateway"}, {pluginBin, "github.com/wogate/wogate/plugins/erp-rest"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := exec.CommandContext(t.Context(), goBin, "build", "-o", b[0], b[1]).CombinedOutput()
				if err != nil {
					mu.Lock()
					buildErr = fmt.Errorf("go build %s: %w\n%s", b[1], err, out)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

const callbackSecret = "e2e-callback-secret-0123456789"

type e2e struct {
	t   *testing.T
	sb  *sandbox.Sandbox
	erp *fakeerp.Server
	url string // gateway base URL
	log *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// e2eOptions vary startE2E's world.
type e2eOptions struct {
	requireSite bool   // the fake ERP refuses jobs without a known site
	erpConfig   string // more lines of the erp plugin's config (6-space indent)
	createBody  string // more lines of its create_body (8-space indent)
	admin       string // admin.listen ("" off)
}

func startE2E(t *testing.T, opts ...e2eOptions) *e2e {
	t.Helper()
	build(t)
	var o e2eOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	sb, err := sandbox.New(sandbox.Options{TimeScale: 0.001})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	erp := fakeerp.New(fakeerp.Options{ScheduleAfter: 24 * time.Hour, RequireSite: o.requireSite})
	t.Cleanup(erp.Close)

	dir := t.TempDir()
	cert := filepath.Join(dir, "corrigo.pem")
	if err := os.WriteFile(cert, sb.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`listen: %s
data_dir: %s
corrigo:
  accounts:
    main:
      base_url: %s
      oauth_url: %s
      client_id: sandbox
      client_secret: sandbox-secret
      webhook: {certificate: "file:%s"}
      polling: {enabled: false}
plugins:
  erp:
    command: %s
    timeout: 10s
    inbound: {hmac_secret: %s, hmac_header: X-Signature}
    config:
      base_url: %s/api/v1
      timeout: 5s
      create_body:
        title: "${wo.WorkOrderNumber}: ${wo.AccompanyingMessage}"
        external_ref: "${wo.WorkOrderNumber}"
        customer: "${wo.Customer.Name}"
%s      create_id_path: data.job.id
      scheduled_path: data.job.scheduled_for
      conflict_id_path: existing_id
      accept_comment: "FieldFlow job ${job_id}"
      inbound_secret: %s
%s      status_map:
        on_site:
          action: check_in
          performed_by: "${body.technician}"
        done:
          - action: check_out
            comment: "${body.summary}"
            repair_code: "${body.repair_code}"
            repair_category: "${body.repair_category}"
          - action: invoice
            invoice_number: "${body.invoice_number}"
            line_items: "${map(body.lines, ({Type: .kind, Description: .desc, Quantity: .qty, Rate: .rate}))}"
rules:
  - name: new-work-to-erp
    when: event.Action == "NewWorkOrder"
    plugin: erp
delivery: {backoff_initial: 20ms, backoff_max: 200ms, max_attempts: 5}
admin: {listen: "%s"}
log: {level: debug}
`, addr, dir, sb.BaseURL(), sb.OAuthURL(), cert, pluginBin, callbackSecret, erp.URL(), o.createBody, callbackSecret, o.erpConfig, o.admin)
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cmd := exec.CommandContext(context.Background(), gatewayBin, "run", "--config", path)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			t.Logf("gateway exited: %v", err)
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("gateway did not stop within 30s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})
	e := &e2e{t: t, sb: sb, erp: erp, url: "http://" + addr, log: logs}
	e.waitFor("gateway /readyz", 30*time.Second, func() bool {
		select {
		case err := <-done:
			t.Fatalf("gateway exited: %v\n%s", err, logs.String())
		default:
		}
		res, err := testhttp.Get(t.Context(), e.url+"/readyz")
		if err != nil {
			return false
		}
		_ = res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	sb.SetWebhookURL(e.url + "/webhooks/corrigo/main")
	return e
}

func (e *e2e) waitFor(what string, limit time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *e2e) detail(id int64) sandbox.WorkOrderDetail {
	d, _ := e.sb.Detail(id)
	return d
}

// newWorkOrder dispatches a work order from Bluebird Restaurants (comment
// required on completion, backdating allowed, no tax validation) and waits
// until the ERP job exists and CorrigoPro shows it accepted.
func (e *e2e) newWorkOrder() (corrigo.WorkOrder, fakeerp.Job) {
	e.t.Helper()
	wo, err := e.sb.CreateWorkOrder(sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerBluebird, Type: corrigo.TypeRequest, Description: "Walk-in freezer not cooling"})
	if err != nil {
		e.t.Fatal(err)
	}
	var job fakeerp.Job
	e.waitFor("ERP job for "+wo.WorkOrderNumber, 20*time.Second, func() bool {
		for _, j := range e.erp.Jobs() {
			if j.ExternalRef == wo.WorkOrderNumber {
				job = j
				return true
			}
		}
		return false
	})
	e.waitFor("work order accepted", 20*time.Second, func() bool { return e.detail(wo.WorkOrderId).WorkOrder.Status == corrigo.StatusAccepted })
	return wo, job
}

func TestEndToEndCreateJobAndAccept(t *testing.T) {
	e := startE2E(t)
	wo, job := e.newWorkOrder()
	if job.Title != wo.WorkOrderNumber+": Walk-in freezer not cooling" || job.Body["customer"] != "Bluebird Restaurants" {
		t.Errorf("job = %+v", job)
	}
	d := e.detail(wo.WorkOrderId)
	var accepted bool
	for _, h := range d.History {
		if h.Action == "accept" {
			accepted = true
			if h.Comment != "FieldFlow job "+job.ID {
				t.Errorf("accept comment = %q", h.Comment)
			}
		}
	}
	if !accepted {
		t.Errorf("no accept in history: %+v", d.History)
	}
	e.waitFor("appointment from the ERP's schedule", 20*time.Second, func() bool {
		s := e.detail(wo.WorkOrderId).WorkOrder.Schedule
		return s != nil && !s.ScheduledStart.IsZero()
	})
	if n := len(e.erp.Jobs()); n != 1 {
		t.Errorf("ERP has %d jobs, want 1", n)
	}
}

func TestEndToEndCallbacksCheckInCheckOutInvoice(t *testing.T) {
	e := startE2E(t)
	wo, job := e.newWorkOrder()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	inbound := e.url + "/plugins/erp/inbound"

	st, body, err := e.erp.Callback(ctx, inbound, callbackSecret, job.ID, "on_site", map[string]any{"technician": "Jon Snow"})
	if err != nil {
		t.Fatal(err)
	}
	if st != http.StatusOK {
		t.Fatalf("on_site callback: %d %s", st, body)
	}
	e.waitFor("checked in", 20*time.Second, func() bool { return e.detail(wo.WorkOrderId).WorkOrder.Status == corrigo.StatusCheckedIn })

	st, body, err = e.erp.Callback(ctx, inbound, callbackSecret, job.ID, "done", map[string]any{
		"summary": "Defrosted and replaced the fan motor", "repair_code": "Replaced part", "repair_category": "HVAC",
		"invoice_number": "FF-" + job.ID,
		"lines": []any{
			map[string]any{"kind": "Labor", "desc": "HVAC technician (hour)", "qty": 2, "rate": 110},
			map[string]any{"kind": "Material", "desc": "Fan motor", "qty": 1, "rate": 145.5},
		},
	})
	if err != nil || st != http.StatusOK {
		t.Fatalf("done callback: %d %s %v", st, body, err)
	}
	defer func() {
		if t.Failed() {
			d := e.detail(wo.WorkOrderId)
			t.Logf("sandbox: status %s, invoice %+v", d.WorkOrder.Status, d.Invoice)
			for _, h := range d.History {
				t.Logf("history: %+v", h)
			}
			for _, u := range e.sb.UsageLog() {
				t.Logf("usage: %+v", u)
			}
		}
	}()
	e.waitFor("checked out and invoiced", 20*time.Second, func() bool {
		d := e.detail(wo.WorkOrderId)
		// A submitted invoice waits for the customer's verification.
		return d.WorkOrder.Status == corrigo.StatusCheckedOut &&
			(d.Invoice.Status == corrigo.InvoiceSubmitted || d.Invoice.Status == corrigo.InvoicePendingVerification)
	})
	d := e.detail(wo.WorkOrderId)
	var ops []string
	for _, h := range d.History {
		if h.Actor == "Provider" {
			ops = append(ops, h.Action)
		}
	}
	if got := strings.Join(ops, ","); got != "accept,appointmentInfo,checkIn,checkOut,invoiceUpdate,invoiceSubmit" {
		t.Errorf("provider calls = %s", got)
	}
	if d.Invoice.InvoiceNumber != "FF-"+job.ID || d.Invoice.TotalAmount != 365.5 || len(d.Invoice.LineItems) != 2 {
		t.Errorf("invoice = %+v", d.Invoice)
	}

	// A forged callback is refused and changes nothing.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, inbound, strings.NewReader(`{"job_id":"`+job.ID+`","status":"on_site"}`))
	req.Header.Set("X-Signature", "sha256=00")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged callback answered %d, want 401", res.StatusCode)
	}
}

// A work order at a location the ERP does not know, with unknown_location:
// park: erp-rest answers pluginapi.NeedsPerson, and the gateway parks the
// event (not dead, not retried) with the plugin's reason. A person adds the
// site to the ERP and reprocesses the dead letter through the admin API:
// the job is created at that site and the work order accepted, once.
func TestEndToEndUnknownSiteIsParkedForAPerson(t *testing.T) {
	adminAddr := freeAddr(t)
	e := startE2E(t, e2eOptions{
		requireSite: true,
		admin:       adminAddr,
		createBody:  "        site_id: \"${site_id}\"\n",
		erpConfig: "      site_key: \"${wo.ServiceLocation.SpaceId}\"\n" +
			"      site_lookup_path: \"/sites?ref=${site_key}\"\n" +
			"      site_lookup_id_path: data.0.id\n" +
			"      unknown_location: park\n",
	})
	wo, err := e.sb.CreateWorkOrder(sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerBluebird, Type: corrigo.TypeRequest, Description: "Walk-in freezer not cooling"})
	if err != nil {
		t.Fatal(err)
	}
	if wo.ServiceLocation == nil || wo.ServiceLocation.SpaceId == 0 {
		t.Fatalf("sandbox work order without a space: %+v", wo.ServiceLocation)
	}
	admin := "http://" + adminAddr
	var parked struct {
		Items []struct {
			Ref       string `json:"ref"`
			Status    string `json:"status"`
			Attempts  int    `json:"attempts"`
			LastError string `json:"last_error"`
		} `json:"items"`
	}
	e.waitFor("the event parked", 20*time.Second, func() bool {
		res, err := testhttp.Get(t.Context(), fmt.Sprintf("%s/api/v1/dead-letters?work_order=%d", admin, wo.WorkOrderId))
		if err != nil {
			return false
		}
		defer func() { _ = res.Body.Close() }()
		parked.Items = nil
		return json.NewDecoder(res.Body).Decode(&parked) == nil && len(parked.Items) == 1
	})
	p := parked.Items[0]
	want := fmt.Sprintf(`needs a person: work order %s (%d): the ERP has no site for "%d"`, wo.WorkOrderNumber, wo.WorkOrderId, wo.ServiceLocation.SpaceId)
	if p.Status != "parked" || p.Attempts != 1 || !strings.Contains(p.LastError, want) {
		t.Fatalf("dead letter = %+v, want parked after 1 attempt with %q", p, want)
	}
	if n := len(e.erp.Jobs()); n != 0 || e.detail(wo.WorkOrderId).WorkOrder.Status != corrigo.StatusNew {
		t.Fatalf("parked, yet the ERP has %d jobs and the work order is %s", n, e.detail(wo.WorkOrderId).WorkOrder.Status)
	}

	// A person adds the site and reprocesses the event.
	site := e.erp.AddSite(strconv.Itoa(wo.ServiceLocation.SpaceId), wo.ServiceLocation.SpaceName)
	res, err := testhttp.Post(t.Context(), admin+"/api/v1/dead-letters/"+strings.Replace(p.Ref, ":", "/", 1)+"/reprocess", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("reprocess %s: %d", p.Ref, res.StatusCode)
	}
	e.waitFor("work order accepted", 20*time.Second, func() bool { return e.detail(wo.WorkOrderId).WorkOrder.Status == corrigo.StatusAccepted })
	jobs := e.erp.Jobs()
	if len(jobs) != 1 || jobs[0].SiteID != site || jobs[0].ExternalRef != wo.WorkOrderNumber {
		t.Fatalf("ERP jobs = %+v, want one at site %s", jobs, site)
	}
}
