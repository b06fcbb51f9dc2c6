package main

import (
	"fmt"
	"slices"

	"github.com/weftworks/weft/sdk"
)

// didYouMean suggests the known name nearest to a mistyped one, as
// `; did you mean "execute"?`, or "" when none is near enough to help (the
// same measure as the suggestions for unknown config fields).
func didYouMean(typed string, known []string) string {
	if best := sdk.Suggest(typed, slices.Sorted(slices.Values(known))); best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return ""
}
