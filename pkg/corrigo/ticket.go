package corrigo

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// This file models the payload of a CorrigoPro token (API.md §6.1): a
// JSON-serialised .NET/OWIN AuthenticationTicket, that is a ClaimsIdentity
// (AuthenticationType, NameClaimType, RoleClaimType, Claims) plus the
// AuthenticationProperties dictionary holding ".issued" and ".expires".
// Both OAuth access tokens and webhook bearer tokens carry one.

// Claim types and values CorrigoPro's tickets use.
const (
	// ClaimTypeName is the .NET ClaimTypes.Name URI; it is also the
	// ticket's NameClaimType and RoleClaimType in the observed token.
	ClaimTypeName = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
	// ClaimTypeScope carries the OAuth scope (empty in the observed token).
	ClaimTypeScope = "urn:oauth:scope"
	// ClaimTypeAudience carries the audience, "CorrigoProDirect" for
	// CorrigoPro Direct tokens.
	ClaimTypeAudience = "Aud"
	// ClaimValueTypeString is the XML Schema string type every claim uses.
	ClaimValueTypeString = "http://www.w3.org/2001/XMLSchema#string"
	// ClaimIssuerLocal is .NET's default claim issuer.
	ClaimIssuerLocal = "LOCAL AUTHORITY"

	// TicketIssuedKey and TicketExpiresKey are the property names of the
	// issue and expiry instants in Properties.Dictionary.
	TicketIssuedKey  = ".issued"
	TicketExpiresKey = ".expires"

	// TicketTimeFormat is how .NET writes the ticket instants: the RFC 1123
	// "r" format, always in GMT ("Wed, 28 Feb 2024 02:23:24 GMT").
	TicketTimeFormat = http.TimeFormat
)

// Ticket is a decoded CorrigoPro token payload (API.md §6.1). Field names
// follow the .NET JSON exactly, so a Ticket marshals back to the same shape.
type Ticket struct {
	AuthenticationType string
	NameClaimType      string
	RoleClaimType      string
	Claims             []Claim
	Properties         TicketProperties
}

// Claim is one System.Security.Claims.Claim.
type Claim struct {
	Type           string
	Value          string
	ValueType      string `json:",omitempty"`
	Issuer         string `json:",omitempty"`
	OriginalIssuer string `json:",omitempty"`
}

// TicketProperties is the serialised AuthenticationProperties.
type TicketProperties struct {
	Dictionary map[string]string
}

// ErrNoTicketTime is returned by Ticket.Issued and Ticket.Expires when the
// property is absent.
var ErrNoTicketTime = errors.New("ticket property is absent")

// Claim returns the value of the first claim of type typ, and whether there
// is one. Claim types are URIs or short names; they are compared exactly,
// except that a short name (no "/" or ":") also matches case-insensitively,
// because .NET code is inconsistent about "Aud" versus "aud".
func (t *Ticket) Claim(typ string) (string, bool) {
	for _, c := range t.Claims {
		if c.Type == typ {
			return c.Value, true
		}
	}
	if !strings.ContainsAny(typ, "/:") {
		for _, c := range t.Claims {
			if strings.EqualFold(c.Type, typ) {
				return c.Value, true
			}
		}
	}
	return "", false
}

// Audience returns the "Aud" claim ("CorrigoProDirect" on real tokens), or
// "" when the ticket has none.
func (t *Ticket) Audience() string {
	v, _ := t.Claim(ClaimTypeAudience)
	return v
}

// Audiences returns every "Aud" claim value, in order. A ticket may name
// more than one audience; the verifier accepts it when any one matches.
func (t *Ticket) Audiences() []string {
	var out []string
	for _, c := range t.Claims {
		if strings.EqualFold(c.Type, ClaimTypeAudience) {
			out = append(out, c.Value)
		}
	}
	return out
}

// Name returns the identity's name: the claim of type NameClaimType, or of
// the standard name claim type when NameClaimType is empty. For OAuth tokens
// it is the client id; for webhook tokens CorrigoPro redacts it in the one
// published sample, so do not rely on it for authorisation.
func (t *Ticket) Name() string {
	typ := t.NameClaimType
	if typ == "" {
		typ = ClaimTypeName
	}
	v, _ := t.Claim(typ)
	return v
}

// Issued returns the ".issued" instant in UTC. It returns ErrNoTicketTime
// when the property is absent and a parse error when it is unreadable.
func (t *Ticket) Issued() (time.Time, error) { return t.property(TicketIssuedKey) }

// Expires returns the ".expires" instant in UTC. It returns ErrNoTicketTime
// when the property is absent and a parse error when it is unreadable.
func (t *Ticket) Expires() (time.Time, error) { return t.property(TicketExpiresKey) }

func (t *Ticket) property(key string) (time.Time, error) {
	s, ok := t.Properties.Dictionary[key]
	if !ok || strings.TrimSpace(s) == "" {
		return time.Time{}, fmt.Errorf("%s: %w", key, ErrNoTicketTime)
	}
	tm, err := ParseTicketTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", key, err)
	}
	return tm, nil
}

// ticketTimeLayouts are tried in order. The first is what .NET writes; the
// rest tolerate a serializer configured for ISO 8601 or a numeric zone.
var ticketTimeLayouts = []string{
	TicketTimeFormat,
	time.RFC1123,
	time.RFC1123Z,
	time.RFC3339Nano,
	"2006-01-02T15:04:05.9999999",
}

// ParseTicketTime parses a ticket instant. The canonical form is RFC 1123 in
// GMT ("Wed, 28 Feb 2024 02:23:24 GMT"); ISO 8601 is accepted too. Instants
// without a zone are read as UTC. The result is in UTC.
func ParseTicketTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range ticketTimeLayouts {
		if tm, err := time.Parse(layout, s); err == nil {
			return tm.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot parse ticket time %q", truncateForLog(s, 64))
}

// FormatTicketTime writes an instant as .NET does: RFC 1123 in GMT, whole
// seconds.
func FormatTicketTime(t time.Time) string { return t.UTC().Format(TicketTimeFormat) }

// truncateForLog shortens s for an error message.
func truncateForLog(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// NewTicket builds a ticket shaped like CorrigoPro's: a Bearer identity with
// a name claim, an empty scope claim and an audience claim, issued at issued
// and expiring after lifetime. Instants are truncated to whole seconds, as
// the RFC 1123 form cannot carry more.
func NewTicket(name, audience string, issued time.Time, lifetime time.Duration) *Ticket {
	claim := func(typ, value string) Claim {
		return Claim{Type: typ, Value: value, ValueType: ClaimValueTypeString,
			Issuer: ClaimIssuerLocal, OriginalIssuer: ClaimIssuerLocal}
	}
	issued = issued.UTC().Truncate(time.Second)
	return &Ticket{
		AuthenticationType: "Bearer",
		NameClaimType:      ClaimTypeName,
		RoleClaimType:      ClaimTypeName,
		Claims: []Claim{
			claim(ClaimTypeName, name),
			claim(ClaimTypeScope, ""),
			claim(ClaimTypeAudience, audience),
		},
		Properties: TicketProperties{Dictionary: map[string]string{
			TicketIssuedKey:  FormatTicketTime(issued),
			TicketExpiresKey: FormatTicketTime(issued.Add(lifetime)),
		}},
	}
}
