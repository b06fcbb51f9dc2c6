package core_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
)

func mustExpr(t *testing.T, src string) *core.Expr {
	t.Helper()
	e, err := core.CompileExpr(src)
	require.NoError(t, err, src)
	return e
}

func TestCompileExprErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		src      string
		wantMsg  string
		wantLine int
		wantCol  int
	}{
		{name: "empty", src: "", wantMsg: "empty expression"},
		{name: "blank", src: " \t\n", wantMsg: "empty expression"},
		{name: "dangling operator", src: "1 +", wantMsg: "unexpected token", wantLine: 1, wantCol: 3},
		{name: "error on line 2", src: "1 +\n* 2", wantMsg: "unexpected token", wantLine: 2, wantCol: 1},
		{name: "error on line 2 indented", src: "1 +\n  * 2", wantMsg: "unexpected token", wantLine: 2, wantCol: 3},
		{name: "unclosed paren", src: "(1 + 2", wantMsg: "unexpected token", wantLine: 1},
		{name: "type error on constants", src: `1 + "a"`, wantMsg: "invalid operation", wantLine: 1, wantCol: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := core.CompileExpr(tt.src)
			require.Nil(t, e)
			var ee *core.ExprError
			require.ErrorAs(t, err, &ee)
			require.Equal(t, tt.src, ee.Source)
			require.Contains(t, ee.Message, tt.wantMsg)
			require.Equal(t, tt.wantLine, ee.Line, ee.Error())
			if tt.wantCol > 0 {
				require.Equal(t, tt.wantCol, ee.Column, ee.Error())
			}
			if tt.wantLine > 0 {
				require.Contains(t, err.Error(), fmt.Sprintf("(line %d, column %d)", ee.Line, ee.Column))
			}
		})
	}
}

func TestCompileExprLimits(t *testing.T) {
	t.Parallel()
	nest := func(n int, open, close string) string {
		return strings.Repeat(open, n) + "1" + strings.Repeat(close, n)
	}
	tests := []struct {
		name     string
		src      string
		wantMsg  string // "" when the expression must compile
		wantLine int
		wantCol  int
	}{
		{name: "at the length cap", src: "1" + strings.Repeat(" ", core.MaxExprLength-1)},
		{name: "over the length cap", src: "1" + strings.Repeat(" ", core.MaxExprLength), wantMsg: fmt.Sprintf("longer than %d characters", core.MaxExprLength)},
		{name: "long sum over the cap", src: strings.Repeat("1+", 3000) + "1", wantMsg: "longer than 4096 characters"},
		{name: "parens at the depth cap", src: nest(core.MaxExprDepth, "(", ")")},
		{name: "parens over the depth cap", src: nest(core.MaxExprDepth+1, "(", ")"), wantMsg: "nested deeper than 64 levels", wantLine: 1, wantCol: core.MaxExprDepth + 1},
		{name: "arrays over the depth cap", src: nest(100, "[", "]"), wantMsg: "nested deeper than 64 levels", wantLine: 1, wantCol: 65},
		{name: "mixed brackets over the cap", src: strings.Repeat("[(", 40) + "1" + strings.Repeat(")]", 40), wantMsg: "nested deeper than 64 levels", wantLine: 1, wantCol: 65},
		{name: "over the cap on line 2", src: "1 +\n" + nest(70, "(", ")"), wantMsg: "nested deeper than 64 levels", wantLine: 2, wantCol: 65},
		{name: "brackets in double-quoted string not counted", src: `"` + strings.Repeat("(", 200) + `"`},
		{name: "brackets in single-quoted string not counted", src: `'` + strings.Repeat("[{", 100) + `'`},
		{name: "brackets in backquoted string not counted", src: "`" + strings.Repeat("{", 100) + "`"},
		{name: "escaped quote keeps the string open", src: `"\"` + strings.Repeat("(", 100) + `"`},
		{name: "sequential brackets are not nested", src: strings.Repeat("(1)+", 100) + "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := core.CompileExpr(tt.src)
			if tt.wantMsg == "" {
				require.NoError(t, err)
				require.NotNil(t, e)
				return
			}
			var ee *core.ExprError
			require.ErrorAs(t, err, &ee)
			require.Contains(t, ee.Message, tt.wantMsg)
			require.Equal(t, tt.wantLine, ee.Line)
			require.Equal(t, tt.wantCol, ee.Column)
			require.Less(t, len(err.Error()), 300, "the message does not echo a huge source")
		})
	}
}

func TestExprMemoryHungryFailsAtEval(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
	}{
		{name: "huge range filtered", src: "1..1000000000 | filter(# > 0) | len()"},
		{name: "huge range", src: "len(1..1000000000)"},
		{name: "huge repeat", src: `repeat("a", 100000000)`},
		{name: "huge repeat of input", src: `repeat(name, 100000000)`},
		{name: "huge map", src: "map(1..100000000, # * 2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := mustExpr(t, tt.src)
			got, err := e.Eval(map[string]any{"name": "ab"})
			require.Nil(t, got)
			require.ErrorContains(t, err, "memory budget exceeded")
			require.ErrorContains(t, err, fmt.Sprintf("expression %q", tt.src), "the message names the expression")
			require.NotContains(t, err.Error(), "\n", "no multi-line source excerpt")
		})
	}
}

func TestExprBuiltinNamedFields(t *testing.T) {
	t.Parallel()
	env := map[string]any{
		"count": 7.0,
		"type":  "lead",
		"date":  "2026-03-01",
		"len":   2.0,
		"items": []any{1.0, 2.0, 3.0},
	}
	tests := []struct {
		name string
		src  string
		want any
	}{
		{name: "count field", src: "count", want: 7.0},
		{name: "type field", src: "type", want: "lead"},
		{name: "date field", src: "date", want: "2026-03-01"},
		{name: "len field", src: "len", want: 2.0},
		{name: "field in arithmetic", src: "count * len", want: 14.0},
		{name: "field in comparison", src: `type == "lead"`, want: true},
		{name: "count builtin still callable", src: "count(items, # > 1)", want: 2.0},
		{name: "len builtin still callable", src: "len(items)", want: 3.0},
		{name: "len builtin in a pipe", src: "items | len()", want: 3.0},
		{name: "type builtin still callable", src: "type(items)", want: "array"},
		{name: "builtin and field together", src: "count(items, # > count - 5)", want: 1.0},
		{name: "missing builtin-named field", src: "now ?? \"unset\"", want: "unset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := mustExpr(t, tt.src).Eval(env)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestExprEval(t *testing.T) {
	t.Parallel()
	env := func() map[string]any {
		return map[string]any{
			"score": 42.0,
			"name":  "ada",
			"obj":   map[string]any{"a": []any{1.0, map[string]any{"b": "c"}}},
			"items": []any{"x", "y"},
			"input": map[string]any{"n": 3.0},
			"steps": map[string]any{"get": map[string]any{"output": map[string]any{"v": 10.0}}},
		}
	}
	tests := []struct {
		name string
		src  string
		want any
	}{
		{name: "integer literal normalised", src: "1 + 2", want: 3.0},
		{name: "integer division", src: "7 / 2", want: 3.5},
		{name: "modulo", src: "7 % 4", want: 3.0},
		{name: "array of ints", src: "[1, 2]", want: []any{1.0, 2.0}},
		{name: "map of ints", src: `{"a": 1, "b": [2]}`, want: map[string]any{"a": 1.0, "b": []any{2.0}}},
		{name: "len is float64", src: "len(items)", want: 2.0},
		{name: "string", src: `upper(name) + "!"`, want: "ADA!"},
		{name: "bool", src: "score > 40 && name == 'ada'", want: true},
		{name: "nil", src: "nil", want: nil},
		{name: "unknown name is nil", src: "nobody", want: nil},
		{name: "unknown name coalesced", src: "nobody ?? 3", want: 3.0},
		{name: "nested member", src: "obj.a[1].b", want: "c"},
		{name: "optional chaining", src: "obj?.missing?.x", want: nil},
		{name: "step output", src: "steps.get.output.v * input.n", want: 30.0},
		{name: "filter and map", src: "map(filter([1, 2, 3, 4], # % 2 == 0), # * 10)", want: []any{20.0, 40.0}},
		{name: "ternary", src: `score >= 50 ? "hot" : "cold"`, want: "cold"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := mustExpr(t, tt.src).Eval(env())
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestExprResultNotAliasedToEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		src    string
		mutate func(any)
	}{
		{name: "map from env", src: "obj", mutate: func(v any) {
			v.(map[string]any)["a"].([]any)[0] = "changed"
			v.(map[string]any)["new"] = true
		}},
		{name: "array from env", src: "items", mutate: func(v any) {
			v.([]any)[0].(map[string]any)["id"] = "changed"
		}},
		{name: "nested map from env", src: "obj.a[1]", mutate: func(v any) {
			v.(map[string]any)["b"] = "changed"
		}},
		{name: "array built from env parts", src: "[obj, items]", mutate: func(v any) {
			v.([]any)[0].(map[string]any)["a"] = nil
			v.([]any)[1].([]any)[0] = nil
		}},
		{name: "coalesce returns env map", src: "missing ?? obj", mutate: func(v any) {
			delete(v.(map[string]any), "a")
		}},
	}
	fresh := func() map[string]any {
		return map[string]any{
			"obj":   map[string]any{"a": []any{1.0, map[string]any{"b": "c"}}},
			"items": []any{map[string]any{"id": "i1"}},
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := fresh()
			e := mustExpr(t, tt.src)
			got, err := e.Eval(env)
			require.NoError(t, err)
			tt.mutate(got)
			require.Equal(t, fresh(), env, "mutating the result leaves env unchanged")
			again, err := e.Eval(env)
			require.NoError(t, err)
			want, err := e.Eval(fresh())
			require.NoError(t, err)
			require.Equal(t, want, again)
		})
	}
}

func TestExprRefs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{name: "none", src: "input.x > 1"},
		{name: "dotted", src: "steps.a.output.x > 1", want: []string{"a"}},
		{name: "bracketed", src: `steps["b"].status == "COMPLETED"`, want: []string{"b"}},
		{name: "both, in order", src: `steps.a.output.x + steps["b"].output.y`, want: []string{"a", "b"}},
		{name: "deduplicated", src: "steps.a.output.x + steps.a.output.y", want: []string{"a"}},
		{name: "optional chaining", src: "steps?.c?.output ?? 0", want: []string{"c"}},
		{name: "inside a closure", src: "all(items, steps.d.output > #)", want: []string{"d"}},
		{name: "dynamic index is not a ref", src: "steps[name].output"},
		{name: "steps alone", src: "len(steps)"},
		{name: "steps under input", src: "input.steps.a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := mustExpr(t, tt.src)
			require.Equal(t, tt.want, e.Refs())
			require.Equal(t, tt.src, e.String())
		})
	}
}

func TestExprEvalRuntimeError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		env  map[string]any
	}{
		{name: "len of a number", src: "len(n)", env: map[string]any{"n": 1.0}},
		{name: "member of nil", src: "missing.x + 1", env: map[string]any{}},
		{name: "bad operands", src: "a + b", env: map[string]any{"a": "s", "b": []any{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := mustExpr(t, tt.src).Eval(tt.env)
			require.Nil(t, got)
			require.Error(t, err)
			require.Contains(t, err.Error(), fmt.Sprintf("expression %q", tt.src))
			require.NotContains(t, err.Error(), "\n")
		})
	}
}
