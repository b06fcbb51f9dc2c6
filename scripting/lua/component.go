package lua

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// Register adds the LUA step type and the "lua" inline script language to
// reg, run by a new runtime with opts, and returns the runtime (to register
// Lua transforms and validators with).
func Register(reg *core.Registry, opts Options) (*Runtime, error) {
	rt := New(opts)
	if err := rt.RegisterStep(reg); err != nil {
		return nil, err
	}
	return rt, rt.RegisterLanguage(reg)
}

// RegisterStep adds the LUA step type to reg.
func (rt *Runtime) RegisterStep(reg *core.Registry) error {
	return reg.Register(core.Entry{Info: (&Step{rt: rt}).Info(), Origin: core.OriginLua})
}

// RegisterTransform compiles source and registers it as the transform name.
// The script sees the value to transform as input and the transform's static
// config (from a DATA_TRANSFORM operation) as ctx.config, and returns the
// new value. A syntax error is returned as a *sdk.ValidationError with its
// line and column.
func (rt *Runtime) RegisterTransform(reg *core.Registry, name, source string) error {
	sc, err := rt.Compile("transform."+name, source)
	if err != nil {
		return fmt.Errorf("lua transform %q: %w", name, err)
	}
	info := (&Transform{rt: rt, script: sc, name: name}).Info()
	return reg.Register(core.Entry{Info: info, Origin: core.OriginLua, Source: "lua:" + name})
}

// RegisterValidator compiles source and registers it as the validator name.
// The script sees the value as input and its config as ctx.config. It
// accepts the value by returning nothing or true; it rejects it by returning
// false and an optional message, a message string, or a list of messages or
// {path=…, message=…} tables.
func (rt *Runtime) RegisterValidator(reg *core.Registry, name, source string) error {
	sc, err := rt.Compile("validator."+name, source)
	if err != nil {
		return fmt.Errorf("lua validator %q: %w", name, err)
	}
	info := (&Validator{rt: rt, script: sc, name: name}).Info()
	return reg.Register(core.Entry{Info: info, Origin: core.OriginLua, Source: "lua:" + name})
}

// Transform is a registered Lua transform. Its JSON config (any object) is
// kept as ctx.config.
type Transform struct {
	rt     *Runtime
	script *Script
	name   string
	config any
}

// Info implements sdk.Component.
func (t *Transform) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindTransform, Name: t.name, Summary: "Lua transform",
		New: func() sdk.Component { return &Transform{rt: t.rt, script: t.script, name: t.name} }}
}

// UnmarshalJSON keeps the static config for ctx.config.
func (t *Transform) UnmarshalJSON(b []byte) error { return json.Unmarshal(b, &t.config) }

// Transform implements sdk.Transform.
func (t *Transform) Transform(ctx context.Context, in sdk.Value) (sdk.Value, error) {
	res, err := t.rt.Run(ctx, t.script, Call{Input: in, Ctx: map[string]any{"config": t.config}})
	if err != nil {
		return nil, err
	}
	return res.Value, nil
}

// Validator is a registered Lua validator. Its JSON config is ctx.config.
type Validator struct {
	rt     *Runtime
	script *Script
	name   string
	config any
}

// Info implements sdk.Component.
func (v *Validator) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindValidator, Name: v.name, Summary: "Lua validator",
		New: func() sdk.Component { return &Validator{rt: v.rt, script: v.script, name: v.name} }}
}

// UnmarshalJSON keeps the static config for ctx.config.
func (v *Validator) UnmarshalJSON(b []byte) error { return json.Unmarshal(b, &v.config) }

// Validate implements sdk.Validator.
func (v *Validator) Validate(ctx context.Context, in sdk.Value) error {
	res, err := v.rt.Run(ctx, v.script, Call{Input: in, Ctx: map[string]any{"config": v.config}})
	if err != nil {
		return err
	}
	return verdict(res.Values)
}

// verdict reads a validator's returned values.
func verdict(vals []any) error {
	if len(vals) == 0 || vals[0] == nil || vals[0] == true {
		return nil
	}
	ve := &sdk.ValidationError{}
	switch x := vals[0].(type) {
	case bool: // false
		msg := "rejected by the validator"
		if len(vals) > 1 {
			if s, ok := vals[1].(string); ok && s != "" {
				msg = s
			}
		}
		ve.Add("", "%s", msg)
	case string:
		ve.Add("", "%s", x)
	case []any:
		for _, p := range x {
			switch pp := p.(type) {
			case string:
				ve.Add("", "%s", pp)
			case map[string]any:
				path, _ := pp["path"].(string)
				msg, _ := pp["message"].(string)
				if msg == "" {
					msg = "invalid"
				}
				ve.Add(path, "%s", msg)
			default:
				ve.Add("", "%v", pp)
			}
		}
		if len(x) == 0 {
			return nil
		}
	case map[string]any:
		// An empty table is an empty list of problems: Lua cannot tell {}
		// the array from {} the object.
		if len(x) == 0 {
			return nil
		}
		ve.Add("", "validator returned %v; want nothing, true, false, a message or a list of problems", x)
	default:
		ve.Add("", "validator returned %v; want nothing, true, false, a message or a list of problems", x)
	}
	return ve
}
