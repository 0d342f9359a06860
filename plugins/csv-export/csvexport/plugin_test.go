package csvexport

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/pkg/pluginapi/plugintest"
)

// configured returns a configured plugin on a fake host. cfg is applied
// through the schema first, as the SDK does.
func configured(t *testing.T, host pluginapi.Host, cfg map[string]any) *Plugin {
	t.Helper()
	p := New()
	p.Now = func() time.Time { return t0.Add(2 * time.Hour) }
	return configuredPlugin(t, p, host, cfg)
}

func configuredPlugin(t *testing.T, p *Plugin, host pluginapi.Host, cfg map[string]any) *Plugin {
	t.Helper()
	applied, errs := Schema().Apply(cfg)
	if len(errs) > 0 {
		t.Fatalf("schema: %v", errs)
	}
	if errs := p.ValidateConfig(context.Background(), applied); len(errs) > 0 {
		t.Fatalf("validate: %v", errs)
	}
	if err := p.Configure(context.Background(), applied, host); err != nil {
		t.Fatalf("configure: %v", err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background()) })
	return p
}

func TestHandleEventWritesOneRowPerEvent(t *testing.T) {
	dir := t.TempDir()
	host := plugintest.NewHost()
	p := configured(t, host, map[string]any{"dir": dir})
	ctx := context.Background()
	wo := sampleWorkOrder()
	ev := newWOEvent("101", wo)
	for range 3 {
		acts, err := p.HandleEvent(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		if len(acts) != 0 {
			t.Fatalf("actions %+v without accept configured", acts)
		}
	}
	ci := statusEvent(t, "102", wo.WorkOrderId, corrigo.ActionCheckedIn, corrigo.CheckedInPayload{StatusChange: corrigo.StatusChange{Status: corrigo.StatusCheckedIn, Comment: "on site"}})
	if _, err := p.HandleEvent(ctx, ci); err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, filepath.Join(dir, "workorders-2024-05-01.csv"))
	if len(recs) != 3 {
		t.Fatalf("records = %q, want header + 2 rows", recs)
	}
	want := []string{"time", "action", "work_order_id", "work_order_number", "status", "customer", "work_type", "priority", "due", "nte", "location", "description", "comment", "event_id"}
	if strings.Join(recs[0], ",") != strings.Join(want, ",") {
		t.Fatalf("header = %q", recs[0])
	}
	if got := strings.Join(recs[1], "|"); got != `2024-05-01T14:30:00Z|NewWorkOrder|4711|AB-4711|New|Acme Stores, Inc.|Plumbing|High|2024-05-03T14:30:00Z|1250.5|Store 12|Leak under sink "B", aisle 4||101` {
		t.Fatalf("row 1 = %s", got)
	}
	// The status change has no work order in the event: the plugin uses
	// the copy it remembered from NewWorkOrder.
	if got := strings.Join(recs[2], "|"); got != `2024-05-01T15:30:00Z|CheckedIn|4711|AB-4711|CheckedIn|Acme Stores, Inc.|Plumbing|High|2024-05-03T14:30:00Z|1250.5|Store 12|Leak under sink "B", aisle 4|on site|102` {
		t.Fatalf("row 2 = %s", got)
	}
	if _, ok := host.KV()["row:101"]; !ok {
		t.Fatal("no KV mark row:101")
	}
}

// TestCrashBetweenRowAndMark: the row reached the disk but the process died
// before the KV mark. The redelivered event must not write a second row.
func TestCrashBetweenRowAndMark(t *testing.T) {
	dir := t.TempDir()
	host := plugintest.NewHost()
	ctx := context.Background()
	p := configured(t, host, map[string]any{"dir": dir})
	ev := newWOEvent("7", sampleWorkOrder())
	if _, err := p.HandleEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := host.KVDelete(ctx, "row:7"); err != nil { // the mark never made it
		t.Fatal(err)
	}
	p2 := configured(t, host, map[string]any{"dir": dir}) // restarted process
	if _, err := p2.HandleEvent(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if n := len(readCSV(t, filepath.Join(dir, "workorders-2024-05-01.csv"))); n != 2 {
		t.Fatalf("%d records after redelivery, want header + 1", n)
	}
	if _, ok := host.KV()["row:7"]; !ok {
		t.Fatal("redelivery did not restore the KV mark")
	}
}

// TestCrashMidWrite: a crash tore the row; the redelivery repairs the file
// and writes the row whole.
func TestCrashMidWrite(t *testing.T) {
	dir := t.TempDir()
	host := plugintest.NewHost()
	ctx := context.Background()
	p := configured(t, host, map[string]any{"dir": dir})
	if _, err := p.HandleEvent(ctx, newWOEvent("1", sampleWorkOrder())); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "workorders-2024-05-01.csv")
	good, _ := os.ReadFile(path)
	wo2 := sampleWorkOrder()
	wo2.WorkOrderId, wo2.WorkOrderNumber = 4712, "AB-4712"
	ev2 := newWOEvent("2", wo2)
	if _, err := p.HandleEvent(ctx, ev2); err != nil {
		t.Fatal(err)
	}
	full, _ := os.ReadFile(path)
	// Simulate the crash: only part of row 2 reached the disk, no mark.
	torn := full[:len(good)+(len(full)-len(good))/2]
	if err := os.WriteFile(path, torn, 0o644); err != nil {
		t.Fatal(err)
	}
	_ = host.KVDelete(ctx, "row:2")
	p2 := configured(t, host, map[string]any{"dir": dir})
	if _, err := p2.HandleEvent(ctx, ev2); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	if string(after) != string(full) {
		t.Fatalf("after repair:\n%s\nwant\n%s", after, full)
	}
	warned := false
	for _, l := range host.Logs() {
		if strings.Contains(l.Message, "torn") {
			warned = true
		}
	}
	if !warned {
		t.Fatal("torn row repaired silently")
	}
}

func TestAcceptAndEventFilter(t *testing.T) {
	dir := t.TempDir()
	host := plugintest.NewHost()
	p := configured(t, host, map[string]any{"dir": dir, "accept": true, "accept_comment": "on our way", "events": []any{"CheckedIn"}})
	ctx := context.Background()
	acts, err := p.HandleEvent(ctx, newWOEvent("1", sampleWorkOrder()))
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 1 || acts[0].Kind != pluginapi.KindAccept || acts[0].WorkOrderID != 4711 || acts[0].Comment != "on our way" {
		t.Fatalf("actions = %+v", acts)
	}
	// NewWorkOrder is not in events: no file yet.
	if _, err := os.Stat(filepath.Join(dir, "workorders-2024-05-01.csv")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("NewWorkOrder written although events lists only CheckedIn: %v", err)
	}
	ci := statusEvent(t, "2", 4711, corrigo.ActionCheckedIn, corrigo.CheckedInPayload{})
	acts, err = p.HandleEvent(ctx, ci)
	if err != nil || len(acts) != 0 {
		t.Fatalf("check in: %+v %v", acts, err)
	}
	if n := len(readCSV(t, filepath.Join(dir, "workorders-2024-05-01.csv"))); n != 2 {
		t.Fatalf("%d records", n)
	}
}

func TestCustomColumnsAndPattern(t *testing.T) {
	dir := t.TempDir()
	host := plugintest.NewHost()
	p := configured(t, host, map[string]any{
		"dir": dir, "file": "{customer}/{month}.csv", "timezone": "Australia/Sydney",
		"columns": []any{
			map[string]any{"name": "WO", "value": "workOrder.WorkOrderNumber"},
			map[string]any{"name": "id", "value": "event.ID"},
			map[string]any{"name": "formula", "value": `"=cmd|' /C calc'!A0"`},
			"event.Action",
		},
	})
	ev := newWOEvent("55", sampleWorkOrder())
	ev.Header.ActionDate = corrigo.NewTime(time.Date(2024, 5, 31, 20, 0, 0, 0, time.UTC)) // June 1st in Sydney
	if _, err := p.HandleEvent(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, filepath.Join(dir, "Acme_Stores_Inc", "2024-06.csv"))
	if strings.Join(recs[0], ",") != "WO,id,formula,event.Action" {
		t.Fatalf("header = %q (the event id column must not be added twice)", recs[0])
	}
	if strings.Join(recs[1], ",") != "AB-4711,55,'=cmd|' /C calc'!A0,NewWorkOrder" {
		t.Fatalf("row = %q", recs[1])
	}
}

func TestFetchWorkOrder(t *testing.T) {
	dir := t.TempDir()
	host := plugintest.NewHost()
	host.AddWorkOrder("acme", sampleWorkOrder())
	p := configured(t, host, map[string]any{"dir": dir, "fetch_work_order": true, "columns": []any{"workOrder.WorkOrderNumber"}})
	ev := statusEvent(t, "9", 4711, corrigo.ActionPaused, corrigo.PausedPayload{})
	if _, err := p.HandleEvent(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, filepath.Join(dir, "workorders-2024-05-01.csv"))
	if recs[1][0] != "AB-4711" {
		t.Fatalf("row = %q", recs[1])
	}
	// Host down: retryable, and nothing written.
	host.FailWith(pluginapi.RetryLater(errors.New("gateway busy")))
	_, err := p.HandleEvent(context.Background(), statusEvent(t, "10", 4711, corrigo.ActionPaused, corrigo.PausedPayload{}))
	var pe *pluginapi.Error
	if !errors.As(err, &pe) || !pe.Retryable {
		t.Fatalf("err = %v, want retryable", err)
	}
}

func TestRuntimeColumnErrorIsPermanent(t *testing.T) {
	host := plugintest.NewHost()
	p := configured(t, host, map[string]any{"dir": t.TempDir(), "columns": []any{"workOrder.WorkOrderNumber", map[string]any{"name": "x", "value": "workOrder.Nte.Amount / 1"}}})
	ev := statusEvent(t, "1", 999, corrigo.ActionPaused, corrigo.PausedPayload{}) // no work order known
	_, err := p.HandleEvent(context.Background(), ev)
	var pe *pluginapi.Error
	if !errors.As(err, &pe) || pe.Retryable || !strings.Contains(pe.Message, `column "x"`) {
		t.Fatalf("err = %v, want a permanent error naming column x", err)
	}
}

func TestValidateConfig(t *testing.T) {
	p := New()
	cases := map[string]struct {
		cfg map[string]any
		key string
		msg string
	}{
		"missing dir":      {map[string]any{}, "dir", "required"},
		"bad placeholder":  {map[string]any{"dir": "/x", "file": "{custmer}.csv"}, "file", "unknown placeholder {custmer}"},
		"escaping pattern": {map[string]any{"dir": "/x", "file": "../x.csv"}, "file", "'..'"},
		"bad zone":         {map[string]any{"dir": "/x", "timezone": "Mars/Base"}, "timezone", "unknown time zone"},
		"column typo":      {map[string]any{"dir": "/x", "columns": []any{"workOrder.WorkOrderNumbr"}}, "columns", "WorkOrderNumbr"},
		"column shape":     {map[string]any{"dir": "/x", "columns": "wo"}, "columns", "list"},
		"column key":       {map[string]any{"dir": "/x", "columns": []any{map[string]any{"nme": "a", "value": "account"}}}, "columns", `unknown key "nme"`},
		"duplicate name":   {map[string]any{"dir": "/x", "columns": []any{"account", "account"}}, "columns", "used twice"},
		"empty id column":  {map[string]any{"dir": "/x", "event_id_column": ""}, "event_id_column", "must not be empty"},
		"inbox is dir":     {map[string]any{"dir": "/x", "inbox": "/x/"}, "inbox", "output directory"},
		"unknown event":    {map[string]any{"dir": "/x", "events": []any{"Checkedin"}}, "events", "must be among"},
		"negative max":     {map[string]any{"dir": "/x", "max_bytes": -1}, "max_bytes", "negative"},
		"unknown key":      {map[string]any{"dir": "/x", "colums": []any{}}, "colums", "did you mean"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			applied, errs := Schema().Apply(c.cfg)
			if len(errs) == 0 {
				errs = p.ValidateConfig(context.Background(), applied)
			}
			for _, e := range errs {
				if e.Key == c.key && strings.Contains(e.Message, c.msg) {
					return
				}
			}
			t.Fatalf("errors %v, want key %q containing %q", errs, c.key, c.msg)
		})
	}
}

func TestConfigureUnwritableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can write anywhere")
	}
	dir := t.TempDir()
	_ = os.Chmod(dir, 0o500)
	p := New()
	applied, _ := Schema().Apply(map[string]any{"dir": filepath.Join(dir, "sub")})
	if err := p.Configure(context.Background(), applied, plugintest.NewHost()); err == nil {
		t.Fatal("configure succeeded on an unwritable dir")
	}
}

func TestConfigureFileInPlaceOfDir(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	_ = os.WriteFile(f, nil, 0o644)
	p := New()
	applied, _ := Schema().Apply(map[string]any{"dir": f})
	err := p.Configure(context.Background(), applied, plugintest.NewHost())
	if err == nil || !strings.Contains(err.Error(), "dir") {
		t.Fatalf("err = %v", err)
	}
}

// A replayed event (gateway replay --with-plugins) is answered as usual but
// writes no row and no mark.
func TestReplayWritesNoRow(t *testing.T) {
	dir := t.TempDir()
	host := plugintest.NewHost()
	p := configured(t, host, map[string]any{"dir": dir, "accept": true, "accept_comment": "on our way"})
	ev := newWOEvent("201", sampleWorkOrder())
	ev.Replay = true
	acts, err := p.HandleEvent(context.Background(), ev)
	if err != nil || len(acts) != 1 || acts[0].Kind != pluginapi.KindAccept || acts[0].Comment != "on our way" {
		t.Fatalf("replay: actions %+v, %v", acts, err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*.csv")); len(files) != 0 {
		t.Fatalf("replay wrote %v", files)
	}
	if _, ok := host.KV()["row:201"]; ok {
		t.Fatal("replay marked the row written")
	}
}
