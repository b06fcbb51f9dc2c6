package main

import (
	"fmt"
	"slices"
)

// didYouMean suggests the known name nearest to a mistyped one, as
// `; did you mean "execute"?`, or "" when none is near enough to help.
func didYouMean(typed string, known []string) string {
	best, bestDist := "", -1
	for _, k := range slices.Sorted(slices.Values(known)) {
		d := editDistance(typed, k)
		if bestDist < 0 || d < bestDist {
			best, bestDist = k, d
		}
	}
	// Near enough: a third of the word may be wrong (two typos in
	// "exeucte"), at least one edit.
	if bestDist < 0 || bestDist > max(1, len([]rune(typed))/3) {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// editDistance is the optimal string alignment distance of a and b:
// insertions, deletions, substitutions and swaps of neighbours each count
// one, so "exeucte" is one edit from "execute".
func editDistance(a, b string) int {
	s, t := []rune(a), []rune(b)
	d := make([][]int, len(s)+1)
	for i := range d {
		d[i] = make([]int, len(t)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(s); i++ {
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(s)][len(t)]
}
