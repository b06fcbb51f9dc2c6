package wasm_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/coretest"
	"github.com/weftworks/weft/scripting/wasm"
	"github.com/weftworks/weft/scripting/wasm/wasmtest"
)

// TestConformance runs the runtime conformance suite on the WASM build of the
// conformance components: the compiled-in Go code of package
// core/coretest/reference, built with GOOS=wasip1 into a module
// (testdata/conformance) and served through one runtime for every case.
func TestConformance(t *testing.T) {
	coretest.Run(t, func(t *testing.T, reg *core.Registry) { registerConformance(t, reg) })
}

// BenchmarkConformanceStop: how soon a WASM call is stopped after its
// deadline.
func BenchmarkConformanceStop(b *testing.B) {
	reg := coretest.NewRegistry()
	registerConformance(b, reg)
	coretest.BenchmarkStop(b, reg)
}

func registerConformance(tb testing.TB, reg *core.Registry) {
	dir := tb.TempDir()
	require.NoError(tb, wasmtest.Build("./testdata/conformance", filepath.Join(dir, "conformance.wasm")))
	rt, err := wasm.Load(context.Background(), wasm.Options{ModulesDir: dir, CacheDir: wasmtest.CacheDir()})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = rt.Close(context.Background()) })
	require.NoError(tb, rt.Register(reg))
}
