// Package coretest is the conformance suite of weft's component runtimes: the
// same table of cases runs against one pair of components (the transform
// conformance.text and the validator conformance.check, specified in package
// [reference]) whether they are compiled-in Go, Lua scripts, a WASM module or
// an out-of-process plugin. The executor cannot tell runtimes apart, so
// neither may their behaviour. Like testing/fstest, it is called from the
// runtime's own tests:
//
//	func TestConformance(t *testing.T) {
//		coretest.Run(t, func(t *testing.T, reg *core.Registry) {
//			rt := startRuntime(t)                     // once for the whole suite
//			t.Cleanup(func() { rt.Close(context.Background()) })
//			require.NoError(t, rt.Register(reg))      // conformance.text and conformance.check
//		})
//	}
//
// A runtime that runs Go code (WASM, plugins) serves reference.Components()
// unchanged; the compiled-in build is [Register]. Lua implements the
// specification by hand (scripting/lua/testdata/conformance).
//
// # What is checked
//
// Every case runs twice: directly (the component is instantiated from the
// registry entry, configured from JSON and provisioned, as the engine's
// compiler does) and through a real workflow run by a core.Engine on the
// memory store (a DATA_TRANSFORM transform operation, or a VALIDATION step
// naming the validator), so that what the engine records (step status,
// output, error code and message) is checked too.
//
//   - Values: JSON shapes round-trip exactly, after core.Normalize: objects and
//     arrays, {} and [] (empty ones, and nested ones), null at the top and
//     inside objects and arrays, integral and fractional numbers (numbers are
//     doubles everywhere: 2^53 + 1 is 2^53, 0.1 + 0.2 is 0.30000000000000004),
//     strings outside ASCII, with escapes and NUL bytes, keys that look like
//     numbers; values built inside the component (op "shape") cross as well.
//   - Config: the static config reaches the component unchanged.
//   - Errors: a component's failure reaches the caller as an *sdk.Error with
//     its code, message and Retryable flag intact (Details are not part of the
//     contract: Lua error tables carry none); a validator's rejection is an
//     *sdk.ValidationError whose problems (path and message) arrive intact
//     and in order; the engine fails the step with the same code.
//   - Timeout: a call that never returns on its own (op "block") ends when
//     its context's deadline passes, not before, with code TIMEOUT and an
//     error that is context.DeadlineExceeded (errors.Is); ended by
//     cancellation, with CANCELLED and context.Canceled; through the engine,
//     a step timeout fails the step with TIMEOUT. The same instance still
//     works afterwards. How soon after the deadline a call returns is a
//     figure, not a condition (a busy machine is slower): [BenchmarkStop]
//     measures it.
//   - Concurrency: 200 concurrent calls with distinct inputs, mixing success,
//     failure, acceptance and rejection, on one shared instance each, get
//     exactly their own results (run the suite under -race), and a FOR_EACH
//     runs the transform for 40 items, 8 at a time, in order.
//
// # Notes
//
// The timing cases run one after the other, after the value cases. No case
// has a time limit of its own: a call that is never stopped fails the case
// after [hangGuard]. The suite takes a few seconds per runtime under -race.
//
// Steps are not part of the suite: every runtime registers transforms and
// validators by name, but steps differ by design (LUA runs an inline script,
// WASM names a module), so they have no common reference to check.
package coretest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/coretest/reference"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/sdk"
)

// Names of the conformance components; see package [reference].
const (
	TransformName = reference.TransformName
	ValidatorName = reference.ValidatorName
)

// Timing bounds of the suite.
const (
	// Deadline is the timeout given to calls that never end on their own.
	Deadline = 50 * time.Millisecond
	// Concurrency is the number of concurrent calls of the concurrency case.
	Concurrency = 200
)

// hangGuard bounds every call and execution of the suite: a guard against a
// call that is never stopped, far above what any case needs on a busy
// machine, never a measure of speed.
const hangGuard = 2 * time.Minute

// Register adds the compiled-in Go implementation of the conformance
// components (package [reference]) to reg.
func Register(reg *core.Registry) error {
	for _, c := range reference.Components() {
		if err := reg.Register(core.Entry{Info: c.Info(), Origin: core.OriginCompiled}); err != nil {
			return fmt.Errorf("coretest: %w", err)
		}
	}
	return nil
}

// Run runs the suite. register must add the runtime's conformance.text and
// conformance.check to reg, a registry that holds the built-in step types
// already. It is called once, with Run's t, so one runtime serves every case;
// release it with t.Cleanup.
func Run(t *testing.T, register func(t *testing.T, reg *core.Registry)) {
	reg := steps.NewRegistry(steps.Options{})
	register(t, reg)
	for _, c := range []struct {
		kind sdk.Kind
		name string
	}{{sdk.KindTransform, TransformName}, {sdk.KindValidator, ValidatorName}} {
		e, ok := reg.Lookup(c.kind, c.name)
		require.True(t, ok, "register did not add the %s %s", c.kind, c.name)
		require.Equal(t, c.kind, e.Kind)
		require.Equal(t, c.name, e.Name)
	}
	s := &suite{reg: reg, eng: core.New(core.Options{Registry: reg})}

	t.Run("Transform", func(t *testing.T) {
		for _, tc := range transformCases() {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				t.Run("Direct", func(t *testing.T) { s.transformDirect(t, tc) })
				t.Run("Engine", func(t *testing.T) { s.transformEngine(t, tc) })
			})
		}
	})
	t.Run("Validator", func(t *testing.T) {
		for _, tc := range validatorCases() {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				t.Run("Direct", func(t *testing.T) { s.validatorDirect(t, tc) })
				t.Run("Engine", func(t *testing.T) { s.validatorEngine(t, tc) })
			})
		}
	})
	t.Run("Timeout", func(t *testing.T) {
		t.Run("Direct", s.timeoutDirect)
		t.Run("Cancel", s.cancelDirect)
		t.Run("Expired", s.expiredDirect)
		t.Run("Engine", s.timeoutEngine)
	})
	t.Run("Concurrent", func(t *testing.T) {
		t.Run("Direct", s.concurrentDirect)
		t.Run("Engine", s.concurrentEngine)
	})
}

type suite struct {
	reg *core.Registry
	eng *core.Engine
}

// transformCase is one call of conformance.text. JSON fields hold JSON text.
type transformCase struct {
	name   string
	config string // static config; "" for none
	input  string
	// want is the output of a successful call.
	want string
	// code, message and retryable describe the failure of a failing call.
	code      string
	message   string
	retryable bool
}

func echo(name, value string) transformCase {
	return transformCase{name: name, input: `{"op": "echo", "value": ` + value + `}`, want: value}
}

func failure(name, input, code, message string) transformCase {
	return transformCase{name: name, input: input, code: code, message: message}
}

func transformCases() []transformCase {
	shape, err := json.Marshal(reference.Shape())
	if err != nil {
		panic(err)
	}
	invalid := sdk.CodeInvalidInput
	return []transformCase{
		echo("echo object", `{"a": 1, "b": "two", "c": [true, false, null], "d": {"e": {"f": "deep"}}}`),
		echo("echo empty object", `{}`),
		echo("echo empty array", `[]`),
		echo("echo nested empties", `{"o": {}, "a": [], "ao": [{}], "aa": [[], {}], "oa": {"x": []}}`),
		echo("echo null", `null`),
		{name: "echo absent value", input: `{"op": "echo"}`, want: `null`},
		echo("echo nulls inside", `{"a": null, "list": [null, 1, null], "only": [null]}`),
		echo("echo integers", `[0, 1, -1, 42, 1000000, 9007199254740992, -9007199254740992, 1e15]`),
		echo("echo integer beyond 2^53", `9007199254740993`),
		echo("echo floats", `[0.5, -0.25, 0.1, 1e-7, 3.141592653589793, 1.7976931348623157e308, 5e-324]`),
		echo("echo strings", `["", "héllo", "世界", "🎉", "a\u0000b", "tab\tline\nquote\"back\\slash", "\u2028\u00e9"]`),
		echo("echo unicode keys", `{"ключ": "значение", "🎉": 1, "": "empty key", "a b": true}`),
		echo("echo keys that look like numbers", `{"1": "a", "2": "b", "3": "c"}`),
		echo("echo string", `"just text"`),
		echo("echo false", `false`),
		echo("echo number", `-3.5`),
		echo("echo mixed array", `[1, "two", {"three": 3}, [4], null, true]`),

		{name: "config absent", input: `{"op": "config"}`, want: `null`},
		{name: "config passed through", config: `{"prefix": ">", "list": [1, {}, []], "empty": {}, "nested": {"n": null, "s": "ü"}}`,
			input: `{"op": "config"}`, want: `{"prefix": ">", "list": [1, {}, []], "empty": {}, "nested": {"n": null, "s": "ü"}}`},
		{name: "concat default separator", input: `{"op": "concat", "items": ["a", "b", "c"]}`, want: `{"text": "a,b,c"}`},
		{name: "concat configured", config: `{"prefix": "» ", "separator": " | "}`,
			input: `{"op": "concat", "items": ["a", "b", "c"]}`, want: `{"text": "» a | b | c"}`},
		{name: "concat empty separator", config: `{"separator": ""}`, input: `{"op": "concat", "items": ["a", "b"]}`, want: `{"text": "ab"}`},
		{name: "concat no items", config: `{"prefix": "p"}`, input: `{"op": "concat", "items": []}`, want: `{"text": "p"}`},
		{name: "concat ignores a separator that is not a string", config: `{"separator": 5}`,
			input: `{"op": "concat", "items": ["a", "b"]}`, want: `{"text": "a,b"}`},
		{name: "upper unicode", input: `{"op": "upper", "text": "héllo wörld, straße 日本 🎉"}`, want: `{"text": "HÉLLO WÖRLD, STRAßE 日本 🎉"}`},
		{name: "add integers", input: `{"op": "add", "a": 2, "b": 40}`, want: `{"sum": 42}`},
		{name: "add floats", input: `{"op": "add", "a": 0.1, "b": 0.2}`, want: `{"sum": 0.30000000000000004}`},
		{name: "add past 2^53", input: `{"op": "add", "a": 9007199254740992, "b": 1}`, want: `{"sum": 9007199254740992}`},
		{name: "add to a whole number", input: `{"op": "add", "a": -1.5, "b": 0.5}`, want: `{"sum": -1}`},
		{name: "shape built by the component", input: `{"op": "shape"}`, want: string(shape)},

		{name: "fail", input: `{"op": "fail", "reason": "disk on fire"}`,
			code: reference.CodeFailure, message: "failure requested: disk on fire"},
		{name: "fail retryable", input: `{"op": "fail", "reason": "try later", "retryable": true}`,
			code: reference.CodeFailure, message: "failure requested: try later", retryable: true},
		{name: "fail unicode reason", input: `{"op": "fail", "reason": "ошибка 🎉"}`,
			code: reference.CodeFailure, message: "failure requested: ошибка 🎉"},
		{name: "fail without reason", input: `{"op": "fail"}`, code: reference.CodeFailure, message: "failure requested: "},
		failure("unknown op", `{"op": "frobnicate"}`, invalid, `unknown op "frobnicate"`),
		failure("input a string", `"hello"`, invalid, "input must be an object with a string op"),
		failure("input null", `null`, invalid, "input must be an object with a string op"),
		failure("input a number", `7`, invalid, "input must be an object with a string op"),
		failure("op not a string", `{"op": 1}`, invalid, "input must be an object with a string op"),
		failure("upper text not a string", `{"op": "upper", "text": 5}`, invalid, "text must be a string"),
		failure("concat items not an array", `{"op": "concat", "items": "abc"}`, invalid, "items must be an array"),
		failure("concat items an object", `{"op": "concat", "items": {}}`, invalid, "items must be an array"),
		failure("concat item not a string", `{"op": "concat", "items": ["a", "b", 3, 4]}`, invalid, "items[2] must be a string"),
		failure("add strings", `{"op": "add", "a": "1", "b": 2}`, invalid, "a and b must be numbers"),
	}
}

// validatorCase is one call of conformance.check. JSON fields hold JSON text.
type validatorCase struct {
	name   string
	config string // "" for none
	input  string
	// problems are the expected rejection; none means the value is accepted.
	problems []sdk.Problem
}

func problem(path, message string) sdk.Problem { return sdk.Problem{Path: path, Message: message} }

func validatorCases() []validatorCase {
	notObject := []sdk.Problem{problem("", "must be an object")}
	return []validatorCase{
		{name: "accepts", input: `{"name": "Ada", "age": 36, "tags": ["math", "engines"]}`},
		{name: "accepts without tags", input: `{"name": "Ada", "age": 0}`},
		{name: "accepts unicode and extra fields", input: `{"name": "Zoë 🎉", "age": 30.5, "tags": [], "other": {"x": null}}`},
		{name: "accepts null tags", input: `{"name": "Ada", "age": 1, "tags": null}`},
		{name: "accepts the minimum", config: `{"minAge": 18}`, input: `{"name": "Ada", "age": 18}`},
		{name: "rejects below the minimum", config: `{"minAge": 18}`, input: `{"name": "Ada", "age": 17}`,
			problems: []sdk.Problem{problem("age", "must be at least 18")}},
		{name: "rejects below a fractional minimum", config: `{"minAge": 17.5}`, input: `{"name": "Ada", "age": 17}`,
			problems: []sdk.Problem{problem("age", "must be at least 17.5")}},
		{name: "reports every problem in order", input: `{"name": "", "age": "old", "tags": ["ok", 3, null, {}, []]}`,
			problems: []sdk.Problem{
				problem("name", "must be a non-empty string"), problem("age", "must be a number"),
				problem("tags[1]", "must be a string"), problem("tags[2]", "must be a string"),
				problem("tags[3]", "must be a string"), problem("tags[4]", "must be a string"),
			}},
		{name: "missing fields", input: `{}`, problems: []sdk.Problem{problem("name", "is required"), problem("age", "is required")}},
		{name: "null fields", input: `{"name": null, "age": null}`, problems: []sdk.Problem{problem("name", "is required"), problem("age", "is required")}},
		{name: "name not a string", input: `{"name": ["Ada"], "age": 3}`, problems: []sdk.Problem{problem("name", "must be a non-empty string")}},
		{name: "tags an object", input: `{"name": "Ada", "age": 3, "tags": {"a": "b"}}`, problems: []sdk.Problem{problem("tags", "must be an array")}},
		{name: "tags an empty object", input: `{"name": "Ada", "age": 3, "tags": {}}`, problems: []sdk.Problem{problem("tags", "must be an array")}},
		{name: "tags a string", input: `{"name": "Ada", "age": 3, "tags": "x"}`, problems: []sdk.Problem{problem("tags", "must be an array")}},
		{name: "not an object: array", input: `[{"name": "Ada", "age": 3}]`, problems: notObject},
		{name: "not an object: empty array", input: `[]`, problems: notObject},
		{name: "not an object: string", input: `"Ada"`, problems: notObject},
		{name: "not an object: number", input: `3`, problems: notObject},
		{name: "not an object: null", input: `null`, problems: notObject},
	}
}

// decode parses JSON text that the suite itself wrote.
func decode(t testing.TB, text string) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal([]byte(text), &v), "bad JSON in the suite: %s", text)
	return v
}

// host is the sdk.Host of directly instantiated components.
type host struct{}

func (host) Logger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func (host) Secret(context.Context, string) (string, error) {
	return "", errors.New("the conformance suite has no secrets")
}

// instantiate makes a configured instance from the registry entry, the way
// the engine's compiler does: New, config as JSON into the instance,
// Provision; Close at the end of the test.
func (s *suite) instantiate(t *testing.T, kind sdk.Kind, name, config string) sdk.Component {
	t.Helper()
	entry, ok := s.reg.Lookup(kind, name)
	require.True(t, ok)
	inst := entry.New()
	require.NotNil(t, inst)
	if config != "" {
		require.NoError(t, json.Unmarshal([]byte(config), inst), "configure %s %s", kind, name)
	}
	if p, ok := inst.(sdk.Provisioner); ok {
		require.NoError(t, p.Provision(t.Context(), host{}))
	}
	if c, ok := inst.(sdk.Closer); ok {
		t.Cleanup(func() { _ = c.Close(context.Background()) })
	}
	return inst
}

func (s *suite) transform(t *testing.T, config string) sdk.Transform {
	t.Helper()
	tr, ok := s.instantiate(t, sdk.KindTransform, TransformName, config).(sdk.Transform)
	require.True(t, ok, "the %s entry does not make an sdk.Transform", TransformName)
	return tr
}

func (s *suite) validator(t *testing.T, config string) sdk.Validator {
	t.Helper()
	v, ok := s.instantiate(t, sdk.KindValidator, ValidatorName, config).(sdk.Validator)
	require.True(t, ok, "the %s entry does not make an sdk.Validator", ValidatorName)
	return v
}

func (s *suite) transformDirect(t *testing.T, tc transformCase) {
	tr := s.transform(t, tc.config)
	out, err := tr.Transform(t.Context(), decode(t, tc.input))
	if tc.code == "" {
		require.NoError(t, err)
		require.Equal(t, decode(t, tc.want), core.Normalize(out))
		return
	}
	require.Error(t, err)
	var se *sdk.Error
	require.True(t, errors.As(err, &se), "want an *sdk.Error, got %T: %v", err, err)
	require.Equal(t, tc.code, se.Code)
	require.Equal(t, tc.message, se.Message)
	require.Equal(t, tc.retryable, se.Retryable, "retryable")
}

// plan compiles a one-step workflow, closed at the end of the test.
func (s *suite) plan(t *testing.T, step string) *core.Plan {
	t.Helper()
	w, err := core.ParseWorkflow([]byte(`{"name": "conformance", "steps": [` + step + `]}`))
	require.NoError(t, err)
	p, err := s.eng.Compile(t.Context(), w)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

func (s *suite) execute(t *testing.T, p *core.Plan, input any) *core.Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), hangGuard)
	defer cancel()
	x, err := s.eng.Execute(ctx, p, input)
	require.NoError(t, err)
	require.NoError(t, ctx.Err(), "the execution ended only at the test's guard")
	return x
}

func transformStep(config, timeout string) string {
	op := `{"type": "transform", "name": "` + TransformName + `"`
	if config != "" {
		op += `, "config": ` + config
	}
	step := `{"id": "t", "type": "DATA_TRANSFORM", "config": {"operations": [` + op + `}]}`
	if timeout != "" {
		step += `, "timeout": ` + timeout
	}
	return step + `}`
}

func (s *suite) transformEngine(t *testing.T, tc transformCase) {
	x := s.execute(t, s.plan(t, transformStep(tc.config, "")), decode(t, tc.input))
	st := x.Steps["t"]
	require.NotNil(t, st)
	if tc.code == "" {
		require.Equal(t, core.StatusCompleted, x.Status, "error: %v", x.Error)
		require.Equal(t, core.StatusCompleted, st.Status)
		require.Equal(t, decode(t, tc.want), core.Normalize(st.Output))
		return
	}
	require.Equal(t, core.StatusFailed, x.Status)
	require.Equal(t, core.StatusFailed, st.Status)
	require.NotNil(t, st.Error)
	require.Equal(t, tc.code, st.Error.Code)
	require.Equal(t, "operation 0 (transform): "+tc.message, st.Error.Message)
	require.Equal(t, tc.code, x.Error.Code)
}

func (s *suite) validatorDirect(t *testing.T, tc validatorCase) {
	v := s.validator(t, tc.config)
	err := v.Validate(t.Context(), decode(t, tc.input))
	if len(tc.problems) == 0 {
		require.NoError(t, err)
		return
	}
	var ve *sdk.ValidationError
	require.True(t, errors.As(err, &ve), "want an *sdk.ValidationError, got %T: %v", err, err)
	require.Equal(t, tc.problems, ve.Problems)
	require.Equal(t, sdk.CodeValidationFailed, sdk.ErrorCode(err))
}

func (s *suite) validatorEngine(t *testing.T, tc validatorCase) {
	step := `{"id": "v", "type": "VALIDATION", "config": {"validator": "` + ValidatorName + `"`
	if tc.config != "" {
		step += `, "validatorConfig": ` + tc.config
	}
	input := decode(t, tc.input)
	x := s.execute(t, s.plan(t, step+`}}`), input)
	st := x.Steps["v"]
	require.NotNil(t, st)
	if len(tc.problems) == 0 {
		require.Equal(t, core.StatusCompleted, x.Status, "error: %v", x.Error)
		require.Equal(t, input, core.Normalize(st.Output), "a VALIDATION step outputs the data it accepted")
		return
	}
	require.Equal(t, core.StatusFailed, x.Status)
	require.NotNil(t, st.Error)
	require.Equal(t, sdk.CodeValidationFailed, st.Error.Code)
	violations := make([]any, len(tc.problems))
	for i, p := range tc.problems {
		violations[i] = map[string]any{"field": p.Path, "rule": "validator", "message": p.Message}
	}
	want, err := json.Marshal(map[string]any{"violations": violations})
	require.NoError(t, err)
	got, err := json.Marshal(st.Error.Details)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(got))
}

var blockInput = map[string]any{"op": "block"}

// callGuarded calls the transform with the block op and returns its error;
// it fails the test when the call has not returned after hangGuard.
func callGuarded(t *testing.T, tr sdk.Transform, ctx context.Context) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := tr.Transform(ctx, blockInput)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(hangGuard):
		t.Fatalf("the call was not stopped %v after the end of its context", hangGuard)
		return nil
	}
}

// stillWorks checks that an instance serves calls after one was stopped.
func stillWorks(t *testing.T, tr sdk.Transform) {
	t.Helper()
	out, err := tr.Transform(t.Context(), map[string]any{"op": "echo", "value": "after"})
	require.NoError(t, err, "the component must work after a stopped call")
	require.Equal(t, "after", out)
}

// requireStopped checks how a call that never ends on its own came back.
func requireStopped(t *testing.T, err error, elapsed time.Duration, code string, cause error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, sdk.ErrorCode(err), "error: %v", err)
	require.ErrorIs(t, err, cause)
	require.GreaterOrEqual(t, elapsed, Deadline, "the call returned before the end of its context")
	t.Logf("returned %s after the end of its context", elapsed-Deadline)
}

func (s *suite) timeoutDirect(t *testing.T) {
	tr := s.transform(t, "")
	stillWorks(t, tr)   // start the runtime's instance before timing
	start := time.Now() // before the deadline is set: it cannot come sooner
	ctx, cancel := context.WithTimeout(t.Context(), Deadline)
	defer cancel()
	err := callGuarded(t, tr, ctx)
	requireStopped(t, err, time.Since(start), sdk.CodeTimeout, context.DeadlineExceeded)
	stillWorks(t, tr)
}

func (s *suite) cancelDirect(t *testing.T) {
	tr := s.transform(t, "")
	stillWorks(t, tr)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	start := time.Now() // before the timer is set: the cancel cannot come sooner
	timer := time.AfterFunc(Deadline, cancel)
	defer timer.Stop()
	err := callGuarded(t, tr, ctx)
	requireStopped(t, err, time.Since(start), sdk.CodeCancelled, context.Canceled)
	stillWorks(t, tr)
}

// expiredDirect: a call whose context has already ended does not hang.
func (s *suite) expiredDirect(t *testing.T) {
	tr := s.transform(t, "")
	stillWorks(t, tr)
	ctx, cancel := context.WithTimeout(t.Context(), -time.Second)
	defer cancel()
	err := callGuarded(t, tr, ctx)
	require.Error(t, err)
	require.Equal(t, sdk.CodeTimeout, sdk.ErrorCode(err), "error: %v", err)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	stillWorks(t, tr)
}

func (s *suite) timeoutEngine(t *testing.T) {
	p := s.plan(t, transformStep("", fmt.Sprint(Deadline.Milliseconds())))
	s.execute(t, p, map[string]any{"op": "echo"}) // warm up the runtime and the plan
	start := time.Now()
	x := s.execute(t, p, blockInput)
	elapsed := time.Since(start)
	require.Equal(t, core.StatusFailed, x.Status)
	st := x.Steps["t"]
	require.NotNil(t, st)
	require.NotNil(t, st.Error)
	require.Equal(t, sdk.CodeTimeout, st.Error.Code, "error: %v", st.Error)
	require.Equal(t, sdk.CodeTimeout, x.Error.Code)
	require.GreaterOrEqual(t, elapsed, Deadline, "the step ended before its timeout")
	t.Logf("execution ended %s after the step's timeout", elapsed-Deadline)

	// Without the short timeout: a runtime may start a new instance first.
	x = s.execute(t, s.plan(t, transformStep("", "")), map[string]any{"op": "echo", "value": "after"})
	require.Equal(t, core.StatusCompleted, x.Status, "error: %v", x.Error)
	require.Equal(t, "after", x.Steps["t"].Output)
}

// concurrentCall makes call i of the concurrency case and reports what went
// wrong (goroutines other than the test's must not call require).
func concurrentCall(ctx context.Context, tr sdk.Transform, v sdk.Validator, i int) error {
	id := fmt.Sprint(i)
	check := func(what string, got, want any) error {
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("%s: got %#v, want %#v", what, got, want)
		}
		return nil
	}
	switch i % 5 {
	case 0:
		out, err := tr.Transform(ctx, map[string]any{"op": "concat", "items": []any{id, "x" + id}})
		if err != nil {
			return err
		}
		return check("concat", core.Normalize(out), map[string]any{"text": "#" + id + "-x" + id})
	case 1:
		value := map[string]any{"id": float64(i), "list": []any{id, float64(-i), map[string]any{}}, "empty": []any{}}
		out, err := tr.Transform(ctx, map[string]any{"op": "echo", "value": value})
		if err != nil {
			return err
		}
		return check("echo", core.Normalize(out), value)
	case 2:
		_, err := tr.Transform(ctx, map[string]any{"op": "fail", "reason": id, "retryable": i%2 == 0})
		var se *sdk.Error
		if !errors.As(err, &se) {
			return fmt.Errorf("fail: want an *sdk.Error, got %T: %v", err, err)
		}
		return check("fail", [3]any{se.Code, se.Message, se.Retryable}, [3]any{reference.CodeFailure, "failure requested: " + id, i%2 == 0})
	case 3:
		err := v.Validate(ctx, map[string]any{"name": "n" + id, "age": float64(18 + i)})
		if err != nil {
			return fmt.Errorf("validate: %w", err)
		}
		return nil
	}
	err := v.Validate(ctx, map[string]any{"name": "", "age": float64(i % 18), "tags": []any{id, float64(i)}})
	var ve *sdk.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("validate: want an *sdk.ValidationError, got %T: %v", err, err)
	}
	return check("problems", ve.Problems, []sdk.Problem{
		problem("name", "must be a non-empty string"), problem("age", "must be at least 18"), problem("tags[1]", "must be a string"),
	})
}

func (s *suite) concurrentDirect(t *testing.T) {
	tr := s.transform(t, `{"prefix": "#", "separator": "-"}`)
	v := s.validator(t, `{"minAge": 18}`)
	errs := make([]error, Concurrency)
	var wg sync.WaitGroup
	for i := range Concurrency {
		wg.Go(func() { errs[i] = concurrentCall(t.Context(), tr, v, i) })
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "call %d", i)
	}
}

func (s *suite) concurrentEngine(t *testing.T) {
	const n = 40
	items := make([]any, n)
	want := make([]any, n)
	for i := range items {
		items[i] = fmt.Sprintf("item-%d", i)
		want[i] = map[string]any{"text": fmt.Sprintf("item-%d+item-%d", i, i)}
	}
	p := s.plan(t, `{"id": "each", "type": "FOR_EACH", "config": {"items": "{{input.items}}", "maxConcurrency": 8, "step":
		{"id": "t", "type": "DATA_TRANSFORM", "config": {"source": {"op": "concat", "items": ["{{item}}", "{{item}}"]},
			"operations": [{"type": "transform", "name": "`+TransformName+`", "config": {"separator": "+"}}]}}}}`)
	x := s.execute(t, p, map[string]any{"items": items})
	require.Equal(t, core.StatusCompleted, x.Status, "error: %v", x.Error)
	require.Equal(t, want, core.Normalize(x.Steps["each"].Output))
}

// BenchmarkStop measures how soon a runtime stops a call that never returns
// on its own once its context's deadline ([Deadline]) has passed: directly
// and as a step through the engine. over_ms is the mean time past the
// deadline. reg holds the runtime's conformance components, registered as
// for [Run] (on a registry from NewRegistry); call it from the runtime's own
// benchmarks.
func BenchmarkStop(b *testing.B, reg *core.Registry) {
	s := &suite{reg: reg, eng: core.New(core.Options{Registry: reg})}
	b.Run("Direct", func(b *testing.B) {
		e, ok := reg.Lookup(sdk.KindTransform, TransformName)
		if !ok {
			b.Fatalf("no transform %s", TransformName)
		}
		tr := e.New().(sdk.Transform)
		var over time.Duration
		for b.Loop() {
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), Deadline)
			_, err := tr.Transform(ctx, blockInput)
			over += time.Since(start) - Deadline
			cancel()
			if sdk.ErrorCode(err) != sdk.CodeTimeout {
				b.Fatalf("got %v, want TIMEOUT", err)
			}
		}
		b.ReportMetric(float64(over.Microseconds())/1000/float64(b.N), "over_ms")
	})
	b.Run("Engine", func(b *testing.B) {
		w, err := core.ParseWorkflow([]byte(`{"name": "conformance", "steps": [` + transformStep("", fmt.Sprint(Deadline.Milliseconds())) + `]}`))
		if err != nil {
			b.Fatal(err)
		}
		p, err := s.eng.Compile(context.Background(), w)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close(context.Background())
		var over time.Duration
		for b.Loop() {
			start := time.Now()
			x, err := s.eng.Execute(context.Background(), p, blockInput)
			over += time.Since(start) - Deadline
			if err != nil || x.Error == nil || x.Error.Code != sdk.CodeTimeout {
				b.Fatalf("got %v %v, want TIMEOUT", err, x.Error)
			}
		}
		b.ReportMetric(float64(over.Microseconds())/1000/float64(b.N), "over_ms")
	})
}

// NewRegistry returns a registry with the built-in step types, as [Run]
// gives its register function, for [BenchmarkStop].
func NewRegistry() *core.Registry { return steps.NewRegistry(steps.Options{}) }
