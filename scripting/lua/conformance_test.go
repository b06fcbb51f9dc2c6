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
	coretest.Run(t, func(t *testing.T, reg *core.Registry) {
		rt := lua.New(lua.Options{})
		text, err := os.ReadFile("testdata/conformance/text.lua")
		require.NoError(t, err)
		check, err := os.ReadFile("testdata/conformance/check.lua")
		require.NoError(t, err)
		require.NoError(t, rt.RegisterTransform(reg, coretest.TransformName, string(text)))
		require.NoError(t, rt.RegisterValidator(reg, coretest.ValidatorName, string(check)))
	})
}
