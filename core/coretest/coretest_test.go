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

// BenchmarkStop: how soon the compiled-in components are stopped after their
// deadline, the baseline of every runtime's figure.
func BenchmarkStop(b *testing.B) {
	reg := coretest.NewRegistry()
	require.NoError(b, coretest.Register(reg))
	coretest.BenchmarkStop(b, reg)
}
