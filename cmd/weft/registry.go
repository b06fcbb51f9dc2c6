package main

import (
	"context"
	"fmt"
	"os"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/scripting/lua"
	"github.com/weftworks/weft/scripting/wasm"
)

// registry is every component the CLI and the server offer: the built-in
// step types and the LUA step type.
func registry(opts steps.Options) *core.Registry {
	reg := steps.NewRegistry(opts)
	if _, err := lua.Register(reg, lua.Options{}); err != nil {
		panic(err) // a fresh registry has no LUA yet: only a bug gets here
	}
	return reg
}

// loadModules adds the WASM modules of dir (none when dir is empty) to reg;
// release frees them once the engine is done.
func loadModules(ctx context.Context, reg *core.Registry, dir string) (release func(), err error) {
	if dir == "" {
		return func() {}, nil
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("--modules-dir %s: not a directory", dir)
	}
	rt, err := wasm.Register(ctx, reg, wasm.Options{ModulesDir: dir})
	if err != nil {
		return nil, fmt.Errorf("--modules-dir: %w", err)
	}
	return func() { _ = rt.Close(context.WithoutCancel(ctx)) }, nil
}
