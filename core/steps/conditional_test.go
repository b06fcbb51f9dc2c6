package steps_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// condStep returns a workflow of one CONDITIONAL with the given config.
func condStep(cfg string) string {
	return `{"name": "t", "variables": {"minScore": 50, "pattern": "^[a-z]+$"}, "steps": [{"id": "cond", "type": "CONDITIONAL", "config": ` + cfg + `}]}`
}

// condResult runs a CONDITIONAL and returns its boolean result.
func condResult(t *testing.T, eng *core.Engine, cfg string, input any) bool {
	t.Helper()
	exec := run(t, eng, condStep(cfg), input)
	requireCompleted(t, exec)
	out := obj(t, step(t, exec, "cond").Output)
	result, ok := out["result"].(bool)
	require.True(t, ok, "result is a bool: %#v", out)
	if result {
		require.Equal(t, "then", out["branch"])
	} else {
		require.Equal(t, "else", out["branch"])
	}
	return result
}

func TestConditionalOperators(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{})
	tests := []struct {
		name   string
		actual string // JSON value of input.v; "" leaves it out
		op     string
		value  string // JSON
		want   bool
	}{
		{name: "eq numbers", actual: `5`, op: "eq", value: `5`, want: true},
		{name: "eq numeric string and number", actual: `"5"`, op: "eq", value: `5`, want: true},
		{name: "eq numeric strings by value", actual: `"5.0"`, op: "eq", value: `"5"`, want: true},
		{name: "eq strings", actual: `"ca"`, op: "eq", value: `"ca"`, want: true},
		{name: "eq is case-sensitive", actual: `"CA"`, op: "eq", value: `"ca"`, want: false},
		{name: "eq booleans", actual: `true`, op: "eq", value: `true`, want: true},
		{name: "eq boolean and string", actual: `true`, op: "eq", value: `"true"`, want: false},
		{name: "eq objects", actual: `{"a": [1]}`, op: "eq", value: `{"a": [1]}`, want: true},
		{name: "eq null and missing", actual: "", op: "eq", value: `null`, want: true},
		{name: "equals alias", actual: `1`, op: "equals", value: `1`, want: true},
		{name: "== alias", actual: `1`, op: "==", value: `2`, want: false},
		{name: "operator is case-insensitive", actual: `1`, op: "EQ", value: `1`, want: true},
		{name: "ne", actual: `1`, op: "ne", value: `2`, want: true},
		{name: "ne numeric string", actual: `"2"`, op: "ne", value: `2`, want: false},
		{name: "neq alias", actual: `"a"`, op: "neq", value: `"a"`, want: false},
		{name: "not_equals alias", actual: `"a"`, op: "not_equals", value: `"b"`, want: true},
		{name: "!= alias", actual: `"a"`, op: "!=", value: `"b"`, want: true},
		{name: "gt numbers", actual: `72`, op: "gt", value: `50`, want: true},
		{name: "gt equal", actual: `50`, op: "gt", value: `50`, want: false},
		{name: "gt numeric strings compare as numbers", actual: `"10"`, op: "gt", value: `"9"`, want: true},
		{name: "gt numeric string and number", actual: `"100"`, op: "gt", value: `99.5`, want: true},
		{name: "gt strings compare lexically", actual: `"b"`, op: "gt", value: `"a"`, want: true},
		{name: "gt incomparable is false", actual: `{"a": 1}`, op: "gt", value: `1`, want: false},
		{name: "gt missing is false", actual: "", op: "gt", value: `0`, want: false},
		{name: "greater_than alias", actual: `2`, op: "greater_than", value: `1`, want: true},
		{name: "> alias", actual: `1`, op: ">", value: `2`, want: false},
		{name: "gte equal", actual: `50`, op: "gte", value: `50`, want: true},
		{name: "greater_than_or_equal alias", actual: `49`, op: "greater_than_or_equal", value: `50`, want: false},
		{name: ">= alias", actual: `51`, op: ">=", value: `"50"`, want: true},
		{name: "lt", actual: `-1`, op: "lt", value: `0`, want: true},
		{name: "less_than alias", actual: `"a"`, op: "less_than", value: `"b"`, want: true},
		{name: "< alias", actual: `3`, op: "<", value: `3`, want: false},
		{name: "lte equal", actual: `3`, op: "lte", value: `3`, want: true},
		{name: "less_than_or_equal alias", actual: `4`, op: "less_than_or_equal", value: `3`, want: false},
		{name: "<= alias", actual: `"2"`, op: "<=", value: `10`, want: true},
		{name: "contains substring", actual: `"hello world"`, op: "contains", value: `"o w"`, want: true},
		{name: "contains array element by value", actual: `[1, 2, 3]`, op: "contains", value: `"2"`, want: true},
		{name: "contains array element missing", actual: `["a"]`, op: "contains", value: `"b"`, want: false},
		{name: "contains object key", actual: `{"k": 1}`, op: "contains", value: `"k"`, want: true},
		{name: "contains on a number is false", actual: `123`, op: "contains", value: `2`, want: false},
		{name: "not_contains", actual: `"abc"`, op: "not_contains", value: `"x"`, want: true},
		{name: "not_contains missing actual", actual: "", op: "not_contains", value: `"x"`, want: true},
		{name: "starts_with", actual: `"+1415"`, op: "starts_with", value: `"+1"`, want: true},
		{name: "starts_with non-string is false", actual: `14`, op: "starts_with", value: `1`, want: false},
		{name: "ends_with", actual: `"a@example.com"`, op: "ends_with", value: `"@example.com"`, want: true},
		{name: "ends_with no", actual: `"a@example.org"`, op: "ends_with", value: `".com"`, want: false},
		{name: "in array", actual: `"ca"`, op: "in", value: `["ca", "ny"]`, want: true},
		{name: "in array by numeric value", actual: `"2"`, op: "in", value: `[1, 2]`, want: true},
		{name: "in substring", actual: `"ell"`, op: "in", value: `"hello"`, want: true},
		{name: "not_in", actual: `"tx"`, op: "not_in", value: `["ca", "ny"]`, want: true},
		{name: "not_in present", actual: `"ca"`, op: "not_in", value: `["ca"]`, want: false},
		{name: "exists", actual: `0`, op: "exists", want: true},
		{name: "exists false value", actual: `false`, op: "exists", want: true},
		{name: "exists null", actual: `null`, op: "exists", want: false},
		{name: "exists missing", actual: "", op: "exists", want: false},
		{name: "not_exists missing", actual: "", op: "not_exists", want: true},
		{name: "not_exists present", actual: `""`, op: "not_exists", want: false},
		{name: "empty string", actual: `""`, op: "empty", want: true},
		{name: "empty blank string", actual: `"  "`, op: "empty", want: true},
		{name: "empty array", actual: `[]`, op: "empty", want: true},
		{name: "empty object", actual: `{}`, op: "empty", want: true},
		{name: "empty missing", actual: "", op: "empty", want: true},
		{name: "empty zero is not empty", actual: `0`, op: "empty", want: false},
		{name: "not_empty", actual: `"x"`, op: "not_empty", want: true},
		{name: "not_empty array", actual: `[]`, op: "not_empty", want: false},
		{name: "matches", actual: `"12345"`, op: "matches", value: `"^\\d{5}$"`, want: true},
		{name: "matches no", actual: `"1234"`, op: "matches", value: `"^\\d{5}$"`, want: false},
		{name: "matches a number as text", actual: `12345`, op: "matches", value: `"^\\d+$"`, want: true},
		{name: "matches a templated pattern", actual: `"abc"`, op: "matches", value: `"{{variables.pattern}}"`, want: true},
		{name: "value from a variable", actual: `72`, op: "gte", value: `"{{minScore}}"`, want: true},
		{name: "value from a variable, below", actual: `49`, op: "gte", value: `"{{variables.minScore}}"`, want: false},
		{name: "value from the input", actual: `3`, op: "eq", value: `"{{input.other}}"`, want: true},
		{name: "value interpolated to a numeric string", actual: `72`, op: "eq", value: `"7{{input.two}}"`, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			input := map[string]any{"other": 3, "two": 2}
			if tt.actual != "" {
				input["v"] = jsonValue(t, tt.actual)
			}
			cond := `{"field": "input.v", "operator": "` + tt.op + `"`
			if tt.value != "" {
				cond += `, "value": ` + tt.value
			}
			cfg := `{"conditions": [` + cond + `}]}`
			require.Equal(t, tt.want, condResult(t, eng, cfg, input))
		})
	}
}

func TestConditionalFields(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{})
	input := map[string]any{"lead": map[string]any{"score": 72, "tags": []any{"a", "hot"}}}
	tests := []struct {
		name  string
		field string
		want  bool
	}{
		{name: "bare input name", field: "lead.score", want: true},
		{name: "input root", field: "input.lead.score", want: true},
		{name: "array index", field: "input.lead.tags[1]", want: true},
		{name: "bare variable name", field: "hot", want: true},
		{name: "variables root", field: "variables.hot", want: true},
		{name: "missing", field: "input.nope.score", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := `{"name": "t", "variables": {"hot": "hot"}, "steps": [{"id": "cond", "type": "CONDITIONAL", "config":
				{"conditions": [{"field": "` + tt.field + `", "operator": "not_empty"}]}}]}`
			exec := run(t, eng, doc, input)
			requireCompleted(t, exec)
			require.Equal(t, tt.want, obj(t, exec.Output)["result"])
		})
	}

	t.Run("earlier step output", func(t *testing.T) {
		t.Parallel()
		exec := run(t, eng, `{"name": "t", "steps": [
			{"id": "shape", "type": "DATA_TRANSFORM", "config": {"source": {"score": 72}, "operations": [{"type": "set", "field": "ok", "value": true}]}},
			{"id": "cond", "type": "CONDITIONAL", "dependsOn": ["shape"], "config": {"conditions": [
				{"field": "steps.shape.output.score", "operator": "gt", "value": 50},
				{"field": "steps.shape.status", "operator": "eq", "value": "COMPLETED"}]}}]}`, nil)
		requireCompleted(t, exec)
		require.Equal(t, true, obj(t, exec.Output)["result"])
	})
}

func TestConditionalLogic(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{})
	yes := `{"field": "input.a", "operator": "eq", "value": 1}`
	no := `{"field": "input.a", "operator": "eq", "value": 2}`
	tests := []struct {
		name  string
		logic string // "" leaves it out
		conds []string
		want  bool
	}{
		{name: "default is AND, all true", conds: []string{yes, yes}, want: true},
		{name: "default is AND, one false", conds: []string{yes, no}, want: false},
		{name: "AND all true", logic: "AND", conds: []string{yes, yes, yes}, want: true},
		{name: "AND last false", logic: "AND", conds: []string{yes, yes, no}, want: false},
		{name: "and lower case", logic: "and", conds: []string{no, yes}, want: false},
		{name: "OR one true", logic: "OR", conds: []string{no, no, yes}, want: true},
		{name: "OR all false", logic: "OR", conds: []string{no, no}, want: false},
		{name: "or lower case", logic: "or", conds: []string{yes, no}, want: true},
		{name: "single condition", logic: "OR", conds: []string{yes}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := `{"conditions": [`
			for i, c := range tt.conds {
				if i > 0 {
					cfg += ", "
				}
				cfg += c
			}
			cfg += `]`
			if tt.logic != "" {
				cfg += `, "logic": "` + tt.logic + `"`
			}
			require.Equal(t, tt.want, condResult(t, eng, cfg+`}`, map[string]any{"a": 1}))
		})
	}

	t.Run("OR stops at the first true condition", func(t *testing.T) {
		t.Parallel()
		// The second condition would fail at run time (its pattern is invalid).
		cfg := `{"logic": "OR", "conditions": [` + yes + `, {"field": "input.a", "operator": "matches", "value": "{{input.bad}}"}]}`
		require.True(t, condResult(t, eng, cfg, map[string]any{"a": 1, "bad": "("}))
	})
}

func TestConditionalExpression(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{})
	tests := []struct {
		name string
		expr string
		want bool
	}{
		{name: "comparison over input", expr: "input.score > 50 && input.state == 'ca'", want: true},
		{name: "bare names and variables", expr: "score >= minScore", want: true},
		{name: "false", expr: "score < variables.minScore", want: false},
		{name: "string result is truthy", expr: "state", want: true},
		{name: "empty string is falsy", expr: "input.empty", want: false},
		{name: "zero is falsy", expr: "score - 72", want: false},
		{name: "null is falsy", expr: "input.nothing", want: false},
		{name: "empty array is falsy", expr: "input.none", want: false},
		{name: "non-empty array is truthy", expr: "input.tags", want: true},
		{name: "builtin functions", expr: "len(input.tags) == 2 && upper(state) == 'CA'", want: true},
		{name: "in operator", expr: "'hot' in input.tags", want: true},
		{name: "nil-safe access", expr: "input.nothing?.deeper ?? true", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			input := map[string]any{"score": 72, "state": "ca", "empty": "", "none": []any{}, "tags": []any{"hot", "new"}}
			cfg, err := json.Marshal(map[string]any{"expression": tt.expr})
			require.NoError(t, err)
			require.Equal(t, tt.want, condResult(t, eng, string(cfg), input))
		})
	}

	t.Run("run-time error", func(t *testing.T) {
		t.Parallel()
		exec := run(t, eng, condStep(`{"expression": "input.tags / 2 > 1"}`), map[string]any{"tags": []any{1}})
		requireFailed(t, exec, sdk.CodeExpression)
	})

	t.Run("bad pattern at run time", func(t *testing.T) {
		t.Parallel()
		exec := run(t, eng, condStep(`{"conditions": [{"field": "input.a", "operator": "matches", "value": "{{input.p}}"}]}`),
			map[string]any{"a": "x", "p": "(["})
		requireFailed(t, exec, sdk.CodeExpression)
		require.Contains(t, step(t, exec, "cond").Error.Message, "invalid regular expression")
	})
}

// branchWorkflow: check chooses between yes and no; after_no depends only on
// no; join depends on both; after_join on join. The branch targets are
// declared before the CONDITIONAL and start at once (dependsOn: []), yet
// still wait for it; yes reads the CONDITIONAL's output.
const branchWorkflow = `{"name": "t", "steps": [
	{"id": "yes", "type": "DATA_TRANSFORM", "dependsOn": [], "config": {"source": {"saw": "{{steps.check.output.branch}}"}, "operations": [{"type": "set", "field": "ran", "value": "yes"}]}},
	{"id": "no", "type": "DATA_TRANSFORM", "config": {"source": {"saw": "{{steps.check.output.branch}}"}, "operations": [{"type": "set", "field": "ran", "value": "no"}]}},
	{"id": "check", "type": "CONDITIONAL", "dependsOn": [], "config": {"expression": "input.go", "then": ["yes"], "else": ["no"]}},
	{"id": "after_no", "type": "DATA_TRANSFORM", "dependsOn": ["no"], "config": {"source": {}, "operations": [{"type": "set", "field": "x", "value": 1}]}},
	{"id": "join", "type": "DATA_TRANSFORM", "dependsOn": ["yes", "no"], "config": {"source": {"yes": "{{steps.yes.status}}", "no": "{{steps.no.status}}"}, "operations": [{"type": "set", "field": "joined", "value": true}]}},
	{"id": "after_join", "type": "DATA_TRANSFORM", "dependsOn": ["join"], "config": {"source": {}, "operations": [{"type": "set", "field": "x", "value": 2}]}}
]}`

func TestConditionalBranches(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{})
	tests := []struct {
		name         string
		goValue      bool
		taken        string
		untaken      string
		wantAfterNo  core.Status
		wantJoinSeen map[string]any
	}{
		{name: "then", goValue: true, taken: "yes", untaken: "no", wantAfterNo: core.StatusSkipped,
			wantJoinSeen: map[string]any{"yes": "COMPLETED", "no": "SKIPPED", "joined": true}},
		{name: "else", goValue: false, taken: "no", untaken: "yes", wantAfterNo: core.StatusCompleted,
			wantJoinSeen: map[string]any{"yes": "SKIPPED", "no": "COMPLETED", "joined": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exec := run(t, eng, branchWorkflow, map[string]any{"go": tt.goValue})
			requireCompleted(t, exec)

			taken := step(t, exec, tt.taken)
			require.Equal(t, core.StatusCompleted, taken.Status)
			require.Equal(t, map[string]any{"saw": tt.name, "ran": tt.taken}, taken.Output,
				"the branch target ran after the CONDITIONAL")
			untaken := step(t, exec, tt.untaken)
			require.Equal(t, core.StatusSkipped, untaken.Status)
			require.Zero(t, untaken.Attempts)
			require.Nil(t, untaken.Output)

			require.Equal(t, tt.wantAfterNo, step(t, exec, "after_no").Status, "a step depending only on a skipped step is skipped")
			require.Equal(t, core.StatusCompleted, step(t, exec, "join").Status, "a step depending on a skipped and a completed step runs")
			require.Equal(t, tt.wantJoinSeen, step(t, exec, "join").Output)
			require.Equal(t, core.StatusCompleted, step(t, exec, "after_join").Status)
			require.Equal(t, map[string]any{"result": tt.goValue, "branch": tt.name}, step(t, exec, "check").Output)
		})
	}
}

func TestConditionalBranchTargetsWaitWithoutDependsOn(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{})
	// target has neither dependsOn nor an order after the CONDITIONAL's: it
	// waits for it only because it is a branch target.
	doc := `{"name": "t", "steps": [
		{"id": "check", "type": "CONDITIONAL", "order": 1, "config": {"conditions": [{"field": "input.n", "operator": "gt", "value": 1}], "then": ["target"]}},
		{"id": "target", "type": "DATA_TRANSFORM", "order": 1, "config": {"source": {"b": "{{steps.check.output.branch}}"}, "operations": [{"type": "set", "field": "x", "value": 1}]}}]}`
	exec := run(t, eng, doc, map[string]any{"n": 2})
	requireCompleted(t, exec)
	require.Equal(t, map[string]any{"b": "then", "x": float64(1)}, step(t, exec, "target").Output)

	exec = run(t, eng, doc, map[string]any{"n": 0})
	requireCompleted(t, exec)
	require.Equal(t, core.StatusSkipped, step(t, exec, "target").Status)
	// With the only sink skipped, the output is the CONDITIONAL's.
	require.Equal(t, core.StatusCompleted, step(t, exec, "check").Status)
}

func TestConditionalFailureSkipsBothBranches(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{})
	exec := run(t, eng, `{"name": "t", "steps": [
		{"id": "check", "type": "CONDITIONAL", "config": {"expression": "input.x / 2 > 0", "then": ["a"], "else": ["b"]}},
		{"id": "a", "type": "DATA_TRANSFORM", "dependsOn": [], "config": {"source": {}, "operations": [{"type": "set", "field": "x", "value": 1}]}},
		{"id": "b", "type": "DATA_TRANSFORM", "dependsOn": [], "config": {"source": {}, "operations": [{"type": "set", "field": "x", "value": 1}]}}]}`,
		map[string]any{"x": "text"})
	requireFailed(t, exec, sdk.CodeExpression)
	require.Equal(t, "check", exec.FailedStep)
	require.Equal(t, core.StatusSkipped, step(t, exec, "a").Status)
	require.Equal(t, core.StatusSkipped, step(t, exec, "b").Status)
}

func TestConditionalCompileProblems(t *testing.T) {
	t.Parallel()
	eng := newEngine(t, engineOpts{})
	const cfg = "steps[0].config"
	other := `, {"id": "a", "type": "DATA_TRANSFORM", "dependsOn": [], "config": {"source": {}, "operations": [{"type": "set", "field": "x", "value": 1}]}}`
	tests := []struct {
		name  string
		cfg   string
		extra string // more steps
		want  [][2]string
	}{
		{name: "both conditions and expression", cfg: `{"expression": "true", "conditions": [{"field": "a", "operator": "exists"}]}`,
			want: [][2]string{{cfg, "not both"}}},
		{name: "neither", cfg: `{"then": []}`, want: [][2]string{{cfg + ".conditions", "give conditions or an expression"}}},
		{name: "no config", cfg: `null`, want: [][2]string{{cfg + ".conditions", ""}}},
		{name: "unknown operator", cfg: `{"conditions": [{"field": "a", "operator": "resembles", "value": 1}]}`,
			want: [][2]string{{cfg + ".conditions[0].operator", `"resembles" is not an operator`}}},
		{name: "missing operator", cfg: `{"conditions": [{"field": "a"}]}`,
			want: [][2]string{{cfg + ".conditions[0].operator", "is not an operator"}}},
		{name: "missing field", cfg: `{"conditions": [{"operator": "exists"}]}`,
			want: [][2]string{{cfg + ".conditions[0].field", "is required"}}},
		{name: "bad field path", cfg: `{"conditions": [{"field": "a..b", "operator": "exists"}]}`,
			want: [][2]string{{cfg + ".conditions[0].field", "is not a path"}}},
		{name: "bad regex", cfg: `{"conditions": [{"field": "a", "operator": "matches", "value": "([a-z"}]}`,
			want: [][2]string{{cfg + ".conditions[0].value", "invalid regular expression"}}},
		{name: "bad logic", cfg: `{"logic": "XOR", "conditions": [{"field": "a", "operator": "exists"}]}`,
			want: [][2]string{{cfg + ".logic", `"XOR" is not AND or OR`}}},
		{name: "expression does not compile", cfg: `{"expression": "a >"}`,
			want: [][2]string{{cfg + ".expression", "column"}}},
		{name: "broken value template", cfg: `{"conditions": [{"field": "a", "operator": "eq", "value": "{{a"}]}`,
			want: [][2]string{{cfg + ".conditions[0].value", "unclosed"}}},
		{name: "unknown then id", cfg: `{"expression": "true", "then": ["ghost"]}`,
			want: [][2]string{{cfg + ".then[0]", `unknown step "ghost"`}}},
		{name: "unknown else id", cfg: `{"expression": "true", "then": ["a"], "else": ["a", "ghost"]}`, extra: other,
			want: [][2]string{{cfg + ".else[1]", `unknown step "ghost"`}, {cfg + ".else", `step "a" is in both then and else`}}},
		{name: "step in both branches", cfg: `{"expression": "true", "then": ["a"], "else": ["a"]}`, extra: other,
			want: [][2]string{{cfg + ".else", `step "a" is in both then and else`}}},
		{name: "branch to itself", cfg: `{"expression": "true", "then": ["cond"]}`,
			want: [][2]string{{cfg + ".then[0]", "cannot branch to itself"}}},
		{name: "field on an unknown step", cfg: `{"conditions": [{"field": "steps.ghost.output.x", "operator": "exists"}]}`,
			want: [][2]string{{cfg + ".conditions[0].field", `step "ghost"`}}},
		{name: "field on a step that does not precede", cfg: `{"conditions": [{"field": "steps.a.output.x", "operator": "exists"}]}`, extra: other,
			want: [][2]string{{cfg + ".conditions[0].field", `add "a" to dependsOn`}}},
		{name: "unknown field", cfg: `{"expression": "true", "otherwise": []}`,
			want: [][2]string{{cfg + ".otherwise", ""}}},
		{name: "branch creating a cycle", cfg: `{"expression": "true", "then": ["a"]}`,
			extra: `, {"id": "a", "type": "DATA_TRANSFORM", "dependsOn": [], "config": {"source": {}, "operations": [{"type": "set", "field": "x", "value": 1}]}}]}`,
			want:  nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.want == nil {
				// cond depends on a, and branches to a.
				ps := problems(t, eng, `{"name": "t", "steps": [{"id": "cond", "type": "CONDITIONAL", "dependsOn": ["a"], "config": `+tt.cfg+`}`+tt.extra)
				found := false
				for _, p := range ps {
					found = found || strings.Contains(p.Message, "dependency cycle")
				}
				require.True(t, found, formatProblems(ps))
				return
			}
			ps := problems(t, eng, `{"name": "t", "steps": [{"id": "cond", "type": "CONDITIONAL", "config": `+tt.cfg+`}`+tt.extra+`]}`)
			for _, w := range tt.want {
				requireProblem(t, ps, w[0], w[1])
			}
		})
	}

	t.Run("nested CONDITIONAL cannot branch to top-level steps", func(t *testing.T) {
		t.Parallel()
		ps := problems(t, eng, `{"name": "t", "steps": [
			{"id": "par", "type": "PARALLEL", "config": {"steps": [
				{"id": "cond", "type": "CONDITIONAL", "config": {"expression": "true", "then": ["a"]}}]}}`+other+`]}`)
		requireProblem(t, ps, "steps[0].config.steps[0].config.then[0]", "cannot branch to top-level steps")
	})

	t.Run("branch to a nested step", func(t *testing.T) {
		t.Parallel()
		ps := problems(t, eng, `{"name": "t", "steps": [
			{"id": "cond", "type": "CONDITIONAL", "config": {"expression": "true", "then": ["inner"]}},
			{"id": "par", "type": "PARALLEL", "config": {"steps": [
				{"id": "inner", "type": "DATA_TRANSFORM", "config": {"source": {}, "operations": [{"type": "set", "field": "x", "value": 1}]}}]}}]}`)
		requireProblem(t, ps, "steps[0].config.then[0]", `nested inside "par"`)
	})
}
