package core_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// tplScope is a minimal core.Scope: Resolve reads roots, Env is what
// expressions see, Secret reads secrets and records which were asked for.
type tplScope struct {
	roots   map[string]any
	env     map[string]any
	secrets map[string]string

	mu    sync.Mutex
	asked []string
}

func (s *tplScope) Resolve(root string) (any, bool) {
	v, ok := s.roots[root]
	return v, ok
}

func (s *tplScope) Env() map[string]any { return s.env }

func (s *tplScope) Secret(_ context.Context, name string) (string, error) {
	s.mu.Lock()
	s.asked = append(s.asked, name)
	s.mu.Unlock()
	v, ok := s.secrets[name]
	if !ok {
		return "", fmt.Errorf("secret %q not configured", name)
	}
	return v, nil
}

// newTplScope returns a scope over fresh data, so tests may compare it after rendering.
func newTplScope() *tplScope {
	input := map[string]any{
		"n":     5.0,
		"name":  "ada",
		"flag":  true,
		"obj":   map[string]any{"a": "<b>&c", "nested": map[string]any{"k": []any{1.0, 2.0}}},
		"items": []any{"a", "b", map[string]any{"id": "third"}},
		"grid":  []any{[]any{1.0, 2.0}, []any{3.0, 4.0}},
		"none":  nil,
	}
	variables := map[string]any{"minScore": 50.0, "region": "eu"}
	steps := map[string]any{
		"get": map[string]any{"status": "COMPLETED", "output": map[string]any{"items": []any{map[string]any{"id": "x1"}}}},
	}
	roots := map[string]any{
		"input": input, "variables": variables, "steps": steps,
		"execution": map[string]any{"id": "exec-1"},
		// bare names, as the engine's scope resolves them: input, then variables
		"leadId": "L-7", "minScore": 50.0, "region": "eu",
	}
	env := map[string]any{
		"input": input, "variables": variables, "steps": steps,
		"execution": map[string]any{"id": "exec-1"},
		"leadId":    "L-7", "minScore": 50.0, "region": "eu", "name": "ada", "n": 5.0,
	}
	return &tplScope{roots: roots, env: env, secrets: map[string]string{"api_key": "s3cr3t-value"}}
}

func renderTpl(t *testing.T, src string, s core.Scope) (any, error) {
	t.Helper()
	tpl, err := core.ParseTemplate(src)
	require.NoError(t, err)
	return tpl.Render(t.Context(), s)
}

func TestTemplateRender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want any
	}{
		// A lone placeholder keeps the value's JSON type.
		{name: "whole number", src: "{{input.n}}", want: 5.0},
		{name: "whole bool", src: "{{input.flag}}", want: true},
		{name: "whole string", src: "{{input.name}}", want: "ada"},
		{name: "whole object", src: "{{input.obj.nested}}", want: map[string]any{"k": []any{1.0, 2.0}}},
		{name: "whole array", src: "{{input.grid[1]}}", want: []any{3.0, 4.0}},
		{name: "whole null", src: "{{input.none}}", want: nil},
		{name: "whole missing", src: "{{input.missing.deeper}}", want: nil},
		{name: "whole with spaces", src: "{{  input.n  }}", want: 5.0},
		// Several parts interpolate into a string.
		{name: "interpolated number", src: "n={{input.n}}", want: "n=5"},
		{name: "interpolated bool", src: "{{input.flag}}!", want: "true!"},
		{name: "interpolated object without HTML escaping", src: "obj={{input.obj}}", want: `obj={"a":"<b>&c","nested":{"k":[1,2]}}`},
		{name: "interpolated array", src: "[{{input.items}}]", want: `[["a","b",{"id":"third"}]]`},
		{name: "interpolated null is empty", src: "<{{input.none}}>", want: "<>"},
		{name: "interpolated missing is empty", src: "<{{input.nope}}>", want: "<>"},
		{name: "two placeholders", src: "{{input.name}}{{input.n}}", want: "ada5"},
		{name: "static", src: "no placeholders", want: "no placeholders"},
		{name: "empty", src: "", want: ""},
		{name: "lone braces are text", src: "a } b }} c {", want: "a } b }} c {"},
		// Paths.
		{name: "bracket index", src: "{{input.items[1]}}", want: "b"},
		{name: "dot index", src: "{{input.items.1}}", want: "b"},
		{name: "index then key", src: "{{input.items[2].id}}", want: "third"},
		{name: "dot index then key", src: "{{input.items.2.id}}", want: "third"},
		{name: "nested indexes", src: "{{input.grid[1][0]}}", want: 3.0},
		{name: "index out of range", src: "{{input.items[9]}}", want: nil},
		{name: "step output path", src: "{{steps.get.output.items[0].id}}", want: "x1"},
		{name: "step status", src: "{{steps.get.status}}", want: "COMPLETED"},
		{name: "unknown step", src: "{{steps.nope.output}}", want: nil},
		{name: "into a scalar", src: "{{input.name.first}}", want: nil},
		{name: "execution id", src: "/runs/{{execution.id}}", want: "/runs/exec-1"},
		{name: "variables root", src: "{{variables.minScore}}", want: 50.0},
		// Bare names go to Scope.Resolve.
		{name: "bare name", src: "http://x/leads/{{leadId}}", want: "http://x/leads/L-7"},
		{name: "bare variable", src: "{{minScore}}", want: 50.0},
		{name: "unknown bare name", src: "{{nobody}}", want: nil},
		{name: "reserved root not set", src: "{{item}}", want: nil},
		{name: "reserved root index not set", src: "[{{index}}]", want: "[]"},
		// Expressions.
		{name: "coalesce with missing", src: `{{ input.missing ?? "x" }}`, want: "x"},
		{name: "coalesce with present", src: `{{ input.name ?? "x" }}`, want: "ada"},
		{name: "coalesce bare unknown", src: `{{ a ?? "x" }}`, want: "x"},
		{name: "arithmetic keeps number", src: "{{ input.n * 2 }}", want: 10.0},
		{name: "integer result normalised", src: "{{ 1 + 2 }}", want: 3.0},
		{name: "arithmetic interpolated", src: "total: {{ input.n * 2 }}", want: "total: 10"},
		{name: "function", src: "{{ upper(name) }}", want: "ADA"},
		{name: "braces inside expression", src: `{{ {"a": 1}.a }}`, want: 1.0},
		{name: "map literal", src: `{{ {"k": input.name} }}`, want: map[string]any{"k": "ada"}},
		{name: "string literal with closing braces", src: `{{ "}}" + name }}`, want: "}}ada"},
		{name: "single-quoted string with braces", src: `{{ '{{x}}' }}`, want: "{{x}}"},
		{name: "escaped quote in string", src: `{{ "a\"}}" }}`, want: `a"}}`},
		{name: "comparison", src: "{{ minScore > 10 }}", want: true},
		{name: "expression on steps", src: `{{ steps["get"].status == "COMPLETED" }}`, want: true},
		{name: "builtin on array", src: "{{ len(input.items) }}", want: 3.0},
		{name: "mixed path and expression", src: "{{input.name}}-{{ input.n + 1 }}", want: "ada-6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := renderTpl(t, tt.src, newTplScope())
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestTemplateParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		src     string
		wantMsg string
		wantCol int
	}{
		{name: "unclosed at start", src: "{{input.x", wantMsg: "unclosed {{", wantCol: 1},
		{name: "unclosed after text", src: "ab {{ x", wantMsg: "unclosed {{", wantCol: 4},
		{name: "unclosed second placeholder", src: "{{a}} and {{ b", wantMsg: "unclosed {{", wantCol: 11},
		{name: "single closing brace", src: "x {{ a }", wantMsg: "unbalanced '}'", wantCol: 3},
		{name: "unclosed string literal", src: `{{ "abc }}`, wantMsg: "unclosed {{", wantCol: 1},
		{name: "empty", src: "{{}}", wantMsg: "empty placeholder", wantCol: 1},
		{name: "empty after text", src: "ab {{}}", wantMsg: "empty placeholder", wantCol: 4},
		{name: "blank", src: "ab {{   }}", wantMsg: "empty placeholder", wantCol: 4},
		{name: "empty second", src: "{{a}}-{{}}", wantMsg: "empty placeholder", wantCol: 7},
		{name: "unbalanced brace", src: "{{ a } }}", wantMsg: "unbalanced '}'", wantCol: 1},
		// Expression errors point into the expression.
		{name: "bad expression", src: "x {{ 1 + }}", wantMsg: "unexpected token", wantCol: 8},
		{name: "bad expression no spaces", src: "{{1 +}}", wantMsg: "unexpected token", wantCol: 5},
		{name: "bad expression second placeholder", src: "{{a}} {{ (1 }}", wantMsg: "unexpected token", wantCol: 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tpl, err := core.ParseTemplate(tt.src)
			require.Nil(t, tpl)
			var te *core.TemplateError
			require.ErrorAs(t, err, &te)
			require.Equal(t, tt.src, te.Source)
			require.Contains(t, te.Message, tt.wantMsg)
			require.Equal(t, tt.wantCol, te.Column, te.Error())
			require.Contains(t, err.Error(), fmt.Sprintf("(column %d)", tt.wantCol))
		})
	}
}

func TestTemplateSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		src       string
		want      any
		wantAsked []string
		wantErr   string // expected error code
	}{
		{name: "whole secret", src: "{{secrets.api_key}}", want: "s3cr3t-value", wantAsked: []string{"api_key"}},
		{name: "interpolated secret", src: "Bearer {{ secrets.api_key }}", want: "Bearer s3cr3t-value", wantAsked: []string{"api_key"}},
		{name: "missing secret", src: "{{secrets.nope}}", wantAsked: []string{"nope"}, wantErr: sdk.CodeTemplate},
		{name: "missing secret interpolated", src: "k={{secrets.nope}}", wantAsked: []string{"nope"}, wantErr: sdk.CodeTemplate},
		{name: "secrets root alone", src: "{{secrets}}", wantErr: sdk.CodeTemplate},
		{name: "secret path too deep", src: "{{secrets.api_key.x}}", wantErr: sdk.CodeTemplate},
		{name: "secret by index", src: "{{secrets[0]}}", wantErr: sdk.CodeTemplate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTplScope()
			tpl, err := core.ParseTemplate(tt.src)
			require.NoError(t, err)
			require.True(t, tpl.UsesSecrets())
			got, err := tpl.Render(t.Context(), s)
			require.Equal(t, tt.wantAsked, s.asked)
			if tt.wantErr != "" {
				require.Error(t, err)
				require.Equal(t, tt.wantErr, sdk.ErrorCode(err), err.Error())
				require.False(t, sdk.IsRetryable(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestTemplateExpressionRuntimeError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
	}{
		{name: "whole", src: "{{ len(input.n) }}"},
		{name: "interpolated", src: "n={{ len(input.n) }}"},
		{name: "member of nil", src: "{{ input.missing.x + 1 }}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := renderTpl(t, tt.src, newTplScope())
			require.Error(t, err)
			require.Equal(t, sdk.CodeExpression, sdk.ErrorCode(err), err.Error())
		})
	}
}

func TestTemplateIntrospection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		src         string
		wantRefs    []string
		wantSecrets bool
		wantWhole   bool
		wantStatic  bool
	}{
		{name: "static", src: "plain text", wantStatic: true},
		{name: "empty", src: "", wantStatic: true},
		{name: "step path", src: "{{steps.x.output}}", wantRefs: []string{"x"}, wantWhole: true},
		{name: "deep step path", src: "{{steps.get_lead.output.body.items[0]}}", wantRefs: []string{"get_lead"}, wantWhole: true},
		{name: "steps root alone", src: "{{steps}}", wantWhole: true},
		{name: "steps by index", src: "{{steps[0]}}", wantWhole: true},
		{name: "two step paths", src: "{{steps.a.output}}/{{steps.b.status}}", wantRefs: []string{"a", "b"}},
		{name: "expression with dot and bracket", src: `{{ steps.x.output.n + steps["y"].output.m }}`, wantRefs: []string{"x", "y"}, wantWhole: true},
		{name: "expression refs deduplicated", src: `{{ steps.x.output.a ?? steps.x.output.b }}`, wantRefs: []string{"x"}, wantWhole: true},
		{name: "input is no ref", src: "{{input.steps.x}}", wantWhole: true},
		{name: "secret", src: "key={{secrets.k}}", wantSecrets: true},
		{name: "secret and step", src: "{{secrets.k}}{{steps.s.output}}", wantRefs: []string{"s"}, wantSecrets: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tpl, err := core.ParseTemplate(tt.src)
			require.NoError(t, err)
			require.Equal(t, tt.wantRefs, tpl.Refs())
			require.Equal(t, tt.wantSecrets, tpl.UsesSecrets())
			require.Equal(t, tt.wantWhole, tpl.Whole())
			require.Equal(t, tt.wantStatic, tpl.IsStatic())
			require.Equal(t, tt.src, tpl.String())
			require.Equal(t, !tt.wantStatic, core.HasTemplate(tt.src))
		})
	}
}

func TestTemplateRenderReturnsCopy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		src    string
		mutate func(v any)
	}{
		{name: "object from a path", src: "{{input.obj}}", mutate: func(v any) {
			m := v.(map[string]any)
			m["a"] = "changed"
			m["nested"].(map[string]any)["k"].([]any)[0] = "changed"
		}},
		{name: "array from a path", src: "{{input.items}}", mutate: func(v any) {
			a := v.([]any)
			a[0] = "changed"
			a[2].(map[string]any)["id"] = "changed"
		}},
		{name: "object from an expression", src: "{{ input.obj }}", mutate: func(v any) {
			v.(map[string]any)["nested"].(map[string]any)["k"] = nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTplScope()
			pristine := newTplScope()
			tpl, err := core.ParseTemplate(tt.src)
			require.NoError(t, err)
			first, err := tpl.Render(t.Context(), s)
			require.NoError(t, err)
			tt.mutate(first)
			require.Equal(t, pristine.roots, s.roots, "the scope's data is unchanged")
			require.Equal(t, pristine.env, s.env)
			second, err := tpl.Render(t.Context(), s)
			require.NoError(t, err)
			require.NotEqual(t, first, second)
			want, err := tpl.Render(t.Context(), pristine)
			require.NoError(t, err)
			require.Equal(t, want, second)
		})
	}
}

func TestValueTemplateRender(t *testing.T) {
	t.Parallel()
	config := map[string]any{
		"method": "POST",
		"url":    "http://x/leads/{{leadId}}?n={{input.n}}",
		"body":   "{{input.obj}}",
		"static": map[string]any{"k": []any{1.0, "two", nil}, "deep": map[string]any{"x": true}},
		"list":   []any{"{{input.n}}", "literal", map[string]any{"deep": "{{steps.get.output.items[0].id}}"}, []any{"{{ upper(name) }}"}},
		"count":  3.0,
		"null":   nil,
		"auth":   map[string]any{"token": "Bearer {{secrets.api_key}}"},
	}
	want := map[string]any{
		"method": "POST",
		"url":    "http://x/leads/L-7?n=5",
		"body":   map[string]any{"a": "<b>&c", "nested": map[string]any{"k": []any{1.0, 2.0}}},
		"static": map[string]any{"k": []any{1.0, "two", nil}, "deep": map[string]any{"x": true}},
		"list":   []any{5.0, "literal", map[string]any{"deep": "x1"}, []any{"ADA"}},
		"count":  3.0,
		"null":   nil,
		"auth":   map[string]any{"token": "Bearer s3cr3t-value"},
	}
	vt, problems := core.CompileValue(config, "steps[0].config")
	require.Empty(t, problems)
	require.ElementsMatch(t, []string{"get"}, vt.Refs())
	require.True(t, vt.UsesSecrets())

	s := newTplScope()
	pristine := newTplScope()
	first, err := vt.Render(t.Context(), s)
	require.NoError(t, err)
	require.Equal(t, want, first)

	// Mutating everything in the result changes neither the next render,
	// nor the compiled static parts, nor the scope's data.
	m := first.(map[string]any)
	m["method"] = "GET"
	m["static"].(map[string]any)["k"].([]any)[0] = "changed"
	m["static"].(map[string]any)["deep"].(map[string]any)["x"] = false
	m["body"].(map[string]any)["nested"].(map[string]any)["k"].([]any)[1] = "changed"
	m["list"].([]any)[2].(map[string]any)["deep"] = "changed"
	delete(m, "count")

	second, err := vt.Render(t.Context(), s)
	require.NoError(t, err)
	require.Equal(t, want, second)
	require.Equal(t, pristine.roots, s.roots)
	require.Equal(t, 1.0, config["static"].(map[string]any)["k"].([]any)[0], "the compiled source is untouched")
}

func TestValueTemplateStatic(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    any
	}{
		{name: "nil", v: nil},
		{name: "number", v: 4.0},
		{name: "plain string", v: "hello"},
		{name: "string with single braces", v: "{not a template}"},
		{name: "static map", v: map[string]any{"a": []any{1.0, map[string]any{"b": "c"}}}},
		{name: "static array", v: []any{"x", map[string]any{"y": nil}}},
		{name: "empty map", v: map[string]any{}},
		{name: "empty array", v: []any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := core.DeepCopy(tt.v)
			vt, problems := core.CompileValue(tt.v, "cfg")
			require.Empty(t, problems)
			require.Empty(t, vt.Refs())
			require.False(t, vt.UsesSecrets())
			got, err := vt.Render(t.Context(), newTplScope())
			require.NoError(t, err)
			require.Equal(t, tt.v, got)
			switch g := got.(type) {
			case map[string]any:
				g["new"] = "key"
			case []any:
				if len(g) > 0 {
					g[0] = "changed"
				}
			}
			require.Equal(t, src, tt.v, "mutating the result leaves the static source alone")
		})
	}

	t.Run("nil value template", func(t *testing.T) {
		t.Parallel()
		var vt *core.ValueTemplate
		got, err := vt.Render(t.Context(), newTplScope())
		require.NoError(t, err)
		require.Nil(t, got)
		require.Nil(t, vt.Refs())
		require.False(t, vt.UsesSecrets())
	})
}

func TestCompileValueProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		v    any
		want []string // problem paths, in order
	}{
		{name: "none", v: map[string]any{"a": "{{input.x}}"}},
		{name: "top-level string", v: "{{", want: []string{"steps[0].config"}},
		{name: "every bad template with its path",
			v: map[string]any{
				"a": "{{",
				"b": []any{"ok {{input.x}}", "{{}}", []any{"{{ 1 + }}"}},
				"c": map[string]any{"d.e": "x {{ (1 }}", "fine": "{{steps.s.output}}"},
				"z": "{{ } }}",
			},
			want: []string{
				"steps[0].config.a",
				"steps[0].config.b[1]",
				"steps[0].config.b[2][0]",
				`steps[0].config.c["d.e"]`,
				"steps[0].config.z",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vt, problems := core.CompileValue(tt.v, "steps[0].config")
			require.NotNil(t, vt)
			var paths []string
			for _, p := range problems {
				paths = append(paths, p.Path)
				require.Contains(t, p.Message, "template")
				require.Contains(t, p.Message, "column")
			}
			require.Equal(t, tt.want, paths)
		})
	}
}

func TestValueTemplateRenderErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		v        any
		wantCode string
	}{
		{name: "secret deep in a map", v: map[string]any{"h": map[string]any{"auth": "{{secrets.missing}}"}}, wantCode: sdk.CodeTemplate},
		{name: "secret deep in an array", v: []any{"ok", []any{"{{secrets.missing}}"}}, wantCode: sdk.CodeTemplate},
		{name: "expression failing in a map", v: map[string]any{"n": "{{ len(input.n) }}"}, wantCode: sdk.CodeExpression},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vt, problems := core.CompileValue(tt.v, "cfg")
			require.Empty(t, problems)
			got, err := vt.Render(t.Context(), newTplScope())
			require.Nil(t, got)
			var e *sdk.Error
			require.True(t, errors.As(err, &e), "%v", err)
			require.Equal(t, tt.wantCode, e.Code)
		})
	}
}
