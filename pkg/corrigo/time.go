package corrigo

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// Time is a UTC timestamp as CorrigoPro writes it.
//
// CorrigoPro is a .NET service: ActionDate carries seven fractional digits
// and a trailing Z ("2017-10-05T10:17:40.7259888Z"), but some samples omit the
// zone, and optional dates are sent as null. Time accepts all of these and
// always marshals RFC 3339 in UTC with a Z. The zero Time marshals as null.
type Time struct {
	time.Time
}

// timeLayouts are tried in order when decoding. Layouts without a zone are
// read as UTC, which is what CorrigoPro means by them.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.9999999",
	"2006-01-02T15:04:05",
	"2006-01-02",
}

// NewTime wraps t, normalised to UTC.
func NewTime(t time.Time) Time { return Time{t.UTC()} }

// ParseTime parses a CorrigoPro timestamp in any of the accepted layouts.
func ParseTime(s string) (Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC()
			// A zone offset can push 9999-12-31 into year 10000, which
			// RFC 3339 cannot write back; refuse it so every accepted time
			// survives a round trip.
			if t.Year() < 0 || t.Year() > 9999 {
				return Time{}, fmt.Errorf("corrigo: time %q is outside years 0-9999", s)
			}
			return Time{t}, nil
		}
	}
	return Time{}, fmt.Errorf("corrigo: cannot parse time %q", s)
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) || bytes.Equal(b, []byte(`""`)) {
		*t = Time{}
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("corrigo: time must be a JSON string, got %.40s", b)
	}
	parsed, err := ParseTime(string(b[1 : len(b)-1]))
	if err != nil {
		return err
	}
	*t = parsed
	return nil
}

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.UTC().Format(time.RFC3339Nano) + `"`), nil
}

// Ptr returns a pointer to a copy of t, or nil when t is zero; handy for
// optional request fields such as ActualActionDate.
func (t Time) Ptr() *Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
