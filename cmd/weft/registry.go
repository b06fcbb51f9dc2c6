package main

import (
	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/scripting/lua"
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
