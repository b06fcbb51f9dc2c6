package lua_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/core/steps"
	"github.com/weftworks/weft/scripting/lua"
	"github.com/weftworks/weft/sdk"
)

const ruleDoc = `{"name": "r", "steps": [
  {"id": "step", "type": "LUA", "config": {"rule": "score", "input": "{{input}}"}},
  {"id": "op", "type": "DATA_TRANSFORM", "config": {"source": "{{input}}", "operations": [
    {"type": "transform", "name": "score"},
    {"type": "transform", "name": "score", "config": {"factor": 10}}]}}],
  "output": {"step": "{{steps.step.output}}", "op": "{{steps.op.output}}"}}`

func TestPutRule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := steps.NewRegistry(steps.Options{})
	rt, err := lua.Register(reg, lua.Options{})
	require.NoError(t, err)
	eng := core.New(core.Options{Registry: reg})

	// Unknown at first: the LUA step lists the stored rules.
	_, err = compileDoc(t, eng, ruleDoc)
	require.ErrorContains(t, err, `steps[0].config.rule (line 2, column 44): unknown rule "score" (none stored)`)

	src := "return {a = (input.a or input) * ctx.config.factor}"
	require.NoError(t, rt.PutRuleConfig(reg, "score", src, map[string]any{"factor": 2}))
	e, ok := reg.Lookup(sdk.KindTransform, "score")
	require.True(t, ok)
	require.Equal(t, core.OriginLua, e.Origin)
	require.Equal(t, "rule:score", e.Source)
	sc, ok := rt.Rule("score")
	require.True(t, ok)
	require.Equal(t, "rule.score", sc.Name())
	require.Equal(t, []string{"score"}, rt.Rules())

	plan, err := compileDoc(t, eng, ruleDoc)
	require.NoError(t, err)
	run := func() *core.Execution {
		x, err := eng.Execute(ctx, plan, map[string]any{"a": float64(3)})
		require.NoError(t, err)
		return x
	}
	x := run()
	require.Equal(t, core.StatusCompleted, x.Status, "%+v", x.Error)
	require.Equal(t, map[string]any{
		"step": map[string]any{"a": float64(6)},
		"op":   map[string]any{"a": float64(60)}, // (3*2)*10: the operation's config wins
	}, x.Output)

	// A new version applies to the compiled plan's next run.
	require.NoError(t, rt.PutRuleConfig(reg, "score", src, map[string]any{"factor": 5}))
	require.Equal(t, map[string]any{"a": float64(15)}, run().Output.(map[string]any)["step"])

	// A syntax error changes nothing and says where.
	err = rt.PutRule(reg, "score", "return {a = }")
	var ve *sdk.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, 1, ve.Problems[0].Line)
	require.Positive(t, ve.Problems[0].Column)
	require.Equal(t, map[string]any{"a": float64(15)}, run().Output.(map[string]any)["step"])

	// Names taken by another transform, and bad names, are refused.
	require.NoError(t, rt.RegisterTransform(reg, "inline", "return input"))
	require.ErrorIs(t, rt.PutRule(reg, "inline", "return 1"), core.ErrDuplicateComponent)
	require.ErrorContains(t, rt.PutRule(reg, "no spaces", "return 1"), "name must be")

	// Deleted: gone from the registry; the plan fails cleanly.
	require.True(t, rt.DeleteRule(reg, "score"))
	require.False(t, rt.DeleteRule(reg, "score"))
	_, ok = reg.Lookup(sdk.KindTransform, "score")
	require.False(t, ok)
	_, ok = reg.Lookup(sdk.KindTransform, "inline")
	require.True(t, ok, "another transform stays")
	x = run()
	require.Equal(t, core.StatusFailed, x.Status)
	require.Equal(t, lua.CodeRuleNotFound, x.Error.Code)
}

func TestLuaStepSourceOrRule(t *testing.T) {
	t.Parallel()
	reg := steps.NewRegistry(steps.Options{})
	rt, err := lua.Register(reg, lua.Options{})
	require.NoError(t, err)
	require.NoError(t, rt.PutRule(reg, "a", "return 1"))
	require.NoError(t, rt.PutRule(reg, "b", "return 2"))
	eng := core.New(core.Options{Registry: reg})
	tests := []struct {
		name, config, wantPath, wantErr string
	}{
		{"both", `{"source": "return 1", "rule": "a"}`, "steps[0].config.rule", "give source (an inline script) or rule (a stored rule), not both"},
		{"neither", `{}`, "steps[0].config.source", "is required"},
		{"unknown", `{"rule": "c"}`, "steps[0].config.rule", `unknown rule "c" (stored: a, b)`},
		{"rule", `{"rule": "b"}`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileDoc(t, eng, `{"name": "x", "steps": [{"id": "s", "type": "LUA", "config": `+tt.config+`}]}`)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantPath+" (line 1")
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// Rules are put, read and deleted while transforms run.
func TestRulesConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := core.NewEmptyRegistry()
	rt := lua.New(lua.Options{})
	require.NoError(t, rt.PutRule(reg, "r", "return input + 1"))
	e, _ := reg.Lookup(sdk.KindTransform, "r")
	tr := e.New().(sdk.Transform)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 50 {
				if i == 0 {
					if j%2 == 0 {
						rt.DeleteRule(reg, "r")
					} else {
						require.NoError(t, rt.PutRule(reg, "r", "return input + 2"))
					}
					continue
				}
				out, err := tr.Transform(ctx, float64(1))
				if err != nil {
					require.Equal(t, lua.CodeRuleNotFound, sdk.ErrorCode(err))
					continue
				}
				require.Contains(t, []any{float64(2), float64(3)}, out)
			}
		})
	}
	wg.Wait()
}
