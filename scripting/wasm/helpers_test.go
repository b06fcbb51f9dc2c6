package wasm_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/scripting/wasm"
	"github.com/weftworks/weft/scripting/wasm/wasmtest"
	"github.com/weftworks/weft/sdk"
)

// guests maps each test guest to its source package. They are built once per
// test binary run, in parallel, into a temporary directory.
var guests = map[string]string{
	"basic":   "./testdata/basic",
	"hostile": "./testdata/hostile",
	"noabi":   "./testdata/noabi",
	"leads":   "../../examples/wasm/leads",
}

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
	// cacheDir is fixed before any test runs: tests that do not need the
	// built guests still read it, concurrently with built().
	cacheDir = wasmtest.CacheDir()
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// built returns the directory holding <name>.wasm for every guest.
func built(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "weft-wasm-test-")
		if buildErr != nil {
			return
		}
		if buildErr = wasmtest.BuildAll(guests, filepath.Join(buildDir, "bin")); buildErr != nil {
			return
		}
		// Compile every good guest once into the shared on-disk cache, so that
		// parallel tests (slow to compile under -race) all hit it.
		dir := filepath.Join(buildDir, "bin")
		for _, name := range []string{"basic", "hostile", "leads"} {
			one := filepath.Join(buildDir, "warm-"+name)
			if buildErr = os.MkdirAll(one, 0o755); buildErr != nil {
				return
			}
			if buildErr = os.Symlink(filepath.Join(dir, name+".wasm"), filepath.Join(one, name+".wasm")); buildErr != nil {
				return
			}
			rt, err := wasm.Load(context.Background(), wasm.Options{ModulesDir: one, CacheDir: cacheDir})
			if err != nil {
				buildErr = err
				return
			}
			_ = rt.Close(context.Background())
		}
	})
	require.NoError(t, buildErr)
	return filepath.Join(buildDir, "bin")
}

// modulesDir returns a fresh modules directory holding the named guests.
func modulesDir(t testing.TB, names ...string) string {
	t.Helper()
	bin := built(t)
	dir := t.TempDir()
	for _, n := range names {
		require.NoError(t, os.Symlink(filepath.Join(bin, n+".wasm"), filepath.Join(dir, n+".wasm")))
	}
	return dir
}

// load loads the named guests into a new runtime, closed at the end of the test.
func load(t testing.TB, opts wasm.Options, names ...string) *wasm.Runtime {
	t.Helper()
	opts.ModulesDir = modulesDir(t, names...)
	if opts.CacheDir == "" {
		opts.CacheDir = cacheDir
	}
	rt, err := wasm.Load(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return rt
}

// engine returns an engine with the built-in steps and the modules' components.
func engine(t testing.TB, opts wasm.Options, names ...string) (*core.Engine, *core.Registry) {
	t.Helper()
	rt := load(t, opts, names...)
	reg := steps.NewRegistry(steps.Options{})
	require.NoError(t, rt.Register(reg))
	return core.New(core.Options{Registry: reg}), reg
}

// hangGuard bounds a wait on a call that must end (or on calls that must be
// served) in these tests: a guard against a hang, far above what any of them
// needs under -race on a busy machine, never a measure of speed.
const hangGuard = 2 * time.Minute

// callGuarded makes one call and returns its result; it fails the test when
// the call has not returned after hangGuard.
func callGuarded(t *testing.T, tr sdk.Transform, ctx context.Context, in any) (any, error) {
	t.Helper()
	type result struct {
		out any
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := tr.Transform(ctx, in)
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		return r.out, r.err
	case <-time.After(hangGuard):
		t.Fatalf("the call did not return in %v", hangGuard)
		return nil, nil
	}
}
