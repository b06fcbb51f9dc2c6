package lua

import (
	"fmt"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// Lang is the name of Lua in inline scripts: {"script": {"lang": "lua", …}}.
const Lang = "lua"

var _ core.ScriptLanguage = (*Runtime)(nil)

// RegisterLanguage makes the runtime compile the inline Lua scripts of
// workflows (a DATA_TRANSFORM transform operation's or a VALIDATION step's
// {"script": {"lang": "lua", "source": "…"}}).
func (rt *Runtime) RegisterLanguage(reg *core.Registry) error {
	return reg.RegisterLanguage(Lang, rt)
}

// CompileScript implements core.ScriptLanguage. An inline transform or
// validator behaves exactly like one registered by name: it sees the value
// as input and its static config as ctx.config.
func (rt *Runtime) CompileScript(kind sdk.Kind, name, source string) (sdk.Component, error) {
	sc, err := rt.Compile(string(kind)+"."+name, source)
	if err != nil {
		return nil, err
	}
	switch kind {
	case sdk.KindTransform:
		return &Transform{rt: rt, script: sc, name: name}, nil
	case sdk.KindValidator:
		return &Validator{rt: rt, script: sc, name: name}, nil
	}
	return nil, fmt.Errorf("lua: inline scripts can be transforms or validators, not %s", kind)
}
