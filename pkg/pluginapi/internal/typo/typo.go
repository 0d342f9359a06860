// Package typo finds the likely intended name for a misspelled one, for
// the "did you mean" hints in config, rule, rule-test and plugin-schema
// errors.
package typo

import "strings"

// maxLen bounds the names compared: the distance costs len(a)·len(b), and
// a hint for a name longer than this is not worth it on hostile input.
const maxLen = 64

// Closest returns the candidate nearest to s by case-insensitive edit
// distance, if that distance is below limit, or "" if none is. On a tie
// the earlier candidate wins, so callers pass candidates in a stable
// order.
func Closest(s string, candidates []string, limit int) string {
	if len(s) > maxLen {
		return ""
	}
	ls := strings.ToLower(s)
	best, bestD := "", limit
	for _, c := range candidates {
		if len(c) > maxLen {
			continue
		}
		if d := Distance(ls, strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// Distance is the Levenshtein distance between a and b, counted in bytes.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
