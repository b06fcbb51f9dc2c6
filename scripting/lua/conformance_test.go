package lua_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/coretest"
	"github.com/weftworks/weft/scripting/lua"
)

// TestConformance runs the runtime conformance suite on the Lua build of the
// conformance components (testdata/conformance), registered as named
// transforms and validators like any Lua script.
func TestConformance(t *testing.T) {
	coretest.Run(t, func(t *testing.T, reg *core.Registry) { registerConformance(t, reg) })
}

// BenchmarkConformanceStop: how soon a Lua call is stopped after its deadline.
func BenchmarkConformanceStop(b *testing.B) {
	reg := coretest.NewRegistry()
	registerConformance(b, reg)
	coretest.BenchmarkStop(b, reg)
}

func registerConformance(tb testing.TB, reg *core.Registry) {
	// The calls end at their contexts' deadlines; the runtime's own timeout
	// only guards against a runaway (200 concurrent calls share the CPU).
	rt := lua.New(lua.Options{Timeout: noTimeout})
	text, err := os.ReadFile("testdata/conformance/text.lua")
	require.NoError(tb, err)
	check, err := os.ReadFile("testdata/conformance/check.lua")
	require.NoError(tb, err)
	require.NoError(tb, rt.RegisterTransform(reg, coretest.TransformName, string(text)))
	require.NoError(tb, rt.RegisterValidator(reg, coretest.ValidatorName, string(check)))
}
