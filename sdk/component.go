package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
)

// Kind is the kind of a component; it fixes which behaviour interface the
// component implements.
type Kind string

// The three kinds of component.
const (
	KindStep      Kind = "step"      // may have side effects; subject to retry policy and breakers
	KindTransform Kind = "transform" // pure: value in, value out
	KindValidator Kind = "validator" // pure: value in, error out
)

// Valid reports whether k is one of the three kinds.
func (k Kind) Valid() bool {
	return k == KindStep || k == KindTransform || k == KindValidator
}

// Value is JSON-shaped data: nil, bool, float64, string, []any or map[string]any.
// Components may also return other values that encoding/json can marshal; the
// engine normalises them before anyone else sees them.
type Value = any

// Component is the unit of registration. See the package documentation for the
// lifecycle every component follows.
type Component interface {
	// Info describes the component. It must be cheap and free of side effects.
	Info() Info
}

// Info describes a component. Every runtime reports exactly these fields.
type Info struct {
	// Kind is the component's kind.
	Kind Kind
	// Name is what workflows use to refer to the component: a step's "type"
	// (HTTP_REQUEST, crm.upsert_contact), a transform's or validator's name.
	Name string
	// Version is the component's own version; "" for built-ins.
	Version string
	// Summary is one sentence for listings and documentation.
	Summary string
	// ConfigSchema is an optional JSON Schema of the component's config
	// (draft 2020-12, the default, or draft 7 by $schema). The engine checks
	// configs against it when a workflow is validated (a step's unrendered
	// config, tolerating violations at strings holding {{…}} templates; a
	// transform's or validator's static config strictly) and, for a step,
	// on the rendered config before every attempt, failing it with
	// CodeInvalidConfig. An absent config is checked as {}. The schema must
	// be self-contained ($ref only into itself): a schema that does not
	// compile, or refers to remote or file documents, makes the component's
	// registration fail. Nil means no schema check.
	ConfigSchema json.RawMessage
	// New returns a new, unconfigured instance (normally a pointer).
	New func() Component
}

var namePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$`)

// Check reports what is wrong with the info, or nil.
func (i Info) Check() error {
	if !i.Kind.Valid() {
		return fmt.Errorf("component %q: unknown kind %q (want step, transform or validator)", i.Name, i.Kind)
	}
	if !namePattern.MatchString(i.Name) || len(i.Name) > 100 {
		return fmt.Errorf("component %q: name must be letters, digits and underscores, dot-separated, at most 100 characters", i.Name)
	}
	if i.New == nil {
		return fmt.Errorf("component %s %q: Info.New is nil", i.Kind, i.Name)
	}
	return nil
}

// Step is a component that does work which may have side effects.
type Step interface {
	Component
	// Run performs one attempt of the step. It must honour ctx: the engine
	// cancels it on the step's timeout, the execution's timeout and on
	// cancellation.
	Run(ctx context.Context, in Input) (Output, error)
}

// Transform is a pure component: a value in, a value out.
type Transform interface {
	Component
	Transform(ctx context.Context, in Value) (Value, error)
}

// Validator is a pure component that accepts or rejects a value. A rejection is
// reported as a *ValidationError listing every problem.
type Validator interface {
	Component
	Validate(ctx context.Context, in Value) error
}

// Input is what a step receives for one attempt.
type Input struct {
	// Config is the step's config with every {{…}} template rendered for this run.
	Config Value
	// Run identifies the run, for logs and idempotency keys.
	Run RunInfo
}

// Decode decodes the rendered config into v (a pointer to a struct, map or
// slice) with the rules of [DecodeValue]: unknown fields and wrong types are
// reported with their path.
func (in Input) Decode(v any) error {
	return DecodeValue(in.Config, v)
}

// RunInfo identifies one attempt of one step of one execution.
type RunInfo struct {
	WorkflowID  string
	ExecutionID string
	StepID      string
	// Attempt is 1-based.
	Attempt int
	// IdempotencyKey is stable across the attempts of the same step (and of the
	// same FOR_EACH item) of the same execution; send it to APIs that support
	// idempotent requests.
	IdempotencyKey string
}

// Output is what a step produces.
type Output struct {
	// Data is the step's result, visible to later steps as steps.<id>.output.
	Data Value
}

// ConfigChecker is implemented by components that can check their config before
// any run. CheckConfig receives the unrendered config: a string that is exactly
// one {{…}} template stands for a value of any type. Problems are returned as a
// *ValidationError whose paths are relative to the config.
type ConfigChecker interface {
	CheckConfig(config Value) error
}

// Provisioner is implemented by components that acquire resources or
// precompute once, before first use.
type Provisioner interface {
	Provision(ctx context.Context, h Host) error
}

// Closer is implemented by components that hold resources.
type Closer interface {
	Close(ctx context.Context) error
}

// Host is what the engine lends a component. It is kept tiny so that every
// runtime (in-process, plugin, WASM, Lua) can implement it.
type Host interface {
	// Logger returns a logger tagged with the component's name.
	Logger() *slog.Logger
	// Secret returns the named secret, or an error when it is not configured.
	Secret(ctx context.Context, name string) (string, error)
}
