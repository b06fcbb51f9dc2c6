package lua_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

func TestInlineScripts(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, nil, nil)
	doc := `{"name": "inline", "steps": [
	  {"id": "check", "type": "VALIDATION", "order": 1, "config": {
	    "script": {"lang": "lua", "source": "local bad = {}\nfor i, l in ipairs(input.leads) do\n  if not string.find(l.email or '', '@', 1, true) then\n    table.insert(bad, {path = 'leads[' .. (i - 1) .. '].email', message = ctx.config.message})\n  end\nend\nreturn bad"},
	    "validatorConfig": {"message": "is not an e-mail address"}}},
	  {"id": "norm", "type": "DATA_TRANSFORM", "order": 2, "dependsOn": ["check"], "config": {
	    "source": "{{input.leads}}",
	    "operations": [
	      {"type": "transform", "config": {"factor": 3},
	       "script": {"lang": "lua", "source": "return {email = string.lower(input.email), score = input.score * ctx.config.factor}"}},
	      {"type": "set", "field": "source", "value": "web"}
	    ]}}
	]}`
	plan, err := compileDoc(t, eng, doc)
	require.NoError(t, err)

	exec, err := eng.Execute(t.Context(), plan, map[string]any{"leads": []any{
		map[string]any{"email": "A@B.COM", "score": 2},
		map[string]any{"email": "c@d.org", "score": 0.5},
	}})
	require.NoError(t, err)
	require.Equal(t, core.StatusCompleted, exec.Status, "%v", exec.Error)
	out, _ := json.Marshal(exec.Steps["norm"].Output)
	require.JSONEq(t, `[{"email":"a@b.com","score":6,"source":"web"},{"email":"c@d.org","score":1.5,"source":"web"}]`, string(out))

	exec, err = eng.Execute(t.Context(), plan, map[string]any{"leads": []any{
		map[string]any{"email": "ok@b.com"}, map[string]any{"email": "nope"},
	}})
	require.NoError(t, err)
	require.Equal(t, core.StatusFailed, exec.Status)
	e := exec.Steps["check"].Error
	require.Equal(t, sdk.CodeValidationFailed, e.Code)
	require.Equal(t, []any{map[string]any{"field": "leads[1].email", "rule": "validator", "message": "is not an e-mail address"}},
		e.Details.(map[string]any)["violations"])
}

func TestInlineScriptProblems(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, map[string]string{"plain": "return input"}, nil)
	tests := []struct {
		name string
		op   string
		want []string
	}{
		{name: "syntax error with its position in the script",
			op:   `{"type": "transform", "script": {"lang": "lua", "source": "local x = 1\nreturn {x ="}}`,
			want: []string{"steps[0].config.operations[0].script.source", "line 2, column", "Lua syntax error"}},
		{name: "unknown language", op: `{"type": "transform", "script": {"lang": "cobol", "source": "x"}}`,
			want: []string{"operations[0].script.lang", `unknown script language "cobol" (known: lua)`}},
		{name: "no language", op: `{"type": "transform", "script": {"source": "return 1"}}`,
			want: []string{"operations[0].script.lang", "is required (known: lua)"}},
		{name: "no source", op: `{"type": "transform", "script": {"lang": "lua"}}`,
			want: []string{"operations[0].script.source", "is required: the lua script"}},
		{name: "misspelt script field", op: `{"type": "transform", "script": {"lang": "lua", "src": "return 1"}}`,
			want: []string{"operations[0].script.src"}},
		{name: "name and script", op: `{"type": "transform", "name": "plain", "script": {"lang": "lua", "source": "return 1"}}`,
			want: []string{"operations[0]", "exactly one of name"}},
		{name: "neither", op: `{"type": "transform"}`, want: []string{"operations[0].name", "is required"}},
		{name: "a named transform is not a rule", op: `{"type": "transform", "rule": "plain"}`,
			want: []string{"operations[0].rule", `"plain" is a lua transform, not a stored rule`}},
		{name: "unknown rule", op: `{"type": "transform", "rule": "nope"}`,
			want: []string{"operations[0].rule", `unknown rule "nope" (none stored)`}},
		{name: "script on a map operation", op: `{"type": "map", "mapping": {"a": "b"}, "script": {"lang": "lua", "source": "return 1"}}`,
			want: []string{"operations[0].script", `not used by a "map" operation`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := compileDoc(t, eng, `{"name": "p", "steps": [{"id": "t", "type": "DATA_TRANSFORM", "order": 1,
			  "config": {"operations": [`+tt.op+`]}}]}`)
			require.Error(t, err)
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
		})
	}

	_, err := compileDoc(t, eng, `{"name": "v", "steps": [{"id": "v", "type": "VALIDATION", "order": 1,
	  "config": {"script": {"lang": "lua", "source": "return false,"}}}]}`)
	require.ErrorContains(t, err, "steps[0].config.script.source")
	require.ErrorContains(t, err, "line 1, column")
}
