package core

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRedactorRemember(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		remember  []string
		in        string
		want      string
		wantCount int
	}{
		{name: "nothing remembered", in: "token abc", want: "token abc"},
		{name: "long value redacted", remember: []string{"s3cr3t"}, in: "Bearer s3cr3t", want: "Bearer [REDACTED]", wantCount: 1},
		{name: "exactly four characters redacted", remember: []string{"abcd"}, in: "x=abcd", want: "x=[REDACTED]", wantCount: 1},
		{name: "three characters not redacted", remember: []string{"abc"}, in: "abc abc", want: "abc abc"},
		{name: "empty value ignored", remember: []string{""}, in: "text", want: "text"},
		{name: "every occurrence", remember: []string{"pass"}, in: "pass/pass", want: "[REDACTED]/[REDACTED]", wantCount: 1},
		{name: "duplicates remembered once", remember: []string{"pass", "pass"}, in: "pass", want: "[REDACTED]", wantCount: 1},
		{name: "two values", remember: []string{"alpha", "omega"}, in: "alpha-omega", want: "[REDACTED]-[REDACTED]", wantCount: 2},
		{name: "short and long mixed", remember: []string{"ab", "key-1234"}, in: "ab key-1234", want: "ab [REDACTED]", wantCount: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &redactor{}
			for _, v := range tt.remember {
				r.remember(v)
			}
			require.Len(t, r.values, tt.wantCount)
			require.Equal(t, tt.wantCount > 0, r.active())
			require.Equal(t, tt.want, r.scrubString(tt.in))
			require.Equal(t, tt.want, r.scrub(tt.in))
		})
	}
}

func TestRedactorScrubValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   any
		want any
	}{
		{name: "nil", in: nil, want: nil},
		{name: "number", in: 1234.0, want: 1234.0},
		{name: "bool", in: true, want: true},
		{name: "string", in: "key=tok-9999", want: "key=[REDACTED]"},
		{name: "nested map values", in: map[string]any{"h": map[string]any{"auth": "Bearer tok-9999", "n": 1.0}},
			want: map[string]any{"h": map[string]any{"auth": "Bearer [REDACTED]", "n": 1.0}}},
		{name: "map keys", in: map[string]any{"tok-9999": "v", "x-tok-9999": map[string]any{"tok-9999": "tok-9999"}},
			want: map[string]any{"[REDACTED]": "v", "x-[REDACTED]": map[string]any{"[REDACTED]": "[REDACTED]"}}},
		{name: "arrays", in: []any{"tok-9999", []any{"a", "tok-9999!"}, map[string]any{"l": []any{"tok-9999"}}, nil, 3.0},
			want: []any{"[REDACTED]", []any{"a", "[REDACTED]!"}, map[string]any{"l": []any{"[REDACTED]"}}, nil, 3.0}},
		{name: "nothing to redact", in: map[string]any{"a": []any{"b"}}, want: map[string]any{"a": []any{"b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &redactor{}
			r.remember("tok-9999")
			before := DeepCopy(tt.in)
			got := r.scrub(tt.in)
			require.Equal(t, tt.want, got)
			require.Equal(t, before, tt.in, "scrub leaves its input alone")
		})
	}

	t.Run("inactive redactor returns the value itself", func(t *testing.T) {
		t.Parallel()
		r := &redactor{}
		m := map[string]any{"a": "tok-9999"}
		got := r.scrub(m).(map[string]any)
		got["b"] = 1.0
		require.Contains(t, m, "b", "no copy when nothing is remembered")
		require.Equal(t, "tok-9999", r.scrubString("tok-9999"))
	})
}

func TestRedactorOverlappingSecrets(t *testing.T) {
	t.Parallel()
	r := &redactor{}
	r.remember("abcd")
	r.remember("abcd-long-secret")
	got := r.scrubString("key=abcd-long-secret")
	require.Equal(t, "key=[REDACTED]", got)
	require.NotContains(t, got, "long-secret")
}

func TestRedactorConcurrentUse(t *testing.T) {
	t.Parallel()
	r := &redactor{}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			r.remember("secret-value")
			r.remember(string(rune('a'+i)) + "-other-secret")
			_ = r.scrub(map[string]any{"k": []any{"secret-value"}})
			_ = r.scrubString("secret-value")
		})
	}
	wg.Wait()
	require.Len(t, r.values, 21)
	require.Equal(t, "[REDACTED]", r.scrubString("secret-value"))
}

// newTestScope builds the scope an execution gives its templates.
func newTestScope(input any, variables map[string]any, secrets SecretSource) scope {
	return scope{x: &execScope{
		input:     input,
		variables: variables,
		execution: map[string]any{"id": "exec-1"},
		steps:     &stepTable{entries: map[string]*stepEntry{}},
		secrets:   secrets,
		redact:    &redactor{},
	}}
}

func TestScopeResolveOrder(t *testing.T) {
	t.Parallel()
	input := map[string]any{"leadId": "from-input", "onlyInput": 1.0, "input": "shadowed"}
	variables := map[string]any{"leadId": "from-variables", "minScore": 50.0, "steps": "shadowed"}
	s := newTestScope(input, variables, nil)
	s.x.steps.set("get", StatusCompleted, map[string]any{"v": 2.0}, nil)
	loop := s.with(map[string]any{RootItem: "it", RootIndex: 3.0})
	handler := loop.with(map[string]any{RootError: map[string]any{"code": "BOOM"}, RootIndex: 4.0})

	tests := []struct {
		name  string
		sc    scope
		src   string
		want  any
		wantX any // the same name read by an expression, when it differs
	}{
		{name: "bare name prefers input", sc: s, src: "{{leadId}}", want: "from-input"},
		{name: "bare name falls back to variables", sc: s, src: "{{minScore}}", want: 50.0},
		{name: "bare name only in input", sc: s, src: "{{onlyInput}}", want: 1.0},
		{name: "unknown bare name", sc: s, src: "{{nobody}}", want: nil},
		{name: "input root", sc: s, src: "{{input.leadId}}", want: "from-input"},
		{name: "variables root", sc: s, src: "{{variables.leadId}}", want: "from-variables"},
		{name: "reserved input is not a field", sc: s, src: "{{input.input}}", want: "shadowed"},
		{name: "reserved steps root wins over a variable", sc: s, src: "{{steps.get.output.v}}", want: 2.0},
		{name: "step status", sc: s, src: "{{steps.get.status}}", want: "COMPLETED"},
		{name: "execution root", sc: s, src: "{{execution.id}}", want: "exec-1"},
		{name: "item outside a loop", sc: s, src: "{{item}}", want: nil},
		{name: "item in a loop", sc: loop, src: "{{item}}", want: "it"},
		{name: "index in a loop", sc: loop, src: "{{index}}", want: 3.0},
		{name: "loop still sees input", sc: loop, src: "{{leadId}}", want: "from-input"},
		{name: "nested locals keep outer ones", sc: handler, src: "{{item}}", want: "it"},
		{name: "nested locals override outer ones", sc: handler, src: "{{index}}", want: 4.0},
		{name: "error local", sc: handler, src: "{{error.code}}", want: "BOOM"},
		{name: "outer scope unchanged by nesting", sc: loop, src: "{{index}}", want: 3.0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tpl, err := ParseTemplate(tt.src)
			require.NoError(t, err)
			got, err := tpl.Render(context.Background(), tt.sc)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)

			// An expression reading the same path agrees with the template.
			e, err := CompileExpr(tpl.parts[0].ph.src + " ?? nil")
			require.NoError(t, err)
			gotX, err := e.Eval(tt.sc.Env())
			require.NoError(t, err)
			require.Equal(t, tt.want, gotX)
		})
	}
}

func TestScopeReservedRootsAgreeBetweenPathsAndExpressions(t *testing.T) {
	t.Parallel()
	s := newTestScope(map[string]any{"item": "from-input"}, map[string]any{}, nil)
	tpl, err := ParseTemplate("{{item}}")
	require.NoError(t, err)
	fromPath, err := tpl.Render(context.Background(), s)
	require.NoError(t, err)
	e, err := CompileExpr("item ?? nil")
	require.NoError(t, err)
	fromExpr, err := e.Eval(s.Env())
	require.NoError(t, err)
	require.Equal(t, fromPath, fromExpr)
}

func TestEnvSecretsMissing(t *testing.T) {
	t.Parallel()
	_, err := EnvSecrets{}.Secret(context.Background(), "weft_test_surely_unset_7f3a")
	require.ErrorIs(t, err, ErrNoSecret)
	require.ErrorContains(t, err, "WEFT_SECRET_WEFT_TEST_SURELY_UNSET_7F3A")
}

func TestScopeSecretIsRemembered(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		secrets    SecretSource
		src        string
		want       any
		wantErr    bool
		wantActive bool
	}{
		{name: "secret rendered and remembered", secrets: MapSecrets{"api": "s3cr3t-value"}, src: "Bearer {{secrets.api}}", want: "Bearer s3cr3t-value", wantActive: true},
		{name: "short secret rendered, not remembered", secrets: MapSecrets{"pin": "123"}, src: "{{secrets.pin}}", want: "123"},
		{name: "missing secret", secrets: MapSecrets{}, src: "{{secrets.api}}", wantErr: true},
		{name: "no secret source", secrets: nil, src: "{{secrets.api}}", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestScope(map[string]any{}, map[string]any{}, tt.secrets)
			tpl, err := ParseTemplate(tt.src)
			require.NoError(t, err)
			got, err := tpl.Render(context.Background(), s)
			if tt.wantErr {
				require.ErrorContains(t, err, "TEMPLATE_ERROR")
				require.ErrorContains(t, err, ErrNoSecret.Error())
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.wantActive, s.x.redact.active())
			if tt.wantActive {
				require.Equal(t, "Bearer [REDACTED]", s.x.redact.scrubString(got.(string)))
			}
		})
	}
}
