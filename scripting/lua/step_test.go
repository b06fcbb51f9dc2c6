package lua_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/scripting/lua"
	"github.com/weftworks/weft/sdk"
)

// newEngine returns an engine with the built-in steps, the LUA step type and
// the given Lua transforms and validators.
func newEngine(t testing.TB, transforms, validators map[string]string) *core.Engine {
	t.Helper()
	reg := steps.NewRegistry(steps.Options{})
	rt, err := lua.Register(reg, lua.Options{})
	require.NoError(t, err)
	for name, src := range transforms {
		require.NoError(t, rt.RegisterTransform(reg, name, src))
	}
	for name, src := range validators {
		require.NoError(t, rt.RegisterValidator(reg, name, src))
	}
	return core.New(core.Options{Registry: reg})
}

func compileDoc(t testing.TB, eng *core.Engine, doc string) (*core.Plan, error) {
	t.Helper()
	w, err := core.ParseWorkflow([]byte(doc))
	require.NoError(t, err)
	plan, err := eng.Compile(context.Background(), w)
	if plan != nil {
		t.Cleanup(func() { _ = plan.Close(context.Background()) })
	}
	return plan, err
}

func TestWorkflowWithLuaStep(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, map[string]string{
		"lead.normalize": `return {email = string.lower(input.email), score = input.score * (ctx.config.factor or 1)}`,
	}, map[string]string{
		"lead.has_email": `if not input.email or input.email == "" then return false, "email is required" end`,
	})
	doc := `{
	  "name": "lua", "variables": {"bonus": 5},
	  "steps": [
	    {"id": "check", "type": "VALIDATION", "order": 1, "config": {"validator": "lead.has_email"}},
	    {"id": "norm", "type": "DATA_TRANSFORM", "order": 2, "dependsOn": ["check"],
	     "config": {"operations": [{"type": "transform", "name": "lead.normalize", "config": {"factor": 2}}]}},
	    {"id": "score", "type": "LUA", "order": 3, "dependsOn": ["norm"],
	     "config": {"input": "{{steps.norm.output}}", "source": "log('scoring', input.email)\nreturn {email = input.email, score = input.score + ctx.variables.bonus, exec = ctx.executionId ~= '', prev = ctx.steps.check.status, tags = json.array()}"}}
	  ]}`
	plan, err := compileDoc(t, eng, doc)
	require.NoError(t, err)

	exec, err := eng.Execute(t.Context(), plan, map[string]any{"email": "A@B.COM", "score": 10})
	require.NoError(t, err)
	require.Equal(t, core.StatusCompleted, exec.Status, "%v", exec.Error)
	out, _ := json.Marshal(exec.Steps["score"].Output)
	require.JSONEq(t, `{"email":"a@b.com","score":25,"exec":true,"prev":"COMPLETED","tags":[]}`, string(out))
	require.Equal(t, []string{"scoring a@b.com"}, exec.Steps["score"].History[0].Logs, "log(...) is kept in the attempt's record")

	exec, err = eng.Execute(t.Context(), plan, map[string]any{"score": 10})
	require.NoError(t, err)
	require.Equal(t, core.StatusFailed, exec.Status)
	require.Equal(t, sdk.CodeValidationFailed, exec.Error.Code)
	require.Contains(t, exec.Error.Message, "email is required")
}

func TestLuaStepErrors(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, nil, nil)
	plan, err := compileDoc(t, eng, `{"name": "e", "steps": [{"id": "s", "type": "LUA", "order": 1,
	  "config": {"source": "log('before')\nlocal x = nil\nreturn x.y"}}]}`)
	require.NoError(t, err)
	exec, err := eng.Execute(t.Context(), plan, nil)
	require.NoError(t, err)
	require.Equal(t, core.StatusFailed, exec.Status)
	e := exec.Steps["s"].Error
	require.Equal(t, lua.CodeScriptError, e.Code)
	require.Contains(t, e.Message, "step.s:3:")
	require.Equal(t, map[string]any{"logs": []any{"before"}}, e.Details)
}

func TestLuaSyntaxErrorAtValidation(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, nil, nil)
	_, err := compileDoc(t, eng, `{"name": "e", "steps": [{"id": "s", "type": "LUA", "order": 1,
	  "config": {"source": "local x = 1\nif x then\nreturn 2"}}]}`)
	require.Error(t, err)
	require.Contains(t, err.Error(), "steps[0].config.source")
	require.Contains(t, err.Error(), "line 3, column 9: Lua syntax error: unexpected end of source")

	_, err = compileDoc(t, eng, `{"name": "e", "steps": [{"id": "s", "type": "LUA", "order": 1, "config": {}}]}`)
	require.ErrorContains(t, err, "is required: the Lua script")

	reg := steps.NewRegistry(steps.Options{})
	rt := lua.New(lua.Options{})
	err = rt.RegisterTransform(reg, "broken", "return {")
	var ve *sdk.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, 1, ve.Problems[0].Line)
	_, found := reg.Lookup(sdk.KindTransform, "broken")
	require.False(t, found)
}

func TestValidatorVerdicts(t *testing.T) {
	t.Parallel()
	reg := steps.NewRegistry(steps.Options{})
	rt := lua.New(lua.Options{})
	tests := []struct {
		name     string
		src      string
		problems []string
	}{
		{"nothing", `return`, nil},
		{"true", `return true`, nil},
		{"false", `return false`, []string{"rejected by the validator"}},
		{"false and message", `return false, "too low"`, []string{"too low"}},
		{"message", `return "bad"`, []string{"bad"}},
		{"list", `return {"a", {path = "x.y", message = "b"}}`, []string{"a", "x.y: b"}},
		{"empty list", `return json.array()`, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "v" + string(rune('a'+i))
			require.NoError(t, rt.RegisterValidator(reg, name, tt.src))
			e, _ := reg.Lookup(sdk.KindValidator, name)
			err := e.New().(sdk.Validator).Validate(context.Background(), map[string]any{})
			if tt.problems == nil {
				require.NoError(t, err)
				return
			}
			var ve *sdk.ValidationError
			require.ErrorAs(t, err, &ve)
			var got []string
			for _, p := range ve.Problems {
				got = append(got, p.String())
			}
			require.Equal(t, tt.problems, got)
		})
	}
}
