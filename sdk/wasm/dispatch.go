package wasm

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/weftworks/weft/sdk"
)

// ABI is the name of the ABI version this package implements; it is also the
// name of the host module the guest imports from.
const ABI = "weft_v2"

// Description is one component of a module, as weft_v2_describe reports it.
type Description struct {
	Kind    sdk.Kind `json:"kind"`
	Name    string   `json:"name"`
	Version string   `json:"version,omitempty"`
	Summary string   `json:"summary,omitempty"`
}

// Request is what the host sends to weft_v2_call, before [AppendRequest]
// lays it out for the guest.
type Request struct {
	// Kind and Name select the component.
	Kind sdk.Kind
	Name string
	// Input is the value to transform or validate, or a step's rendered
	// input, as JSON.
	Input json.RawMessage
	// Config is the component's static config (transforms and validators) as
	// JSON, decoded into a fresh instance before the call when present.
	Config json.RawMessage
	// Run identifies the step attempt (steps only).
	Run *sdk.RunInfo
}

// requestHeader is the size of a request's header: the lengths of its five
// parts, each a little-endian uint32.
const requestHeader = 20

// AppendRequest appends req to dst in the request layout of ABI weft_v2:
//
//	len(kind) len(name) len(config) len(run) len(input)   5 × uint32, little-endian
//	kind name config run input                            the parts, in that order
//
// kind and name are UTF-8 text; config, run and input are JSON texts, and an
// empty one is absent (run is sdk.RunInfo as JSON). It returns an error if
// req.Run does not encode or a part does not fit the header's uint32.
func AppendRequest(dst []byte, req Request) ([]byte, error) {
	var run []byte
	if req.Run != nil {
		var err error
		if run, err = json.Marshal(req.Run); err != nil {
			return nil, fmt.Errorf("encode run info: %w", err)
		}
	}
	lens := [...]int{len(req.Kind), len(req.Name), len(req.Config), len(run), len(req.Input)}
	total := requestHeader
	for _, n := range lens {
		if uint64(n) > math.MaxUint32 {
			return nil, fmt.Errorf("request part of %d bytes exceeds the 4 GiB a part may have", n)
		}
		total += n
	}
	dst = slices.Grow(dst, total)
	for _, n := range lens {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	}
	dst = append(dst, req.Kind...)
	dst = append(dst, req.Name...)
	dst = append(dst, req.Config...)
	dst = append(dst, run...)
	return append(dst, req.Input...), nil
}

// request is a request split into its parts, which alias its bytes.
type request struct {
	kind, name, config, run, input []byte
}

func parseRequest(b []byte) (request, error) {
	if len(b) < requestHeader {
		return request{}, fmt.Errorf("request of %d bytes is shorter than its %d-byte header", len(b), requestHeader)
	}
	var parts [5][]byte
	rest := b[requestHeader:]
	for i := range parts {
		n := uint64(binary.LittleEndian.Uint32(b[4*i:]))
		if n > uint64(len(rest)) {
			return request{}, fmt.Errorf("request part %d of %d bytes overruns the request", i, n)
		}
		parts[i], rest = rest[:n:n], rest[n:]
	}
	if len(rest) > 0 {
		return request{}, fmt.Errorf("request has %d bytes after its parts", len(rest))
	}
	return request{kind: parts[0], name: parts[1], config: parts[2], run: parts[3], input: parts[4]}, nil
}

var (
	mu sync.RWMutex
	// components maps kind, then name, to the served component; plain string
	// keys let a lookup by the request's bytes skip allocating.
	components = map[string]map[string]sdk.Component{}
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
		kind := string(info.Kind)
		if components[kind] == nil {
			components[kind] = map[string]sdk.Component{}
		}
		if _, dup := components[kind][info.Name]; dup {
			panic(fmt.Sprintf("wasm.Serve: %s %q served twice", info.Kind, info.Name))
		}
		components[kind][info.Name] = c
		order = append(order, Description{Kind: info.Kind, Name: info.Name, Version: info.Version, Summary: info.Summary})
	}
}

// served is a served component under its kind and name.
type served struct {
	kind, name string
	c          sdk.Component
}

// last is the component of the latest call found: the calls of an instance
// mostly repeat one component (a transform over every element of an array),
// and comparing two strings costs a guest less than two map lookups.
var last atomic.Pointer[served]

func lookup(kind, name []byte) (sdk.Component, bool) {
	if s := last.Load(); s != nil && s.name == string(name) && s.kind == string(kind) {
		return s.c, true
	}
	mu.RLock()
	c, ok := components[string(kind)][string(name)]
	mu.RUnlock()
	if ok {
		last.Store(&served{kind: string(kind), name: string(name), c: c})
	}
	return c, ok
}

// Describe returns the JSON answer of weft_v2_describe: every served
// component, in the order given to Serve.
func Describe() []byte {
	mu.RLock()
	defer mu.RUnlock()
	out, _ := json.Marshal(order)
	return out
}

// Handle serves one weft_v2_call request (laid out as [AppendRequest] does).
// It returns the answer and whether it is an error (an sdk.Error as JSON)
// rather than the component's output as JSON (null for a validator).
func Handle(ctx context.Context, request []byte) (answer []byte, failed bool) {
	return handle(ctx, nil, request)
}

// handle is Handle appending the answer to dst.
func handle(ctx context.Context, dst, raw []byte) ([]byte, bool) {
	out, err := serve(ctx, dst, raw)
	if err != nil {
		e := sdk.AsError(err)
		b, merr := json.Marshal(e)
		if merr != nil {
			b, _ = json.Marshal(&sdk.Error{Code: e.Code, Message: e.Message, Retryable: e.Retryable})
		}
		return append(dst, b...), true
	}
	return out, false
}

func serve(ctx context.Context, dst, raw []byte) ([]byte, error) {
	req, err := parseRequest(raw)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "decode request: %v", err)
	}
	c, ok := lookup(req.kind, req.name)
	if !ok {
		return nil, sdk.Errorf(sdk.CodeInternal, "module serves no %s %q", req.kind, req.name)
	}
	inst := c.Info().New()
	if len(req.config) > 0 && string(req.config) != "null" {
		if err := json.Unmarshal(req.config, inst); err != nil {
			return nil, sdk.Errorf(sdk.CodeInvalidConfig, "config: %v", err)
		}
	}
	var in any
	if len(req.input) > 0 {
		if in, err = decodeJSON(req.input); err != nil {
			return nil, sdk.Errorf(sdk.CodeInternal, "decode input: %v", err)
		}
	}
	var out any
	switch t := inst.(type) {
	case sdk.Step:
		si := sdk.Input{Config: in}
		if len(req.run) > 0 {
			if err := json.Unmarshal(req.run, &si.Run); err != nil {
				return nil, sdk.Errorf(sdk.CodeInternal, "decode run info: %v", err)
			}
		}
		o, err := t.Run(ctx, si)
		if err != nil {
			return nil, err
		}
		out = o.Data
	case sdk.Transform:
		if out, err = t.Transform(ctx, in); err != nil {
			return nil, err
		}
	case sdk.Validator:
		if err := t.Validate(ctx, in); err != nil {
			return nil, err
		}
	default:
		return nil, sdk.Errorf(sdk.CodeInternal, "%s %q implements no component interface", req.kind, req.name)
	}
	b, err := appendJSON(dst, out, 0)
	if err != nil {
		return nil, sdk.Errorf(sdk.CodeInternal, "encode output: %v", err)
	}
	return b, nil
}
