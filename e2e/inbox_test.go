package e2e

// csv-export's inbox through real processes: the sandbox sends a work
// order to `gateway run`, whose csv-export plugin (the real binary)
// accepts it; a CSV of updates dropped in the plugin's inbox folder comes
// back through Host.SubmitActions, and a CSV posted to the plugin's
// inbound path through /plugins/<name>/inbound, and CorrigoPro (the
// sandbox) shows the updates.

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

var (
	csvExportOnce sync.Once
	csvExportBin  string
	csvExportErr  error
)

// buildCSVExport compiles plugins/csv-export next to the gateway binary
// (TestMain removes that directory).
func buildCSVExport(t *testing.T) string {
	t.Helper()
	csvExportOnce.Do(func() {
		csvExportBin = filepath.Join(filepath.Dir(gatewayBin), "csv-export")
		_, file, _, _ := runtime.Caller(0)
		cmd := exec.CommandContext(t.Context(), filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", csvExportBin, "./plugins/csv-export") //nolint:staticcheck // SA1019: the toolchain that runs the test builds the binaries
		cmd.Dir = filepath.Dir(filepath.Dir(file))
		if out, err := cmd.CombinedOutput(); err != nil {
			csvExportErr = fmt.Errorf("build csv-export: %w\n%s", err, out)
		}
	})
	if csvExportErr != nil {
		t.Fatal(csvExportErr)
	}
	return csvExportBin
}

// dropFile writes a file into dir the way the plugin asks: under a hidden
// name first, then renamed, so it is never read half-written.
func dropFile(t *testing.T, dir, name, content string) {
	t.Helper()
	tmp := filepath.Join(dir, "."+name)
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// calls counts the sandbox's successful calls on a work order whose path
// contains op (e.g. "workorder/checkin").
func (e *env) calls(id int64, op string) int {
	n := 0
	for _, u := range e.sb.UsageLog() {
		if strings.EqualFold(u.Direction, "inbound") && u.WorkOrderId == id &&
			strings.Contains(strings.ToLower(u.Path), op) && u.Status == 200 {
			n++
		}
	}
	return n
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestCSVInboxActionsReachCorrigoPro(t *testing.T) {
	e := newEnv(t)
	bin := buildCSVExport(t)
	out, inbox := filepath.Join(e.dir, "out"), filepath.Join(e.dir, "inbox")
	e.writeConfig(gwConfig{
		Plugin: bin,
		PluginConfig: fmt.Sprintf(`{dir: %q, accept: true, inbox: %q, inbox_poll: 50ms, inbox_settle: 50ms}`,
			out, inbox),
		Inbound: "{token: " + inboxToken + "}",
	})
	e.start()
	e.sb.SetWebhookURL(e.url("/webhooks/corrigo/main"))

	id := e.create(sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerNorthwind})
	e.waitFor("work order accepted by csv-export", 20*time.Second, func() bool { return e.status(id) == corrigo.StatusAccepted })

	// 1. The inbox folder: a check-in row and a bad row. The plugin submits
	//    the good row through Host.SubmitActions; the gateway stores it and
	//    sends it; the bad row lands in rejected/ with its reason.
	csv := "work_order_id,action,comment,performed_by\n" +
		fmt.Sprintf("%d,check_in,On site,Tom\n", id) +
		fmt.Sprintf("%d,teleport,,\n", id)
	dropFile(t, inbox, "updates.csv", csv)
	e.waitFor("work order checked in from the inbox", 20*time.Second, func() bool { return e.status(id) == corrigo.StatusCheckedIn })
	e.waitFor("file moved to processed/", 10*time.Second, func() bool { return exists(filepath.Join(inbox, "processed", "updates.csv")) })
	report, err := os.ReadFile(filepath.Join(inbox, "rejected", "updates.csv.errors.csv"))
	if err != nil {
		t.Fatalf("no errors report for the bad row: %v", err)
	}
	if !strings.Contains(string(report), "updates.csv,3,") || !strings.Contains(string(report), `unknown action ""teleport""`) {
		t.Errorf("errors report does not name line 3 and its reason:\n%s", report)
	}
	if !strings.Contains(e.logBuf.String(), `"msg":"plugin submitted actions"`) {
		t.Error("gateway log has no 'plugin submitted actions' line")
	}

	// 2. The same content again under another name changes nothing: the
	//    plugin recognises it, and the gateway would ignore its key anyway.
	dropFile(t, inbox, "updates-again.csv", csv)
	e.waitFor("second file moved to processed/", 10*time.Second, func() bool {
		return exists(filepath.Join(inbox, "processed", "updates-again.csv"))
	})

	// 3. The inbound path: a CSV posted to /plugins/accept/inbound/inbox is
	//    applied by the plugin, whose actions the gateway stores before it
	//    answers.
	//    Without the token (or with a wrong one) the plugin never sees it.
	body := "work_order_id,action,comment\n" + fmt.Sprintf("%d,check_out,Replaced the valve\n", id)
	for _, tok := range []string{"", "wrong-" + inboxToken} {
		st, ans := postInbound(t, e.url("/plugins/accept/inbound/inbox?name=done.csv"), tok, body)
		if st != http.StatusUnauthorized {
			t.Fatalf("POST inbound/inbox with token %q: %d %s, want 401", tok, st, ans)
		}
	}
	st, ans := postInbound(t, e.url("/plugins/accept/inbound/inbox?name=done.csv"), inboxToken, body)
	if st != 200 || !strings.Contains(string(ans), `"actions": 1`) && !strings.Contains(string(ans), `"actions":1`) {
		t.Fatalf("POST inbound/inbox: %d %s", st, ans)
	}
	e.waitFor("work order checked out from the inbound path", 20*time.Second, func() bool { return e.status(id) == corrigo.StatusCheckedOut })

	// Each update reached CorrigoPro once (the refused posts added none).
	if n := e.calls(id, "workorder/checkin"); n != 1 {
		t.Errorf("sandbox saw %d check-ins, want 1", n)
	}
	if n := e.calls(id, "workorder/checkout"); n != 1 {
		t.Errorf("sandbox saw %d check-outs, want 1", n)
	}

	// An unknown plugin and a plugin path that does not exist answer JSON.
	st, ans = postInbound(t, e.url("/plugins/nope/inbound"), "", "x")
	if st != http.StatusNotFound || !strings.Contains(string(ans), `"error"`) {
		t.Errorf("unknown plugin: %d %s", st, ans)
	}
}

// inboxToken is plugins.accept.inbound.token in the inbox tests.
const inboxToken = "e2e-inbox-token-0123456789"

// postInbound POSTs body as a CSV to url with token as bearer ("" none).
func postInbound(t *testing.T, url, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/csv")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	ans, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, ans
}
