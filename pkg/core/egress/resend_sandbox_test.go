package egress

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wogate/wogate/pkg/core/store"
	"github.com/wogate/wogate/pkg/corrigo"
	"github.com/wogate/wogate/pkg/corrigo/sandbox"
	"github.com/wogate/wogate/pkg/pluginapi"
)

// TestResendCheckRecordedAgainstSandbox plays the crash case for notes,
// messages and invoice updates against the sandbox over loopback: an
// action claimed again (Attempts 2) whose first attempt reached
// CorrigoPro is recorded sent without a second call; one whose first
// attempt never arrived is sent; an identical text recorded before the
// action was created does not count; a message CorrigoPro does not show
// (not visible to all) cannot be checked and is resent.
func TestResendCheckRecordedAgainstSandbox(t *testing.T) {
	sb, c := startSandbox(t)
	s := NewSender(map[string]API{"main": c}, Options{Logger: quiet})
	ctx := context.Background()
	w0, err := sb.CreateWorkOrder(sandbox.WorkOrderSpec{CustomerId: sandbox.CustomerHarbor, Type: corrigo.TypeRequest, Silent: true})
	if err != nil {
		t.Fatal(err)
	}
	id := w0.WorkOrderId
	next := int64(0)
	action := func(act pluginapi.Action, created time.Time) store.OutboxAction {
		next++
		act.WorkOrderID = id
		a := outbox(t, next, act, 1)
		a.CreatedAt = created
		return a
	}
	send := func(what string, a store.OutboxAction, attempts int) Result {
		t.Helper()
		a.Attempts = attempts
		r := s.Send(ctx, a)
		if r.Status != store.ActionSent || r.Retry {
			t.Fatalf("%s: %+v", what, r)
		}
		return r
	}
	// notSent asserts the resend found the first attempt's effect.
	notSent := func(what string, r Result) {
		t.Helper()
		if r.Resent || !strings.Contains(r.Reason, "not resent") {
			t.Fatalf("%s: %+v, want recorded as sent without resending", what, r)
		}
	}
	resent := func(what string, r Result) {
		t.Helper()
		if !r.Resent || r.Reason != "" {
			t.Fatalf("%s: %+v, want resent", what, r)
		}
	}
	notes := func() []string {
		t.Helper()
		h, err := c.NoteHistory(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range h {
			out = append(out, n.InternalNote)
		}
		return out
	}
	messages := func() []string {
		t.Helper()
		ms, err := c.Messages(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			out = append(out, m.Text)
		}
		return out
	}
	now := time.Now()

	t.Run("note", func(t *testing.T) {
		a := action(pluginapi.Action{Kind: pluginapi.KindNote, Text: "technician called ahead"}, now)
		send("first attempt", a, 1)
		notSent("resend after the note reached CorrigoPro", send("second attempt", a, 2))
		// Its first attempt never arrived: sent now.
		b := action(pluginapi.Action{Kind: pluginapi.KindNote, Text: "parts ordered"}, now)
		resent("resend of a note CorrigoPro never got", send("second attempt", b, 2))
		// The same text as an earlier note, but this action was created
		// after it (beyond the clock skew): not taken for it.
		later := action(pluginapi.Action{Kind: pluginapi.KindNote, Text: "technician called ahead"}, time.Now().Add(5*time.Minute))
		resent("same text, later action", send("second attempt", later, 2))
		if got := strings.Join(notes(), "|"); got != "technician called ahead|parts ordered|technician called ahead" {
			t.Fatalf("note history %q", got)
		}
	})

	t.Run("message", func(t *testing.T) {
		a := action(pluginapi.Action{Kind: pluginapi.KindMessage, Text: "on our way"}, now)
		send("first attempt", a, 1)
		notSent("resend after the message reached CorrigoPro", send("second attempt", a, 2))
		b := action(pluginapi.Action{Kind: pluginapi.KindMessage, Text: "arriving at 10", Visibility: "All"}, now)
		resent("resend of a message CorrigoPro never got", send("second attempt", b, 2))
		if got := strings.Join(messages(), "|"); got != "on our way|arriving at 10" {
			t.Fatalf("messages %q", got)
		}
		// CruOnly messages are not in GET api/messages: at least once.
		crew := action(pluginapi.Action{Kind: pluginapi.KindMessage, Text: "bring the ladder", Visibility: "CruOnly"}, now)
		send("first attempt", crew, 1)
		resent("crew-only message", send("second attempt", crew, 2))
	})

	t.Run("invoice_update", func(t *testing.T) {
		inv := &corrigo.Invoice{InvoiceNumber: "INV-7", InvoiceDate: corrigo.NewTime(now.Truncate(time.Second)), Comment: "March visit",
			DiscountAmount: 5, LineItems: []corrigo.LineItem{
				{Type: corrigo.LineItemLabor, Description: "2h labour", Quantity: 2, Rate: 80},
				{Type: corrigo.LineItemMaterial, Description: "fuse", Quantity: 3, Rate: 4.99},
			}}
		a := action(pluginapi.Action{Kind: pluginapi.KindInvoiceUpdate, Invoice: inv}, now)
		send("first attempt", a, 1)
		first, err := c.GetInvoice(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		notSent("resend after the update reached CorrigoPro", send("second attempt", a, 2))
		again, err := c.GetInvoice(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		// A resend would have replaced the lines (new ids).
		if len(again.LineItems) != 2 || again.LineItems[0].Id != first.LineItems[0].Id || again.LineItems[1].Id != first.LineItems[1].Id {
			t.Fatalf("invoice lines changed by the resend check: %+v then %+v", first.LineItems, again.LineItems)
		}
		// A different amount: the update did not take effect, sent now.
		changed := *inv
		changed.LineItems = []corrigo.LineItem{{Type: corrigo.LineItemLabor, Description: "2h labour", Quantity: 2, Rate: 85}}
		b := action(pluginapi.Action{Kind: pluginapi.KindInvoiceUpdate, Invoice: &changed}, now)
		resent("update CorrigoPro never got", send("second attempt", b, 2))
		final, err := c.GetInvoice(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(final.LineItems) != 1 || final.LineItems[0].Rate != 85 {
			t.Fatalf("invoice after the changed update: %+v", final.LineItems)
		}
	})
}
