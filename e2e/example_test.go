package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wogate/wogate/internal/testhttp"
	"github.com/wogate/wogate/pkg/core/admin"
	"github.com/wogate/wogate/pkg/corrigo"
)

// TestExampleConfig runs examples/config.yaml as shipped — the real gateway
// binary, the real erp-rest and csv-export plugins and the real demo ERP —
// so the README's promise for `make run` cannot rot: an emergency becomes a
// job in the ERP and is Accepted in CorrigoPro, a routine work order lands
// in the CSV, and an ERP that refuses the job parks the event with the
// ERP's reason in the timeline and leaves the customer's work order alone.
//
// The file itself is not copied or edited. Only what two tests on one
// machine cannot share is overridden, with the WOGATE_ environment
// variables an operator would use: the three listen addresses, data_dir,
// the CSV directory, the ERP's base_url (the demo ERP's port) and the two
// plugin commands (built by the test rather than by `make build`), and
// sandbox.auto_create (off, so the test creates the work orders it checks).
func TestExampleConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: skipped in -short")
	}
	bins := buildExampleBinaries(t)

	t.Run("emergency accepted, routine in the CSV", func(t *testing.T) {
		ex := startExample(t, bins, false)
		emergency := ex.createWorkOrder("EMERGENCY")
		routine := ex.createWorkOrder("LOW")

		ex.waitFor("the emergency Accepted in the sandbox", 30*time.Second, func() bool {
			return ex.status(emergency.WorkOrderId) == corrigo.StatusAccepted
		})
		// The accept reached CorrigoPro as a PUT (this also proves the
		// usage-log query the refusal subtest relies on finds actions).
		var put bool
		for _, u := range ex.usage(emergency.WorkOrderId) {
			put = put || (u.Direction == "Inbound" && u.Method == http.MethodPut)
		}
		if !put {
			t.Errorf("the sandbox's usage log shows no PUT for the accepted work order: %+v", ex.usage(emergency.WorkOrderId))
		}
		jobs := ex.erpJobs(emergency.WorkOrderNumber)
		if len(jobs) != 1 {
			t.Fatalf("demo ERP has %d jobs for %s, want 1: %+v", len(jobs), emergency.WorkOrderNumber, jobs)
		}
		// The README: every work order lands as a row in the CSV, the
		// emergency too (everything-to-csv has no stop before it).
		ex.waitFor("both work orders in the CSV", 30*time.Second, func() bool {
			csv := ex.csv()
			return strings.Contains(csv, routine.WorkOrderNumber) && strings.Contains(csv, emergency.WorkOrderNumber)
		})
		if st := ex.status(routine.WorkOrderId); st != corrigo.StatusNew {
			t.Errorf("routine work order is %s, want it left New (only emergencies go to the ERP)", st)
		}
		if n := len(ex.erpJobs(routine.WorkOrderNumber)); n != 0 {
			t.Errorf("demo ERP has %d jobs for the routine work order, want 0", n)
		}
		// The work order list answers from what the gateway stored and
		// logged: the emergency Accepted by the accept it sent (CorrigoPro
		// sends no webhook for that), the routine one still New as its
		// NewWorkOrder said, each with its number and customer.
		wos := ex.workOrders()
		for _, c := range []struct {
			wo                 corrigo.WorkOrder
			status, lastAction string
		}{{emergency, "Accepted", "accept"}, {routine, "New", ""}} {
			var got *admin.WorkOrderView
			for i := range wos.Items {
				if wos.Items[i].WorkOrderID == c.wo.WorkOrderId {
					got = &wos.Items[i]
				}
			}
			switch {
			case got == nil:
				t.Errorf("work order %d is not in the list: %+v", c.wo.WorkOrderId, wos)
			case got.Status != c.status || got.Number != c.wo.WorkOrderNumber || got.Customer == "" || got.DeadLetters != 0:
				t.Errorf("work order %d: %+v, want status %s, number %s, a customer", c.wo.WorkOrderId, got, c.status, c.wo.WorkOrderNumber)
			// The erp plugin answers accept and appointment: the status
			// comes from the accept, the last action is the appointment.
			case c.lastAction != "" && (got.LastAction == nil || got.LastAction.Status != "sent" || !strings.HasPrefix(got.StatusFrom, "action:")):
				t.Errorf("work order %d: last action %+v, status from %s", c.wo.WorkOrderId, got.LastAction, got.StatusFrom)
			}
		}
		// Nobody can act through the plugins' inbound paths as shipped:
		// the exact forgery of issue 11, and an unsigned ERP callback,
		// find no route and change nothing in CorrigoPro.
		forged := fmt.Sprintf("work_order_id,action,comment\n%d,reject,forged\n", routine.WorkOrderId)
		for _, req := range []struct{ path, ctype, body string }{
			{"/plugins/csv/inbound/inbox?name=x.csv", "text/csv", forged},
			{"/plugins/csv/inbound/scan", "text/plain", ""},
			{"/plugins/erp/inbound", "application/json", fmt.Sprintf(`{"job_id":%q,"status":"done"}`, jobs[0]["id"])},
		} {
			resp, err := testhttp.Post(t.Context(), fmt.Sprintf("http://127.0.0.1:%d%s", ex.port, req.path), req.ctype, strings.NewReader(req.body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("unauthenticated POST %s: %d %s, want 404", req.path, resp.StatusCode, b)
			}
		}
		// The admin listener (loopback, no token, as shipped) refuses what
		// a web page in the operator's browser can send: issue 11's
		// cross-site simple POST, and a DNS-rebinding Host.
		adminURL := fmt.Sprintf("http://127.0.0.1:%d/api/v1/dead-letters/reprocess", ex.adminPort)
		for _, c := range []struct {
			name, host, origin, ctype string
			want                      int
		}{
			{"cross-site simple POST", "", "http://evil.example", "", http.StatusForbidden},
			{"not JSON", "", "", "text/plain", http.StatusUnsupportedMediaType},
			{"DNS rebinding", "evil.example", "", "application/json", http.StatusMisdirectedRequest},
			{"curl with JSON", "", "", "application/json", http.StatusOK},
		} {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, adminURL, strings.NewReader(`{"filter":{}}`))
			if c.host != "" {
				req.Host = c.host
			}
			if c.origin != "" {
				req.Header.Set("Origin", c.origin)
			}
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("admin %s: %d %s, want %d", c.name, resp.StatusCode, b, c.want)
			}
		}

		// The gateway stores actions before it answers, so after the 404s
		// nothing can be on its way; the work orders are as they were.
		if st := ex.status(routine.WorkOrderId); st != corrigo.StatusNew {
			t.Errorf("routine work order is %s after the forged inbound CSV, want New", st)
		}
		if st := ex.status(emergency.WorkOrderId); st != corrigo.StatusAccepted {
			t.Errorf("emergency is %s after the unsigned ERP callback, want Accepted", st)
		}
		for _, u := range ex.usage(routine.WorkOrderId) {
			if u.Direction == "Inbound" && u.Method == http.MethodPut {
				t.Errorf("CorrigoPro got %s %s for the routine work order", u.Method, u.Path)
			}
		}
		ex.stop()
	})

	t.Run("refused ERP job parked, work order untouched", func(t *testing.T) {
		ex := startExample(t, bins, true) // the demo ERP refuses every job without a site (422)
		wo := ex.createWorkOrder("EMERGENCY")

		const reason = `unknown site \"\"`
		var tl admin.Timeline
		ex.waitFor("the event parked with the ERP's reason in the timeline", 30*time.Second, func() bool {
			tl = ex.timeline(wo.WorkOrderId)
			for _, e := range tl.Entries {
				if e.Status == "parked" && strings.Contains(e.Detail, "the ERP refused the job (422)") && strings.Contains(e.Detail, `unknown site`) {
					return true
				}
			}
			return false
		})
		page := ex.adminGet(fmt.Sprintf("/ui/work-orders?id=%d&account=main", wo.WorkOrderId))
		if !strings.Contains(html.UnescapeString(page), "the ERP refused the job (422): "+strings.ReplaceAll(reason, `\"`, `"`)) {
			t.Errorf("the UI timeline does not show the ERP's reason:\n%s", page)
		}
		if st := ex.status(wo.WorkOrderId); st != corrigo.StatusNew {
			t.Errorf("work order is %s after the ERP refused the job, want New", st)
		}
		// The work order list marks it parked.
		var listed bool
		for _, w := range ex.workOrders().Items {
			if w.WorkOrderID == wo.WorkOrderId {
				listed = true
				if !w.Parked || w.DeadLetters != 1 || w.Status != "New" || !strings.Contains(w.LastEvent.LastError, "unknown site") {
					t.Errorf("parked work order in the list: %+v", w)
				}
			}
		}
		if !listed {
			t.Errorf("parked work order %d is not in the list", wo.WorkOrderId)
		}
		// Nothing but reads reached CorrigoPro for this work order: no
		// reject, no accept, no note. The sandbox is embedded in the
		// gateway, so its usage log is read before the gateway stops.
		for _, u := range ex.usage(wo.WorkOrderId) {
			if u.Direction == "Inbound" && u.Method != http.MethodGet && !strings.Contains(strings.ToLower(u.Path), "search") {
				t.Errorf("CorrigoPro got %s %s for the refused work order", u.Method, u.Path)
			}
		}
	})
}

type exampleBins struct{ gateway, erpRest, csvExport, demoERP string }

func buildExampleBinaries(t *testing.T) exampleBins {
	t.Helper()
	dir := t.TempDir()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file))
	b := exampleBins{gateway: gatewayBin, erpRest: filepath.Join(dir, "erp-rest"), csvExport: filepath.Join(dir, "csv-export"), demoERP: filepath.Join(dir, "demo-erp")}
	for out, pkg := range map[string]string{b.erpRest: "./plugins/erp-rest", b.csvExport: "./plugins/csv-export", b.demoERP: "./plugins/erp-rest/demo-erp"} {
		cmd := exec.CommandContext(t.Context(), filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", out, pkg) //nolint:staticcheck // SA1019: the toolchain that runs the test builds the binaries
		cmd.Dir = root
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, o)
		}
	}
	return b
}

// example is one run of examples/config.yaml beside a demo ERP.
type example struct {
	t                       *testing.T
	port, adminPort, sbPort int
	erpURL, outDir          string
	log                     *syncBuffer
	gw                      *exec.Cmd
	gwDone                  chan error
}

func startExample(t *testing.T, b exampleBins, requireSite bool) *example {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	config := filepath.Join(filepath.Dir(filepath.Dir(file)), "examples", "config.yaml")
	dir := t.TempDir()
	ex := &example{t: t, port: freePort(t), adminPort: freePort(t), sbPort: freePort(t), outDir: filepath.Join(dir, "out"), log: &syncBuffer{}}

	// The demo ERP first, as make run does: wait for its "listening" line.
	erpPort := freePort(t)
	args := []string{"-listen", fmt.Sprintf("127.0.0.1:%d", erpPort)}
	if requireSite {
		args = append(args, "-require-site")
	}
	erp := exec.CommandContext(context.Background(), b.demoERP, args...)
	stderr, err := erp.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := erp.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = erp.Process.Signal(syscall.SIGTERM); _ = erp.Wait() })
	line, err := bufio.NewReader(stderr).ReadString('\n')
	if err != nil || !strings.Contains(line, "listening") {
		t.Fatalf("demo ERP did not start: %q %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	ex.erpURL = fmt.Sprintf("http://127.0.0.1:%d/api/v1", erpPort)

	gw := exec.CommandContext(context.Background(), b.gateway, "run", "--config", config)
	gw.Env = append(os.Environ(),
		fmt.Sprintf("WOGATE_LISTEN=127.0.0.1:%d", ex.port),
		fmt.Sprintf("WOGATE_ADMIN__LISTEN=127.0.0.1:%d", ex.adminPort),
		fmt.Sprintf("WOGATE_SANDBOX__LISTEN=127.0.0.1:%d", ex.sbPort),
		"WOGATE_SANDBOX__AUTO_CREATE=0s",
		"WOGATE_DATA_DIR="+filepath.Join(dir, "data"),
		"WOGATE_PLUGINS__CSV__CONFIG__DIR="+ex.outDir,
		"WOGATE_PLUGINS__ERP__CONFIG__BASE_URL="+ex.erpURL,
		"WOGATE_PLUGINS__ERP__COMMAND="+b.erpRest,
		"WOGATE_PLUGINS__CSV__COMMAND="+b.csvExport,
	)
	gw.Stdout, gw.Stderr = ex.log, ex.log
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	ex.gw, ex.gwDone = gw, make(chan error, 1)
	go func() { ex.gwDone <- gw.Wait() }()
	t.Cleanup(func() {
		ex.stop()
		if t.Failed() {
			t.Logf("gateway log:\n%s", ex.log.String())
		}
	})
	ex.waitFor("gateway ready", 30*time.Second, func() bool {
		select {
		case err := <-ex.gwDone:
			t.Fatalf("gateway exited before it was ready: %v\n%s", err, ex.log.String())
		default:
		}
		resp, err := testhttp.Get(t.Context(), fmt.Sprintf("http://127.0.0.1:%d/readyz", ex.port))
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return ex
}

func (ex *example) stop() {
	if ex.gw == nil {
		return
	}
	gw := ex.gw
	ex.gw = nil
	_ = gw.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-ex.gwDone:
		if err != nil {
			ex.t.Errorf("gateway exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		_ = gw.Process.Kill()
		ex.t.Errorf("gateway did not stop within 30s of SIGTERM")
	}
}

func (ex *example) waitFor(what string, d time.Duration, cond func() bool) {
	ex.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			ex.t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// getJSON GETs url and decodes a 200 answer into out.
func (ex *example) getJSON(url string, hdr http.Header, out any) {
	ex.t.Helper()
	req, err := http.NewRequestWithContext(ex.t.Context(), http.MethodGet, url, nil)
	if err != nil {
		ex.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ex.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		ex.t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		ex.t.Fatalf("GET %s: %v: %s", url, err, body)
	}
}

func (ex *example) sandboxURL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", ex.sbPort, path)
}

func (ex *example) createWorkOrder(priority string) corrigo.WorkOrder {
	ex.t.Helper()
	body := fmt.Sprintf(`{"Count":1,"Spec":{"Type":"Request","Priority":%q}}`, priority)
	resp, err := testhttp.Post(ex.t.Context(), ex.sandboxURL("/_sandbox/workorders"), "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		ex.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out struct{ WorkOrders []corrigo.WorkOrder }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.WorkOrders) != 1 {
		ex.t.Fatalf("create work order: %d %v %+v", resp.StatusCode, err, out)
	}
	wo := out.WorkOrders[0]
	if emergency := wo.Sla != nil && wo.Sla.IsEmergency; emergency != (priority == "EMERGENCY") {
		ex.t.Fatalf("sandbox made a %s work order with IsEmergency %v", priority, emergency)
	}
	return wo
}

func (ex *example) status(id int64) corrigo.Status {
	var out struct{ WorkOrder corrigo.WorkOrder }
	ex.getJSON(ex.sandboxURL(fmt.Sprintf("/_sandbox/workorders/%d", id)), nil, &out)
	return out.WorkOrder.Status
}

func (ex *example) usage(id int64) []struct{ Direction, Method, Path string } {
	var out struct {
		Entries []struct{ Direction, Method, Path string }
	}
	ex.getJSON(ex.sandboxURL(fmt.Sprintf("/_sandbox/usage-log?workOrderId=%d&limit=1000", id)), nil, &out)
	return out.Entries
}

func (ex *example) erpJobs(ref string) []map[string]any {
	var out struct{ Data []map[string]any }
	ex.getJSON(ex.erpURL+"/jobs?external_ref="+ref, http.Header{"Authorization": {"Bearer dev-token"}}, &out)
	return out.Data
}

// csv is every CSV file the csv-export plugin wrote, concatenated.
func (ex *example) csv() string {
	var all strings.Builder
	files, _ := filepath.Glob(filepath.Join(ex.outDir, "*.csv"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		all.Write(b)
	}
	return all.String()
}

func (ex *example) timeline(id int64) admin.Timeline {
	var tl admin.Timeline
	ex.getJSON(fmt.Sprintf("http://127.0.0.1:%d/api/v1/work-orders/%d/timeline?account=main", ex.adminPort, id), nil, &tl)
	return tl
}

func (ex *example) workOrders() admin.WorkOrderPage {
	var p admin.WorkOrderPage
	ex.getJSON(fmt.Sprintf("http://127.0.0.1:%d/api/v1/work-orders?account=main", ex.adminPort), nil, &p)
	return p
}

func (ex *example) adminGet(path string) string {
	ex.t.Helper()
	resp, err := testhttp.Get(ex.t.Context(), fmt.Sprintf("http://127.0.0.1:%d%s", ex.adminPort, path))
	if err != nil {
		ex.t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		ex.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return string(b)
}
