package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/corrigo"
)

// rule builds a config rule; extra is "stop", "shadow", "fetch".
func rule(name, when, plugin string, extra ...string) config.Rule {
	r := config.Rule{Name: name, When: when, Plugin: plugin, File: "rules.yaml", Line: 10, Column: 11}
	for _, e := range extra {
		switch e {
		case "stop":
			r.Stop = true
		case "shadow":
			r.Shadow = true
		case "fetch":
			r.FetchWorkOrder = true
		}
	}
	return r
}

func mustCompile(t testing.TB, rs ...config.Rule) *Set {
	t.Helper()
	s, err := Compile(rs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var now = time.Date(2025, 3, 12, 15, 30, 0, 0, time.UTC) // a Wednesday

func newWorkOrderEnv(emergency bool) *Env {
	return &Env{
		Event:     EventEnv{Action: "NewWorkOrder", WorkOrderId: 7},
		WorkOrder: &corrigo.WorkOrder{WorkOrderId: 7, Sla: &corrigo.Sla{IsEmergency: emergency}, Customer: &corrigo.CustomerRef{ID: 3, Name: "Acme"}},
		Account:   "main",
		Now:       now,
	}
}

func names(d Decision) []string {
	out := []string{}
	for _, m := range d.Matched {
		out = append(out, m.Rule)
	}
	return out
}

func TestEvaluate(t *testing.T) {
	rs := []config.Rule{
		rule("drop-test-customer", `customer.Name == "Test"`, "", "stop"),
		rule("emergencies", `event.Action == "NewWorkOrder" && workOrder.Sla.IsEmergency`, "erp", "stop"),
		rule("new", `event.Action == "NewWorkOrder"`, "erp"),
		rule("status", `event.Action in ["Accepted", "Rejected"]`, "erp", "fetch"),
		rule("messages", `"MessageSent" == event.Action && containsAny(lower(event.Text), ["urgent"])`, "chat", "shadow"),
		rule("all", `true`, "csv"),
	}
	s := mustCompile(t, rs...)
	cases := []struct {
		name    string
		env     *Env
		want    []string
		stopped bool
	}{
		{"emergency stops", newWorkOrderEnv(true), []string{"emergencies"}, true},
		{"normal new work order matches two", newWorkOrderEnv(false), []string{"new", "all"}, false},
		{"accepted", &Env{Event: EventEnv{Action: "Accepted"}}, []string{"status", "all"}, false},
		{"urgent message", &Env{Event: EventEnv{Action: "MessageSent", Text: "URGENT please"}}, []string{"messages", "all"}, false},
		{"calm message", &Env{Event: EventEnv{Action: "MessageSent", Text: "thanks"}}, []string{"all"}, false},
		{"unknown action", &Env{Event: EventEnv{Action: "SomethingNew"}}, []string{"all"}, false},
		{"drop rule without plugin", &Env{Event: EventEnv{Action: "Accepted"}, Customer: CustomerEnv{Name: "Test"}}, []string{"drop-test-customer"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := s.Evaluate(c.env)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(d); !reflect.DeepEqual(got, c.want) || d.Stopped != c.stopped {
				t.Errorf("matched %v stopped %v, want %v stopped %v", got, d.Stopped, c.want, c.stopped)
			}
		})
	}
	d, _ := s.Evaluate(&Env{Event: EventEnv{Action: "Accepted"}})
	if m := d.Matched[0]; m.Plugin != "erp" || m.Index != 3 || !m.FetchWorkOrder || m.Shadow {
		t.Errorf("match fields: %+v", m)
	}
	d, _ = s.Evaluate(&Env{Event: EventEnv{Action: "MessageSent", Text: "urgent"}})
	if m := d.Matched[0]; !m.Shadow || m.Plugin != "chat" {
		t.Errorf("shadow match: %+v", m)
	}
	// Indexing: an Accepted event evaluates the unpinned rules and the one
	// pinned to Accepted, not the NewWorkOrder or MessageSent rules.
	if d, _ := s.Evaluate(&Env{Event: EventEnv{Action: "Accepted"}}); d.Evaluated != 3 {
		t.Errorf("evaluated %d rules for Accepted, want 3 (drop, status, all)", d.Evaluated)
	}
}

func TestDecisionJSON(t *testing.T) {
	s := mustCompile(t, rule("a", "true", "p", "shadow"), rule("b", "true", "q", "stop"))
	cfg := &config.Config{Rules: []config.Rule{rule("a", "true", "p")}, Version: "abc123"}
	sv, err := CompileConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Evaluate(&Env{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(d)
	want := `{"matched":[{"rule":"a","plugin":"p","index":0,"shadow":true},{"rule":"b","plugin":"q","index":1}],"stopped":true,"evaluated":2}`
	if string(b) != want {
		t.Errorf("json %s\nwant %s", b, want)
	}
	if d, _ := sv.Evaluate(&Env{}); d.ConfigVersion != "abc123" || sv.Version() != "abc123" {
		t.Errorf("config version %q", d.ConfigVersion)
	}
	none := mustCompile(t, rule("a", "false", "p"))
	d, err = none.Evaluate(nil)
	if b, _ := json.Marshal(d); err != nil || string(b) != `{"matched":[],"evaluated":0}` {
		t.Errorf("no match: %s %v", b, err)
	}
}

func TestPins(t *testing.T) {
	cases := []struct {
		when  string
		pins  []string // nil: not pinned
		exact bool
	}{
		{`event.Action == "NewWorkOrder"`, []string{"NewWorkOrder"}, true},
		{`"NewWorkOrder" == event.Action`, []string{"NewWorkOrder"}, true},
		{`event["Action"] == "Paused"`, []string{"Paused"}, true},
		{`event?.Action == "Paused"`, []string{"Paused"}, true},
		{`event.Action in ["Accepted", "Rejected"]`, []string{"Accepted", "Rejected"}, true},
		{`event.Action == "NewWorkOrder" && workOrder.Sla.IsEmergency`, []string{"NewWorkOrder"}, false},
		{`workOrder.Sla.IsEmergency and event.Action == "NewWorkOrder"`, []string{"NewWorkOrder"}, false},
		{`event.Action == "Accepted" || event.Action == "Rejected"`, []string{"Accepted", "Rejected"}, true},
		{`event.Action == "Accepted" or (event.Action == "Paused" && true)`, []string{"Accepted", "Paused"}, false},
		{`event.Action in ["A", "B"] && event.Action in ["B", "C"]`, []string{"B"}, true},
		{`event.Action == "A" && event.Action == "B"`, []string{}, true},
		{`event.Action == "A" || workOrder.Sla.IsEmergency`, nil, false},
		{`event.Action != "A"`, nil, false},
		{`not (event.Action == "A")`, nil, false},
		{`event.Action not in ["A"]`, nil, false},
		{`event.Action in ["A", event.Comment]`, nil, false},
		{`event.Action == event.Comment`, nil, false},
		{`header.Action == "A"`, nil, false}, // not indexed: Event.Action is the key
		{`event.Action == "A" ? true : false`, nil, false},
		{`let event = 1; true`, nil, false},
		{`any(["A"], {event.Action == #})`, nil, false},
		{`true`, nil, false},
	}
	for _, c := range cases {
		t.Run(c.when, func(t *testing.T) {
			rs := []config.Rule{rule("r", c.when, "p")}
			cs, _, errs := build(rs)
			if len(errs) > 0 {
				// `let event = 1` does not type-check against Env; the
				// pin analysis is what matters here.
				if !strings.Contains(c.when, "let") {
					t.Fatal(errs)
				}
				return
			}
			r := cs.rules[0]
			if c.pins == nil {
				if r.pinned != nil {
					t.Errorf("pinned to %v, want not pinned", sortedPins(r.pinned))
				}
				return
			}
			if got := sortedPins(r.pinned); !reflect.DeepEqual(got, c.pins) || r.pinned == nil {
				t.Errorf("pins %v, want %v", got, c.pins)
			}
			if r.exact != c.exact {
				t.Errorf("exact %v, want %v", r.exact, c.exact)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	rs := []config.Rule{
		rule("fine", "true", "p"),
		{Name: "typo", When: `workOrder.Sla.IsEmergncy`, Plugin: "p", File: "c.yaml", Line: 5, Column: 11},
		{Name: "not-bool", When: `event.WorkOrderId`, Plugin: "p", File: "c.yaml", Line: 8, Column: 11},
		{Name: "syntax", When: `event.Action == `, Plugin: "p", File: "c.yaml", Line: 11, Column: 11},
		{Name: "block", When: "event.Action == \"A\" &&\n  nope", Plugin: "p", File: "c.yaml", Line: 14, Column: 7, Block: true},
		{Name: "zone", When: `inBusinessHours(now, "Mon-Fri 09:00-17:00", "Mars/Olympus")`, Plugin: "p", File: "c.yaml", Line: 20, Column: 11},
		{Name: "hours", When: `inBusinessHours(now, "Someday 09:00-17:00")`, Plugin: "p", File: "c.yaml", Line: 21, Column: 11},
		{Name: "status", When: `isStatus(workOrder.Status, "New", "Acepted")`, Plugin: "p", File: "c.yaml", Line: 22, Column: 11},
		{Name: "empty", When: ` `, Plugin: "p", File: "c.yaml", Line: 23, Column: 11},
		{Name: "now-call", When: `now() > now`, Plugin: "p", File: "c.yaml", Line: 24, Column: 11},
	}
	_, err := Compile(rs)
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %T %v", err, err)
	}
	got := err.Error()
	for _, want := range []string{
		"c.yaml:5:25: rules[1].when: rule \"typo\": type corrigo.Sla has no field IsEmergncy (did you mean \"IsEmergency\"?)\n | workOrder.Sla.IsEmergncy\n | ..............^",
		`c.yaml:8:11: rules[2].when: rule "not-bool": expected bool, but got int64`,
		`c.yaml:11:26: rules[3].when: rule "syntax": unexpected token EOF`,
		"c.yaml:15:9: rules[4].when: rule \"block\": unknown name nope (did you mean \"none\"?)\n |   nope\n | ..^",
		`c.yaml:20:55: rules[5].when: rule "zone": unknown time zone "Mars/Olympus"`,
		`c.yaml:21:32: rules[6].when: rule "hours": invalid days "Someday"`,
		`c.yaml:22:45: rules[7].when: rule "status": unknown status "Acepted" (did you mean "Accepted"?)`,
		`c.yaml:23:11: rules[8].when: rule "empty": empty condition`,
		`c.yaml:24:11: rules[9].when: rule "now-call": time.Time is not callable`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing:\n%s\n--- in:\n%s", want, got)
		}
	}
	if len(ce.Entries) != 9 {
		t.Errorf("%d entries, want 9 (every bad rule, not the good one)", len(ce.Entries))
	}
}

func TestLintWarnings(t *testing.T) {
	rs := []config.Rule{
		rule("never", `false && event.Action == "NewWorkOrder"`, "p"),
		rule("contradiction", `event.Action == "Paused" && event.Action == "Accepted"`, "p"),
		rule("typo-action", `event.Action == "NewWorkorder"`, "p"),
		rule("stop-accepted", `event.Action == "Accepted"`, "p", "stop"),
		rule("shadowed-accepted", `event.Action == "Accepted" && workOrder.Sla.IsEmergency`, "p"),
		rule("not-shadowed", `event.Action in ["Accepted", "Paused"]`, "p"),
		rule("stop-some", `event.Action == "Paused" && workOrder.Sla.IsEmergency`, "p", "stop"),
		rule("after-partial-stop", `event.Action == "Paused"`, "p"),
		rule("catch-all-stop", `true`, "p", "stop"),
		rule("dead", `event.Action == "CheckedIn"`, "p"),
		rule("dead-too", `workOrder.Sla.IsEmergency`, "p"),
	}
	warnings, errs := Lint(rs)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var got []string
	for _, w := range warnings {
		got = append(got, w.Message)
	}
	want := []string{
		`rule "never": can never match: its condition is always false`,
		`rule "contradiction": can never match: its condition is always false`,
		`rule "typo-action": pinned to unknown action "NewWorkorder" (did you mean "NewWorkOrder"?); it matches only if CorrigoPro sends that action`,
		`rule "shadowed-accepted": can never match: the earlier rule "stop-accepted" (line 10) matches every Accepted event and stops`,
		`rule "dead": can never match: the earlier rule "catch-all-stop" (line 10) matches every event and stops`,
		`rule "dead-too": can never match: the earlier rule "catch-all-stop" (line 10) matches every event and stops`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestNilSafety(t *testing.T) {
	conds := []string{
		`workOrder.Sla.IsEmergency`,
		`workOrder.Nte.Quote.Amount > 0`,
		`workOrder.ServiceLocation.Address.City == "Paris"`,
		`workOrder.Customer.Name == "Acme"`,
		`workOrder.Schedule.Pte == "CallFirst"`,
		`workOrder.WorkType.Name == "HVAC"`,
		`len(workOrder.WorkDetails.Assets) > 0`,
		`workOrder.Contact.FullName != ""`,
		`header.Sender.Type == "Customer"`,
		`header.PerformedBy.Name != ""`,
		`hoursUntil(workOrder.Sla.DueDate) < 4`,
	}
	envs := []*Env{
		{},
		{WorkOrder: &corrigo.WorkOrder{}},
		{WorkOrder: &corrigo.WorkOrder{Nte: &corrigo.Nte{Amount: 5}, ServiceLocation: &corrigo.ServiceLocation{SpaceName: "x"}}},
	}
	for _, c := range conds {
		s := mustCompile(t, rule("r", c, "p"))
		for i, env := range envs {
			d, err := s.Evaluate(env)
			if err != nil {
				t.Errorf("%s on env %d: %v", c, i, err)
			}
			if len(d.Matched) != 0 {
				t.Errorf("%s matched on empty data (env %d)", c, i)
			}
		}
	}
	// hasWorkOrder tells unknown from empty; the caller's env is untouched.
	s := mustCompile(t, rule("r", `hasWorkOrder`, "p"))
	env := &Env{}
	if d, _ := s.Evaluate(env); len(d.Matched) != 0 {
		t.Error("hasWorkOrder true without a work order")
	}
	env.WorkOrder = &corrigo.WorkOrder{}
	if d, _ := s.Evaluate(env); len(d.Matched) != 1 {
		t.Error("hasWorkOrder false with a work order")
	}
	if env.WorkOrder.Sla != nil || env.HasWorkOrder || env.Header.Sender != nil {
		t.Error("Evaluate modified the caller's environment")
	}
}

func TestDerivedFields(t *testing.T) {
	s := mustCompile(t,
		rule("branch", `branch == 42`, "p"),
		rule("customer", `customer.Id == 3 && customer.Name == "Acme"`, "p"),
		rule("now", `now.Year() == 2025`, "p"))
	d, err := s.Evaluate(&Env{Header: corrigo.Header{BranchId: 42}, WorkOrder: &corrigo.WorkOrder{Customer: &corrigo.CustomerRef{ID: 3, Name: "Acme"}}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(d); !reflect.DeepEqual(got, []string{"branch", "customer", "now"}) {
		t.Errorf("matched %v", got)
	}
	d, _ = s.Evaluate(&Env{WorkOrder: &corrigo.WorkOrder{BranchId: 42}, Now: now})
	if got := names(d); !reflect.DeepEqual(got, []string{"branch", "now"}) {
		t.Errorf("branch from work order: %v", got)
	}
}

func TestRuntimeError(t *testing.T) {
	s := mustCompile(t, rule("ok", "true", "p"), rule("index", `workOrder.WorkDetails.Assets[0].Id == 1`, "p"))
	_, err := s.Evaluate(&Env{})
	var ee *EvalError
	if !errors.As(err, &ee) || ee.Rule != "index" || ee.Index != 1 || !strings.Contains(err.Error(), "index out of range") {
		t.Fatalf("err = %v", err)
	}
}

func TestNeedsWorkOrder(t *testing.T) {
	s := mustCompile(t,
		rule("new", `event.Action == "NewWorkOrder" && workOrder.Sla.IsEmergency`, "p"),
		rule("acc", `event.Action == "Accepted"`, "p", "fetch"),
		rule("msg", `event.Action == "MessageSent" && event.Text != ""`, "p"),
		rule("cust", `event.Action == "Paused" && customer.Id == 1`, "p"))
	for action, want := range map[string]bool{"NewWorkOrder": true, "Accepted": true, "MessageSent": false, "Paused": true, "CheckedIn": false} {
		if got := s.NeedsWorkOrder(action); got != want {
			t.Errorf("NeedsWorkOrder(%s) = %v, want %v", action, got, want)
		}
	}
	s = mustCompile(t, rule("any", `hasWorkOrder`, "p"))
	if !s.NeedsWorkOrder("Whatever") {
		t.Error("unpinned rule reading the work order")
	}
}

func TestNewEnv(t *testing.T) {
	sender := &corrigo.Sender{Name: "Jo", Type: "Customer"}
	hdr := corrigo.Header{WorkOrderId: 9, BranchId: 4, Sender: sender, MessageId: "m1", ActionDate: corrigo.NewTime(now), ApiVersion: "2.0"}
	cases := []struct {
		payload corrigo.Payload
		when    string
	}{
		{corrigo.NewWorkOrderPayload{Details: corrigo.WorkOrder{WorkOrderId: 9, Sla: &corrigo.Sla{IsEmergency: true}}}, `workOrder.Sla.IsEmergency && hasWorkOrder && event.WorkOrderId == 9`},
		{corrigo.RejectedPayload{StatusChange: corrigo.StatusChange{Status: corrigo.StatusRejected, Comment: "no"}}, `event.Status == "Rejected" && event.Comment == "no" && !hasWorkOrder`},
		{corrigo.CheckedInPayload{StatusChange: corrigo.StatusChange{Location: &corrigo.GeoLocation{Latitude: 1.5}}}, `event.Location.Latitude == 1.5`},
		{corrigo.CheckedOutPayload{Comment: "done", RepairInfo: &corrigo.RepairInfo{Code: "R1"}, CustomFields: []corrigo.CustomField{{Id: 1, Value: "x"}}}, `event.RepairInfo.Code == "R1" && event.CustomFields[0].Value == "x"`},
		{corrigo.MessageSentPayload{Text: "hello"}, `event.Text == "hello"`},
		{corrigo.NteChangedPayload{Amount: 500}, `event.Amount == 500`},
		{corrigo.QuoteChangedPayload{Quote: corrigo.Quote{QuoteStatus: "Approved"}}, `event.Quote.QuoteStatus == "Approved"`},
		{corrigo.SlaChangedPayload{Sla: corrigo.Sla{PriorityName: "P1"}}, `event.Sla.PriorityName == "P1"`},
		{corrigo.AttachmentAddedPayload{AttachmentId: "a1", Name: "photo.jpg", MimeType: "image/jpeg"}, `event.AttachmentName == "photo.jpg" && event.MimeType == "image/jpeg"`},
		{corrigo.ProcedureMarkedPayload{ProcedureId: 5, IsMarkedNa: true}, `event.ProcedureId == 5 && event.IsMarkedNa`},
		{corrigo.InvoiceStatusChangedPayload{Status: "Paid", Amount: 12.5, PaidDate: corrigo.NewTime(now)}, `event.Status == "Paid" && event.Amount == 12.5 && isSet(event.PaidDate)`},
		{corrigo.AppointmentInfoChangedPayload{Appointment: corrigo.Appointment{Pte: "CallFirst"}}, `event.Appointment.Pte == "CallFirst"`},
	}
	for _, c := range cases {
		action := string(corrigo.ActionOf(c.payload))
		t.Run(action, func(t *testing.T) {
			body, err := corrigo.NewNotification(hdr, c.payload)
			if err != nil {
				t.Fatal(err)
			}
			n, err := corrigo.DecodeNotification(body)
			if err != nil {
				t.Fatal(err)
			}
			env := NewEnv("main", "webhook", n, nil, now)
			common := fmt.Sprintf(`event.Action == %q && event.MessageId == "m1" && event.BranchId == 4 && event.Sender.Type == "Customer" && event.Source == "webhook" && event.ApiVersion == "2.0" && account == "main" && branch == 4 && since(event.ActionDate) == duration("0s")`, action)
			s := mustCompile(t, rule("r", common+" && "+c.when, "p"))
			d, err := s.Evaluate(env)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Matched) != 1 {
				t.Errorf("condition did not match: %s", c.when)
			}
		})
	}
}

func TestTimeHelpers(t *testing.T) {
	due := corrigo.NewTime(now.Add(3 * time.Hour))
	past := now.Add(-90 * time.Minute)
	env := &Env{Now: now, WorkOrder: &corrigo.WorkOrder{Sla: &corrigo.Sla{DueDate: due}, Created: corrigo.NewTime(past)}}
	cases := map[string]bool{
		`hoursUntil(workOrder.Sla.DueDate) == 3`:            true,
		`minutesUntil(workOrder.Sla.DueDate) == 180`:        true,
		`until(workOrder.Sla.DueDate) == duration("3h")`:    true,
		`minutesSince(workOrder.Created) == 90`:             true,
		`hoursSince(workOrder.Created) == 1.5`:              true,
		`since(workOrder.Created) > duration("1h")`:         true,
		`since(now) == duration("0s")`:                      true,
		`hoursUntil(workOrder.Sla.OnSiteBy) < 4`:            false, // unset: infinitely far
		`hoursSince(workOrder.Sla.OnSiteBy) < 4`:            false,
		`until(workOrder.Sla.OnSiteBy) > duration("1000h")`: true,
		`isSet(workOrder.Sla.DueDate)`:                      true,
		`isSet(workOrder.Sla.OnSiteBy)`:                     false,
		`isSet(event.ActionDate)`:                           false,
		`workOrder.Sla.DueDate.Time > now`:                  true,
	}
	for cond, want := range cases {
		s := mustCompile(t, rule("r", cond, "p"))
		d, err := s.Evaluate(env)
		if err != nil {
			t.Errorf("%s: %v", cond, err)
			continue
		}
		if got := len(d.Matched) == 1; got != want {
			t.Errorf("%s = %v, want %v", cond, got, want)
		}
	}
	if inUnit(maxDur, time.Hour) != math.Inf(1) {
		t.Error("unset time must be +Inf hours away")
	}
}

func TestBusinessHours(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	at := func(day time.Weekday, hh, mm int, loc *time.Location) time.Time {
		// 2025-03-09 is a Sunday.
		return time.Date(2025, 3, 9+int(day), hh, mm, 0, 0, loc)
	}
	cases := []struct {
		spec string
		t    time.Time
		want bool
	}{
		{"Mon-Fri 08:00-18:00", at(time.Wednesday, 8, 0, time.UTC), true},
		{"Mon-Fri 08:00-18:00", at(time.Wednesday, 17, 59, time.UTC), true},
		{"Mon-Fri 08:00-18:00", at(time.Wednesday, 18, 0, time.UTC), false},
		{"Mon-Fri 08:00-18:00", at(time.Wednesday, 7, 59, time.UTC), false},
		{"Mon-Fri 08:00-18:00", at(time.Saturday, 12, 0, time.UTC), false},
		{"Mon-Fri 08:00-18:00, Sat 09:00-13:00", at(time.Saturday, 12, 0, time.UTC), true},
		{"Fri-Mon 10:00-11:00", at(time.Sunday, 10, 30, time.UTC), true},
		{"Fri-Mon 10:00-11:00", at(time.Tuesday, 10, 30, time.UTC), false},
		{"22:00-06:00", at(time.Tuesday, 23, 0, time.UTC), true},
		{"22:00-06:00", at(time.Tuesday, 5, 59, time.UTC), true},
		{"22:00-06:00", at(time.Tuesday, 6, 0, time.UTC), false},
		{"Fri 22:00-06:00", at(time.Saturday, 3, 0, time.UTC), true},
		{"Fri 22:00-06:00", at(time.Friday, 3, 0, time.UTC), false},
		{"mon-fri 00:00-24:00", at(time.Monday, 23, 59, time.UTC), true},
		{"Mon 09:00-17:00", at(time.Monday, 9, 0, ny), true},
	}
	for _, c := range cases {
		bh, err := parseBusinessHours(c.spec)
		if err != nil {
			t.Fatalf("%s: %v", c.spec, err)
		}
		if got := bh.contains(c.t); got != c.want {
			t.Errorf("%s at %s = %v, want %v", c.spec, c.t.Format("Mon 15:04"), got, c.want)
		}
	}
	for _, bad := range []string{"", "Mon-Fri", "Mon-Fri 8-18", "Mon-Fri 08:00-25:00", "Mon-Fri 08:60-09:00", "Funday 08:00-09:00", "Mon Tue 08:00-09:00", "24:00-01:00"} {
		if _, err := parseBusinessHours(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	// Through a rule, with a time zone: 14:00 UTC on a Monday in March
	// 2025 is 10:00 in New York.
	s := mustCompile(t, rule("r", `inBusinessHours(now, "Mon-Fri 09:00-17:00", "America/New_York") && !inBusinessHours(now, "Mon-Fri 15:00-17:00")`, "p"))
	d, err := s.Evaluate(&Env{Now: time.Date(2025, 3, 10, 14, 0, 0, 0, time.UTC)})
	if err != nil || len(d.Matched) != 1 {
		t.Errorf("business hours rule: %v %v", d, err)
	}
	// A spec from event data is checked at run time.
	s = mustCompile(t, rule("r", `inBusinessHours(now, event.Comment)`, "p"))
	if _, err := s.Evaluate(&Env{Event: EventEnv{Comment: "nonsense"}}); err == nil {
		t.Error("bad dynamic spec accepted")
	}
}

func TestStringHelpers(t *testing.T) {
	env := &Env{Event: EventEnv{Text: "Water LEAK in basement", Status: "Accepted"}, WorkOrder: &corrigo.WorkOrder{Status: corrigo.StatusNew}}
	cases := map[string]bool{
		`match(event.Text, "(?i)leak")`:                     true,
		`match(event.Text, "^leak")`:                        false,
		`event.Text matches "LEAK"`:                         true,
		`containsAny(event.Text, ["fire", "LEAK"])`:         true,
		`containsAny(lower(event.Text), ["fire", "smoke"])`: false,
		`containsAny(event.Text, [])`:                       false,
		`containsAny(event.Text, [""])`:                     false,
		`upper(event.Status) == "ACCEPTED"`:                 true,
		`isStatus(event.Status, "Accepted", "Rejected")`:    true,
		`isStatus(workOrder.Status, "New")`:                 true,
		`isStatus(workOrder.Status, "Accepted")`:            false,
		`match(event.Text, event.Status)`:                   false,
	}
	for cond, want := range cases {
		s := mustCompile(t, rule("r", cond, "p"))
		d, err := s.Evaluate(env)
		if err != nil {
			t.Errorf("%s: %v", cond, err)
			continue
		}
		if got := len(d.Matched) == 1; got != want {
			t.Errorf("%s = %v, want %v", cond, got, want)
		}
	}
	s := mustCompile(t, rule("r", `match(event.Text, event.Comment)`, "p"))
	if _, err := s.Evaluate(&Env{Event: EventEnv{Comment: "("}}); err == nil {
		t.Error("bad dynamic regex accepted")
	}
}

// randomRules builds a rule set mixing pinned, unpinned, stop and
// never-matching rules over a small alphabet of actions and values.
func randomRules(r *rand.Rand, n int) []config.Rule {
	actions := []string{"NewWorkOrder", "Accepted", "Paused", "MessageSent", "Unknown1"}
	conds := []func() string{
		func() string { return fmt.Sprintf(`event.Action == %q`, actions[r.IntN(len(actions))]) },
		func() string {
			return fmt.Sprintf(`event.Action == %q && event.BranchId == %d`, actions[r.IntN(len(actions))], r.IntN(3))
		},
		func() string {
			return fmt.Sprintf(`event.Action in [%q, %q]`, actions[r.IntN(len(actions))], actions[r.IntN(len(actions))])
		},
		func() string {
			return fmt.Sprintf(`event.Action == %q || event.Action == %q`, actions[r.IntN(len(actions))], actions[r.IntN(len(actions))])
		},
		func() string { return fmt.Sprintf(`event.BranchId == %d`, r.IntN(3)) },
		func() string { return fmt.Sprintf(`event.Action != %q`, actions[r.IntN(len(actions))]) },
		func() string { return `true` },
		func() string { return `false` },
		func() string {
			return fmt.Sprintf(`workOrder.Sla.IsEmergency && %q == event.Action`, actions[r.IntN(len(actions))])
		},
	}
	rs := make([]config.Rule, n)
	for i := range rs {
		rs[i] = config.Rule{Name: fmt.Sprintf("r%d", i), When: conds[r.IntN(len(conds))](), Plugin: "p", Stop: r.IntN(8) == 0}
	}
	return rs
}

// TestIndexEquivalence: indexed evaluation decides exactly what evaluating
// every rule decides, over random rule sets and events.
func TestIndexEquivalence(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	actions := []string{"NewWorkOrder", "Accepted", "Paused", "MessageSent", "Unknown1", "Other", ""}
	for round := 0; round < 200; round++ {
		s := mustCompile(t, randomRules(r, 1+r.IntN(30))...)
		for e := 0; e < 20; e++ {
			env := &Env{Event: EventEnv{Action: actions[r.IntN(len(actions))], BranchId: int64(r.IntN(3))}}
			if r.IntN(2) == 0 {
				env.WorkOrder = &corrigo.WorkOrder{Sla: &corrigo.Sla{IsEmergency: r.IntN(2) == 0}}
			}
			a, err1 := s.evaluate(env, true)
			b, err2 := s.evaluate(env, false)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if !reflect.DeepEqual(a.Matched, b.Matched) || a.Stopped != b.Stopped {
				t.Fatalf("round %d: indexed %v/%v, full %v/%v for %+v", round, names(a), a.Stopped, names(b), b.Stopped, env.Event)
			}
			if a.Evaluated > b.Evaluated {
				t.Fatalf("indexed evaluated more rules (%d) than full (%d)", a.Evaluated, b.Evaluated)
			}
		}
	}
}

func TestConcurrentEvaluate(t *testing.T) {
	s := mustCompile(t, randomRules(rand.New(rand.NewPCG(3, 4)), 50)...)
	want, _ := s.Evaluate(newWorkOrderEnv(true))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				d, err := s.Evaluate(newWorkOrderEnv(true))
				if err != nil || !reflect.DeepEqual(d, want) {
					t.Errorf("concurrent decision differs: %v %v", d, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestResidual(t *testing.T) {
	cases := map[string]string{
		`event.Action == "A"`:                                    "<true>",
		`event.Action in ["A", "B"] || event.Action == "C"`:      "<true>",
		`event.Action == "A" && workOrder.Sla.IsEmergency`:       "workOrder.Sla.IsEmergency",
		`workOrder.Sla.IsEmergency and event.Action == "A"`:      "workOrder.Sla.IsEmergency",
		`event.Action == "A" && branch == 1 && customer.Id == 2`: "branch == 1 && customer.Id == 2",
		`event.Action == "A" || branch == 1`:                     "<not pinned>",
	}
	for when, want := range cases {
		s := mustCompile(t, rule("r", when, "p"))
		c := s.rules[0]
		got := "<not pinned>"
		switch {
		case c.pinned == nil:
		case c.residualTrue:
			got = "<true>"
		case c.residual != nil:
			got = c.residual.Source().String()
		}
		if got != want {
			t.Errorf("%s: residual %q, want %q", when, got, want)
		}
	}
}
