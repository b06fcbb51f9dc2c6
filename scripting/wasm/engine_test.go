package wasm_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/scripting/wasm"
	"github.com/weftworks/weft/sdk"
)

func execute(t testing.TB, eng *core.Engine, doc string, input any) *core.Execution {
	t.Helper()
	w, err := core.ParseWorkflow([]byte(doc))
	require.NoError(t, err)
	plan, err := eng.Compile(context.Background(), w)
	require.NoError(t, err)
	t.Cleanup(func() { _ = plan.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	exec, err := eng.Execute(ctx, plan, input)
	require.NoError(t, err)
	require.NoError(t, ctx.Err(), "the execution ended only at the test's guard")
	return exec
}

const leadWorkflow = `{
  "name": "wasm leads",
  "steps": [
    {"id": "check", "type": "VALIDATION", "config": {"data": "{{input.email}}", "validator": "reject_disposable_email"}},
    {"id": "normalize", "type": "DATA_TRANSFORM", "dependsOn": ["check"],
     "config": {"operations": [{"type": "transform", "name": "normalize_lead"}, {"type": "transform", "name": "tag", "config": {"tag": "web"}}]}},
    {"id": "greet", "type": "WASM", "dependsOn": ["normalize"],
     "config": {"module": "basic", "input": {"name": "{{steps.normalize.output.fullName}}"}}}
  ],
  "output": {"lead": "{{steps.normalize.output}}", "greeting": "{{steps.greet.output.greeting}}"}
}`

func TestWorkflowWithWASM(t *testing.T) {
	t.Parallel()
	eng, _ := engine(t, wasm.Options{}, "basic", "leads")
	tests := []struct {
		name     string
		input    map[string]any
		wantCode string
		want     map[string]any
	}{
		{
			name:  "completes",
			input: map[string]any{"email": " Grace@Navy.MIL", "firstName": "grace", "lastName": "hopper", "phone": "555-0100"},
			want: map[string]any{
				"lead": map[string]any{"email": "grace@navy.mil", "domain": "navy.mil", "fullName": "Grace Hopper",
					"phone": "5550100", "tag": "web"},
				"greeting": "hello, Grace Hopper",
			},
		},
		{
			name:     "disposable e-mail rejected by the WASM validator",
			input:    map[string]any{"email": "x@yopmail.com", "firstName": "x"},
			wantCode: sdk.CodeValidationFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exec := execute(t, eng, leadWorkflow, tt.input)
			if tt.wantCode != "" {
				require.Equal(t, core.StatusFailed, exec.Status)
				require.Equal(t, tt.wantCode, exec.Error.Code, "%v", exec.Error)
				return
			}
			require.Equalf(t, core.StatusCompleted, exec.Status, "%v", exec.Error)
			if tt.want != nil {
				require.Equal(t, tt.want, exec.Output)
			}
		})
	}
}

func TestWASMStepErrors(t *testing.T) {
	t.Parallel()
	eng, reg := engine(t, wasm.Options{}, "basic", "leads")
	doc := `{"name": "t", "steps": [{"id": "s", "type": "WASM", "config": {"module": "basic", "input": {"name": "fail"}}}]}`
	exec := execute(t, eng, doc, nil)
	require.Equal(t, core.StatusFailed, exec.Status)
	require.Equal(t, "HTTP_503", exec.Error.Code)
	require.Contains(t, exec.Error.Message, "upstream unavailable")

	// The guest's error crosses the boundary whole.
	e, ok := reg.Lookup(sdk.KindStep, wasm.TypeWASM)
	require.True(t, ok)
	_, err := e.New().(sdk.Step).Run(t.Context(), sdk.Input{Config: map[string]any{"module": "basic", "input": map[string]any{"name": "fail"}}})
	se := sdk.AsError(err)
	require.Equal(t, "HTTP_503", se.Code)
	require.True(t, se.Retryable)
	_, err = e.New().(sdk.Step).Run(t.Context(), sdk.Input{Config: map[string]any{"module": "basic", "input": map[string]any{"name": "panic"}}})
	require.Equal(t, sdk.CodeStepFailed, sdk.ErrorCode(err))
	require.ErrorContains(t, err, "plain failure")

	// Unknown modules and steps are reported when the workflow is compiled.
	for _, tc := range []struct{ config, path, msg string }{
		{`{"module": "nope"}`, "steps[0].config.module", `unknown module "nope"`},
		{`{"module": "leads"}`, "steps[0].config.module", `module "leads" serves no step`},
		{`{"module": "basic", "step": "other"}`, "steps[0].config.step", `serves no step "other"`},
		{`{"module": "basic", "extra": 1}`, "steps[0].config.extra", ``},
	} {
		w, err := core.ParseWorkflow([]byte(`{"name": "t", "steps": [{"id": "s", "type": "WASM", "config": ` + tc.config + `}]}`))
		require.NoError(t, err)
		_, err = eng.Compile(context.Background(), w)
		var ve *sdk.ValidationError
		require.ErrorAs(t, err, &ve, tc.config)
		found := false
		for _, p := range ve.Problems {
			if p.Path == tc.path {
				require.Contains(t, p.Message, tc.msg)
				found = true
			}
		}
		require.True(t, found, "%s: %v", tc.config, ve)
	}
}
