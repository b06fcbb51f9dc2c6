package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/db"
	"github.com/weftworks/weft/scripting/library"
	"github.com/weftworks/weft/scripting/lua"
	"github.com/weftworks/weft/scripting/wasm"
)

// loadLibrary gives an engine that runs stored executions (weft serve,
// weft worker) its WASM runtime, with the modules of modulesDir (none when
// empty) and room for uploads, and loads the rules and modules stored in
// the database into reg. A stored rule or module that fails to load is
// logged and skipped, as at every later sync; release frees the modules.
func loadLibrary(ctx context.Context, reg *core.Registry, d *db.DB, modulesDir string, logger *slog.Logger) (lib *library.Library, release func(), err error) {
	if modulesDir != "" {
		if fi, err := os.Stat(modulesDir); err != nil || !fi.IsDir() {
			return nil, nil, fmt.Errorf("--modules-dir %s: not a directory", modulesDir)
		}
	}
	luaRT, ok := lua.RuntimeOf(reg)
	if !ok {
		return nil, nil, errors.New("stored rules: the registry has no LUA step type")
	}
	wasmRT, err := wasm.Register(ctx, reg, wasm.Options{ModulesDir: modulesDir})
	if err != nil {
		return nil, nil, fmt.Errorf("--modules-dir: %w", err)
	}
	release = func() { _ = wasmRT.Close(context.WithoutCancel(ctx)) }
	lib, err = library.New(library.Options{Store: d.Store(), Registry: reg, Lua: luaRT, WASM: wasmRT, Logger: logger})
	if err != nil {
		release()
		return nil, nil, err
	}
	if err := lib.Sync(ctx); err != nil {
		logger.Warn("stored rules and modules: some were not loaded", "err", err)
	}
	return lib, release, nil
}
