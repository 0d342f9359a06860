package rules

import (
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/corrigo"
)

// FuzzCompile compiles arbitrary conditions: compiling must never panic
// (or hit the recover in compileOne), errors must name the rule's file,
// and a condition that compiles must evaluate without panicking, with or
// without a work order.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`true`, `false`, `event.Action == "NewWorkOrder" && workOrder.Sla.IsEmergency`,
		`event.Action in ["Accepted", "Rejected"] || event.Action == "Paused"`,
		`since(workOrder.Sla.DueDate) > duration("2h")`, `hoursUntil(workOrder.Sla.DueDate) < 4`,
		`inBusinessHours(now, "Mon-Fri 08:00-18:00", "America/New_York")`,
		`match(event.Text, "(?i)leak")`, `containsAny(lower(event.Text), ["a", "b"])`,
		`isStatus(workOrder.Status, "New")`, `workOrder.Status in ["New"]`, `workOrder.Sla.DueDate > now`,
		`len(workOrder.WorkDetails.Assets) > 0 && workOrder.WorkDetails.Assets[0].Id == 1`,
		`let x = event.BranchId; x > 3`, `any(event.CustomFields, {.Value == "x"})`,
		"event.Action ==\n  \"A\"", `1 +`, `)`, `event.`, `"\xff"`, `since()`, `since(1, 2)`,
		`inBusinessHours(now, event.Comment, event.Text)`, `match(event.Text, event.Comment)`,
	} {
		f.Add(s)
	}
	envs := []*Env{
		{},
		{Event: EventEnv{Action: "NewWorkOrder", Text: "Leak", Comment: "Mon 08:00-09:00"}, WorkOrder: &corrigo.WorkOrder{Sla: &corrigo.Sla{IsEmergency: true}}},
	}
	f.Fuzz(func(t *testing.T, when string) {
		r := config.Rule{Name: "fuzz", When: when, Plugin: "p", File: "fuzz.yaml", Line: 3, Column: 11}
		s, err := Compile([]config.Rule{r, {Name: "after", When: "true", Plugin: "p", File: "fuzz.yaml"}})
		if err != nil {
			if strings.Contains(err.Error(), "internal compiler error") {
				t.Fatalf("compiler panicked: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, env := range envs {
			d, err := s.Evaluate(env)
			if err == nil && !d.Stopped && (len(d.Matched) == 0 || d.Matched[len(d.Matched)-1].Rule != "after") {
				t.Fatalf("the catch-all rule after %q did not match: %+v", when, d)
			}
			full, ferr := s.evaluate(env, false)
			if (err == nil) != (ferr == nil) || len(full.Matched) != len(d.Matched) {
				t.Fatalf("indexed and full evaluation differ for %q: %v/%v vs %v/%v", when, d, err, full, ferr)
			}
		}
	})
}
