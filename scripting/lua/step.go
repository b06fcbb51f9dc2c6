package lua

import (
	"context"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// TypeLua is the step type of inline Lua scripts.
const TypeLua = "LUA"

// Step is the LUA step. Config:
//
//	{"source": "return {total = input.a + input.b}", "input": "{{steps.x.output}}"}
//	{"rule": "score_lead", "input": "{{steps.x.output}}"}
//
// source is compiled when the workflow is saved (a syntax error is reported
// with its line and column); rule instead names a stored rule
// (TransformationRule; see PutRule), which must exist when the workflow is
// saved and whose current version runs at each run, its config as
// ctx.config. Exactly one of source and rule is given. input (default
// {{input}}) is rendered per run
// and is the script's global input. The script also sees a read-only ctx:
// ctx.variables, ctx.steps (earlier steps' output, status and error),
// ctx.execution, ctx.executionId, ctx.workflowId, ctx.stepId and
// ctx.attempt. Its return value is the step's output; lines passed to
// log(...) are kept in the attempt's record (history[i].logs), written to
// the engine log and, when the step fails, also kept in the error's
// details.logs.
type Step struct {
	rt     *Runtime
	script *Script
	rule   string
	input  *core.ValueTemplate
}

var _ core.EngineStep = (*Step)(nil)

// Info implements sdk.Component.
func (st *Step) Info() sdk.Info {
	return sdk.Info{Kind: sdk.KindStep, Name: TypeLua,
		Summary: "Runs an inline Lua script in a sandbox; its return value is the output.",
		New:     func() sdk.Component { return &Step{rt: st.rt} }}
}

type stepConfig struct {
	Source string `json:"source"`
	Rule   string `json:"rule"`
	Input  any    `json:"input"`
}

// Compile implements core.EngineStep.
func (st *Step) Compile(sc *core.StepCompiler) error {
	var cfg stepConfig
	if !sc.Decode(&cfg) {
		return nil
	}
	switch {
	case cfg.Source != "" && cfg.Rule != "":
		sc.Problem("rule", "give source (an inline script) or rule (a stored rule), not both")
	case cfg.Rule != "":
		if _, ok := st.rt.Rule(cfg.Rule); !ok {
			sc.Problem("rule", "unknown rule %q (%s)", cfg.Rule, st.rt.knownRules())
		}
		st.rule = cfg.Rule
	case cfg.Source == "":
		sc.Problem("source", "is required: the Lua script (or rule: the name of a stored rule)")
	default:
		script, err := st.rt.Compile("step."+sc.Step().ID, cfg.Source)
		if err != nil {
			sc.SourceProblems("source", err)
		}
		st.script = script
	}
	in := cfg.Input
	if in == nil {
		in = "{{input}}"
	}
	st.input = sc.Template(in, "input")
	return nil
}

// Execute implements core.EngineStep.
func (st *Step) Execute(ctx context.Context, r *core.StepRun) (any, error) {
	in, err := r.Render(ctx, st.input)
	if err != nil {
		return nil, err
	}
	info := r.Info()
	scope := r.Scope()
	resolve := func(root string) func() any {
		return func() any { v, _ := scope.Resolve(root); return v }
	}
	script, config := st.script, any(nil)
	if st.rule != "" {
		r, ok := st.rt.rules.get(st.rule)
		if !ok {
			return nil, ruleNotFound(st.rule)
		}
		script, config = r.script, r.config
	}
	res, err := st.rt.Run(ctx, script, Call{Input: in, Ctx: map[string]any{
		"config":      config,
		"variables":   resolve(core.RootVariables),
		"steps":       resolve(core.RootSteps),
		"execution":   resolve(core.RootExecution),
		"executionId": info.ExecutionID,
		"workflowId":  info.WorkflowID,
		"stepId":      info.StepID,
		"attempt":     info.Attempt,
	}})
	for _, line := range res.Logs {
		r.Log(line)
	}
	if err != nil {
		e := sdk.AsError(err)
		if len(res.Logs) > 0 && e.Details == nil {
			cp := *e
			logs := make([]any, len(res.Logs))
			for i, l := range res.Logs {
				logs[i] = l
			}
			cp.Details = map[string]any{"logs": logs}
			return nil, &cp
		}
		return nil, err
	}
	return res.Value, nil
}
