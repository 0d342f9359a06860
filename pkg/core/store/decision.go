package store

import "encoding/json"

// Decision is the rule decision stored with each handled event
// (Event.Decision, Outcome.Decision): which rules matched, what their
// plugins answered, and why an event was skipped. Dispatch writes it; the
// admin timeline and gateway replay read it. It is the one declaration of
// that JSON, so a field dispatch adds is one the readers see.
type Decision struct {
	// Skipped says why no rule ran (a duplicate NewWorkOrder).
	Skipped string         `json:"skipped,omitempty"`
	Rules   []RuleDecision `json:"rules"`
	// Stopped: a matching rule with stop ended the evaluation.
	Stopped bool `json:"stopped,omitempty"`
}

// RuleDecision is one matched rule in a Decision.
type RuleDecision struct {
	Rule   string `json:"rule"`
	Plugin string `json:"plugin,omitempty"` // "" for a stop rule without a plugin
	Shadow bool   `json:"shadow,omitempty"`
	// Actions counts the actions written to the outbox.
	Actions int `json:"actions"`
	// Refused are the plugin's actions that were not written, with why.
	Refused []RefusedAction `json:"refused,omitempty"`
	// Millis is how long the plugin call took.
	Millis float64 `json:"plugin_ms,omitempty"`
}

// RefusedAction is an action a plugin returned that dispatch did not
// write to the outbox (it did not validate).
type RefusedAction struct {
	Index  int    `json:"index"` // its position in the plugin's answer
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}

// Encode is the JSON stored as Outcome.Decision. Rules is always an array
// (never null), so readers see "no rule matched" as [].
func (d Decision) Encode() (json.RawMessage, error) {
	if d.Rules == nil {
		d.Rules = []RuleDecision{}
	}
	return json.Marshal(d)
}

// DecodeDecision reads a stored decision. An empty raw (an event not
// handled yet, or one whose rules failed) is the zero Decision.
func DecodeDecision(raw json.RawMessage) (Decision, error) {
	var d Decision
	if len(raw) == 0 {
		return d, nil
	}
	err := json.Unmarshal(raw, &d)
	return d, err
}
