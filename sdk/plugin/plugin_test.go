package plugin_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/sdk"
	"github.com/weftworks/weft/sdk/plugin"
	"github.com/weftworks/weft/sdk/plugin/plugintest"
)

type greetIn struct {
	Name string `json:"name"`
}

func components() []sdk.Component {
	return []sdk.Component{
		sdk.NewStep("greet", func(_ context.Context, in greetIn) (string, error) {
			if in.Name == "" {
				return "", &sdk.Error{Code: "NO_NAME", Message: "name is required", Retryable: true,
					RetryAfter: 1500 * time.Millisecond, Details: map[string]any{"field": "name"}}
			}
			return "hello, " + in.Name, nil
		}),
		sdk.NewStep("panics", func(context.Context, greetIn) (string, error) { panic("boom") }),
		sdk.NewStep("waits", func(ctx context.Context, _ greetIn) (string, error) {
			<-ctx.Done()
			return "", ctx.Err()
		}),
		sdk.NewValidator("named", func(_ context.Context, in greetIn) error {
			if in.Name == "" {
				ve := &sdk.ValidationError{}
				ve.Add("name", "is required")
				ve.Add("", "nothing to greet")
				return ve
			}
			return nil
		}),
	}
}

func TestErrorsSurviveTheWire(t *testing.T) {
	t.Parallel()
	p := plugintest.New(t, components()...)
	ctx := t.Context()

	out, err := p.Run(ctx, "greet", map[string]any{"name": "Ada"})
	require.NoError(t, err)
	require.Equal(t, "hello, Ada", out)

	_, err = p.Run(ctx, "greet", map[string]any{})
	var e *sdk.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, &sdk.Error{Code: "NO_NAME", Message: "name is required", Retryable: true,
		RetryAfter: 1500 * time.Millisecond, Details: map[string]any{"field": "name"}}, e)

	// A decoding error keeps its code (INVALID_CONFIG) and its problems.
	_, err = p.Run(ctx, "greet", map[string]any{"nam": "typo"})
	require.ErrorAs(t, err, &e)
	require.Equal(t, sdk.CodeInvalidConfig, e.Code)
	var ve *sdk.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "nam", ve.Problems[0].Path)

	err = p.Validate(ctx, "named", map[string]any{}, nil)
	require.ErrorAs(t, err, &ve)
	require.Equal(t, []sdk.Problem{{Path: "name", Message: "is required"}, {Message: "nothing to greet"}}, ve.Problems)
	require.NoError(t, p.Validate(ctx, "named", map[string]any{"name": "x"}, nil))

	_, err = p.Run(ctx, "panics", map[string]any{})
	require.ErrorAs(t, err, &e)
	require.Equal(t, sdk.CodeInternal, e.Code)
	require.Contains(t, e.Message, `step "panics" panicked: boom`)
	out, err = p.Run(ctx, "greet", map[string]any{"name": "again"})
	require.NoError(t, err, "a panic fails its call, not the plugin")
	require.Equal(t, "hello, again", out)

	_, err = p.Run(ctx, "nope", nil)
	require.ErrorContains(t, err, `this plugin serves no step "nope"`)
}

func TestComponentSeesItsDeadline(t *testing.T) {
	t.Parallel()
	p := plugintest.New(t, components()...)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := p.Run(ctx, "waits", map[string]any{})
	require.Error(t, err)
	// The caller matches its deadline as with an in-process call, whether
	// its own gRPC deadline ended the call or the component's answer (its
	// ctx.Err()) came first.
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	p := plugintest.New(t, append(components(), sdk.NewTransform("upper", func(_ context.Context, s string) (string, error) { return s, nil },
		sdk.WithSummary("Upper-cases."), sdk.WithVersion("2.0.0"), sdk.WithConfigSchema([]byte(`{"type": "object"}`))))...)
	d, err := p.Describe(t.Context())
	require.NoError(t, err)
	require.Len(t, d.Components, 5)
	last := d.Components[4]
	require.Equal(t, plugin.ComponentInfo{Kind: sdk.KindTransform, Name: "upper", Version: "2.0.0", Summary: "Upper-cases.",
		ConfigSchema: []byte(`{"type": "object"}`)}, last)
	require.NotEmpty(t, d.SDKVersion)
}

func TestNewServerRefusesBadComponents(t *testing.T) {
	t.Parallel()
	_, err := plugin.NewServer()
	require.ErrorContains(t, err, "no components")
	c := sdk.NewStep("dup", func(context.Context, greetIn) (string, error) { return "", nil })
	_, err = plugin.NewServer(c, c)
	require.ErrorContains(t, err, `step "dup" served twice`)
}
