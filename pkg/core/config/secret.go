package config

import (
	"fmt"
	"log/slog"
)

// redacted is what every printed form of a secret shows.
const redacted = "REDACTED"

// Secret is a string that must never reach a log, an error message or an
// admin page: client secrets, tokens, DSNs with passwords, certificates.
// Every way Go prints or encodes a value (fmt verbs, encoding/json,
// encoding.TextMarshaler users such as YAML, log/slog) shows "REDACTED";
// only Value returns the real string, so a leak needs an explicit call.
type Secret string

// Value returns the secret itself. Call it only where the secret is used.
func (s Secret) Value() string { return string(s) }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s == "" }

// shown is what a secret prints as: REDACTED, or nothing when it is empty
// (an empty secret reveals nothing, and "not set" is worth seeing).
func (s Secret) shown() string {
	if s == "" {
		return ""
	}
	return redacted
}

// String implements fmt.Stringer.
func (s Secret) String() string { return s.shown() }

// GoString implements fmt.GoStringer (%#v).
func (s Secret) GoString() string { return `"` + s.shown() + `"` }

// Format implements fmt.Formatter so that no verb (%s, %v, %x, %q...) can
// print the underlying bytes.
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'q', verb == 'v' && f.Flag('#'):
		_, _ = f.Write([]byte(s.GoString()))
	default:
		_, _ = f.Write([]byte(s.shown()))
	}
}

// MarshalText implements encoding.TextMarshaler (JSON, YAML, map keys).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.shown()), nil }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.shown() + `"`), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.shown()) }
