package wasm_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/scripting/wasm"
	"github.com/weftworks/weft/sdk"
	guest "github.com/weftworks/weft/sdk/wasm"
)

// guestBytes returns the code of a test guest.
func guestBytes(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(built(t), name+".wasm"))
	require.NoError(t, err)
	return b
}

// uploads returns a runtime without a modules directory (or with the named
// guests in one), registered into a registry with the built-in steps, and
// an engine on that registry.
func uploads(t *testing.T, dirModules ...string) (*wasm.Runtime, *core.Registry, *core.Engine) {
	t.Helper()
	built(t)
	opts := wasm.Options{CacheDir: cacheDir}
	if len(dirModules) > 0 {
		opts.ModulesDir = modulesDir(t, dirModules...)
	}
	rt, err := wasm.Load(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	reg := steps.NewRegistry(steps.Options{})
	require.NoError(t, rt.Register(reg))
	return rt, reg, core.New(core.Options{Registry: reg})
}

const normalizeWorkflow = `{"name": "n", "steps": [
  {"id": "n", "type": "DATA_TRANSFORM", "config": {"source": "{{input}}", "operations": [{"type": "transform", "name": "normalize_lead"}]}}]}`

func TestAddReplaceRemoveModule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt, reg, eng := uploads(t)
	leads := guestBytes(t, "leads")

	m, err := rt.AddModule(ctx, "leads", leads)
	require.NoError(t, err)
	sum := sha256.Sum256(leads)
	require.Equal(t, hex.EncodeToString(sum[:]), m.SHA256())
	require.Equal(t, len(leads), m.Size())
	require.Equal(t, "upload:leads", m.Source())
	require.Equal(t, []string{"leads"}, rt.Modules())
	e, ok := reg.Lookup(sdk.KindTransform, "normalize_lead")
	require.True(t, ok)
	require.Equal(t, core.OriginWASM, e.Origin)
	require.Equal(t, "upload:leads", e.Source)
	_, ok = reg.Lookup(sdk.KindValidator, "reject_disposable_email")
	require.True(t, ok)

	// A workflow compiled now keeps working across replacements: it calls
	// whatever module of that name serves the transform.
	w, err := core.ParseWorkflow([]byte(normalizeWorkflow))
	require.NoError(t, err)
	plan, err := eng.Compile(ctx, w)
	require.NoError(t, err)
	t.Cleanup(func() { _ = plan.Close(ctx) })
	run := func() *core.Execution {
		x, err := eng.Execute(ctx, plan, map[string]any{"email": "A@B.C"})
		require.NoError(t, err)
		return x
	}
	x := run()
	require.Equal(t, core.StatusCompleted, x.Status, "%+v", x.Error)
	require.Equal(t, "a@b.c", x.Output.(map[string]any)["email"])

	// Replaced by a module that no longer serves normalize_lead: its
	// entries go, the new ones come, the old plan fails cleanly.
	_, err = rt.AddModule(ctx, "leads", guestBytes(t, "basic"))
	require.NoError(t, err)
	_, ok = reg.Lookup(sdk.KindTransform, "normalize_lead")
	require.False(t, ok)
	_, ok = reg.Lookup(sdk.KindValidator, "reject_disposable_email")
	require.False(t, ok)
	e, ok = reg.Lookup(sdk.KindTransform, "upper")
	require.True(t, ok)
	require.Equal(t, "upload:leads", e.Source)
	x = run()
	require.Equal(t, core.StatusFailed, x.Status)
	require.Equal(t, wasm.CodeModuleRemoved, x.Error.Code)
	require.Contains(t, x.Error.Message, "no longer serves it")

	// Back to the leads code: the same plan works again.
	_, err = rt.AddModule(ctx, "leads", leads)
	require.NoError(t, err)
	_, ok = reg.Lookup(sdk.KindTransform, "upper")
	require.False(t, ok)
	require.Equal(t, core.StatusCompleted, run().Status)

	// Removed: entries gone, the plan fails with WASM_MODULE_REMOVED.
	require.True(t, rt.RemoveModule(ctx, "leads"))
	require.False(t, rt.RemoveModule(ctx, "leads"))
	require.Empty(t, rt.Modules())
	_, ok = reg.Lookup(sdk.KindTransform, "normalize_lead")
	require.False(t, ok)
	x = run()
	require.Equal(t, core.StatusFailed, x.Status)
	require.Equal(t, wasm.CodeModuleRemoved, x.Error.Code)
	require.Contains(t, x.Error.Message, `module "leads" was removed`)

	// New workflows no longer validate against it.
	_, err = eng.Compile(ctx, w)
	require.ErrorContains(t, err, "normalize_lead")
}

func TestPrepareRejectsBadModules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt, _, _ := uploads(t, "basic")
	_, err := rt.AddModule(ctx, "leads", guestBytes(t, "leads"))
	require.NoError(t, err)
	leads := guestBytes(t, "leads")
	tests := []struct {
		name      string
		module    string
		bin       []byte
		wantErr   []string
		duplicate bool
	}{
		{name: "not WASM at all", module: "x", bin: []byte("hello, world"),
			wantErr: []string{`wasm module "x"`, "is not a WebAssembly binary", "magic"}},
		{name: "empty", module: "x", bin: nil, wantErr: []string{"is not a WebAssembly binary"}},
		{name: "unknown version", module: "x", bin: []byte("\x00asm\x02\x00\x00\x00"),
			wantErr: []string{"does not compile", "invalid version header", "byte offset 4"}},
		{name: "a bad section", module: "x", bin: []byte("\x00asm\x01\x00\x00\x00\x01\x05\x01\x60\x00"),
			wantErr: []string{"does not compile", "section type", "byte offset 8"}},
		{name: "garbage after the header", module: "x", bin: []byte("\x00asm\x01\x00\x00\x00garbage"),
			wantErr: []string{"does not compile", "byte offset 8"}},
		{name: "truncated module", module: "x", bin: leads[:len(leads)/2],
			wantErr: []string{"does not compile", "section code at byte offset", "the file is truncated"}},
		{name: "without the ABI", module: "x", bin: guestBytes(t, "noabi"),
			wantErr: []string{"does not implement ABI " + guest.ABI, "missing export " + guest.ABI + "_describe, " + guest.ABI + "_call"}},
		{name: "bad name", module: "../etc", bin: leads, wantErr: []string{`wasm module "../etc": bad name`}},
		{name: "name of a directory module", module: "basic", bin: leads, duplicate: true,
			wantErr: []string{`wasm module "basic"`, "comes from"}},
		{name: "components another module serves", module: "leads2", bin: leads, duplicate: true,
			wantErr: []string{`transform "normalize_lead" comes from wasm upload:leads`, `validator "reject_disposable_email"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := rt.Prepare(ctx, tt.module, tt.bin)
			require.Error(t, err)
			t.Log(err)
			require.Nil(t, m)
			for _, s := range tt.wantErr {
				require.ErrorContains(t, err, s)
			}
			if tt.duplicate {
				require.ErrorIs(t, err, core.ErrDuplicateComponent)
			} else {
				var me *wasm.ModuleError
				require.ErrorAs(t, err, &me)
				require.Equal(t, tt.module, me.Module)
			}
			_, err = rt.AddModule(ctx, tt.module, tt.bin)
			require.Error(t, err)
			require.ElementsMatch(t, []string{"basic", "leads"}, rt.Modules(), "nothing changed")
		})
	}
	// A directory module is not removed.
	require.False(t, rt.RemoveModule(ctx, "basic"))
}

// Calls in flight while a module is replaced and removed finish, go to the
// new module, or fail with WASM_MODULE_REMOVED; none panics or hangs.
func TestRemoveModuleWhileCalling(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rt, reg, _ := uploads(t)
	basic := guestBytes(t, "basic")
	_, err := rt.AddModule(ctx, "basic", basic)
	require.NoError(t, err)
	e, ok := reg.Lookup(sdk.KindTransform, "upper")
	require.True(t, ok)
	tr := e.New().(sdk.Transform)

	const callers = 4
	var wg sync.WaitGroup
	done := make(chan struct{})
	results := make(chan error, 10000)
	for range callers {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				out, err := tr.Transform(ctx, "abc")
				if err == nil && out != "ABC" {
					err = sdk.Errorf("WRONG", "got %v", out)
				}
				select {
				case results <- err:
				default:
				}
			}
		})
	}
	for range 3 {
		_, err := rt.AddModule(ctx, "basic", basic) // same code, new module
		require.NoError(t, err)
	}
	require.True(t, rt.RemoveModule(ctx, "basic"))
	close(done)
	wg.Wait()
	close(results)
	var removed int
	for err := range results {
		if err == nil {
			continue
		}
		require.Equal(t, wasm.CodeModuleRemoved, sdk.ErrorCode(err), "%v", err)
		removed++
	}
	_, err = tr.Transform(ctx, "abc")
	require.Equal(t, wasm.CodeModuleRemoved, sdk.ErrorCode(err))
}
