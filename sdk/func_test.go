package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/sdk"
)

type greetConfig struct {
	Name  string   `json:"name"`
	Times int      `json:"times"`
	Tags  []string `json:"tags"`
}

type greeting struct {
	Text string `json:"text"`
}

func greet(_ context.Context, c greetConfig) (greeting, error) {
	if c.Name == "" {
		return greeting{}, sdk.Errorf(sdk.CodeInvalidConfig, "name is required")
	}
	return greeting{Text: strings.Repeat("hi "+c.Name+"! ", max(c.Times, 1))}, nil
}

func asStep(t *testing.T, c sdk.Component) sdk.Step {
	t.Helper()
	s, ok := c.(sdk.Step)
	require.True(t, ok, "%T is not a sdk.Step", c)
	return s
}

func TestNewStepRun(t *testing.T) {
	t.Parallel()
	errFn := errors.New("from the function")
	tests := []struct {
		name     string
		step     sdk.Component
		config   sdk.Value
		want     sdk.Value
		code     string   // error code when the run fails
		problems []string // problems in the error's Details
		is       error    // errors.Is target
	}{
		{
			name:   "struct config",
			step:   sdk.NewStep("test.greet", greet),
			config: map[string]any{"name": "Ada", "times": 2.0},
			want:   greeting{Text: "hi Ada! hi Ada! "},
		},
		{
			name:   "case-insensitive field names",
			step:   sdk.NewStep("test.greet", greet),
			config: map[string]any{"Name": "Ada"},
			want:   greeting{Text: "hi Ada! "},
		},
		{
			name:   "config that does not decode",
			step:   sdk.NewStep("test.greet", greet),
			config: map[string]any{"name": 1.0, "times": 1.5, "tags": []any{"a", false}, "nmae": "x"},
			code:   sdk.CodeInvalidConfig,
			problems: []string{
				"name: expected a string, got a number",
				`nmae: unknown field "nmae" (did you mean "name"?)`,
				"tags[1]: expected a string, got a boolean",
				"times: expected an integer, got 1.5",
			},
		},
		{
			name:   "config of the wrong type",
			step:   sdk.NewStep("test.greet", greet),
			config: []any{"Ada"},
			code:   sdk.CodeInvalidConfig,
			problems: []string{
				"expected an object, got an array",
			},
		},
		{
			name: "nil config leaves In at its zero value",
			step: sdk.NewStep("test.echo", func(_ context.Context, c greetConfig) (greetConfig, error) {
				return c, nil
			}),
			config: nil,
			want:   greetConfig{},
		},
		{
			name: "map config",
			step: sdk.NewStep("test.map", func(_ context.Context, in map[string]any) (int, error) {
				return len(in), nil
			}),
			config: map[string]any{"a": 1.0, "b": "x"},
			want:   2,
		},
		{
			name: "typed map config",
			step: sdk.NewStep("test.typedmap", func(_ context.Context, in map[string]int) (int, error) {
				return in["a"] + in["b"], nil
			}),
			config: map[string]any{"a": 1.0, "b": 2.0},
			want:   3,
		},
		{
			name: "typed map config that does not decode",
			step: sdk.NewStep("test.typedmap", func(_ context.Context, in map[string]int) (int, error) {
				return 0, nil
			}),
			config:   map[string]any{"a": "one", "x.y": nil, "b": 2.5},
			code:     sdk.CodeInvalidConfig,
			problems: []string{"a: expected an integer, got a string", "b: expected an integer, got 2.5"},
		},
		{
			name: "any config is passed as is",
			step: sdk.NewStep("test.any", func(_ context.Context, in any) (any, error) {
				return in, nil
			}),
			config: []any{"x", 1.0},
			want:   []any{"x", 1.0},
		},
		{
			name: "string config",
			step: sdk.NewStep("test.string", func(_ context.Context, in string) (string, error) {
				return strings.ToUpper(in), nil
			}),
			config: "ada",
			want:   "ADA",
		},
		{
			name: "errors from the function pass through",
			step: sdk.NewStep("test.fail", func(context.Context, any) (any, error) {
				return "ignored", errFn
			}),
			config: map[string]any{},
			is:     errFn,
			code:   sdk.CodeStepFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := asStep(t, tt.step).Run(context.Background(), sdk.Input{Config: tt.config})
			if tt.code == "" {
				require.NoError(t, err)
				require.Equal(t, sdk.Output{Data: tt.want}, out)
				return
			}
			require.Error(t, err)
			require.Equal(t, sdk.Output{}, out)
			require.Equal(t, tt.code, sdk.ErrorCode(err))
			require.False(t, sdk.IsRetryable(err))
			if tt.is != nil {
				require.ErrorIs(t, err, tt.is)
			}
			if tt.problems != nil {
				require.Equal(t, tt.problems, problemStrings(t, err))
				details, ok := sdk.AsError(err).Details.([]sdk.Problem)
				require.True(t, ok, "Details are the problems, got %T", sdk.AsError(err).Details)
				require.Len(t, details, len(tt.problems))
			}
		})
	}
}

func TestNewStepPassesContext(t *testing.T) {
	t.Parallel()
	type key struct{}
	step := sdk.NewStep("test.ctx", func(ctx context.Context, _ any) (any, error) {
		return ctx.Value(key{}), ctx.Err()
	})
	ctx := context.WithValue(context.Background(), key{}, "v")
	out, err := asStep(t, step).Run(ctx, sdk.Input{})
	require.NoError(t, err)
	require.Equal(t, "v", out.Data)

	ctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = asStep(t, step).Run(ctx, sdk.Input{})
	require.Equal(t, sdk.CodeCancelled, sdk.ErrorCode(err))
}

func TestNewStepCheckConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		step     sdk.Component
		config   sdk.Value
		problems []string
	}{
		{
			name:   "templates stand for any type",
			step:   sdk.NewStep("test.greet", greet),
			config: map[string]any{"name": "{{input.name}}", "times": "{{ input.n }}", "tags": "{{input.tags}}"},
		},
		{
			name:   "text around a template",
			step:   sdk.NewStep("test.greet", greet),
			config: map[string]any{"name": "Dr {{input.name}}", "times": "{{n}}x", "tags": []any{"{{t}}", "#{{u}}"}},
			problems: []string{
				"times: expected an integer, got a string",
			},
		},
		{
			name:   "unknown fields with paths",
			step:   sdk.NewStep("test.greet", greet),
			config: map[string]any{"names": "x", "extra": map[string]any{"a": 1.0}},
			problems: []string{
				`extra: unknown field "extra" (known: name, times, tags)`,
				`names: unknown field "names" (did you mean "name"?)`,
			},
		},
		{
			name:   "nil config",
			step:   sdk.NewStep("test.greet", greet),
			config: nil,
		},
		{
			name:   "any accepts everything",
			step:   sdk.NewStep("test.any", func(_ context.Context, in any) (any, error) { return in, nil }),
			config: map[string]any{"whatever": []any{1.0}},
		},
		{
			name:     "typed map",
			step:     sdk.NewStep("test.map", func(_ context.Context, in map[string]int) (int, error) { return 0, nil }),
			config:   map[string]any{"a": "{{n}}", "b": "n={{n}}"},
			problems: []string{"b: expected an integer, got a string"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cc, ok := tt.step.(sdk.ConfigChecker)
			require.True(t, ok, "function steps implement sdk.ConfigChecker")
			require.Equal(t, tt.problems, problemStrings(t, cc.CheckConfig(tt.config)))
		})
	}
}

type fullName struct {
	First string `json:"first"`
	Last  string `json:"last"`
}

func TestNewTransform(t *testing.T) {
	t.Parallel()
	join := sdk.NewTransform("test.join", func(_ context.Context, n fullName) (string, error) {
		if n.Last == "" {
			return "", errors.New("no last name")
		}
		return n.First + " " + n.Last, nil
	})
	tests := []struct {
		name     string
		tr       sdk.Component
		in       sdk.Value
		want     sdk.Value
		code     string
		problems []string
	}{
		{name: "decodes the input", tr: join, in: map[string]any{"first": "Ada", "last": "Lovelace"}, want: "Ada Lovelace"},
		{
			name: "input that does not decode", tr: join, in: map[string]any{"first": 1.0, "middle": "x"},
			code: sdk.CodeInvalidInput,
			problems: []string{
				"first: expected a string, got a number",
				`middle: unknown field "middle" (known: first, last)`,
			},
		},
		{name: "input of the wrong type", tr: join, in: "Ada", code: sdk.CodeInvalidInput, problems: []string{"expected an object, got a string"}},
		{name: "errors from the function pass through", tr: join, in: map[string]any{"first": "Ada"}, code: sdk.CodeStepFailed},
		{
			name: "any in, any out",
			tr:   sdk.NewTransform("test.identity", func(_ context.Context, in any) (any, error) { return in, nil }),
			in:   map[string]any{"a": []any{1.0}},
			want: map[string]any{"a": []any{1.0}},
		},
		{
			name: "slice input",
			tr: sdk.NewTransform("test.sum", func(_ context.Context, in []float64) (float64, error) {
				var s float64
				for _, f := range in {
					s += f
				}
				return s, nil
			}),
			in:   []any{1.0, 2.5},
			want: 3.5,
		},
		{
			name: "slice input that does not decode",
			tr:   sdk.NewTransform("test.sum", func(_ context.Context, in []float64) (float64, error) { return 0, nil }),
			in:   []any{1.0, "2", nil, true},
			code: sdk.CodeInvalidInput,
			problems: []string{
				"[1]: expected a number, got a string",
				"[3]: expected a number, got a boolean",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr, ok := tt.tr.(sdk.Transform)
			require.True(t, ok)
			got, err := tr.Transform(context.Background(), tt.in)
			if tt.code == "" {
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
				return
			}
			require.Equal(t, tt.code, sdk.ErrorCode(err))
			if tt.problems != nil {
				require.Equal(t, tt.problems, problemStrings(t, err))
			}
		})
	}
}

type signup struct {
	Email string `json:"email"`
	Age   int    `json:"age"`
}

func checkSignup(_ context.Context, s signup) error {
	var ve sdk.ValidationError
	if !strings.Contains(s.Email, "@") {
		ve.Add("email", "must be an email address")
	}
	if s.Age < 18 {
		ve.Add("age", "must be at least 18, got %d", s.Age)
	}
	return ve.Err()
}

func TestNewValidator(t *testing.T) {
	t.Parallel()
	v, ok := sdk.NewValidator("test.signup", checkSignup).(sdk.Validator)
	require.True(t, ok)
	tests := []struct {
		name     string
		in       sdk.Value
		problems []string // nil: valid
	}{
		{name: "valid", in: map[string]any{"email": "a@b.c", "age": 30.0}},
		{
			name:     "rejected by the function",
			in:       map[string]any{"email": "nope", "age": 12.0},
			problems: []string{"email: must be an email address", "age: must be at least 18, got 12"},
		},
		{
			name:     "does not decode",
			in:       map[string]any{"email": 5.0, "age": "old", "name": "x"},
			problems: []string{"age: expected an integer, got a string", "email: expected a string, got a number", `name: unknown field "name" (known: email, age)`},
		},
		{
			name:     "null is the zero value",
			in:       nil,
			problems: []string{"email: must be an email address", "age: must be at least 18, got 0"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := v.Validate(context.Background(), tt.in)
			if tt.problems == nil {
				require.NoError(t, err)
				return
			}
			require.Equal(t, sdk.CodeValidationFailed, sdk.ErrorCode(err))
			require.False(t, sdk.IsRetryable(err))
			require.Equal(t, tt.problems, problemStrings(t, err))
			require.IsType(t, []sdk.Problem(nil), sdk.AsError(err).Details)
		})
	}
}

func TestNewValidatorPassesValidationErrorThrough(t *testing.T) {
	t.Parallel()
	want := &sdk.ValidationError{Problems: []sdk.Problem{{Path: "x", Message: "no"}}}
	v := sdk.NewValidator("test.passthrough", func(context.Context, any) error { return want }).(sdk.Validator)
	err := v.Validate(context.Background(), map[string]any{})
	require.Same(t, want, err)
}

func TestFuncOptions(t *testing.T) {
	t.Parallel()
	schema := json.RawMessage(`{"type":"object"}`)
	opts := []sdk.FuncOption{sdk.WithSummary("Does a thing."), sdk.WithVersion("1.2.3"), sdk.WithConfigSchema(schema)}
	tests := []struct {
		name string
		c    sdk.Component
		kind sdk.Kind
	}{
		{name: "step", kind: sdk.KindStep, c: sdk.NewStep("test.opts.s", greet, opts...)},
		{
			name: "transform", kind: sdk.KindTransform,
			c: sdk.NewTransform("test.opts.t", func(_ context.Context, in any) (any, error) { return in, nil }, opts...),
		},
		{name: "validator", kind: sdk.KindValidator, c: sdk.NewValidator("test.opts.v", checkSignup, opts...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			info := tt.c.Info()
			require.Equal(t, tt.kind, info.Kind)
			require.Equal(t, "test.opts."+tt.name[:1], info.Name)
			require.Equal(t, "Does a thing.", info.Summary)
			require.Equal(t, "1.2.3", info.Version)
			require.JSONEq(t, `{"type":"object"}`, string(info.ConfigSchema))
			require.NoError(t, info.Check())
			require.NoError(t, sdk.CheckComponent(info))
			require.Equal(t, info.Name, info.New().Info().Name)
		})
	}
}

func TestFuncComponentsWithoutOptions(t *testing.T) {
	t.Parallel()
	info := sdk.NewStep("test.bare", greet).Info()
	require.Empty(t, info.Summary)
	require.Empty(t, info.Version)
	require.Nil(t, info.ConfigSchema)
}

// New returns a component that works like the original.
func TestFuncNewIsUsable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	step := asStep(t, sdk.NewStep("test.new.s", greet).Info().New())
	out, err := step.Run(ctx, sdk.Input{Config: map[string]any{"name": "Ada"}})
	require.NoError(t, err)
	require.Equal(t, greeting{Text: "hi Ada! "}, out.Data)

	tr := sdk.NewTransform("test.new.t", func(_ context.Context, n fullName) (string, error) {
		return n.Last + ", " + n.First, nil
	}).Info().New().(sdk.Transform)
	got, err := tr.Transform(ctx, map[string]any{"first": "Ada", "last": "Lovelace"})
	require.NoError(t, err)
	require.Equal(t, "Lovelace, Ada", got)

	v := sdk.NewValidator("test.new.v", checkSignup).Info().New().(sdk.Validator)
	require.NoError(t, v.Validate(ctx, map[string]any{"email": "a@b", "age": 20.0}))
	require.Error(t, v.Validate(ctx, map[string]any{"email": "a@b", "age": 2.0}))

	// Function components keep no state, so concurrent use is safe.
	errs := make(chan error, 16)
	for i := range cap(errs) {
		go func() {
			_, err := step.Run(ctx, sdk.Input{Config: map[string]any{"name": fmt.Sprint(i)}})
			errs <- err
		}()
	}
	for range cap(errs) {
		require.NoError(t, <-errs)
	}
}
