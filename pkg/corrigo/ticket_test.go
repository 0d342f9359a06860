package corrigo

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestTicketFromAPIMd(t *testing.T) {
	var tk Ticket
	if err := json.Unmarshal(readTestdata(t, "tokens/apimd-ticket.json"), &tk); err != nil {
		t.Fatal(err)
	}
	if got := tk.Audience(); got != "CorrigoProDirect" {
		t.Errorf("Audience = %q", got)
	}
	if got := tk.Name(); got != "<redacted>" {
		t.Errorf("Name = %q", got)
	}
	if scope, ok := tk.Claim(ClaimTypeScope); !ok || scope != "" {
		t.Errorf("scope claim = %q, %v", scope, ok)
	}
	iss, err := tk.Issued()
	if err != nil || !iss.Equal(apimdIssued) || iss.Location() != time.UTC {
		t.Errorf("Issued = %v, %v", iss, err)
	}
	exp, err := tk.Expires()
	if err != nil || !exp.Equal(apimdExpires) {
		t.Errorf("Expires = %v, %v", exp, err)
	}
	if exp.Sub(iss) != DefaultTokenLifetime {
		t.Errorf("lifetime %v, want %v", exp.Sub(iss), DefaultTokenLifetime)
	}
	// NewTicket builds the same shape.
	built := NewTicket("<redacted>", DefaultAudience, apimdIssued, DefaultTokenLifetime)
	a, _ := json.Marshal(built)
	var b any
	_ = json.Unmarshal(readTestdata(t, "tokens/apimd-ticket.json"), &b)
	bb, _ := json.Marshal(b)
	var aa any
	_ = json.Unmarshal(a, &aa)
	aaa, _ := json.Marshal(aa)
	if string(aaa) != string(bb) {
		t.Errorf("NewTicket differs from the published ticket:\n got %s\nwant %s", aaa, bb)
	}
}

func TestTicketAccessorsEdgeCases(t *testing.T) {
	tk := &Ticket{
		Claims: []Claim{
			{Type: "aud", Value: "lower"},
			{Type: ClaimTypeName, Value: "n"},
			{Type: "http://example.com/Aud", Value: "uri"},
		},
	}
	if tk.Audience() != "lower" {
		t.Errorf("Audience = %q, want case-insensitive short-name match", tk.Audience())
	}
	if tk.Name() != "n" {
		t.Errorf("Name with empty NameClaimType = %q", tk.Name())
	}
	if _, ok := tk.Claim("HTTP://EXAMPLE.COM/AUD"); ok {
		t.Error("URI claim types must match exactly")
	}
	if _, err := tk.Expires(); !errors.Is(err, ErrNoTicketTime) {
		t.Errorf("Expires on nil dictionary: %v", err)
	}
	tk.Properties.Dictionary = map[string]string{TicketIssuedKey: "garbage"}
	if _, err := tk.Issued(); err == nil || errors.Is(err, ErrNoTicketTime) {
		t.Errorf("Issued(garbage) = %v", err)
	}
	tk.NameClaimType = "custom"
	if tk.Name() != "" {
		t.Errorf("Name with absent custom claim = %q", tk.Name())
	}
}

func TestParseTicketTime(t *testing.T) {
	want := time.Date(2024, 2, 28, 2, 23, 24, 0, time.UTC)
	good := []string{
		"Wed, 28 Feb 2024 02:23:24 GMT",
		" Wed, 28 Feb 2024 02:23:24 GMT ",
		"Wed, 28 Feb 2024 02:23:24 UTC",
		"Wed, 28 Feb 2024 03:23:24 +0100",
		"2024-02-28T02:23:24Z",
		"2024-02-28T02:23:24.0000000Z",
		"2024-02-28T04:23:24+02:00",
		"2024-02-28T02:23:24",
	}
	for _, s := range good {
		got, err := ParseTicketTime(s)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("ParseTicketTime(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "soon", "28/02/2024", "Wed, 30 Feb 2024 02:23:24 GMT", "1709087004"} {
		if got, err := ParseTicketTime(s); err == nil {
			t.Errorf("ParseTicketTime(%q) = %v, want error", s, got)
		}
	}
	if s := FormatTicketTime(want.In(time.FixedZone("X", 3600))); s != "Wed, 28 Feb 2024 02:23:24 GMT" {
		t.Errorf("FormatTicketTime = %q", s)
	}
}
