package coretest_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/coretest"
)

// TestConformance runs the suite on the compiled-in Go build of the
// conformance components: the baseline every other runtime must match.
func TestConformance(t *testing.T) {
	coretest.Run(t, func(t *testing.T, reg *core.Registry) {
		require.NoError(t, coretest.Register(reg))
	})
}
