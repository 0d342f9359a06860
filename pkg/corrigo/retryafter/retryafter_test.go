package retryafter

import (
	"net/http"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"4", 4 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{"007", 7 * time.Second, true},
		{"99999999999999999999999", maxSeconds * time.Second, true},
		{"Mon, 07 Dec 2026 12:00:30 GMT", 30 * time.Second, true}, // IMF-fixdate
		{"Monday, 07-Dec-26 12:01:00 GMT", time.Minute, true},     // RFC 850
		{"Mon Dec  7 12:00:05 2026", 5 * time.Second, true},       // asctime
		{"Mon, 07 Dec 2026 11:00:00 GMT", 0, true},                // in the past: at once
		{"", 0, false},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"4 s", 0, false},
		{"+4", 0, false},
		{"soon", 0, false},
		{"2026-12-07T12:00:30Z", 0, false},
	} {
		got, ok := Parse(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestFromHeaderAndCap(t *testing.T) {
	now := time.Now()
	if _, ok := FromHeader(nil, now); ok {
		t.Error("nil header parsed")
	}
	h := http.Header{}
	h.Set("Retry-After", "4")
	if d, ok := FromHeader(h, now); !ok || d != 4*time.Second {
		t.Errorf("FromHeader = %v, %v", d, ok)
	}
	for _, tc := range []struct{ d, limit, want time.Duration }{
		{4 * time.Second, time.Minute, 4 * time.Second},
		{time.Hour, time.Minute, time.Minute},
		{time.Hour, 0, 0},
		{0, time.Minute, 0},
	} {
		if got := Cap(tc.d, tc.limit); got != tc.want {
			t.Errorf("Cap(%v, %v) = %v, want %v", tc.d, tc.limit, got, tc.want)
		}
	}
}

// FuzzParse: any header value parses without panicking, and an accepted
// value is never negative.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"4", "0", "Mon, 07 Dec 2026 12:00:30 GMT", "Mon Dec  7 12:00:05 2026", "-1", "99999999999999999999", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := Parse(s, now)
		if d < 0 || (!ok && d != 0) {
			t.Fatalf("Parse(%q) = %v, %v", s, d, ok)
		}
	})
}
