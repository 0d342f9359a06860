package rules

import (
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/core/config"
)

// TestDidYouMeanInConditions: an unknown field, method or name in a
// condition names the closest one that exists, at every depth of the
// environment; nothing close means no hint.
func TestDidYouMeanInConditions(t *testing.T) {
	for _, c := range []struct{ when, want string }{
		{`event.WorkOrderID == 1`, `type rules.EventEnv has no field WorkOrderID (did you mean "WorkOrderId"?)`},
		{`event.WorkOrder.Priorty == nil`, `type rules.EventEnv has no field WorkOrder (did you mean "WorkOrderId"?)`},
		{`workOrder.WorkOrderNumbr == "x"`, `type corrigo.WorkOrder has no field WorkOrderNumbr (did you mean "WorkOrderNumber"?)`},
		{`workOrder.Sla.PriortyName == "x"`, `type corrigo.Sla has no field PriortyName (did you mean "PriorityName"?)`},
		{`workOrder.Sla.IsEmergncy`, `type corrigo.Sla has no field IsEmergncy (did you mean "IsEmergency"?)`},
		{`event.Sender.Typ == "x"`, `type corrigo.Sender has no field Typ (did you mean "Type"?)`},
		{`header.Actoin == "x"`, `type corrigo.Header has no field Actoin (did you mean "Action"?)`},
		{`customer.Nam == "x"`, `type rules.CustomerEnv has no field Nam (did you mean "Name"?)`},
		{`workorder.Sla.IsEmergency`, `unknown name workorder (did you mean "workOrder"?)`},
		{`hasWorkorder`, `unknown name hasWorkorder (did you mean "hasWorkOrder"?)`},
		{`hoursSnce(now) > 1`, `unknown name hoursSnce (did you mean "hoursSince"?)`},
		{`lenn(event.Text) > 1`, `unknown name lenn (did you mean "len"?)`},
		{`yes`, "unknown name yes\n"}, // not "abs": two edits in three letters
		{`event.Xyzzyplugh == 1`, "type rules.EventEnv has no field Xyzzyplugh\n"},
		{`workOrder.Nte.Amount.Foo > 1`, "type float64 has no field Foo\n"},
	} {
		_, err := Compile([]config.Rule{{Name: "r", When: c.when, Plugin: "p", File: "c.yaml", Line: 1, Column: 7}})
		if err == nil {
			t.Errorf("%s: compiled", c.when)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n got %s\nwant %s", c.when, err, c.want)
		}
	}
}

// TestHintTablesCoverEnv: every struct type a condition can reach has its
// fields listed, so a hint is never missing for want of a table entry.
func TestHintTablesCoverEnv(t *testing.T) {
	h := loadHints()
	for _, typ := range []string{"rules.EventEnv", "corrigo.Header", "corrigo.WorkOrder", "*corrigo.WorkOrder",
		"corrigo.Sla", "corrigo.Nte", "corrigo.Sender", "corrigo.GeoLocation", "rules.CustomerEnv"} {
		if len(h.fields[typ]) == 0 {
			t.Errorf("no fields recorded for %s", typ)
		}
	}
	for _, n := range []string{"event", "workOrder", "now", "since", "inBusinessHours", "len", "filter"} {
		found := false
		for _, x := range h.names {
			found = found || x == n
		}
		if !found {
			t.Errorf("name %s not among the candidates", n)
		}
	}
}
