package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Faults are injected failures. REST faults apply to /Direct/api/ only (not
// to OAuth or the control API); webhook faults apply to deliveries.
type Faults struct {
	// ErrorRate is the share (0..1) of REST calls answered 500 / code 1000
	// before they touch any state.
	ErrorRate float64
	// Latency is added to every REST call.
	Latency Duration
	// OutageFor starts an outage when set: every REST call answers 503 until
	// OutageUntil. Reading the faults back shows OutageUntil.
	OutageFor   Duration  `json:",omitzero"`
	OutageUntil time.Time `json:",omitzero"`
	// DuplicateRate is the share of successful deliveries sent a second time
	// at once (same body, same MessageId).
	DuplicateRate float64
	// RedeliverRate is the share of successful deliveries sent again after
	// RedeliverDelay (scaled by TimeScale), so they arrive after later
	// notifications: an out-of-order redelivery.
	RedeliverRate  float64
	RedeliverDelay Duration
	// WebhookFailRate is the share of delivery attempts that fail without
	// being sent (as if the network dropped them); they follow the retry
	// schedule.
	WebhookFailRate float64
}

// Duration is a time.Duration that reads and writes JSON as "1.5s" (numbers
// are read as nanoseconds).
type Duration time.Duration

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "250ms" or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration must be a string like \"250ms\" or nanoseconds")
	}
	*d = Duration(n)
	return nil
}

func (f Faults) validate() error {
	for name, v := range map[string]float64{
		"ErrorRate": f.ErrorRate, "DuplicateRate": f.DuplicateRate,
		"RedeliverRate": f.RedeliverRate, "WebhookFailRate": f.WebhookFailRate,
	} {
		if v < 0 || v > 1 {
			return fmt.Errorf("%s must be between 0 and 1, got %v", name, v)
		}
	}
	if f.Latency < 0 || f.OutageFor < 0 || f.RedeliverDelay < 0 {
		return errors.New("durations must not be negative")
	}
	return nil
}

// faultState is the immutable current setting, swapped atomically so
// handlers read it without a lock.
type faultState struct {
	Faults
}

func (s *Sandbox) setFaults(f Faults) {
	if f.OutageFor > 0 {
		f.OutageUntil = s.now().Add(time.Duration(f.OutageFor))
		f.OutageFor = 0
	}
	if f.RedeliverDelay == 0 {
		f.RedeliverDelay = Duration(5 * time.Minute)
	}
	s.faults.Store(&faultState{f})
}

// SetFaults replaces the fault-injection settings.
func (s *Sandbox) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	s.setFaults(f)
	return nil
}

// Faults returns the current fault-injection settings.
func (s *Sandbox) Faults() Faults { return s.faults.Load().Faults }

// chance draws a random event of probability p.
func (s *Sandbox) chance(p float64) bool {
	if p <= 0 {
		return false
	}
	if p >= 1 {
		return true
	}
	return s.randFloat() < p
}
