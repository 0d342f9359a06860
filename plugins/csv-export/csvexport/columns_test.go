package csvexport

import (
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/pluginapi"
	"github.com/wogate/wogate/pkg/pluginapi/plugintest"
)

var t0 = time.Date(2024, 5, 1, 14, 30, 0, 0, time.UTC)

func sampleWorkOrder() corrigo.WorkOrder {
	return corrigo.WorkOrder{
		WorkOrderId: 4711, WorkOrderNumber: "AB-4711", Status: corrigo.StatusNew, Type: corrigo.TypeRequest,
		WorkType:            &corrigo.WorkType{Name: "Plumbing"},
		Customer:            &corrigo.CustomerRef{ID: 12, Name: "Acme Stores, Inc."},
		BranchId:            7,
		Sla:                 &corrigo.Sla{DueDate: corrigo.NewTime(t0.Add(48 * time.Hour)), PriorityName: "High", IsEmergency: true},
		Nte:                 &corrigo.Nte{Amount: 1250.5},
		ServiceLocation:     &corrigo.ServiceLocation{SpaceName: "Store 12"},
		AccompanyingMessage: `Leak under sink "B", aisle 4`,
	}
}

func newWOEvent(id string, wo corrigo.WorkOrder) pluginapi.Event {
	ev := plugintest.NewWorkOrderEvent("acme", wo)
	ev.ID = id
	ev.Header.ActionDate = corrigo.NewTime(t0)
	return ev
}

// statusEvent builds a status change notification without a work order.
func statusEvent(t testing.TB, id string, woID int64, action corrigo.Action, p corrigo.Payload) pluginapi.Event {
	t.Helper()
	h := corrigo.Header{WorkOrderId: woID, BranchId: 7, Action: action, ActionDate: corrigo.NewTime(t0.Add(time.Hour)),
		MessageId: "msg-" + id, Sender: &corrigo.Sender{Name: "Tech Tom"}}
	body, err := corrigo.NewNotification(h, p)
	if err != nil {
		t.Fatal(err)
	}
	return pluginapi.Event{ID: id, Account: "acme", Source: "webhook", Rule: "all", Header: h, Body: body}
}

func TestColumnValues(t *testing.T) {
	wo := sampleWorkOrder()
	ev := newWOEvent("42", wo)
	env := newEnv(ev, &wo, t0.Add(time.Minute))
	checkedIn := statusEvent(t, "43", 4711, corrigo.ActionCheckedIn, corrigo.CheckedInPayload{StatusChange: corrigo.StatusChange{Status: corrigo.StatusCheckedIn, Comment: "on site"}})
	ciEnv := newEnv(checkedIn, nil, t0)
	checkedOut := statusEvent(t, "44", 4711, corrigo.ActionCheckedOut, corrigo.CheckedOutPayload{Comment: "fixed", RepairInfo: &corrigo.RepairInfo{Code: "P-01", Category: "Plumbing"}})
	coEnv := newEnv(checkedOut, nil, t0)

	cases := []struct {
		value string
		env   *Env
		want  string
	}{
		{"workOrder.WorkOrderNumber", env, "AB-4711"},
		{"workOrder.Sla.DueDate", env, "2024-05-03T14:30:00Z"},
		{"workOrder.Sla.IsEmergency", env, "true"},
		{"workOrder.Nte.Amount", env, "1250.5"},
		{"workOrder.Customer.ID", env, "12"},
		{"workOrder.Status", env, "New"},
		{"event.Action", env, "NewWorkOrder"},
		{"event.ID", env, "42"},
		{"event.Date", env, "2024-05-01T14:30:00Z"},
		{"event.Amount", env, "1250.5"},
		{"event.Status", env, "New"},
		{"header.MessageId", env, ev.Header.MessageId},
		{"account", env, "acme"},
		{"now", env, "2024-05-01T14:31:00Z"},
		{"workOrder.WorkDetails.CheckList", env, ""}, // nil part
		{"workOrder.Contact.FullName", env, ""},      // nil pointer on the way
		{"workOrder.WorkOrderNumber", ciEnv, ""},     // no work order at all
		{"event.Status", ciEnv, "CheckedIn"},
		{"event.Comment", ciEnv, "on site"},
		{"event.PerformedBy", ciEnv, "Tech Tom"},
		{"event.WorkOrderID", ciEnv, "4711"},
		{"event.RepairCode", coEnv, "P-01"},
		{"event.Status", coEnv, "CheckedOut"},
		{`upper(workOrder.Customer.Name)`, env, "ACME STORES, INC."},
		{`(workOrder?.Sla?.IsEmergency ?? false) ? "YES" : ""`, env, "YES"},
		{`(workOrder?.Sla?.IsEmergency ?? false) ? "YES" : ""`, ciEnv, ""},
		{`workOrder.Sla.DueDate.Format("02/01/2006")`, env, "03/05/2024"},
		{`event.Amount * 2`, env, "2501"},
		{`workOrder?.Sla?.DueDate?.Format("02/01/2006 15:04") ?? ""`, env, "03/05/2024 14:30"}, // README example
		{`workOrder?.Sla?.DueDate?.Format("02/01/2006 15:04") ?? ""`, ciEnv, ""},
		{`workOrder.Nte`, env, `{"Amount":1250.5}`},
	}
	for _, c := range cases {
		cols, err := compileColumns([]Column{{Name: "c", Value: c.value}})
		if err != nil {
			t.Errorf("%s: compile: %v", c.value, err)
			continue
		}
		row, err := evalRow(cols, c.env, false)
		if err != nil {
			t.Errorf("%s: eval: %v", c.value, err)
			continue
		}
		if row[0] != c.want {
			t.Errorf("%s = %q, want %q", c.value, row[0], c.want)
		}
	}
}

func TestColumnCompileErrors(t *testing.T) {
	for _, v := range []string{
		"workOrder.WorkOrderNumbr", // typo caught at config time
		"event.Nope",
		"nosuchname",
		"1 +",
		`workOrder.Sla.DueDate + 1`,
	} {
		if _, err := compileColumns([]Column{{Name: "x", Value: v}}); err == nil {
			t.Errorf("%q compiled; want an error", v)
		} else if !strings.Contains(err.Error(), `"x"`) {
			t.Errorf("%q: error does not name the column: %v", v, err)
		}
	}
}

func TestColumnRuntimeErrorNamesColumn(t *testing.T) {
	cols, err := compileColumns([]Column{{Name: "due", Value: "workOrder.Sla.DueDate.Format('2006')"}, {Name: "bad", Value: "workOrder.Nte.Amount > 1"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = evalRow(cols, &Env{}, false) // no work order: the expression (not a path) dereferences nil
	if err == nil || !strings.Contains(err.Error(), `column "due"`) {
		t.Fatalf("err = %v, want one naming column due", err)
	}
}

func TestEscapeFormula(t *testing.T) {
	for in, want := range map[string]string{
		"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")",
		"+1 555":            "'+1 555",
		"@SUM(A1)":          "'@SUM(A1)",
		"-12.5":             "-12.5",
		"+3":                "+3",
		"- dash note":       "'- dash note",
		"plain":             "plain",
		"":                  "",
	} {
		if got := escapeFormula(in); got != want {
			t.Errorf("escapeFormula(%q) = %q, want %q", in, got, want)
		}
	}
}
