package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"sync"
)

var (
	globalMu  sync.RWMutex
	globalReg = map[Kind]map[string]Info{}
)

// Register makes a compiled-in component available to every engine created
// afterwards, in the style of database/sql.Register. Call it from init. It
// panics when the info is invalid, the component does not implement the
// interface of its kind, or the name is already taken: all programming errors.
func Register(c Component) {
	info := c.Info()
	if err := CheckComponent(info); err != nil {
		panic("sdk.Register: " + err.Error())
	}
	globalMu.Lock()
	defer globalMu.Unlock()
	if globalReg[info.Kind] == nil {
		globalReg[info.Kind] = map[string]Info{}
	}
	if _, dup := globalReg[info.Kind][info.Name]; dup {
		panic(fmt.Sprintf("sdk.Register: %s %q already registered", info.Kind, info.Name))
	}
	globalReg[info.Kind][info.Name] = info
}

// Registered returns the infos of every compiled-in component, sorted by kind
// and name.
func Registered() []Info {
	globalMu.RLock()
	defer globalMu.RUnlock()
	var out []Info
	for _, m := range globalReg {
		for _, i := range m {
			out = append(out, i)
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Kind != out[b].Kind {
			return out[a].Kind < out[b].Kind
		}
		return out[a].Name < out[b].Name
	})
	return out
}

// CheckComponent checks an info and that its New returns a component that
// implements the interface of its kind.
func CheckComponent(info Info) error {
	if err := info.Check(); err != nil {
		return err
	}
	inst := info.New()
	if inst == nil {
		return fmt.Errorf("%s %q: New returned nil", info.Kind, info.Name)
	}
	var ok bool
	switch info.Kind {
	case KindStep:
		_, ok = inst.(Step)
	case KindTransform:
		_, ok = inst.(Transform)
	case KindValidator:
		_, ok = inst.(Validator)
	}
	if !ok {
		return fmt.Errorf("%s %q: %T does not implement sdk.%s", info.Kind, info.Name, inst, kindInterface(info.Kind))
	}
	return nil
}

func kindInterface(k Kind) string {
	switch k {
	case KindTransform:
		return "Transform"
	case KindValidator:
		return "Validator"
	}
	return "Step"
}

// NewStep turns a function into a step component. The step's rendered config is
// decoded into In (strictly: unknown fields are errors), and Out becomes the
// step's output. Function components keep no state; use a struct type that
// implements [Step] when you need provisioning.
func NewStep[In, Out any](name string, fn func(ctx context.Context, in In) (Out, error), opts ...FuncOption) Component {
	f := &funcStep[In, Out]{fn: fn}
	f.info = funcInfo(KindStep, name, opts, func() Component { return f })
	return f
}

// NewTransform turns a function into a transform component. The value to
// transform is decoded into In.
func NewTransform[In, Out any](name string, fn func(ctx context.Context, in In) (Out, error), opts ...FuncOption) Component {
	f := &funcTransform[In, Out]{fn: fn}
	f.info = funcInfo(KindTransform, name, opts, func() Component { return f })
	return f
}

// NewValidator turns a function into a validator component. The value to
// validate is decoded into In; a value that does not decode is rejected with
// the decoding problems.
func NewValidator[In any](name string, fn func(ctx context.Context, in In) error, opts ...FuncOption) Component {
	f := &funcValidator[In]{fn: fn}
	f.info = funcInfo(KindValidator, name, opts, func() Component { return f })
	return f
}

// FuncOption sets optional info on a function component.
type FuncOption func(*Info)

// WithSummary sets the component's one-sentence summary.
func WithSummary(s string) FuncOption { return func(i *Info) { i.Summary = s } }

// WithVersion sets the component's version.
func WithVersion(v string) FuncOption { return func(i *Info) { i.Version = v } }

// WithConfigSchema sets the JSON Schema of the component's config; see
// [Info.ConfigSchema] for how the engine uses it.
func WithConfigSchema(schema json.RawMessage) FuncOption {
	return func(i *Info) { i.ConfigSchema = schema }
}

func funcInfo(kind Kind, name string, opts []FuncOption, newFn func() Component) Info {
	i := Info{Kind: kind, Name: name, New: newFn}
	for _, o := range opts {
		o(&i)
	}
	return i
}

type funcStep[In, Out any] struct {
	info Info
	fn   func(context.Context, In) (Out, error)
}

func (f *funcStep[In, Out]) Info() Info { return f.info }

func (f *funcStep[In, Out]) Run(ctx context.Context, in Input) (Output, error) {
	var v In
	if err := decodeInto(in.Config, &v, CodeInvalidConfig); err != nil {
		return Output{}, err
	}
	out, err := f.fn(ctx, v)
	if err != nil {
		return Output{}, err
	}
	return Output{Data: out}, nil
}

// CheckConfig checks the unrendered config against In.
func (f *funcStep[In, Out]) CheckConfig(config Value) error {
	var v In
	return CheckShape(config, reflect.TypeOf(&v).Elem(), true)
}

type funcTransform[In, Out any] struct {
	info Info
	fn   func(context.Context, In) (Out, error)
}

func (f *funcTransform[In, Out]) Info() Info { return f.info }

func (f *funcTransform[In, Out]) Transform(ctx context.Context, in Value) (Value, error) {
	var v In
	if err := decodeInto(in, &v, CodeInvalidInput); err != nil {
		return nil, err
	}
	return f.fn(ctx, v)
}

type funcValidator[In any] struct {
	info Info
	fn   func(context.Context, In) error
}

func (f *funcValidator[In]) Info() Info { return f.info }

func (f *funcValidator[In]) Validate(ctx context.Context, in Value) error {
	var v In
	if err := decodeInto(in, &v, CodeValidationFailed); err != nil {
		return err
	}
	return f.fn(ctx, v)
}

// decodeInto decodes data into v, taking a fast path when the target is the
// data's own type (a func component over any, map[string]any or string).
func decodeInto[T any](data Value, v *T, code string) error {
	if d, ok := data.(T); ok {
		*v = d
		return nil
	}
	if data == nil {
		return nil
	}
	if err := DecodeValue(data, v); err != nil {
		e := AsError(err)
		return &Error{Code: code, Message: err.Error(), Details: e.Details, Err: err}
	}
	return nil
}
