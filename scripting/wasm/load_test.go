package wasm_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/scripting/wasm"
	"github.com/weftworks/weft/sdk"
	guest "github.com/weftworks/weft/sdk/wasm"
)

func TestLoadRejectsBadModules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		wantErr []string
	}{
		{
			name: "module without the ABI",
			setup: func(t *testing.T, dir string) {
				require.NoError(t, os.Symlink(filepath.Join(built(t), "noabi.wasm"), filepath.Join(dir, "noabi.wasm")))
			},
			wantErr: []string{`wasm module "noabi"`, "does not implement ABI weft_v2", "weft_v2_describe", "weft_v2_call"},
		},
		{
			name: "module that does not compile",
			setup: func(t *testing.T, dir string) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.wasm"), []byte("\x00asm\x01\x00\x00\x00garbage"), 0o644))
			},
			wantErr: []string{`wasm module "broken"`, "does not compile"},
		},
		{
			name: "every bad module is reported",
			setup: func(t *testing.T, dir string) {
				require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.wasm"), []byte("not wasm at all"), 0o644))
				require.NoError(t, os.Symlink(filepath.Join(built(t), "noabi.wasm"), filepath.Join(dir, "noabi.wasm")))
				require.NoError(t, os.Symlink(filepath.Join(built(t), "basic.wasm"), filepath.Join(dir, "basic.wasm")))
			},
			wantErr: []string{`"broken"`, `"noabi"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			tt.setup(t, dir)
			rt, err := wasm.Load(context.Background(), wasm.Options{ModulesDir: dir, CacheDir: cacheDir})
			require.Error(t, err)
			require.Nil(t, rt)
			for _, s := range tt.wantErr {
				require.ErrorContains(t, err, s)
			}
		})
	}
}

func TestLoadEmptyDirAndMissingDir(t *testing.T) {
	t.Parallel()
	rt, err := wasm.Load(context.Background(), wasm.Options{ModulesDir: t.TempDir(), CacheDir: "-"})
	require.NoError(t, err)
	require.Empty(t, rt.Modules())
	require.NoError(t, rt.Close(context.Background()))

	// No directory at all: a runtime for modules added at run time.
	rt, err = wasm.Load(context.Background(), wasm.Options{CacheDir: "-"})
	require.NoError(t, err)
	require.Empty(t, rt.Modules())
	require.NoError(t, rt.Close(context.Background()))
}

func TestRegister(t *testing.T) {
	t.Parallel()
	reg := core.NewEmptyRegistry()
	dir := modulesDir(t, "basic", "leads")
	rt, err := wasm.Register(context.Background(), reg, wasm.Options{ModulesDir: dir, CacheDir: cacheDir})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close(context.Background()) })

	require.Equal(t, []string{"basic", "leads"}, rt.Modules())
	require.Equal(t, []string{"WASM"}, reg.Names(sdk.KindStep))
	require.Equal(t, []string{"normalize_lead", "tag", "upper"}, reg.Names(sdk.KindTransform))
	require.Equal(t, []string{"nonempty", "reject_disposable_email"}, reg.Names(sdk.KindValidator))
	e, ok := reg.Lookup(sdk.KindTransform, "upper")
	require.True(t, ok)
	require.Equal(t, core.OriginWASM, e.Origin)
	require.Equal(t, filepath.Join(dir, "basic.wasm"), e.Source)
	require.Equal(t, "Upper-cases a string.", e.Summary)

	m, ok := rt.Module("basic")
	require.True(t, ok)
	require.Contains(t, m.Components(), guest.Description{Kind: sdk.KindStep, Name: "greet"})

	// A second registration of the same names is refused.
	require.ErrorIs(t, rt.Register(reg), core.ErrDuplicateComponent)
}

func TestCompilationCacheOnDisk(t *testing.T) {
	t.Parallel()
	built(t) // compiles every good guest into cacheDir
	entries, err := os.ReadDir(cacheDir)
	require.NoError(t, err)
	require.NotEmpty(t, entries, "compiled code is cached on disk")
	// A restart loads from the cache.
	rt := load(t, wasm.Options{CacheDir: cacheDir}, "basic", "hostile", "leads")
	require.Len(t, rt.Modules(), 3)
}
