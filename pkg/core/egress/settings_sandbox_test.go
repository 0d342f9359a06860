package egress

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
	"github.com/wogate/wogate/pkg/pluginapi"
)

func settingsCalls(sb *sandbox.Sandbox) int {
	return len(sb.Usage(sandbox.UsageFilter{PathPrefix: "/Direct/api/customerSettings"}))
}

// withValue is a complete Harbor check-out whose custom field 501 says v.
func withValue(t *testing.T, c *corrigo.Client, id int64, v string) pluginapi.Action {
	t.Helper()
	a := completeFor(t, c, sandbox.CustomerHarbor)
	a.WorkOrderID = id
	a.CustomFields = slices.Clone(a.CustomFields)
	for i := range a.CustomFields {
		if a.CustomFields[i].Id == 501 {
			a.CustomFields[i].Value = v
		}
	}
	return a
}

// TestSettingsRefusalRefetchesSettings: the customer allows a new custom
// field value after the guard cached its settings. A check-out with it is
// not refused on the hour-old copy: the guard fetches the settings once
// more, lets it through, and the sandbox takes it. A value still not
// allowed is refused after that one fetch, and the refusal is not
// confirmed again within the same check.
func TestSettingsRefusalRefetchesSettings(t *testing.T) {
	sb, c := startSandbox(t)
	s := NewSender(map[string]API{"main": c}, Options{Logger: quiet})
	g := s.Guard()
	ctx := context.Background()
	wo, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerHarbor, Type: corrigo.TypeRequest,
		Status: corrigo.StatusCheckedIn, Silent: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.CustomerSettings(ctx, "main", sandbox.CustomerHarbor); err != nil {
		t.Fatal(err)
	}
	if err := sb.UpdateCustomerSettings(sandbox.CustomerHarbor, func(cs *corrigo.CustomerSettings) {
		for i := range cs.CustomFields {
			if cs.CustomFields[i].Id == 501 {
				cs.CustomFields[i].Values = append(cs.CustomFields[i].Values, "Contractor")
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	act := withValue(t, c, wo.WorkOrderId, "Contractor")
	before := settingsCalls(sb)
	refusal, err := g.Check(ctx, "main", act)
	if err != nil || refusal != "" {
		t.Fatalf("refused on stale settings: %q %v", refusal, err)
	}
	if n := settingsCalls(sb) - before; n != 1 {
		t.Errorf("%d customerSettings calls for the check, want 1", n)
	}
	// The sandbox agrees: the check-out goes through.
	if err := call(ctx, c, act); err != nil {
		t.Fatalf("sandbox refused the check-out the guard allowed: %v", err)
	}

	// A value the customer does not allow: refused after one fetch.
	wo2, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerHarbor, Type: corrigo.TypeRequest,
		Status: corrigo.StatusCheckedIn, Silent: true})
	if err != nil {
		t.Fatal(err)
	}
	// The guard knows the work order: a refusal on cached information is
	// confirmed by fetching it again, but the settings only once.
	full2, _, _ := sb.WorkOrder(wo2.WorkOrderId)
	g.ObserveWorkOrder("main", &full2)
	intern := withValue(t, c, wo2.WorkOrderId, "Intern")
	before = settingsCalls(sb)
	refusal, err = g.Check(ctx, "main", intern)
	if err != nil || !strings.Contains(refusal, `custom field 501 (Work performed by) does not allow "Intern"`) {
		t.Fatalf("refusal %q, err %v", refusal, err)
	}
	if n := settingsCalls(sb) - before; n != 1 {
		t.Errorf("settings fetched %d times before the refusal, want 1", n)
	}
	if err := call(ctx, c, intern); err == nil {
		t.Error("the sandbox accepted the value the guard refused")
	}
}

// TestDescriptorUpdateInvalidatesSettings: an AdditionalFieldDescriptorUpdated
// notification drops the cached settings of the work order's customer, so
// the next check reads the customer's new requirement (here: a field that
// became required) from CorrigoPro.
func TestDescriptorUpdateInvalidatesSettings(t *testing.T) {
	sb, c := startSandbox(t)
	s := NewSender(map[string]API{"main": c}, Options{Logger: quiet})
	g := s.Guard()
	ctx := context.Background()
	wo, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerHarbor, Type: corrigo.TypeRequest,
		Status: corrigo.StatusCheckedIn, Silent: true})
	if err != nil {
		t.Fatal(err)
	}
	full, _, _ := sb.WorkOrder(wo.WorkOrderId)
	g.ObserveWorkOrder("main", &full)
	act := withValue(t, c, wo.WorkOrderId, "Technician")
	act.CustomFields = slices.DeleteFunc(act.CustomFields, func(cf corrigo.CustomField) bool { return cf.Id == 502 })
	if refusal, err := g.Check(ctx, "main", act); err != nil || refusal != "" {
		t.Fatalf("first check: %q %v", refusal, err)
	}
	if err := sb.UpdateCustomerSettings(sandbox.CustomerHarbor, func(cs *corrigo.CustomerSettings) {
		for i := range cs.CustomFields {
			if cs.CustomFields[i].Id == 502 {
				cs.CustomFields[i].IsRequired = true
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	// Without the notification the cached settings (fetched just now)
	// still let it through.
	if refusal, _ := g.Check(ctx, "main", act); refusal != "" {
		t.Fatalf("refused before any sign of the change: %q", refusal)
	}
	body, _ := json.Marshal(map[string]any{"Header": map[string]any{"WorkOrderId": wo.WorkOrderId,
		"Action": "AdditionalFieldDescriptorUpdated", "MessageId": "m-1"}, "Id": "502", "Label": "Technician count"})
	n, err := corrigo.DecodeNotification(body)
	if err != nil {
		t.Fatal(err)
	}
	before := settingsCalls(sb)
	g.ObserveNotification("main", n)
	refusal, err := g.Check(ctx, "main", act)
	if err != nil || !strings.Contains(refusal, "customer 90256 requires custom field 502 (Technician count)") {
		t.Fatalf("after the notification: %q %v", refusal, err)
	}
	if got := settingsCalls(sb) - before; got != 1 {
		t.Errorf("%d settings fetches after the notification, want 1", got)
	}
	if err := call(ctx, c, act); err == nil {
		t.Error("the sandbox took the check-out without the now required field")
	}

	// A notification about a work order the guard does not know drops
	// every customer of the account.
	g.smu.Lock()
	cached := len(g.settings)
	g.smu.Unlock()
	body, _ = json.Marshal(map[string]any{"Header": map[string]any{"WorkOrderId": 999999,
		"Action": "AdditionalFieldDescriptorUpdated", "MessageId": "m-2"}})
	if n, err = corrigo.DecodeNotification(body); err != nil {
		t.Fatal(err)
	}
	g.ObserveNotification("main", n)
	g.smu.Lock()
	left := len(g.settings)
	g.smu.Unlock()
	if cached == 0 || left != 0 {
		t.Errorf("cached %d, %d left after an account-wide invalidation", cached, left)
	}
}

// TestRepairCategoryAloneIsNotRepairInfo: a check-out for a customer that
// requires repair information, naming only a repair category, is refused
// with a reason that says the code is missing, and the sandbox rejects it
// as well.
func TestRepairCategoryAloneIsNotRepairInfo(t *testing.T) {
	sb, c := startSandbox(t)
	s := NewSender(map[string]API{"main": c}, Options{Logger: quiet})
	ctx := context.Background()
	act := withValue(t, c, 0, "Technician")
	act.RepairInfo = &corrigo.RepairInfo{CategoryId: 7, Category: "Electrical"}
	for _, target := range []string{"guard", "sandbox"} {
		wo, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerHarbor, Type: corrigo.TypeRequest,
			Status: corrigo.StatusCheckedIn, Silent: true})
		if err != nil {
			t.Fatal(err)
		}
		act.WorkOrderID = wo.WorkOrderId
		if target == "guard" {
			refusal, err := s.Guard().Check(ctx, "main", act)
			if err != nil || !strings.Contains(refusal, "requires RepairInfo with a repair code (a category alone does not identify one)") {
				t.Fatalf("guard: %q %v", refusal, err)
			}
		} else if err := call(ctx, c, act); err == nil {
			t.Fatal("the sandbox took a check-out with only a repair category")
		}
	}
}
