package rules

import (
	"fmt"
	"testing"

	"github.com/wogate/wogate/pkg/core/config"
	"github.com/wogate/wogate/pkg/corrigo"
)

// benchRules builds n rules. With pinned, every rule but a few pins an
// action other than NewWorkOrder (as real configurations do: most rules
// are about one action); without, no rule is pinned and each must run.
// Conditions are realistic: an action test plus a work order or event
// field test.
func benchRules(n int, pinned bool) []config.Rule {
	others := []corrigo.Action{}
	for _, a := range corrigo.KnownActions {
		if a != corrigo.ActionNewWorkOrder {
			others = append(others, a)
		}
	}
	rs := make([]config.Rule, n)
	for i := range rs {
		var when string
		switch {
		case !pinned:
			when = fmt.Sprintf(`workOrder.Customer.ID == %d && workOrder.Sla.PriorityId == %d`, 1000+i, (i+2)%5)
		case i%100 == 0: // 1% of the rules concern NewWorkOrder
			when = fmt.Sprintf(`event.Action == "NewWorkOrder" && workOrder.Customer.ID == %d`, 1000+i)
		default:
			when = fmt.Sprintf(`event.Action == %q && event.BranchId == %d`, others[i%len(others)], i)
		}
		rs[i] = config.Rule{Name: fmt.Sprintf("rule-%d", i), When: when, Plugin: "p"}
	}
	return rs
}

func benchEnv() *Env {
	return &Env{
		Event: EventEnv{Action: "NewWorkOrder", WorkOrderId: 1, BranchId: 7},
		WorkOrder: &corrigo.WorkOrder{
			WorkOrderId: 1,
			Customer:    &corrigo.CustomerRef{ID: 1000, Name: "Acme"},
			Sla:         &corrigo.Sla{PriorityId: 2, IsEmergency: true},
		},
		Account: "main",
		Now:     now,
	}
}

// BenchmarkEvaluate reports the cost of deciding one NewWorkOrder event:
//
//	go test -run '^$' -bench BenchmarkEvaluate -benchmem ./pkg/core/rules/
//
// rules=10 and rules=1000 pin most rules to other actions (the action
// index skips them); rules=1000-unpinned is the same count with nothing to
// index, for comparison.
func BenchmarkEvaluate(b *testing.B) {
	for _, c := range []struct {
		name   string
		n      int
		pinned bool
	}{
		{"rules=10", 10, true},
		{"rules=1000", 1000, true},
		{"rules=1000-unpinned", 1000, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := mustCompile(b, benchRules(c.n, c.pinned)...)
			env := benchEnv()
			d, err := s.Evaluate(env)
			if err != nil || len(d.Matched) != 1 {
				b.Fatalf("decision %+v %v", d, err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Evaluate(env); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
			b.ReportMetric(float64(d.Evaluated), "rules-evaluated/event")
		})
	}
}

// BenchmarkEvaluateParallel is BenchmarkEvaluate/rules=1000 on every CPU,
// checking that the per-goroutine VM pool does not serialise evaluation.
func BenchmarkEvaluateParallel(b *testing.B) {
	s := mustCompile(b, benchRules(1000, true)...)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		env := benchEnv()
		for pb.Next() {
			if _, err := s.Evaluate(env); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCompile is the cost of compiling 1,000 rules (load and reload).
func BenchmarkCompile(b *testing.B) {
	rs := benchRules(1000, true)
	for i := 0; i < b.N; i++ {
		if _, err := Compile(rs); err != nil {
			b.Fatal(err)
		}
	}
}
