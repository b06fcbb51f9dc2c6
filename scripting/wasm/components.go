package wasm

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/weftworks/weft/sdk"
	guest "github.com/weftworks/weft/sdk/wasm"
)

// TypeWASM is the step type that runs a WASM module's step component.
const TypeWASM = "WASM"

// Transform is a transform served by a WASM module. Its static config (the
// "config" of a DATA_TRANSFORM transform operation) is sent with every call.
type Transform struct {
	mod    *Module
	desc   guest.Description
	config json.RawMessage
}

// Validator is a validator served by a WASM module. Its static config is sent
// with every call.
type Validator struct {
	mod    *Module
	desc   guest.Description
	config json.RawMessage
}

var (
	_ sdk.Transform    = (*Transform)(nil)
	_ sdk.Validator    = (*Validator)(nil)
	_ json.Unmarshaler = (*Transform)(nil)
	_ json.Unmarshaler = (*Validator)(nil)
)

func info(m *Module, d guest.Description, newFn func() sdk.Component) sdk.Info {
	summary := d.Summary
	if summary == "" {
		summary = fmt.Sprintf("WASM %s from module %s.", d.Kind, m.name)
	}
	return sdk.Info{Kind: d.Kind, Name: d.Name, Version: d.Version, Summary: summary, New: newFn}
}

// Info implements sdk.Component.
func (t *Transform) Info() sdk.Info {
	return info(t.mod, t.desc, func() sdk.Component { return &Transform{mod: t.mod, desc: t.desc} })
}

// UnmarshalJSON keeps the static config, to be sent to the guest.
func (t *Transform) UnmarshalJSON(b []byte) error {
	t.config = append(json.RawMessage(nil), b...)
	return nil
}

// Transform implements sdk.Transform.
func (t *Transform) Transform(ctx context.Context, in sdk.Value) (sdk.Value, error) {
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInvalidInput, "wasm transform %q: encode input: %v", t.desc.Name, err)
	}
	out, err := t.mod.callLive(ctx, guest.Request{Kind: sdk.KindTransform, Name: t.desc.Name, Input: raw, Config: t.config})
	if err != nil {
		return nil, err
	}
	return decodeOutput(out, "transform", t.desc.Name)
}

// Info implements sdk.Component.
func (v *Validator) Info() sdk.Info {
	return info(v.mod, v.desc, func() sdk.Component { return &Validator{mod: v.mod, desc: v.desc} })
}

// UnmarshalJSON keeps the static config, to be sent to the guest.
func (v *Validator) UnmarshalJSON(b []byte) error {
	v.config = append(json.RawMessage(nil), b...)
	return nil
}

// Validate implements sdk.Validator. A rejection is an *sdk.ValidationError
// with the guest's problems.
func (v *Validator) Validate(ctx context.Context, in sdk.Value) error {
	raw, err := json.Marshal(in)
	if err != nil {
		return sdk.Errorf(sdk.CodeInvalidInput, "wasm validator %q: encode input: %v", v.desc.Name, err)
	}
	_, err = v.mod.callLive(ctx, guest.Request{Kind: sdk.KindValidator, Name: v.desc.Name, Input: raw, Config: v.config})
	return err
}

// Step is the WASM step type. Its config names a module and, when the module
// serves several steps, which one; input is rendered for each run and handed
// to the guest step as its sdk.Input.Config:
//
//	{"type": "WASM", "config": {"module": "enrich", "step": "score", "input": {"lead": "{{input}}"}}}
type Step struct {
	rt *Runtime
}

var (
	_ sdk.Step          = (*Step)(nil)
	_ sdk.ConfigChecker = (*Step)(nil)
)

type stepConfig struct {
	Module string `json:"module"`
	Step   string `json:"step"`
	Input  any    `json:"input"`
}

// Info implements sdk.Component.
func (s *Step) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindStep, Name: TypeWASM,
		Summary: "Runs a step served by a sandboxed WASM module from the modules directory.",
		New:     func() sdk.Component { return &Step{rt: s.rt} }}
}

// CheckConfig implements sdk.ConfigChecker: the config's shape, and that a
// module (and step) given literally exists.
func (s *Step) CheckConfig(config sdk.Value) error {
	if err := sdk.CheckConfigShape(config, stepConfig{}); err != nil {
		return err
	}
	obj, _ := config.(map[string]any)
	module, _ := obj["module"].(string)
	name, _ := obj["step"].(string)
	if sdk.IsWholeTemplate(module) || sdk.IsWholeTemplate(name) {
		return nil
	}
	if _, err := s.resolve(module, name); err != nil {
		ve := &sdk.ValidationError{}
		path := "module"
		if _, known := s.rt.Module(module); known && name != "" {
			path = "step"
		}
		ve.Add(path, "%v", err)
		return ve
	}
	return nil
}

func (s *Step) resolve(module, name string) (guest.Description, error) {
	if module == "" {
		return guest.Description{}, fmt.Errorf("is required (loaded modules: %s)", strings.Join(s.rt.Modules(), ", "))
	}
	m, ok := s.rt.Module(module)
	if !ok {
		return guest.Description{}, fmt.Errorf("unknown module %q (loaded modules: %s)", module, strings.Join(s.rt.Modules(), ", "))
	}
	var steps []guest.Description
	for _, d := range m.components {
		if d.Kind == sdk.KindStep && (name == "" || d.Name == name) {
			steps = append(steps, d)
		}
	}
	switch {
	case len(steps) == 1:
		return steps[0], nil
	case len(steps) == 0 && name != "":
		return guest.Description{}, fmt.Errorf("module %q serves no step %q", module, name)
	case len(steps) == 0:
		return guest.Description{}, fmt.Errorf("module %q serves no step", module)
	}
	return guest.Description{}, fmt.Errorf("module %q serves several steps; name one in step", module)
}

// Run implements sdk.Step.
func (s *Step) Run(ctx context.Context, in sdk.Input) (sdk.Output, error) {
	var cfg stepConfig
	if err := in.Decode(&cfg); err != nil {
		return sdk.Output{}, &sdk.Error{Code: sdk.CodeInvalidConfig, Message: err.Error(), Err: err}
	}
	d, err := s.resolve(cfg.Module, cfg.Step)
	if err != nil {
		return sdk.Output{}, sdk.Errorf(sdk.CodeInvalidConfig, "%v", err)
	}
	raw, err := json.Marshal(cfg.Input)
	if err != nil {
		return sdk.Output{}, sdk.Errorf(sdk.CodeInvalidConfig, "wasm step: encode input: %v", err)
	}
	m, ok := s.rt.Module(cfg.Module)
	if !ok { // removed since resolve
		return sdk.Output{}, sdk.Permanent(sdk.Errorf(CodeModuleRemoved, "wasm step %q: module %q was removed", d.Name, cfg.Module))
	}
	run := in.Run
	out, err := m.callLive(ctx, guest.Request{Kind: sdk.KindStep, Name: d.Name, Input: raw, Run: &run})
	if err != nil {
		return sdk.Output{}, err
	}
	v, err := decodeOutput(out, "step", d.Name)
	if err != nil {
		return sdk.Output{}, err
	}
	return sdk.Output{Data: v}, nil
}

func decodeOutput(out json.RawMessage, kind, name string) (sdk.Value, error) {
	if len(out) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, sdk.Errorf(CodeABI, "wasm %s %q: malformed output: %v", kind, name, err)
	}
	return v, nil
}
