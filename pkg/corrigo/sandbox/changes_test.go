package sandbox_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
)

// TestAttachmentAndEquipmentChanges: the client's PUT/DELETE calls for
// attachments and equipment and GET heartbeat against the sandbox, with
// the status rules and codes of each.
func TestAttachmentAndEquipmentChanges(t *testing.T) {
	sb, c := start(t, sandbox.Options{})
	ctx := context.Background()
	if err := c.Heartbeat(ctx); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	// withAttachment uploads one attachment and returns its id.
	withAttachment := func(id int64) string {
		aid, err := c.UploadAttachment(ctx, corrigo.AttachmentUpload{WorkOrderId: id, Name: "photo.jpg", MimeType: "image/jpeg", Content: strings.NewReader("jpeg")})
		if err != nil {
			t.Fatal(err)
		}
		return aid
	}
	withEquipment := func(id int64) int64 {
		if err := c.AddEquipment(ctx, corrigo.EquipmentRequest{WorkOrderId: id, Equipment: corrigo.Equipment{Type: "New", Name: "Pump"}}); err != nil {
			t.Fatal(err)
		}
		eq, err := c.Equipment(ctx, id)
		if err != nil || len(eq) != 1 {
			t.Fatalf("equipment %+v %v", eq, err)
		}
		return eq[0].Id
	}
	N := sandbox.CustomerNorthwind
	tests := []struct {
		name  string
		from  corrigo.Status
		call  func(id int64) error
		code  int
		check func(t *testing.T, id int64)
	}{
		{"delete attachment", corrigo.StatusAccepted, func(id int64) error {
			return c.DeleteAttachment(ctx, corrigo.AttachmentDeleteRequest{WorkOrderId: id, AttachmentId: withAttachment(id)})
		}, 0, func(t *testing.T, id int64) {
			if as, err := c.Attachments(ctx, id); err != nil || len(as) != 0 {
				t.Fatalf("attachments after delete %+v %v", as, err)
			}
		}},
		{"delete unknown attachment", corrigo.StatusAccepted, func(id int64) error {
			return c.DeleteAttachment(ctx, corrigo.AttachmentDeleteRequest{WorkOrderId: id, AttachmentId: "nope"})
		}, corrigo.CodeEntityNotFound, nil},
		{"delete attachment without id", corrigo.StatusAccepted, func(id int64) error {
			return c.DeleteAttachment(ctx, corrigo.AttachmentDeleteRequest{WorkOrderId: id})
		}, corrigo.CodeValidation, nil},
		{"delete attachment of a Recalled work order", corrigo.StatusRecalled, func(id int64) error {
			return c.DeleteAttachment(ctx, corrigo.AttachmentDeleteRequest{WorkOrderId: id, AttachmentId: "x"})
		}, corrigo.CodeNotFoundOrRecalled, nil},
		{"delete attachment of a Rejected work order", corrigo.StatusRejected, func(id int64) error {
			return c.DeleteAttachment(ctx, corrigo.AttachmentDeleteRequest{WorkOrderId: id, AttachmentId: "x"})
		}, corrigo.CodeInvalidState, nil},
		// "Attachments cannot be modified" (API.md §1.5 [C]).
		{"update attachment", corrigo.StatusAccepted, func(id int64) error {
			return c.UpdateAttachment(ctx, corrigo.AttachmentUpdateRequest{WorkOrderId: id, AttachmentId: withAttachment(id), Name: "other.jpg"})
		}, corrigo.CodeBusinessRule, func(t *testing.T, id int64) {
			if as, err := c.Attachments(ctx, id); err != nil || len(as) != 1 || as[0].Name != "photo.jpg" {
				t.Fatalf("attachment changed: %+v %v", as, err)
			}
		}},
		{"update unknown attachment", corrigo.StatusAccepted, func(id int64) error {
			return c.UpdateAttachment(ctx, corrigo.AttachmentUpdateRequest{WorkOrderId: id, AttachmentId: "nope"})
		}, corrigo.CodeEntityNotFound, nil},
		{"update equipment", corrigo.StatusCheckedIn, func(id int64) error {
			return c.UpdateEquipment(ctx, corrigo.EquipmentRequest{WorkOrderId: id, Equipment: corrigo.Equipment{Id: withEquipment(id), SerialNumber: "SN-9"}})
		}, 0, func(t *testing.T, id int64) {
			if eq, err := c.Equipment(ctx, id); err != nil || len(eq) != 1 || eq[0].SerialNumber != "SN-9" || eq[0].Name != "Pump" {
				t.Fatalf("equipment after update %+v %v", eq, err)
			}
		}},
		{"update equipment without id", corrigo.StatusCheckedIn, func(id int64) error {
			return c.UpdateEquipment(ctx, corrigo.EquipmentRequest{WorkOrderId: id, Equipment: corrigo.Equipment{Name: "x"}})
		}, corrigo.CodeValidation, nil},
		{"update unknown equipment", corrigo.StatusCheckedIn, func(id int64) error {
			return c.UpdateEquipment(ctx, corrigo.EquipmentRequest{WorkOrderId: id, Equipment: corrigo.Equipment{Id: 12345, Name: "x"}})
		}, corrigo.CodeEntityNotFound, nil},
		{"delete equipment", corrigo.StatusCheckedIn, func(id int64) error {
			return c.DeleteEquipment(ctx, corrigo.EquipmentRequest{WorkOrderId: id, Equipment: corrigo.Equipment{Id: withEquipment(id)}})
		}, 0, func(t *testing.T, id int64) {
			if eq, err := c.Equipment(ctx, id); err != nil || len(eq) != 0 {
				t.Fatalf("equipment after delete %+v %v", eq, err)
			}
		}},
		{"delete equipment of a Rejected work order", corrigo.StatusRejected, func(id int64) error {
			return c.DeleteEquipment(ctx, corrigo.EquipmentRequest{WorkOrderId: id, Equipment: corrigo.Equipment{Id: 1}})
		}, corrigo.CodeInvalidState, nil},
		{"delete equipment of a Recalled work order", corrigo.StatusRecalled, func(id int64) error {
			return c.DeleteEquipment(ctx, corrigo.EquipmentRequest{WorkOrderId: id, Equipment: corrigo.Equipment{Id: 1}})
		}, corrigo.CodeNotFoundOrRecalled, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id := mk(t, sb, sandbox.WorkOrderSpec{CustomerId: N, Status: tc.from})
			wantErr(t, tc.call(id), tc.code)
			if tc.check != nil {
				tc.check(t, id)
			}
		})
	}
}
