package typo

import (
	"strings"
	"testing"
)

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"", "abc", 3}, {"erp", "epr", 2},
		{"kitten", "sitting", 3}, {"interval", "intervall", 1}, {"same", "same", 0},
	} {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestClosest(t *testing.T) {
	cands := []string{"interval", "lookback", "Timeout", "timeouts"}
	for _, tc := range []struct {
		s     string
		limit int
		want  string
	}{
		{"intervall", 3, "interval"},
		{"TIMEOUT", 3, "Timeout"},   // case-insensitive; the earlier of a tie wins
		{"lokback", 2, "lookback"},  // distance 1 < 2
		{"lkbk", 3, ""},             // distance 4: too far
		{"interval", 1, "interval"}, // exact match
		{strings.Repeat("x", 65), 99, ""},
	} {
		if got := Closest(tc.s, cands, tc.limit); got != tc.want {
			t.Errorf("Closest(%q, %d) = %q, want %q", tc.s, tc.limit, got, tc.want)
		}
	}
	if got := Closest("a", []string{strings.Repeat("a", 65)}, 99); got != "" {
		t.Errorf("a candidate over %d bytes was considered: %q", maxLen, got)
	}
}
