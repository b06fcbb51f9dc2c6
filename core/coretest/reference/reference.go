// Package reference is the compiled-in Go implementation of the conformance
// components that package coretest checks every runtime against. It imports
// only package sdk and the standard library, so the very same code is also
// served from a WASM guest (sdk/wasm.Serve(reference.Components()...)) or a
// plugin binary: a runtime that serves these components unchanged must pass
// the suite exactly as the compiled-in build does. Runtimes that cannot run
// Go (Lua) implement the specification below by hand.
//
// # Transform conformance.text
//
// The input is an object whose string field op selects what to do; any other
// input fails with INVALID_INPUT "input must be an object with a string op".
// The static config is any JSON object (or none).
//
//	op "echo"   → input.value, unchanged (null when absent)
//	op "config" → the static config, unchanged (null when none)
//	op "upper"  → {"text": text upper-cased (Unicode rules, Go's strings.ToUpper)}
//	              INVALID_INPUT "text must be a string"
//	op "concat" → {"text": prefix + items joined with separator}; prefix and
//	              separator come from the config when they are strings
//	              (defaults "" and ","); an empty items gives "" plus the prefix
//	              INVALID_INPUT "items must be an array"
//	              INVALID_INPUT "items[i] must be a string" (i 0-based, the first bad one)
//	op "add"    → {"sum": a + b} in IEEE-754 double arithmetic
//	              INVALID_INPUT "a and b must be numbers"
//	op "shape"  → a fixed document built by the component itself; see [Shape]
//	op "fail"   → fails with code CONFORMANCE_FAILURE, message
//	              "failure requested: " + reason (reason "" when not a string),
//	              retryable when input.retryable is true
//	op "block"  → never returns on its own: the runtime must stop it when the
//	              call's context ends
//	other op    → INVALID_INPUT `unknown op "<op>"`
//
// # Validator conformance.check
//
// The config is {"minAge": number} (default 0). A value that is not an object
// (null, a string, a number, a boolean or an array) is rejected with the one
// problem {"path": "", "message": "must be an object"}. An object is checked
// field by field, and every problem is reported, in this order:
//
//	name     absent or null: "is required"; not a non-empty string: "must be a non-empty string"
//	age      absent or null: "is required"; not a number: "must be a number";
//	         below minAge: "must be at least <minAge>" (the number as Go's %v and Lua's tostring print it)
//	tags     optional; present and not null but not an array: "must be an array"
//	tags[i]  each element that is not a string: "must be a string" (i 0-based)
//
// An object without problems is accepted.
package reference

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/weftworks/weft/sdk"
)

// Names and codes of the conformance components.
const (
	// TransformName is the name of the conformance transform.
	TransformName = "conformance.text"
	// ValidatorName is the name of the conformance validator.
	ValidatorName = "conformance.check"
	// CodeFailure is the code of the failure that op "fail" requests.
	CodeFailure = "CONFORMANCE_FAILURE"
)

// Components returns the conformance transform and validator, ready to be
// registered (core.Registry), served from a WASM guest or from a plugin.
func Components() []sdk.Component {
	return []sdk.Component{&Text{}, &Check{}}
}

// Shape returns the document op "shape" produces: every JSON kind, the empty
// object and the empty array, null at the top of a field and inside an
// array, integral and fractional numbers (2^53 is the largest integer a
// double holds exactly), and text outside ASCII, including a NUL byte.
func Shape() map[string]any {
	return map[string]any{
		"emptyObject": map[string]any{},
		"emptyArray":  []any{},
		"null":        nil,
		"true":        true,
		"false":       false,
		"int":         float64(42),
		"negative":    float64(-7),
		"float":       0.25,
		"big":         float64(1 << 53),
		"tiny":        1e-7,
		"unicode":     "héllo, 世界 🎉",
		"nul":         "a\x00b",
		"nested":      map[string]any{"list": []any{float64(1), "two", true, nil, map[string]any{"k": []any{}}}},
	}
}

// Text is the conformance transform.
type Text struct {
	config    any
	prefix    string
	separator string
	hasSep    bool
}

var (
	_ sdk.Transform    = (*Text)(nil)
	_ json.Unmarshaler = (*Text)(nil)
)

// Info implements sdk.Component.
func (*Text) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindTransform, Name: TransformName,
		Summary: "Conformance transform: echoes, reshapes and fails on request.",
		New:     func() sdk.Component { return new(Text) }}
}

// UnmarshalJSON keeps the static config as given, and reads prefix and
// separator from it.
func (t *Text) UnmarshalJSON(b []byte) error {
	var cfg any
	if err := json.Unmarshal(b, &cfg); err != nil {
		return err
	}
	t.config = cfg
	obj, _ := cfg.(map[string]any)
	t.prefix, _ = obj["prefix"].(string)
	t.separator, t.hasSep = obj["separator"].(string)
	return nil
}

// Transform implements sdk.Transform.
func (t *Text) Transform(ctx context.Context, in sdk.Value) (sdk.Value, error) {
	obj, _ := in.(map[string]any)
	op, ok := obj["op"].(string)
	if !ok {
		return nil, sdk.Errorf(sdk.CodeInvalidInput, "input must be an object with a string op")
	}
	switch op {
	case "echo":
		return obj["value"], nil
	case "config":
		return t.config, nil
	case "upper":
		s, ok := obj["text"].(string)
		if !ok {
			return nil, sdk.Errorf(sdk.CodeInvalidInput, "text must be a string")
		}
		return map[string]any{"text": strings.ToUpper(s)}, nil
	case "concat":
		items, ok := obj["items"].([]any)
		if !ok {
			return nil, sdk.Errorf(sdk.CodeInvalidInput, "items must be an array")
		}
		parts := make([]string, len(items))
		for i, it := range items {
			if parts[i], ok = it.(string); !ok {
				return nil, sdk.Errorf(sdk.CodeInvalidInput, "items[%d] must be a string", i)
			}
		}
		sep := ","
		if t.hasSep {
			sep = t.separator
		}
		return map[string]any{"text": t.prefix + strings.Join(parts, sep)}, nil
	case "add":
		a, okA := obj["a"].(float64)
		b, okB := obj["b"].(float64)
		if !okA || !okB {
			return nil, sdk.Errorf(sdk.CodeInvalidInput, "a and b must be numbers")
		}
		return map[string]any{"sum": a + b}, nil
	case "shape":
		return Shape(), nil
	case "fail":
		reason, _ := obj["reason"].(string)
		retryable, _ := obj["retryable"].(bool)
		return nil, &sdk.Error{Code: CodeFailure, Message: "failure requested: " + reason, Retryable: retryable}
	case "block":
		return nil, block(ctx)
	}
	return nil, sdk.Errorf(sdk.CodeInvalidInput, "unknown op \"%s\"", op)
}

// block waits for ctx to end. A context that can never end (a WASM guest's:
// the host stops the instance itself) makes it spin, so that only the
// runtime's own interruption can end the call.
func block(ctx context.Context) error {
	done := ctx.Done()
	if done == nil {
		for {
		}
	}
	<-done
	return ctx.Err()
}

// Check is the conformance validator.
type Check struct {
	// MinAge is the lowest accepted age.
	MinAge float64 `json:"minAge"`
}

var _ sdk.Validator = (*Check)(nil)

// Info implements sdk.Component.
func (*Check) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindValidator, Name: ValidatorName,
		Summary: "Conformance validator: checks name, age and tags, reporting every problem.",
		New:     func() sdk.Component { return new(Check) }}
}

// Validate implements sdk.Validator.
func (c *Check) Validate(_ context.Context, in sdk.Value) error {
	ve := &sdk.ValidationError{}
	obj, ok := in.(map[string]any)
	if !ok {
		ve.Add("", "must be an object")
		return ve
	}
	switch name := obj["name"].(type) {
	case nil:
		ve.Add("name", "is required")
	case string:
		if name == "" {
			ve.Add("name", "must be a non-empty string")
		}
	default:
		ve.Add("name", "must be a non-empty string")
	}
	switch age := obj["age"].(type) {
	case nil:
		ve.Add("age", "is required")
	case float64:
		if age < c.MinAge {
			ve.Add("age", "must be at least %v", c.MinAge)
		}
	default:
		ve.Add("age", "must be a number")
	}
	switch tags := obj["tags"].(type) {
	case nil:
	case []any:
		for i, tag := range tags {
			if _, ok := tag.(string); !ok {
				ve.Add(fmt.Sprintf("tags[%d]", i), "must be a string")
			}
		}
	default:
		ve.Add("tags", "must be an array")
	}
	return ve.Err()
}
