package core_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
)

// Constructs that would let an evaluation's cost outgrow its data are
// refused when the workflow is validated.
func TestExpressionRestrictions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, msg string
	}{
		{"let", "let a = 1; a + 1", "let is not supported"},
		{"reduce", "reduce(items, #acc + #, 0)", "reduce is not supported"},
		{"three nested predicates", "filter(a, all(b, any(c, # > 0)))", "predicates nested more than 2 deep"},
		{"secrets", `"Bearer " + secrets.token`, "use a {{secrets.NAME}} placeholder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := core.CompileExpr(tt.src)
			var ee *core.ExprError
			require.ErrorAs(t, err, &ee)
			require.Contains(t, ee.Message, tt.msg)
			require.Positive(t, ee.Line)
		})
	}
	// Two levels of predicates over data stay allowed.
	e, err := core.CompileExpr(`filter(items, any(#.tags, # == "vip"))`)
	require.NoError(t, err)
	v, err := e.Eval(map[string]any{"items": []any{map[string]any{"tags": []any{"vip"}}, map[string]any{"tags": []any{}}}})
	require.NoError(t, err)
	require.Len(t, v, 1)
}

// What + and join build counts against a per-evaluation budget; ranges count
// against expr's memory budget.
func TestExpressionBudgets(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 1<<20)
	tests := []struct {
		name, src string
		wantErr   string
	}{
		{"concatenation in a loop", "len(map(1..20, s + s))", "more than 16 MiB"},
		{"join of copies", "len(join(map(1..20, s)))", "more than 16 MiB"},
		{"large range", "len(1..1000000)", "memory budget exceeded"},
		{"repeat of a long string", `len(repeat(s, 100))`, "more than 16 MiB"},
		{"repeat is still repeat", `repeat("ab", 3) == "ababab"`, ""},
		{"small concatenations are fine", "len(s + s)", ""},
		{"join is still join", `join(["a", "b"], "-") == "a-b"`, ""},
		{"numbers still add", "1 + n == 3", ""},
		{"dates still add", `now() + duration("1h") > now()`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := core.CompileExpr(tt.src)
			require.NoError(t, err)
			v, err := e.Eval(map[string]any{"s": big, "n": 2.0})
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.NotEqual(t, false, v)
		})
	}
}
