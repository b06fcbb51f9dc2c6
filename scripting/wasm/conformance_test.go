package wasm_test

import (
	"context"
	"os"
	"os/exec"
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
	coretest.Run(t, func(t *testing.T, reg *core.Registry) {
		dir := t.TempDir()
		cmd := exec.Command("go", "build", "-trimpath", "-buildmode=c-shared", "-o", filepath.Join(dir, "conformance.wasm"), "./testdata/conformance")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "build the conformance guest:\n%s", out)
		rt, err := wasm.Load(context.Background(), wasm.Options{ModulesDir: dir, CacheDir: wasmtest.CacheDir()})
		require.NoError(t, err)
		t.Cleanup(func() { _ = rt.Close(context.Background()) })
		require.NoError(t, rt.Register(reg))
	})
}
