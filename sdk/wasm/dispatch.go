package wasm

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/weftworks/weft/sdk"
)

// ABI is the name of the ABI version this package implements; it is also the
// name of the host module the guest imports from.
const ABI = "weft_v1"

// Description is one component of a module, as weft_v1_describe reports it.
type Description struct {
	Kind    sdk.Kind `json:"kind"`
	Name    string   `json:"name"`
	Version string   `json:"version,omitempty"`
	Summary string   `json:"summary,omitempty"`
}

// Request is what the host sends to weft_v1_call.
type Request struct {
	// Kind and Name select the component.
	Kind sdk.Kind `json:"kind"`
	Name string   `json:"name"`
	// Input is the value to transform or validate, or a step's rendered input.
	Input json.RawMessage `json:"input,omitempty"`
	// Config is the component's static config (transforms and validators),
	// decoded into a fresh instance before the call when present.
	Config json.RawMessage `json:"config,omitempty"`
	// Run identifies the step attempt (steps only).
	Run *sdk.RunInfo `json:"run,omitempty"`
}

// Response is the answer of a successful weft_v1_call.
type Response struct {
	Output json.RawMessage `json:"output"`
}

var (
	mu         sync.RWMutex
	components = map[sdk.Kind]map[string]sdk.Component{}
	order      []Description
)

// Serve makes components available to the host. Call it from init (or main)
// of the guest; it panics on an invalid component or a duplicate name, which
// are programming errors.
func Serve(cs ...sdk.Component) {
	mu.Lock()
	defer mu.Unlock()
	for _, c := range cs {
		info := c.Info()
		if err := sdk.CheckComponent(info); err != nil {
			panic("wasm.Serve: " + err.Error())
		}
		if components[info.Kind] == nil {
			components[info.Kind] = map[string]sdk.Component{}
		}
		if _, dup := components[info.Kind][info.Name]; dup {
			panic(fmt.Sprintf("wasm.Serve: %s %q served twice", info.Kind, info.Name))
		}
		components[info.Kind][info.Name] = c
		order = append(order, Description{Kind: info.Kind, Name: info.Name, Version: info.Version, Summary: info.Summary})
	}
}

// Describe returns the JSON answer of weft_v1_describe: every served
// component, in the order given to Serve.
func Describe() []byte {
	mu.RLock()
	defer mu.RUnlock()
	out, _ := json.Marshal(order)
	return out
}

// Handle serves one weft_v1_call request. It returns the answer and whether
// it is an error (an sdk.Error JSON) rather than a [Response].
func Handle(ctx context.Context, request []byte) (answer []byte, failed bool) {
	out, err := handle(ctx, request)
	if err != nil {
		e := sdk.AsError(err)
		b, merr := json.Marshal(e)
		if merr != nil {
			b, _ = json.Marshal(&sdk.Error{Code: e.Code, Message: e.Message, Retryable: e.Retryable})
		}
		return b, true
	}
	// {"output": …} written by hand: marshalling a Response would scan the
	// already encoded output once more, and reflection is slow in a guest.
	b := make([]byte, 0, len(out)+11)
	b = append(b, `{"output":`...)
	b = append(b, out...)
	return append(b, '}'), false
}

// request is Request as the guest decodes it: the input is decoded in the
// same pass as the envelope.
type request struct {
	Kind   sdk.Kind        `json:"kind"`
	Name   string          `json:"name"`
	Input  any             `json:"input"`
	Config json.RawMessage `json:"config"`
	Run    *sdk.RunInfo    `json:"run"`
}

func handle(ctx context.Context, raw []byte) (json.RawMessage, error) {
	var req request
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "decode request: %v", err)
	}
	mu.RLock()
	c, ok := components[req.Kind][req.Name]
	mu.RUnlock()
	if !ok {
		return nil, sdk.Errorf(sdk.CodeInternal, "module serves no %s %q", req.Kind, req.Name)
	}
	inst := c.Info().New()
	if len(req.Config) > 0 && string(req.Config) != "null" {
		if err := json.Unmarshal(req.Config, inst); err != nil {
			return nil, sdk.Errorf(sdk.CodeInvalidConfig, "config: %v", err)
		}
	}
	in := req.Input
	var out any
	switch t := inst.(type) {
	case sdk.Step:
		in := sdk.Input{Config: in}
		if req.Run != nil {
			in.Run = *req.Run
		}
		o, err := t.Run(ctx, in)
		if err != nil {
			return nil, err
		}
		out = o.Data
	case sdk.Transform:
		v, err := t.Transform(ctx, in)
		if err != nil {
			return nil, err
		}
		out = v
	case sdk.Validator:
		if err := t.Validate(ctx, in); err != nil {
			return nil, err
		}
	default:
		return nil, sdk.Errorf(sdk.CodeInternal, "%s %q implements no component interface", req.Kind, req.Name)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "encode output: %v", err)
	}
	return b, nil
}
