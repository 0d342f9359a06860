package store_test

import (
	"testing"

	"github.com/wogate/wogate/pkg/core/store"
)

// TestDecisionFormat pins the stored JSON: rows written by earlier
// versions must keep decoding, and an empty decision keeps "rules": [].
func TestDecisionFormat(t *testing.T) {
	d := store.Decision{Stopped: true, Rules: []store.RuleDecision{
		{Rule: "stop"},
		{Rule: "erp", Plugin: "erp", Shadow: true, Actions: 1, Millis: 2.5,
			Refused: []store.RefusedAction{{Index: 1, Kind: "reject", Reason: "reject needs a Comment"}}},
	}}
	const want = `{"rules":[{"rule":"stop","actions":0},{"rule":"erp","plugin":"erp","shadow":true,"actions":1,"refused":[{"index":1,"kind":"reject","reason":"reject needs a Comment"}],"plugin_ms":2.5}],"stopped":true}`
	b, err := d.Encode()
	if err != nil || string(b) != want {
		t.Fatalf("Encode = %s, %v; want %s", b, err, want)
	}
	back, err := store.DecodeDecision(b)
	if err != nil || len(back.Rules) != 2 || back.Rules[1].Refused[0].Reason != "reject needs a Comment" || !back.Stopped {
		t.Fatalf("DecodeDecision = %+v, %v", back, err)
	}
	if b, _ := (store.Decision{Skipped: "dup"}).Encode(); string(b) != `{"skipped":"dup","rules":[]}` {
		t.Errorf("skipped decision = %s", b)
	}
	if d, err := store.DecodeDecision(nil); err != nil || d.Rules != nil {
		t.Errorf("DecodeDecision(nil) = %+v, %v", d, err)
	}
	if _, err := store.DecodeDecision([]byte(`{"rules":7}`)); err == nil {
		t.Error("a malformed decision decoded")
	}
}
